//! DSP trafficking, write side (`/dsp/v1`): third-party creatives, their ad experience,
//! their associations with ad groups, and moderation. Pure checks of one item each, and the
//! stored creative and association; `api/dsp.rs` routes and answers.
//!
//! **The shapes are the samples of Amazon's guide pages** (no OpenAPI file exists for
//! `/dsp/v1`): `docs/guides/dsp/creative-management.md` (create: one creative object;
//! `trackingUrls` objects `{type, url, associatedAdExperience?}`; `language` a language
//! code such as `en`) and `creative-associations.md` (`associations`, states `ACTIVE` /
//! `INACTIVE`, weight 1–999 and optional). The `/adsApi/v1` words sent to `/dsp/v1` paths
//! (`en_US`, string trackers, `ENABLED`) are refused here as Amazon would. The enums and
//! limits are the emulator's own copy in `trafficking.rs`, compared with the client's by a
//! test. The tag checks below are written again here on purpose, not taken from the
//! client: a client bug must not pass because the emulator shares it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::check::{self, Checker, FieldError};
use crate::codes;
use crate::trafficking::{
    AD_EXPERIENCES, DESTINATIONS, MAX_NAME, MAX_SIZES, MAX_TRACKERS, TAG_TYPES, TRACKER_TYPES,
};

/// Longest `tagSource` (emulator choice).
const MAX_TAG: usize = 32 * 1024;
/// Longest URL (emulator choice).
const MAX_URL: usize = 2048;

/// A stored third-party creative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Creative {
    pub(crate) ad_creative_id: String,
    pub(crate) account_id: String,
    pub(crate) name: String,
    pub(crate) language: String,
    pub(crate) country: String,
    #[serde(flatten)]
    pub(crate) format: Format,
    /// Set once by `PUT /dsp/v1/adExperiences`.
    pub(crate) ad_experience: Option<String>,
    /// `None` until the creative is first associated.
    pub(crate) moderation_status: Option<String>,
    pub(crate) reasons: Vec<String>,
    /// 1 when created, +1 per update.
    pub(crate) version: u32,
}

/// What `adCreativeFormatProperties` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Format {
    pub(crate) tag_type: String,
    pub(crate) tag_source: String,
    pub(crate) creative_sizes: Vec<(u64, u64)>,
    pub(crate) tracking_urls: Vec<Tracker>,
}

/// One of `trackingUrls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Tracker {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) associated_ad_experience: Option<String>,
}

/// A stored association.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Association {
    pub(crate) account_id: String,
    pub(crate) ad_creative_id: String,
    pub(crate) ad_group_id: String,
    pub(crate) weight: Option<i64>,
    pub(crate) state: String,
}

/// The ad experience a tag type needs.
pub(crate) fn experience_for(tag_type: &str) -> &'static str {
    if tag_type == TAG_TYPES[1] {
        AD_EXPERIENCES[1]
    } else {
        AD_EXPERIENCES[0]
    }
}

/// Whether an ad group of `inventory_type` takes a creative of `tag_type` (display tags on
/// display, VAST on online and streaming-TV video; nothing on audio).
pub(crate) fn fits(inventory_type: &str, tag_type: &str) -> bool {
    matches!(
        (inventory_type, tag_type),
        ("DISPLAY", "DISPLAY") | ("ONLINE_VIDEO" | "STREAMING_TV", "VAST_VPAID")
    )
}

/// An https URL with a host: scheme `https`, a dotted host (or `localhost`), no white
/// space or control character.
fn is_https_url(url: &str) -> bool {
    let Some(rest) = url
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    url.len() <= MAX_URL
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && (host == "localhost"
            || (host.contains('.')
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')))
}

/// HTML that loads nothing over `http://` (Amazon serves only SSL-compliant creatives).
/// XML namespaces (`http://www.w3.org/…`) load nothing and are fine.
fn is_secure_html(html: &str) -> Result<(), &'static str> {
    let text = html.trim();
    if !text.starts_with('<') || !text.ends_with('>') {
        return Err("tagSource of a DISPLAY tag must be HTML");
    }
    let lower = text.to_ascii_lowercase();
    let insecure = lower
        .match_indices("http://")
        .any(|(at, _)| !lower[at..].starts_with("http://www.w3.org/"));
    if insecure {
        return Err("tagSource loads a resource over http:// (not SSL compliant)");
    }
    Ok(())
}

/// Checks `adCreativeFormatProperties` at `field`.
fn check_format(checker: &mut Checker, value: Option<&Value>, field: &str) -> Option<Format> {
    let props = checker.object(
        value,
        field,
        true,
        &[
            "adCreativeFormatType",
            "creativeSizes",
            "thirdPartyTag",
            "trackingUrls",
        ],
    )?;
    let at = |name: &str| check::join(field, name);
    // Emulator choice: only third-party creatives are served.
    checker.one_of(
        props.get("adCreativeFormatType"),
        &at("adCreativeFormatType"),
        true,
        &["THIRD_PARTY"],
    );
    let tag_field = at("thirdPartyTag");
    let tag = checker.object(
        props.get("thirdPartyTag"),
        &tag_field,
        true,
        &["tagSource", "tagType", "destinationOnAmazon"],
    );
    let mut tag_type = None;
    let mut tag_source = None;
    if let Some(tag) = tag {
        tag_type = checker.one_of(
            tag.get("tagType"),
            &check::join(&tag_field, "tagType"),
            true,
            TAG_TYPES,
        );
        checker.one_of(
            tag.get("destinationOnAmazon"),
            &check::join(&tag_field, "destinationOnAmazon"),
            true,
            DESTINATIONS,
        );
        let source_field = check::join(&tag_field, "tagSource");
        tag_source = checker.string(tag.get("tagSource"), &source_field, true);
        if let (Some(kind), Some(source)) = (tag_type, tag_source) {
            let problem = if source.len() > MAX_TAG {
                Some("tagSource is longer than 32 KiB")
            } else if kind == "DISPLAY" {
                is_secure_html(source).err()
            } else if !is_https_url(source) {
                Some("tagSource of a VAST_VPAID tag must be an https URL")
            } else {
                None
            };
            if let Some(message) = problem {
                checker.push(check::IS_INVALID, &source_field, message);
                tag_source = None;
            }
        }
    }
    let sizes_field = at("creativeSizes");
    let mut sizes = Vec::new();
    match tag_type {
        Some("DISPLAY") => {
            if let Some(items) =
                checker.array(props.get("creativeSizes"), &sizes_field, true, 1, MAX_SIZES)
            {
                for (i, item) in items.iter().enumerate() {
                    let f = format!("{sizes_field}[{i}]");
                    if let Some(size) =
                        checker.object(Some(item), &f, true, &["width", "height", "responsive"])
                    {
                        let w = checker.integer(
                            size.get("width"),
                            &check::join(&f, "width"),
                            true,
                            1,
                            9999,
                        );
                        let h = checker.integer(
                            size.get("height"),
                            &check::join(&f, "height"),
                            true,
                            1,
                            9999,
                        );
                        if let (Some(w), Some(h)) = (w, h) {
                            sizes.push((w as u64, h as u64));
                        }
                    }
                }
            }
        }
        Some(_) if props.contains_key("creativeSizes") => checker.push(
            check::IS_INVALID,
            &sizes_field,
            "creativeSizes is taken from the VAST document for a VAST_VPAID tag",
        ),
        _ => {}
    }
    let trackers_field = at("trackingUrls");
    let mut trackers = Vec::new();
    if let Some(items) = checker.array(
        props.get("trackingUrls"),
        &trackers_field,
        false,
        1,
        MAX_TRACKERS,
    ) {
        for (i, item) in items.iter().enumerate() {
            let f = format!("{trackers_field}[{i}]");
            // Objects, as every sample has them (a bare URL string is refused).
            let Some(tracker) = checker.object(
                Some(item),
                &f,
                true,
                &["type", "url", "associatedAdExperience"],
            ) else {
                continue;
            };
            let kind = checker.one_of(
                tracker.get("type"),
                &check::join(&f, "type"),
                true,
                TRACKER_TYPES,
            );
            let experience = checker.one_of(
                tracker.get("associatedAdExperience"),
                &check::join(&f, "associatedAdExperience"),
                false,
                AD_EXPERIENCES,
            );
            let url_field = check::join(&f, "url");
            let url = checker.string(tracker.get("url"), &url_field, true);
            if let Some(url) = url
                && !is_https_url(url)
            {
                checker.push(
                    check::IS_INVALID,
                    &url_field,
                    "a tracking URL must be an https URL",
                );
                continue;
            }
            if tag_type == Some("VAST_VPAID") && kind == Some("CLICK") {
                // "Third party video creatives do not currently support CLICK trackers."
                checker.push(
                    check::IS_INVALID,
                    &check::join(&f, "type"),
                    "third party video creatives take no CLICK tracker",
                );
                continue;
            }
            if let (Some(kind), Some(url)) = (kind, url) {
                trackers.push(Tracker {
                    kind: kind.to_owned(),
                    url: url.to_owned(),
                    associated_ad_experience: experience.map(str::to_owned),
                });
            }
        }
    }
    Some(Format {
        tag_type: tag_type?.to_owned(),
        tag_source: tag_source?.to_owned(),
        creative_sizes: sizes,
        tracking_urls: trackers,
    })
}

fn check_name(checker: &mut Checker, value: Option<&Value>, required: bool) -> Option<String> {
    let name = checker.string(value, "name", required)?;
    if name.chars().count() > MAX_NAME {
        checker.push(
            check::SIZE_ABOVE_MAXIMUM,
            "name",
            "name allows at most 255 characters",
        );
        return None;
    }
    Some(name.to_owned())
}

/// What a create item holds once checked.
pub(crate) struct NewCreative {
    pub(crate) name: String,
    pub(crate) language: String,
    pub(crate) country: String,
    pub(crate) format: Format,
}

/// `language`: a lowercase two-letter language code, as every sample writes it (`en`);
/// a locale (`en_US`, the `/adsApi/v1` form) is refused.
fn check_language(checker: &mut Checker, value: Option<&Value>, required: bool) -> Option<String> {
    let text = checker.string(value, "language", required)?;
    if text.len() == 2 && text.bytes().all(|b| b.is_ascii_lowercase()) {
        Some(text.to_owned())
    } else {
        checker.push(
            check::IS_INVALID,
            "language",
            "language must be a language code such as en",
        );
        None
    }
}

fn check_country(checker: &mut Checker, value: Option<&Value>, required: bool) -> Option<String> {
    let code = checker.string(value, "country", required)?;
    if codes::is_alpha2(code) {
        Some(code.to_owned())
    } else {
        checker.push(
            check::IS_INVALID,
            "country",
            "country must be an ISO 3166-1 alpha-2 code",
        );
        None
    }
}

/// Fields of a creative the emulator takes (those of the samples it serves).
pub(crate) const CREATIVE_FIELDS: &[&str] = &[
    "name",
    "language",
    "country",
    "adChoicesPosition",
    "adCreativeFormatProperties",
];

/// Checks the body of `POST /dsp/v1/adCreatives`: one creative object (a batch wrapper
/// such as `adCreatives` is an unknown field).
pub(crate) fn check_create(item: &Value, prefix: &str) -> Result<NewCreative, Vec<FieldError>> {
    let mut checker = Checker::new(prefix);
    let Some(item) = checker.object(Some(item), "", true, CREATIVE_FIELDS) else {
        return Err(checker.into_errors());
    };
    let name = check_name(&mut checker, item.get("name"), true);
    let language = check_language(&mut checker, item.get("language"), true);
    let country = check_country(&mut checker, item.get("country"), true);
    let format = check_format(
        &mut checker,
        item.get("adCreativeFormatProperties"),
        "adCreativeFormatProperties",
    );
    let errors = checker.into_errors();
    match (name, language, country, format) {
        (Some(name), Some(language), Some(country), Some(format)) if errors.is_empty() => {
            Ok(NewCreative {
                name,
                language,
                country,
                format,
            })
        }
        _ => Err(errors),
    }
}

/// What an update holds once checked.
pub(crate) struct Change {
    pub(crate) name: Option<String>,
    pub(crate) language: Option<String>,
    pub(crate) country: Option<String>,
    pub(crate) format: Option<Format>,
}

/// Checks the body of `PATCH /dsp/v1/adCreatives/{adCreativeId}`: the fields to change
/// (partial; a list whole), the id in the path.
pub(crate) fn check_update(item: &Value) -> Result<Change, Vec<FieldError>> {
    let mut checker = Checker::new("");
    let Some(item) = checker.object(Some(item), "", true, CREATIVE_FIELDS) else {
        return Err(checker.into_errors());
    };
    let name = check_name(&mut checker, item.get("name"), false);
    let language = check_language(&mut checker, item.get("language"), false);
    let country = check_country(&mut checker, item.get("country"), false);
    let format = item
        .get("adCreativeFormatProperties")
        .map(|value| check_format(&mut checker, Some(value), "adCreativeFormatProperties"));
    let errors = checker.into_errors();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Change {
        name,
        language,
        country,
        format: format.flatten(),
    })
}

/// What an association item holds once checked.
pub(crate) struct NewAssociation {
    pub(crate) ad_group_id: String,
    pub(crate) ad_creative_id: String,
    pub(crate) weight: Option<i64>,
    pub(crate) state: String,
}

/// Checks one item of `POST /dsp/v1/adCreatives/associations/adGroups` (its fields only;
/// the handler checks the ids against the world).
pub(crate) fn check_association(
    item: &Value,
    prefix: &str,
) -> Result<NewAssociation, Vec<FieldError>> {
    let mut checker = Checker::new(prefix);
    let Some(item) = checker.object(
        Some(item),
        "",
        true,
        &[
            "adGroupId",
            "adCreativeId",
            "weight",
            "state",
            "startDate",
            "endDate",
        ],
    ) else {
        return Err(checker.into_errors());
    };
    let group = checker.string(item.get("adGroupId"), "adGroupId", true);
    let creative = checker.string(item.get("adCreativeId"), "adCreativeId", true);
    // Optional (the association rules: weight 1–999, not on RANDOM rotation; state
    // ACTIVE or INACTIVE, ACTIVE by default).
    let weight = checker.integer(item.get("weight"), "weight", false, 1, 999);
    let state = checker
        .one_of(
            item.get("state"),
            "state",
            false,
            crate::trafficking::ASSOCIATION_STATES,
        )
        .or_else(|| {
            item.get("state")
                .is_none()
                .then_some(crate::trafficking::ASSOCIATION_STATES[0])
        });
    for field in ["startDate", "endDate"] {
        if let Some(text) = checker.string(item.get(field), field, false)
            && check::parse_rfc3339(text).is_none()
        {
            checker.push(
                check::IS_INVALID,
                field,
                format!("{field} is not an RFC 3339 date-time"),
            );
        }
    }
    let errors = checker.into_errors();
    match (group, creative, state) {
        (Some(g), Some(c), Some(s)) if errors.is_empty() => Ok(NewAssociation {
            ad_group_id: g.to_owned(),
            ad_creative_id: c.to_owned(),
            weight,
            state: s.to_owned(),
        }),
        _ => Err(errors),
    }
}

/// The body of a batch call: `field` holding 1 to `max` items.
pub(crate) fn batch<'b>(
    body: &'b Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<&'b [Value], String> {
    match body.get(field) {
        Some(Value::Array(items)) if (1..=max).contains(&items.len()) => Ok(items),
        Some(Value::Array(_)) => Err(format!("{field} must hold 1 to {max} items.")),
        _ => Err(format!("{field} is required and must be an array.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn display() -> Value {
        json!({
            "name": "Spring 300x250 [g1]",
            "language": "en",
            "country": "US",
            "adCreativeFormatProperties": {
                "adCreativeFormatType": "THIRD_PARTY",
                "creativeSizes": [{"width": 300, "height": 250}],
                "thirdPartyTag": {"tagSource": "<script src=\"https://a.example/t.js?cb=${CACHEBUSTER}\"></script>", "tagType": "DISPLAY", "destinationOnAmazon": "OFF_AMAZON"},
                "trackingUrls": [{"type": "IMPRESSION", "url": "https://t.example/i", "associatedAdExperience": "THIRD_PARTY_DISPLAY"}]
            }
        })
    }

    fn errors_after(edit: impl FnOnce(&mut Value)) -> Vec<String> {
        let mut v = display();
        edit(&mut v);
        match check_create(&v, "") {
            Ok(_) => vec![],
            Err(e) => e.into_iter().map(|e| e.field_location).collect(),
        }
    }

    #[test]
    fn a_display_creative_is_taken_with_its_macro() {
        let c = check_create(&display(), "").ok().unwrap();
        assert!(c.format.tag_source.contains("${CACHEBUSTER}"));
        assert_eq!(c.format.creative_sizes, [(300, 250)]);
    }

    #[test]
    fn bad_creatives_are_refused_field_by_field() {
        let p = "adCreativeFormatProperties";
        assert_eq!(
            errors_after(
                |v| v["adCreativeFormatProperties"]["thirdPartyTag"]["tagSource"] =
                    json!("<img src=\"http://x.example/i\">")
            ),
            [format!("{p}.thirdPartyTag.tagSource")]
        );
        assert_eq!(
            errors_after(
                |v| v["adCreativeFormatProperties"]["thirdPartyTag"]["tagType"] = json!("AUDIO")
            ),
            [format!("{p}.thirdPartyTag.tagType")]
        );
        assert_eq!(
            errors_after(|v| v["adCreativeFormatProperties"]["creativeSizes"] = json!([])),
            [format!("{p}.creativeSizes")]
        );
        // The `/adsApi/v1` forms: bare tracker URLs, a locale.
        assert_eq!(
            errors_after(
                |v| v["adCreativeFormatProperties"]["trackingUrls"] = json!(["https://t.example"])
            ),
            [format!("{p}.trackingUrls[0]")]
        );
        assert_eq!(
            errors_after(
                |v| v["adCreativeFormatProperties"]["trackingUrls"][0]["url"] =
                    json!("http://t.example")
            ),
            [format!("{p}.trackingUrls[0].url")]
        );
        assert_eq!(
            errors_after(|v| v["language"] = json!("en_US")),
            ["language"]
        );
        assert_eq!(errors_after(|v| v["country"] = json!("XX")), ["country"]);
        assert_eq!(
            errors_after(|v| v["name"] = json!("n".repeat(256))),
            ["name"]
        );
        assert_eq!(
            errors_after(|v| v["lineItemId"] = json!("1")),
            ["lineItemId"]
        );
        // A wrapped batch is not a creative.
        let wrapped = json!({ "adCreatives": [display()] });
        assert!(check_create(&wrapped, "").is_err());
        // Video: an https VAST URL, no sizes.
        let video = |v: &mut Value| {
            let p = &mut v["adCreativeFormatProperties"];
            p["thirdPartyTag"]["tagType"] = json!("VAST_VPAID");
            p["thirdPartyTag"]["tagSource"] = json!("https://v.example/vast?cb=${CACHEBUSTER}");
            p.as_object_mut().unwrap().remove("creativeSizes");
            p["trackingUrls"][0]["associatedAdExperience"] = json!("THIRD_PARTY_VIDEO");
        };
        assert!(errors_after(video).is_empty());
        assert_eq!(
            errors_after(|v| {
                video(v);
                v["adCreativeFormatProperties"]["thirdPartyTag"]["tagSource"] =
                    json!("http://v.example/vast");
            }),
            [format!("{p}.thirdPartyTag.tagSource")]
        );
    }

    #[test]
    fn associations_and_fits() {
        let ok =
            json!({"adGroupId": "g1", "adCreativeId": "1", "weight": 100, "state": "INACTIVE"});
        assert!(check_association(&ok, "a[0]").is_ok());
        let bare = json!({"adGroupId": "g1", "adCreativeId": "1"});
        let taken = check_association(&bare, "a[0]").ok().unwrap();
        assert_eq!((taken.weight, taken.state.as_str()), (None, "ACTIVE"));
        let mut bad = ok.clone();
        bad["weight"] = json!(1000);
        bad["state"] = json!("ENABLED");
        assert_eq!(check_association(&bad, "a[0]").err().unwrap().len(), 2);
        assert!(fits("DISPLAY", "DISPLAY") && fits("STREAMING_TV", "VAST_VPAID"));
        assert!(!fits("DISPLAY", "VAST_VPAID") && !fits("AUDIO", "VAST_VPAID"));
        assert_eq!(experience_for("VAST_VPAID"), "THIRD_PARTY_VIDEO");
    }
}
