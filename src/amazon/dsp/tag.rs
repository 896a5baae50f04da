//! Third-party tags checked before they go to Amazon: a display tag is HTML whose resources
//! load over https, a video tag is an https VAST URL, trackers are https URLs, sizes are
//! `WIDTHxHEIGHT`. Audio is refused. Macros (`${CACHEBUSTER}`, `[timestamp]`, `%%CACHEBUSTER%%`
//! …) are never rewritten: the tag Amazon receives is the tag as written.
//!
//! Every refusal is a [`TagReason`] with a stable code; a message never repeats the tag.

use std::prelude::rust_2024::*;

/// The kind of a tag row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// HTML (script or iframe) for display, interactive and in-banner video placements.
    Display,
    /// A VAST (or VPAID) URL for online and streaming-TV video.
    Video,
}

impl Kind {
    /// Reads the `kind` column: `display` or `video` (any case).
    ///
    /// # Errors
    /// [`TagReason::AudioNotSupported`] for `audio`, [`TagReason::UnknownKind`] otherwise.
    pub fn parse(text: &str) -> Result<Kind, TagReason> {
        match text.trim().to_ascii_lowercase().as_str() {
            "display" => Ok(Kind::Display),
            "video" => Ok(Kind::Video),
            "audio" => Err(TagReason::AudioNotSupported),
            _ => Err(TagReason::UnknownKind),
        }
    }

    /// The word in the tags file and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Display => "display",
            Kind::Video => "video",
        }
    }
}

/// Why a tag row cannot be published. Codes never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TagReason {
    /// The cell is empty.
    Empty,
    /// A display tag that is not HTML (a bare URL, plain text).
    NotHtml,
    /// A display tag that loads something over `http://`.
    InsecureResource,
    /// A URL that is not `https://`.
    NotHttps,
    /// Not a URL at all (no host, white space inside).
    NotUrl,
    /// `${` without its `}`.
    UnclosedMacro,
    /// A control character (other than tab and line breaks in HTML).
    ControlCharacter,
    /// Longer than Amazon takes (see [`MAX_TAG_BYTES`], [`MAX_URL_BYTES`]).
    TooLong,
    /// `kind` is `audio`.
    AudioNotSupported,
    /// `kind` is neither `display` nor `video`.
    UnknownKind,
    /// A size that is not `WIDTHxHEIGHT` with both 1–9999.
    BadSize,
    /// More sizes than [`super::creative::MAX_SIZES`].
    TooManySizes,
    /// More trackers than [`super::creative::MAX_TRACKERS`].
    TooManyTrackers,
}

impl TagReason {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            TagReason::Empty => "empty",
            TagReason::NotHtml => "not_html",
            TagReason::InsecureResource => "insecure_resource",
            TagReason::NotHttps => "not_https",
            TagReason::NotUrl => "not_url",
            TagReason::UnclosedMacro => "unclosed_macro",
            TagReason::ControlCharacter => "control_character",
            TagReason::TooLong => "too_long",
            TagReason::AudioNotSupported => "audio_not_supported",
            TagReason::UnknownKind => "unknown_kind",
            TagReason::BadSize => "bad_size",
            TagReason::TooManySizes => "too_many_sizes",
            TagReason::TooManyTrackers => "too_many_trackers",
        }
    }

    /// A sentence for a person (never containing the tag).
    pub fn message(self) -> &'static str {
        match self {
            TagReason::Empty => "is empty",
            TagReason::NotHtml => {
                "a display tag must be HTML (a <script> or <iframe> tag), not a URL or text"
            }
            TagReason::InsecureResource => {
                "the tag loads a resource over http://; Amazon serves only secure creatives, use https://"
            }
            TagReason::NotHttps => "must be an https:// URL",
            TagReason::NotUrl => "is not a URL (no host, or white space inside)",
            TagReason::UnclosedMacro => "has a ${ macro without its closing }",
            TagReason::ControlCharacter => "contains a control character",
            TagReason::TooLong => "is longer than Amazon takes",
            TagReason::AudioNotSupported => {
                "audio is not supported by DSP trafficking; traffic audio tags in Amazon DSP by hand"
            }
            TagReason::UnknownKind => "must be display or video",
            TagReason::BadSize => "must be WIDTHxHEIGHT, e.g. 300x250 (several: 300x250;728x90)",
            TagReason::TooManySizes => "has more sizes than Amazon takes (20)",
            TagReason::TooManyTrackers => "has more tracking URLs than Amazon takes (5)",
        }
    }
}

/// Longest display tag (emulator and client choice; Amazon's limit is not in the copy).
pub const MAX_TAG_BYTES: usize = 32 * 1024;
/// Longest URL (VAST, tracker).
pub const MAX_URL_BYTES: usize = 2048;

/// Namespaces that appear as `http://` in markup without loading anything.
const NAMESPACES: &[&str] = &["http://www.w3.org/"];

/// Checks a display tag.
///
/// # Errors
/// The first problem found.
pub fn check_display_tag(html: &str) -> Result<(), TagReason> {
    let trimmed = html.trim();
    if trimmed.is_empty() {
        return Err(TagReason::Empty);
    }
    if html.len() > MAX_TAG_BYTES {
        return Err(TagReason::TooLong);
    }
    if html
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(TagReason::ControlCharacter);
    }
    if !trimmed.starts_with('<') || !trimmed.ends_with('>') {
        return Err(TagReason::NotHtml);
    }
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("http://") {
        let rest = &lower[from + at..];
        if !NAMESPACES.iter().any(|ns| rest.starts_with(ns)) {
            return Err(TagReason::InsecureResource);
        }
        from += at + "http://".len();
    }
    check_macros(html)
}

/// Checks a VAST URL (also used for trackers).
///
/// # Errors
/// The first problem found.
pub fn check_https_url(url: &str) -> Result<(), TagReason> {
    if url.trim().is_empty() {
        return Err(TagReason::Empty);
    }
    if url.len() > MAX_URL_BYTES {
        return Err(TagReason::TooLong);
    }
    if url.chars().any(char::is_control) {
        return Err(TagReason::ControlCharacter);
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("https://") else {
        return Err(
            if lower.starts_with("http://") || lower.starts_with("//") || lower.contains("://") {
                TagReason::NotHttps
            } else {
                TagReason::NotUrl
            },
        );
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    let (name, port) = host.split_once(':').unwrap_or((host, ""));
    let name_ok = !name.is_empty()
        && name.contains('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        || name == "localhost";
    let port_ok = port.is_empty() || (port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()));
    if !name_ok || !port_ok || url.chars().any(char::is_whitespace) {
        return Err(TagReason::NotUrl);
    }
    check_macros(url)
}

/// `${` must be closed by `}` (an unclosed macro is a copy-paste accident that Amazon
/// would serve as text).
fn check_macros(text: &str) -> Result<(), TagReason> {
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        match after.find('}') {
            Some(end) if !after[..end].contains("${") => rest = &after[end + 1..],
            _ => return Err(TagReason::UnclosedMacro),
        }
    }
    Ok(())
}

/// Reads the `size` column: `WIDTHxHEIGHT`, several separated by `;`, `|` or spaces.
///
/// # Errors
/// [`TagReason::BadSize`], [`TagReason::TooManySizes`].
pub fn parse_sizes(text: &str) -> Result<Vec<(u32, u32)>, TagReason> {
    let mut sizes = Vec::new();
    for item in text
        .split([';', '|', ' ', ','])
        .filter(|s| !s.trim().is_empty())
    {
        let (w, h) = item
            .trim()
            .to_ascii_lowercase()
            .split_once('x')
            .map(|(w, h)| (w.parse::<u32>(), h.parse::<u32>()))
            .ok_or(TagReason::BadSize)?;
        match (w, h) {
            (Ok(w @ 1..=9999), Ok(h @ 1..=9999)) => {
                if !sizes.contains(&(w, h)) {
                    sizes.push((w, h));
                }
            }
            _ => return Err(TagReason::BadSize),
        }
    }
    if sizes.len() > super::creative::MAX_SIZES {
        return Err(TagReason::TooManySizes);
    }
    Ok(sizes)
}

/// Reads the `trackers` column: https URLs separated by white space or `|`.
///
/// # Errors
/// The first bad URL's reason, or [`TagReason::TooManyTrackers`].
pub fn parse_trackers(text: &str) -> Result<Vec<String>, TagReason> {
    let urls: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '|')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for url in &urls {
        check_https_url(url)?;
    }
    if urls.len() > super::creative::MAX_TRACKERS {
        return Err(TagReason::TooManyTrackers);
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_tags_must_be_secure_html() {
        let ok = r#"<script src="https://ads.example/t.js?pl=42&cb=${CACHEBUSTER}"></script>"#;
        assert_eq!(check_display_tag(ok), Ok(()));
        assert_eq!(
            check_display_tag(r#"<iframe src="//ads.example/f"></iframe>"#),
            Ok(())
        );
        assert_eq!(
            check_display_tag(r#"<svg xmlns="http://www.w3.org/2000/svg"></svg>"#),
            Ok(())
        );
        for (tag, reason) in [
            ("", TagReason::Empty),
            ("  \n", TagReason::Empty),
            ("https://ads.example/t.js", TagReason::NotHtml),
            ("hello", TagReason::NotHtml),
            (
                r#"<script src="http://ads.example/t.js"></script>"#,
                TagReason::InsecureResource,
            ),
            (
                r#"<a HREF="HTTP://x.example"><img src="https://x"></a>"#,
                TagReason::InsecureResource,
            ),
            (
                r#"<img src="https://x.example/i?cb=${CACHEBUSTER">"#,
                TagReason::UnclosedMacro,
            ),
            ("<b>\u{0}</b>", TagReason::ControlCharacter),
        ] {
            assert_eq!(check_display_tag(tag), Err(reason), "{tag}");
        }
        let long = format!("<p>{}</p>", "a".repeat(MAX_TAG_BYTES));
        assert_eq!(check_display_tag(&long), Err(TagReason::TooLong));
    }

    #[test]
    fn vast_urls_must_be_https_and_keep_macros() {
        for ok in [
            "https://vast.example/v?pl=7&cb=${CACHEBUSTER}",
            "https://vast.example:8443/v.xml",
            "HTTPS://vast.example/v?ts=[timestamp]&gdpr=${GDPR}",
        ] {
            assert_eq!(check_https_url(ok), Ok(()), "{ok}");
        }
        for (url, reason) in [
            ("http://vast.example/v", TagReason::NotHttps),
            ("//vast.example/v", TagReason::NotHttps),
            ("ftp://vast.example/v", TagReason::NotHttps),
            ("vast.example/v", TagReason::NotUrl),
            ("https:///v", TagReason::NotUrl),
            ("https://vast example/v", TagReason::NotUrl),
            ("https://vast.example/v a", TagReason::NotUrl),
            ("https://vast.example/v?cb=${CB", TagReason::UnclosedMacro),
            ("", TagReason::Empty),
        ] {
            assert_eq!(check_https_url(url), Err(reason), "{url}");
        }
    }

    #[test]
    fn kinds_sizes_and_trackers() {
        assert_eq!(Kind::parse(" Display "), Ok(Kind::Display));
        assert_eq!(Kind::parse("VIDEO"), Ok(Kind::Video));
        assert_eq!(Kind::parse("audio"), Err(TagReason::AudioNotSupported));
        assert_eq!(Kind::parse("native"), Err(TagReason::UnknownKind));
        assert_eq!(
            parse_sizes("300x250; 728X90|300x250"),
            Ok(vec![(300, 250), (728, 90)])
        );
        assert_eq!(parse_sizes(""), Ok(vec![]));
        for bad in ["300", "0x250", "300x", "ax250", "300x250x1"] {
            assert_eq!(parse_sizes(bad), Err(TagReason::BadSize), "{bad}");
        }
        let many: Vec<String> = (1..=21).map(|w| format!("{w}x1")).collect();
        assert_eq!(parse_sizes(&many.join(";")), Err(TagReason::TooManySizes));
        assert_eq!(
            parse_trackers("https://t.example/i?cb=${CACHEBUSTER} | https://u.example/i"),
            Ok(vec![
                "https://t.example/i?cb=${CACHEBUSTER}".to_owned(),
                "https://u.example/i".to_owned()
            ])
        );
        assert_eq!(
            parse_trackers("http://t.example/i"),
            Err(TagReason::NotHttps)
        );
        let many = ["https://t.example/i"; 6].join(" ");
        assert_eq!(parse_trackers(&many), Err(TagReason::TooManyTrackers));
        let codes: std::collections::BTreeSet<_> = [
            TagReason::Empty,
            TagReason::NotHtml,
            TagReason::InsecureResource,
            TagReason::NotHttps,
            TagReason::NotUrl,
            TagReason::UnclosedMacro,
            TagReason::ControlCharacter,
            TagReason::TooLong,
            TagReason::AudioNotSupported,
            TagReason::UnknownKind,
            TagReason::BadSize,
            TagReason::TooManySizes,
            TagReason::TooManyTrackers,
        ]
        .iter()
        .map(|r| r.code())
        .collect();
        assert_eq!(codes.len(), 13, "codes are distinct");
    }
}
