//! DSP trafficking and creatives (`/dsp/v1/...`): Amazon publishes no OpenAPI file for them, so
//! the guide pages' samples are the contract (`guides/dsp/developer-guide.md`,
//! `creative-management.md`, `creative-associations.md`, and the migration notes under
//! `reference/migration-guides/`). Requests are [`assert_undocumented`] and compared with the
//! samples; where samples disagree, the majority form is sent and both are parsed.
//!
//! "Compared" is structural ([`assert_shape`]): every key the builder sends is one of the
//! sample's, at the same nesting, with a value of the same JSON type, and the same value where
//! the sample shows an enum word (`ACTIVE`, `THIRD_PARTY`, `en` …). A sample's placeholders
//! (`${…}`, `{{…}}`) and free text (names, URLs, tags) match any string. The answer samples are
//! fed to the parsers as the pages write them (trailing commas and `//` comments taken out).

use matchkey::amazon::dsp::creative::{self, Association, ThirdPartyCreative};
use matchkey::amazon::dsp::tag::Kind;
use matchkey::amazon::dsp::{self, Account, Target, TargetType};
use serde_json::Value;

#[allow(unused_imports)]
use super::*;

const MANAGEMENT: &str = "guides/dsp/creative-management.md";
const ASSOCIATIONS: &str = "guides/dsp/creative-associations.md";
const DEVELOPER: &str = "guides/dsp/developer-guide.md";

const ACCOUNT: Account<'static> = Account {
    advertiser_id: "583000000000001",
    profile_id: "3333333333",
};

/// A sample as the page writes it, made JSON: `//` comments (after white space, so not the
/// `//` of a URL) and trailing commas taken out.
fn lenient(text: &str) -> Value {
    let mut cleaned = String::new();
    for line in text.lines() {
        let line = match line.find(" //") {
            Some(at) if !line[at..].contains('"') => &line[..at],
            _ => line,
        };
        cleaned.push_str(line);
        cleaned.push('\n');
    }
    // `, }` and `, ]` (across lines) → `}` and `]`.
    let mut out = String::with_capacity(cleaned.len());
    let chars: Vec<char> = cleaned.chars().collect();
    let mut in_string = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' && (i == 0 || chars[i - 1] != '\\') {
            in_string = !in_string;
        }
        if c == ',' && !in_string {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}' | ']')) {
                i += 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON even leniently: {e}\n{out}"))
}

/// The `n`th code block under a heading of a page, made JSON.
fn sample(page: &str, heading: &str, n: usize) -> Value {
    let blocks: Vec<_> = amazon_contract::code_blocks(page)
        .into_iter()
        .filter(|b| b.heading == heading)
        .collect();
    let block = blocks
        .get(n)
        .unwrap_or_else(|| panic!("{page}: no block {n} under \"{heading}\""));
    lenient(&block.text)
}

/// A sample's string that stands for any value.
fn is_free(text: &str) -> bool {
    let enum_word = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    let language = text.len() == 2 && text.bytes().all(|b| b.is_ascii_lowercase());
    text.contains("${") || text.contains("{{") || !(enum_word || language)
}

/// Panics unless `built` has the sample's structure (see the module's comment).
#[track_caller]
fn assert_shape(built: &Value, sample: &Value) {
    fn walk(built: &Value, sample: &Value, at: &str, problems: &mut Vec<String>) {
        match (built, sample) {
            (Value::Object(b), Value::Object(s)) => {
                for (key, value) in b {
                    match s.get(key) {
                        Some(expected) => walk(value, expected, &format!("{at}/{key}"), problems),
                        None => problems.push(format!("{at}/{key}: not in the sample")),
                    }
                }
            }
            (Value::Array(b), Value::Array(s)) => {
                if let Some(first) = s.first() {
                    for (i, item) in b.iter().enumerate() {
                        // Each item like one of the sample's items.
                        let fits = s.iter().any(|candidate| {
                            let mut p = Vec::new();
                            walk(item, candidate, "", &mut p);
                            p.is_empty()
                        });
                        if !fits {
                            walk(item, first, &format!("{at}/{i}"), problems);
                        }
                    }
                }
            }
            (_, Value::String(s)) if s.contains("${") || s.contains("{{") => {}
            (Value::String(b), Value::String(s)) => {
                if !is_free(s) && b != s {
                    problems.push(format!("{at}: {b} where the sample has {s}"));
                }
            }
            (Value::Number(_), Value::Number(_))
            | (Value::Bool(_), Value::Bool(_))
            | (Value::Null, Value::Null) => {}
            (b, s) => problems.push(format!("{at}: {b} where the sample has {s}")),
        }
    }
    let mut problems = Vec::new();
    walk(built, sample, "", &mut problems);
    assert!(
        problems.is_empty(),
        "the body does not have the sample's shape:\n{}\nbody: {built}\nsample: {sample}",
        problems.join("\n")
    );
}

fn body(request: &ApiRequest) -> Value {
    serde_json::from_str(request.body.as_deref().unwrap()).unwrap()
}

/// The three headers of Amazon's `/dsp/v1` migration notes (the vendored README's "Facts
/// from other public sources": required, likely, not proven) on every request, and no
/// vendored OpenAPI file claims the path.
#[track_caller]
fn assert_dsp_v1(request: &ApiRequest) {
    assert_undocumented(request);
    assert_eq!(
        request.header_value("Amazon-Advertising-API-ClientId"),
        Some(auth().client_id)
    );
    assert_eq!(
        request.header_value("Amazon-Ads-AccountId"),
        Some(ACCOUNT.advertiser_id)
    );
    assert_eq!(
        request.header_value("Amazon-Advertising-API-Scope"),
        Some(ACCOUNT.profile_id)
    );
    assert!(path_of(request).starts_with("/dsp/v1/"));
}

fn third_party(kind: Kind) -> ThirdPartyCreative {
    ThirdPartyCreative {
        name: "Spring 300x250 [g1]".into(),
        language: creative::DEFAULT_LANGUAGE.into(),
        country: "US".into(),
        kind,
        tag: match kind {
            Kind::Display => "<script src=\"https://ads.example/t.js\"></script>".into(),
            Kind::Video => "https://ads.example/vast.xml".into(),
        },
        sizes: if kind == Kind::Display {
            vec![(300, 250)]
        } else {
            vec![]
        },
        trackers: vec!["https://t.example/i".into()],
    }
}

#[test]
fn the_structural_comparison_refuses_the_old_forms() {
    let sample = sample(MANAGEMENT, "Sample request: third party video", 0);
    let mut old = body(&creative::create_creative(
        &auth(),
        &ACCOUNT,
        &third_party(Kind::Video),
    ));
    old["language"] = "en_US".into();
    let caught = std::panic::catch_unwind(|| assert_shape(&old, &sample));
    assert!(caught.is_err(), "en_US passes for en");
    let wrapped = serde_json::json!({ "adCreatives": [body(&creative::create_creative(&auth(), &ACCOUNT, &third_party(Kind::Video)))] });
    assert!(std::panic::catch_unwind(|| assert_shape(&wrapped, &sample)).is_err());
}

/// `creative-management.md`, "Third party display" and "Third party video" (both `PATCH`
/// samples of the creative model a create sends too).
#[test]
fn creates_and_updates_have_the_third_party_samples_shape() {
    let display = sample(MANAGEMENT, "Sample request: third party display", 0);
    let video = sample(MANAGEMENT, "Sample request: third party video", 0);
    let mut display_no_trackers = third_party(Kind::Display);
    display_no_trackers.trackers.clear();
    for (creative, sample) in [
        (display_no_trackers, &display),
        (third_party(Kind::Video), &video),
    ] {
        let create = creative::create_creative(&auth(), &ACCOUNT, &creative);
        assert_eq!(create.method.as_str(), "POST");
        assert_eq!(path_of(&create), "/dsp/v1/adCreatives");
        assert_dsp_v1(&create);
        assert_shape(&body(&create), sample);
        let update = creative::update_creative(&auth(), &ACCOUNT, "591", &creative);
        assert_eq!(update.method.as_str(), "PATCH");
        assert_eq!(path_of(&update), "/dsp/v1/adCreatives/591");
        assert_dsp_v1(&update);
        assert_shape(&body(&update), sample);
    }
    // A display creative's impression tracker, as "Step 1: Generate an Ad Creative" writes
    // trackers (the sample's creative is DISPLAY, ours THIRD_PARTY: its trackers only).
    let step1 = sample(MANAGEMENT, "Step 1: Generate an Ad Creative", 0);
    let built = body(&creative::create_creative(
        &auth(),
        &ACCOUNT,
        &third_party(Kind::Display),
    ));
    let mut trackers = built["adCreativeFormatProperties"]["trackingUrls"].clone();
    trackers[0]["associatedAdExperience"] = "STANDARD_DISPLAY".into();
    assert_shape(
        &trackers,
        &step1["adCreativeFormatProperties"]["trackingUrls"],
    );
}

/// The ad experience as six of the seven `PUT /dsp/v1/adExperiences` samples write it
/// (objects); the seventh ("Step 2: Associate an Ad Experience") has strings.
#[test]
fn the_ad_experience_is_the_majority_sample() {
    let objects = sample(MANAGEMENT, "Sample request: third party display", 1);
    let request = creative::set_ad_experience(&auth(), &ACCOUNT, "591", Kind::Display);
    assert_eq!(request.method.as_str(), "PUT");
    assert_eq!(path_of(&request), "/dsp/v1/adExperiences");
    assert_dsp_v1(&request);
    assert_shape(&body(&request), &objects);
    assert_eq!(body(&request)["adExperiences"], objects["adExperiences"]);
    let strings = sample(MANAGEMENT, "Step 2:  Associate an Ad Experience", 0);
    assert!(strings["adExperiences"][0].is_string(), "the minority form");
    let video = sample(MANAGEMENT, "Sample request: third party video", 1);
    assert_eq!(
        body(&creative::set_ad_experience(
            &auth(),
            &ACCOUNT,
            "591",
            Kind::Video
        ))["adExperiences"],
        video["adExperiences"]
    );
}

/// `creative-associations.md`, "Sample request: Create adCreative association with adGroup"
/// and "Example request: Review adCreative association moderation result".
#[test]
fn associations_and_their_moderation_have_the_samples_shape() {
    let create = sample(
        ASSOCIATIONS,
        "Sample request: Create adCreative association with adGroup",
        0,
    );
    let items = [
        Association {
            ad_group_id: "g1".into(),
            ad_creative_id: "591".into(),
            weight: None,
        },
        Association {
            ad_group_id: "g2".into(),
            ad_creative_id: "591".into(),
            weight: Some(creative::DEFAULT_WEIGHT),
        },
    ];
    let request = creative::associate(&auth(), &ACCOUNT, &items);
    assert_eq!(
        path_of(&request),
        "/dsp/v1/adCreatives/associations/adGroups"
    );
    assert_dsp_v1(&request);
    // The sample's weight is a placeholder string ("${weight}"); the rules say 1–999.
    assert_shape(&body(&request), &create);
    assert_eq!(body(&request)["associations"][0]["state"], "ACTIVE");
    assert!(body(&request)["associations"][0].get("weight").is_none());

    let moderation = sample(
        ASSOCIATIONS,
        "Example request: Review adCreative association moderation result",
        0,
    );
    let request = creative::list_moderations(&auth(), &ACCOUNT, &["g1", "g2"], Some("t"));
    assert_eq!(
        path_of(&request),
        "/dsp/v1/adCreatives/associations/adGroups/moderations/list"
    );
    assert_dsp_v1(&request);
    assert_shape(&body(&request), &moderation);
    assert_eq!(
        creative::MAX_PER_CALL,
        20,
        "Each filter supports up to 20 items"
    );
}

/// `creative-management.md`, "Listing ad creatives" (the request), and "Step 3: View Ad
/// Creative moderation" (a `GET` without a body).
#[test]
fn creative_lists_and_moderation_reads_have_the_samples_shape() {
    let list = sample(MANAGEMENT, "Listing ad creatives", 0);
    let request = creative::list_creatives(&auth(), &ACCOUNT, None);
    assert_eq!(path_of(&request), "/dsp/v1/adCreatives/list");
    assert_dsp_v1(&request);
    assert_shape(&body(&request), &list);
    let request = creative::creative_moderation(&auth(), &ACCOUNT, "591");
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(path_of(&request), "/dsp/v1/adCreatives/591/moderations");
    assert_dsp_v1(&request);
    assert_eq!(request.body, None);
}

/// `developer-guide.md`, "Using audience targeting" → "List audience targets on an ad group":
/// one block holding the request, `RESPONSE:` and the answer.
fn targets_sample() -> (Value, Value) {
    let block = amazon_contract::code_blocks(DEVELOPER)
        .into_iter()
        .find(|b| b.text.contains("RESPONSE:"))
        .expect("the targets sample");
    let (request, answer) = block.text.split_once("RESPONSE:").unwrap();
    (lenient(request), lenient(answer))
}

#[test]
fn the_targets_list_is_the_developer_guides_sample() {
    let (request_sample, answer_sample) = targets_sample();
    let request = dsp::list_targets(
        &auth(),
        &ACCOUNT,
        &["579602514554384269"],
        TargetType::Audience,
        None,
    );
    assert_dsp_v1(&request);
    let built = body(&request);
    // The sample shows `filters` alone; the paging fields of every list are sent beside it.
    assert_eq!(built["filters"], request_sample["filters"]);

    let (targets, next) = dsp::parse_targets(&answer_sample.to_string()).unwrap();
    assert_eq!(next, None);
    assert_eq!(targets.len(), 6);
    let negatives: Vec<bool> = targets
        .iter()
        .map(|t| match t {
            Target::Audience { negative, .. } => *negative,
            other => panic!("read as {other:?}"),
        })
        .collect();
    assert_eq!(negatives, [false, false, false, false, true, true]);
}

/// The campaign and ad group list answers carry the fields of their create samples
/// (`developer-guide.md` "Create a campaign", "Create an ad group"; no list answer sample
/// exists): those samples' items, given the ids a list adds, are read.
#[test]
fn campaign_and_ad_group_create_samples_read_as_list_items() {
    let mut campaign = sample(DEVELOPER, "Step 1: Create a campaign", 0)["campaigns"][0].clone();
    campaign["campaignId"] = "587673741928966411".into();
    campaign["state"] = "INACTIVE".into();
    let answer = serde_json::json!({ "campaigns": [campaign] }).to_string();
    let (campaigns, _) = dsp::parse_campaigns(&answer).unwrap();
    assert_eq!(campaigns[0].start, "2024-01-01T00:00:00Z");
    assert_eq!(campaigns[0].end, "2024-03-31T11:59:59Z");

    let mut group = sample(DEVELOPER, "Step 2: Create an ad group", 0)["adGroups"][0].clone();
    group["adGroupId"] = "579602514554384269".into();
    let answer = serde_json::json!({ "adGroups": [group] }).to_string();
    let (groups, _) = dsp::parse_ad_groups(&answer).unwrap();
    assert_eq!(groups[0].inventory_type, "DISPLAY");
    assert!(dsp::INVENTORY_TYPES.contains(&groups[0].inventory_type.as_str()));
    assert_eq!(groups[0].rotation, "RANDOM");
    assert!(!groups[0].takes_weight(), "no weight on random rotation");
}

/// The answer samples of `creative-management.md` ("Step 1", "Step 3", "Listing ad
/// creatives") and `creative-associations.md`.
#[test]
fn the_parsers_read_the_guides_answers() {
    let created = sample(MANAGEMENT, "Step 1: Generate an Ad Creative", 1);
    assert_eq!(
        creative::parse_created(&created.to_string()).as_deref(),
        Some("${adCreativeId}")
    );
    let moderation = sample(MANAGEMENT, "Step 3: View Ad Creative moderation", 1);
    let read = creative::parse_creative_moderation(&moderation.to_string()).unwrap();
    assert_eq!(read.status, "PENDING");
    let listed = sample(MANAGEMENT, "Listing ad creatives", 1);
    let (creatives, next) = creative::parse_creatives(&listed.to_string()).unwrap();
    assert_eq!((creatives[0].name.as_str(), next), ("updatedName", None));

    let statuses = sample(
        ASSOCIATIONS,
        "Example response: Review adCreative association moderation results",
        0,
    );
    let (list, next) = creative::parse_moderations(&statuses.to_string()).unwrap();
    assert_eq!(list[0].ad_group_id, "${adGroupId}");
    assert_eq!(next.as_deref(), Some("${nextToken}"));

    // The multi-status samples show both arrays with the same index 0 (one item sent): as
    // written they name item 0 twice, which the parser refuses as ambiguous. Amazon leaves an
    // empty array out (the migration guide's error model): each array alone is read.
    for heading in [
        "Sample response: Create adCreative association with adGroup",
        "Example response: Update an ad Creative association",
        "Example response: Delete an ad creative association",
    ] {
        let answer = sample(ASSOCIATIONS, heading, 0);
        assert_eq!(creative::parse_multi_status(&answer.to_string(), 1), None);
        for (kept, ok) in [("success", true), ("error", false)] {
            let alone = serde_json::json!({ kept: answer[kept] }).to_string();
            let read = creative::parse_multi_status(&alone, 1).unwrap();
            assert_eq!(read[0].index, 0, "{heading}");
            assert_eq!(read[0].outcome.is_ok(), ok, "{heading}");
        }
    }
}
