//! Amazon's guide pages, vendored under `tests/contracts/amazon/guides/`, and their code samples.
//!
//! Where Amazon publishes no OpenAPI file (`/dsp/v1`, AMC uploads and audiences, Login with
//! Amazon), the samples of these pages are the contract: tests read them from here rather than
//! retyping them, and name the page they quote.

use serde_json::Value;

/// Every vendored page: its path under `guides/` (the mirror's path of Amazon's `en-us/` page)
/// and its text.
pub const GUIDES: &[(&str, &str)] = &[
    (
        "guides/account-management/authorization/access-tokens.md",
        include_str!(
            "../../contracts/amazon/guides/guides/account-management/authorization/access-tokens.md"
        ),
    ),
    (
        "guides/account-management/authorization/authorization-grants.md",
        include_str!(
            "../../contracts/amazon/guides/guides/account-management/authorization/authorization-grants.md"
        ),
    ),
    (
        "guides/amazon-marketing-cloud/advertiser-data-upload/adu-examples.md",
        include_str!(
            "../../contracts/amazon/guides/guides/amazon-marketing-cloud/advertiser-data-upload/adu-examples.md"
        ),
    ),
    (
        "guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-column.md",
        include_str!(
            "../../contracts/amazon/guides/guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-column.md"
        ),
    ),
    (
        "guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-identity-deletion.md",
        include_str!(
            "../../contracts/amazon/guides/guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-identity-deletion.md"
        ),
    ),
    (
        "guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-overview.md",
        include_str!(
            "../../contracts/amazon/guides/guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-overview.md"
        ),
    ),
    (
        "guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-prepare-data.md",
        include_str!(
            "../../contracts/amazon/guides/guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-prepare-data.md"
        ),
    ),
    (
        "guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-s3-bucket.md",
        include_str!(
            "../../contracts/amazon/guides/guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-s3-bucket.md"
        ),
    ),
    (
        "guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-sets.md",
        include_str!(
            "../../contracts/amazon/guides/guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-sets.md"
        ),
    ),
    (
        "guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-upload.md",
        include_str!(
            "../../contracts/amazon/guides/guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-upload.md"
        ),
    ),
    (
        "guides/amazon-marketing-cloud/audiences/audience-management-service.md",
        include_str!(
            "../../contracts/amazon/guides/guides/amazon-marketing-cloud/audiences/audience-management-service.md"
        ),
    ),
    (
        "guides/dsp/creative-associations.md",
        include_str!("../../contracts/amazon/guides/guides/dsp/creative-associations.md"),
    ),
    (
        "guides/dsp/creative-management.md",
        include_str!("../../contracts/amazon/guides/guides/dsp/creative-management.md"),
    ),
    (
        "guides/dsp/data-provider.md",
        include_str!("../../contracts/amazon/guides/guides/dsp/data-provider.md"),
    ),
    (
        "guides/dsp/developer-guide.md",
        include_str!("../../contracts/amazon/guides/guides/dsp/developer-guide.md"),
    ),
    (
        "guides/dsp/tactics.md",
        include_str!("../../contracts/amazon/guides/guides/dsp/tactics.md"),
    ),
    (
        "guides/get-started/retrieve-profiles.md",
        include_str!("../../contracts/amazon/guides/guides/get-started/retrieve-profiles.md"),
    ),
    (
        "guides/onboarding/data-provider-api.md",
        include_str!("../../contracts/amazon/guides/guides/onboarding/data-provider-api.md"),
    ),
    (
        "reference/concepts/rate-limiting.md",
        include_str!("../../contracts/amazon/guides/reference/concepts/rate-limiting.md"),
    ),
    (
        "reference/migration-guides/adsp-campaign-management.md",
        include_str!(
            "../../contracts/amazon/guides/reference/migration-guides/adsp-campaign-management.md"
        ),
    ),
    (
        "reference/migration-guides/dsp-creatives.md",
        include_str!("../../contracts/amazon/guides/reference/migration-guides/dsp-creatives.md"),
    ),
    (
        "release-notes/deprecations.md",
        include_str!("../../contracts/amazon/guides/release-notes/deprecations.md"),
    ),
];

/// The text of a vendored page, by its path under `guides/`, such as
/// `guides/dsp/creative-management.md`.
///
/// # Panics
/// If the page is not vendored (a test quoting a page must vendor it).
pub fn guide(path: &str) -> &'static str {
    GUIDES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("{path} is not vendored under tests/contracts/amazon/guides/"))
}

/// One fenced code block of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    /// The fence's info string (`json`, `bash`, or empty).
    pub lang: String,
    /// The nearest heading above the block (without the `#`s), or empty.
    pub heading: String,
    /// The 1-based line of the opening fence.
    pub line: usize,
    /// The block's text, without the fences.
    pub text: String,
}

/// The fenced code blocks of a vendored page, in order.
pub fn code_blocks(path: &str) -> Vec<CodeBlock> {
    let mut blocks = Vec::new();
    let mut heading = String::new();
    let mut open: Option<(String, String, usize, String)> = None;
    for (i, line) in guide(path).lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(fence) = trimmed.strip_prefix("```") {
            match open.take() {
                None => {
                    open = Some((
                        fence.trim().to_owned(),
                        heading.clone(),
                        i + 1,
                        String::new(),
                    ))
                }
                Some((lang, heading, line, text)) => blocks.push(CodeBlock {
                    lang,
                    heading,
                    line,
                    text,
                }),
            }
            continue;
        }
        match &mut open {
            Some((_, _, _, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {
                if let Some(h) = trimmed.strip_prefix('#') {
                    heading = h.trim_start_matches('#').trim().to_owned();
                }
            }
        }
    }
    blocks
}

/// The code blocks of a page that are JSON documents as written, parsed, with their block.
/// Blocks with comments, `...` or other prose are left out: quote those by hand, naming the page.
pub fn json_samples(path: &str) -> Vec<(CodeBlock, Value)> {
    code_blocks(path)
        .into_iter()
        .filter_map(|block| {
            let value = serde_json::from_str::<Value>(&block.text).ok()?;
            (value.is_object() || value.is_array()).then_some((block, value))
        })
        .collect()
}
