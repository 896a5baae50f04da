//! `matchkey dsp campaigns`, `import` and `publish` against the strict emulator: real
//! HTTP, real Login with Amazon, campaigns set through the emulator's control. The emulator
//! checks `/dsp/v1` requests by the shapes of Amazon's guide samples and answers in them.

mod support;

use std::process::Output;

use amazon_emulator::{
    AdGroup, Campaign, Config, DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_PROFILE_ID,
    DEMO_REFRESH_TOKEN, FaultKind, dsp_enums,
};
use matchkey::amazon::dsp;
use serde_json::{Value, json};
use support::{Amazon, DspCreatives, Tracker, agent, fault, status_fault};

fn group(id: &str, kind: &str, sources: &[&str], audiences: &[(&str, bool)]) -> AdGroup {
    AdGroup::new(id, kind, "2026-10-01T00:00:00Z", sources, audiences)
}

fn campaign(id: &str, state: &str, groups: Vec<AdGroup>) -> Campaign {
    Campaign::new(id, state, groups)
}

/// Three campaigns in different states; the ad groups cover every supply and serving case.
fn campaigns() -> Vec<Campaign> {
    vec![
        campaign(
            "c1",
            "ACTIVE",
            vec![
                group("g1", "DISPLAY", &["AMAZON", "AMAZON_PUBLISHER_DIRECT"], &[]),
                group(
                    "g2",
                    "ONLINE_VIDEO",
                    &["THIRD_PARTY_EXCHANGE", "DEAL"],
                    &[("AMAZON", false)],
                ),
                group(
                    "g3",
                    "STREAMING_TV",
                    &["AMAZON_PUBLISHER_DIRECT", "INVENTORY_GROUP"],
                    &[("AMAZON", false), ("ADVERTISER", false)],
                ),
            ],
        ),
        campaign(
            "c2",
            "INACTIVE",
            vec![
                group("g4", "DISPLAY", &[], &[("AMC", false)]),
                group("g5", "DISPLAY", &["DEAL"], &[("LOOKALIKE", false)]),
                group(
                    "g6",
                    "AUDIO",
                    &["AMAZON"],
                    &[("THIRD_PARTY", false), ("ADVERTISER", true)],
                ),
            ],
        ),
        campaign("c3", "PAUSED", vec![]),
    ]
}

fn start(test: &str) -> Amazon {
    let mut config = Config::demo();
    config.advertisers[0].campaigns = campaigns();
    Amazon::start_with(test, config)
}

fn run(amazon: &Amazon, args: &[&str]) -> (String, String, Option<i32>) {
    run_with_profile(amazon, args, Some(&DEMO_PROFILE_ID.to_string()))
}

/// [`run`] with `PROFILE_ID` set to `profile`, or unset.
fn run_with_profile(
    amazon: &Amazon,
    args: &[&str],
    profile: Option<&str>,
) -> (String, String, Option<i32>) {
    let mut command = amazon.matchkey();
    match profile {
        Some(profile) => command.env("PROFILE_ID", profile),
        None => command.env_remove("PROFILE_ID"),
    };
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .args(args)
        .env_remove("ADVERTISER_ID")
        .output()
        .unwrap();
    (
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
        status.code(),
    )
}

/// The file's rows as maps from column to value, and its header.
fn read(path: &std::path::Path) -> (Vec<String>, Vec<std::collections::BTreeMap<String, String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, rows)
}

fn import_args<'a>(out: &'a str, campaigns: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "dsp",
        "import",
        "--advertiser-id",
        DEMO_ACCOUNT_ID,
        "--out",
        out,
    ];
    for c in campaigns {
        args.extend(["--campaign-id", c]);
    }
    args
}

#[test]
fn campaigns_json_lists_states_and_dates() {
    let amazon = start("dsp-campaigns");
    let (stdout, stderr, code) = run(
        &amazon,
        &[
            "dsp",
            "campaigns",
            "--advertiser-id",
            DEMO_ACCOUNT_ID,
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["advertiserId"], DEMO_ACCOUNT_ID);
    let list = report["campaigns"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["state"], "ACTIVE");
    assert_eq!(list[0]["running"], true);
    assert_eq!(list[1]["running"], false);
    assert_eq!(list[2]["state"], "PAUSED");
    assert_eq!(list[0]["end"], "2026-12-31T23:59:59Z");

    let (table, _, code) = run(
        &amazon,
        &["dsp", "campaigns", "--advertiser-id", DEMO_ACCOUNT_ID],
    );
    assert_eq!(code, Some(0));
    assert!(table.starts_with("CAMPAIGN ID"), "{table}");
    assert!(table.contains("c2           INACTIVE"), "{table}");
}

#[test]
fn import_two_campaigns_with_supply_and_serving() {
    let amazon = start("dsp-import");
    let out = amazon.dir.join("placements.csv");
    let out_text = out.to_str().unwrap();
    let (_, stderr, code) = run(&amazon, &import_args(out_text, &["c1", "c2"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("6 ad group(s) from 2 campaign(s): 6 new"),
        "{stderr}"
    );
    let (header, rows) = read(&out);
    assert_eq!(header[0], "placement_id");
    assert!(header.contains(&"sizes".to_owned()));
    let by = |g: &str| rows.iter().find(|r| r["ad_group_id"] == g).unwrap();
    // Amazon's targets answer names no audience type: an ad group with an audience is for
    // a person to decide, one without is served client side.
    let expect = [
        ("g1", "amazon_owned", "client_side"),
        ("g2", "third_party", "unknown"),
        ("g3", "mixed", "unknown"),
        ("g4", "unknown", "unknown"),
        ("g5", "third_party", "unknown"),
        ("g6", "amazon_owned", "unknown"),
    ];
    for (g, supply, serving) in expect {
        assert_eq!(
            (by(g)["supply"].as_str(), by(g)["serving"].as_str()),
            (supply, serving),
            "{g}"
        );
    }
    assert_eq!(
        by("g1")["placement_id"],
        dsp::placement_id(DEMO_ACCOUNT_ID, "g1")
    );
    assert_eq!(by("g1")["campaign_state"], "ACTIVE");
    assert_eq!(by("g1")["campaign_running"], "yes");
    assert_eq!(by("g4")["campaign_running"], "no");
    assert_eq!(by("g2")["inventory_type"], "ONLINE_VIDEO");
    assert_eq!(by("g1")["start"], "2026-10-01T00:00:00Z");
    assert_eq!(
        by("g1")["end"],
        "2026-12-31T23:59:59Z",
        "the campaign's end when the ad group has none"
    );
    assert!(by("g6")["note"].contains("audio"));
    assert!(by("g4")["note"].contains("no inventory source"));
    assert!(
        by("g2")["note"].contains("serving: decide"),
        "{:?}",
        by("g2")
    );
    assert!(rows.iter().all(|r| r["status"] == "active"));
}

#[test]
fn rerun_refreshes_keeps_user_columns_and_marks_vanished() {
    let amazon = start("dsp-refresh");
    let out = amazon.dir.join("placements.csv");
    let out_text = out.to_str().unwrap();
    let (_, stderr, code) = run(&amazon, &import_args(out_text, &["c1", "c2"]));
    assert_eq!(code, Some(0), "{stderr}");

    // The trafficker adds a column and fills sizes.
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let mut edited = format!("{},tag_id\n", lines.next().unwrap());
    let (header, _) = read(&out);
    let sizes = header.iter().position(|h| h == "sizes").unwrap();
    for (i, line) in lines.enumerate() {
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        cells[sizes] = "300x250".to_owned();
        edited.push_str(&format!("{},tag-{i}\n", cells.join(",")));
    }
    std::fs::write(&out, edited).unwrap();

    // Amazon: g2 is gone, g7 is new, g1 is renamed and the campaign is now paused.
    let mut changed = campaigns();
    changed[0].state = "PAUSED".to_owned();
    changed[0].ad_groups.remove(1);
    changed[0].ad_groups[0].name = "Renamed".to_owned();
    changed[0]
        .ad_groups
        .push(group("g7", "DISPLAY", &["AMAZON"], &[]));
    amazon.emulator().put_campaigns(DEMO_ACCOUNT_ID, &changed);

    let (_, stderr, code) = run(&amazon, &import_args(out_text, &["c1", "c2"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("1 new, 5 updated, 1 vanished"), "{stderr}");
    let (header, rows) = read(&out);
    assert_eq!(header.last().unwrap(), "tag_id");
    assert_eq!(rows.len(), 7, "nothing deleted");
    let by = |g: &str| rows.iter().find(|r| r["ad_group_id"] == g).unwrap();
    assert_eq!(by("g2")["status"], "vanished");
    assert_eq!(
        by("g2")["tag_id"],
        "tag-1",
        "a vanished row keeps its user columns"
    );
    assert_eq!(by("g1")["ad_group_name"], "Renamed");
    assert_eq!(by("g1")["campaign_state"], "PAUSED");
    assert_eq!(by("g1")["tag_id"], "tag-0");
    assert_eq!(by("g1")["sizes"], "300x250");
    assert_eq!(
        rows.last().unwrap()["ad_group_id"],
        "g7",
        "new ad groups are appended"
    );
    assert_eq!(by("g7")["tag_id"], "");
    assert_eq!(by("g7")["status"], "active");
}

#[test]
fn clear_errors() {
    let amazon = start("dsp-errors");
    let out = amazon.dir.join("placements.csv");
    let out_text = out.to_str().unwrap();
    let (_, stderr, code) = run(&amazon, &import_args(out_text, &["c1", "c404"]));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown campaign id(s) c404"), "{stderr}");
    let (_, stderr, code) = run(&amazon, &import_args(out_text, &["c3"]));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no ad groups"), "{stderr}");
    assert!(!out.exists(), "nothing written when the import fails");
    let (_, stderr, code) = run(
        &amazon,
        &["dsp", "campaigns", "--advertiser-id", "583999000000000"],
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("403"), "{stderr}");
    assert!(stderr.contains("Admin or Editor"), "{stderr}");
    // Every /dsp/v1 call needs the profile: a clear error when it is missing, nothing sent.
    let before = amazon.emulator().calls("dspCampaigns");
    let (_, stderr, code) = run_with_profile(
        &amazon,
        &["dsp", "campaigns", "--advertiser-id", DEMO_ACCOUNT_ID],
        None,
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--profile-id"), "{stderr}");
    assert_eq!(amazon.emulator().calls("dspCampaigns"), before);
    // A profile that does not reach the advertiser: Amazon's 403, said clearly.
    let (_, stderr, code) = run_with_profile(
        &amazon,
        &["dsp", "campaigns", "--advertiser-id", DEMO_ACCOUNT_ID],
        Some("42"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("403"), "{stderr}");
}

/// The client's enums and the emulator's copy agree (both from Amazon's `/dsp/v1` guide
/// samples and migration notes; this keeps either from changing alone).
#[test]
fn client_and_emulator_enums_agree() {
    let states: Vec<&str> = dsp::CAMPAIGN_STATES.iter().map(|(s, _)| *s).collect();
    assert_eq!(states, dsp_enums::CAMPAIGN_STATES);
    assert_eq!(dsp::AD_GROUP_STATES, dsp_enums::CAMPAIGN_STATES);
    assert_eq!(dsp::INVENTORY_TYPES, dsp_enums::INVENTORY_TYPES);
    let sources: Vec<&str> = dsp::INVENTORY_SOURCE_SUPPLY
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(sources, dsp_enums::INVENTORY_SOURCE_TYPES);
    let audiences: Vec<&str> = dsp::AUDIENCE_SERVING.iter().map(|(s, _)| *s).collect();
    assert_eq!(audiences, dsp_enums::AUDIENCE_TYPES);
    assert_eq!(dsp::MAX_PAGE, dsp_enums::MAX_PAGE);
    assert_eq!(dsp::ROTATION_TYPES, dsp_enums::ROTATION_TYPES);
}

// ---- dsp publish ----

/// An advertiser to publish to: c1 running with 12 display and 4 video ad groups (serving
/// client side, server side and mixed among them), c2 not running, c3 running with an
/// audio ad group.
fn publish_campaigns() -> Vec<Campaign> {
    let mut display: Vec<AdGroup> = (1..=12)
        .map(|i| group(&format!("d{i}"), "DISPLAY", &["AMAZON"], &[]))
        .collect();
    display[1].audiences = group("x", "DISPLAY", &[], &[("ADVERTISER", false)]).audiences;
    display[2].audiences = group("x", "DISPLAY", &[], &[("LOOKALIKE", false)]).audiences;
    let mut groups = display;
    for (i, kind) in [
        "ONLINE_VIDEO",
        "STREAMING_TV",
        "ONLINE_VIDEO",
        "STREAMING_TV",
    ]
    .iter()
    .enumerate()
    {
        groups.push(group(&format!("v{}", i + 1), kind, &["DEAL"], &[]));
    }
    vec![
        campaign("c1", "ACTIVE", groups),
        campaign(
            "c2",
            "INACTIVE",
            vec![group("i1", "DISPLAY", &["AMAZON"], &[])],
        ),
        campaign("c3", "ACTIVE", vec![group("a1", "AUDIO", &["AMAZON"], &[])]),
    ]
}

fn start_publish(test: &str) -> Amazon {
    let mut config = Config::demo();
    config.advertisers[0].campaigns = publish_campaigns();
    Amazon::start_with(test, config)
}

const HEADER: &str =
    "placement_id,ad_group_id,creative_name,kind,tag,tag_server_side,serving,size,trackers\n";

fn display_tag(n: &str) -> String {
    format!(
        "\"<script src=\"\"https://ads.example/tag.js?c={n}&cb=${{CACHEBUSTER}}\"\"></script>\""
    )
}

/// 24 display rows (two creatives on each display ad group, by placement id) and 4 video
/// rows (by ad group id): 28 creatives, 28 associations.
fn tags_file() -> String {
    let mut text = HEADER.to_owned();
    for i in 1..=12 {
        for name in ["Spring", "Summer"] {
            let placement = dsp::placement_id(DEMO_ACCOUNT_ID, &format!("d{i}"));
            let serving = if i == 3 { "client_side" } else { "" };
            text.push_str(&format!(
                "{placement},,{name},display,{},,{serving},300x250,https://t.example/imp?c={name}\n",
                display_tag(&format!("{name}{i}"))
            ));
        }
    }
    for i in 1..=4 {
        text.push_str(&format!(
            ",v{i},Launch,video,https://ads.example/vast.xml?v={i}&cb=${{CACHEBUSTER}},,,,\n"
        ));
    }
    text
}

fn publish_args(tags: &str) -> Vec<&str> {
    vec![
        "dsp",
        "publish",
        "--advertiser-id",
        DEMO_ACCOUNT_ID,
        "--tags",
        tags,
    ]
}

/// The emulator's creatives and associations of the demo advertiser.
fn stored(amazon: &Amazon) -> DspCreatives {
    amazon.emulator().creatives(DEMO_ACCOUNT_ID)
}

fn row(report: &Value, line: u64) -> &Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["line"] == line)
        .unwrap()
}

#[test]
fn publish_batches_reruns_idempotently_and_reports_moderation() {
    let amazon = start_publish("dsp-publish");
    let tags = amazon.dir.join("tags.csv");
    std::fs::write(&tags, tags_file()).unwrap();
    let tags_text = tags.to_str().unwrap();

    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(0), "{stderr}\n{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["summary"]["actions"]["created"], 28, "{report}");
    assert_eq!(report["summary"]["moderation"]["PENDING"], 28);
    let state = stored(&amazon);
    assert_eq!(state.creatives.len(), 28);
    assert_eq!(state.associations.len(), 28);
    assert_eq!(
        amazon.emulator().calls("dspCreatives"),
        28,
        "one creative per create"
    );
    assert_eq!(
        amazon.emulator().calls("dspAssociations"),
        2,
        "28 associations: 20 + 8"
    );
    assert_eq!(amazon.emulator().calls("dspAdExperiences"), 28);
    assert!(stderr.contains("associating 21-28 of 28"), "{stderr}");
    // The tag went out exactly as written, macro included; video is VAST with no size.
    let first = &state.creatives[0];
    assert_eq!(
        first.tag_source,
        "<script src=\"https://ads.example/tag.js?c=Spring1&cb=${CACHEBUSTER}\"></script>"
    );
    assert_eq!(first.name, "Spring 300x250 [d1]");
    assert_eq!(
        first.tracking_urls[0],
        Tracker {
            kind: "IMPRESSION".to_owned(),
            url: "https://t.example/imp?c=Spring".to_owned(),
            associated_ad_experience: Some("THIRD_PARTY_DISPLAY".to_owned()),
        }
    );
    assert_eq!(first.language, "en");
    // The ad groups rotate at random: no weight is sent.
    assert!(
        state
            .associations
            .iter()
            .all(|a| a.weight.is_none() && a.state == "ACTIVE")
    );
    let video = state
        .creatives
        .iter()
        .find(|c| c.name == "Launch video [v2]")
        .unwrap();
    assert_eq!(video.tag_type, "VAST_VPAID");
    assert_eq!(video.ad_experience.as_deref(), Some("THIRD_PARTY_VIDEO"));
    let line2 = row(&report, 2);
    assert_eq!(line2["action"], "created");
    assert_eq!(line2["campaignId"], "c1");
    assert_eq!(line2["variant"], "client_side");
    assert!(
        !stdout.contains("ads.example/tag.js"),
        "the report holds no tag"
    );

    // Amazon's reviewers decide two creatives.
    let approved = line2["creativeId"].as_str().unwrap().to_owned();
    let refused = row(&report, 3)["creativeId"].as_str().unwrap().to_owned();
    amazon
        .emulator()
        .moderate(DEMO_ACCOUNT_ID, &[&approved], "APPROVED", &[]);
    amazon.emulator().moderate(
        DEMO_ACCOUNT_ID,
        &[&refused],
        "NOT_APPROVED",
        &["landing page unreachable"],
    );

    // A re-run of the same file sends no write and reports the moderation.
    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["summary"]["actions"]["unchanged"], 28, "{report}");
    assert_eq!(row(&report, 2)["moderation"], "APPROVED");
    assert_eq!(row(&report, 3)["moderation"], "NOT_APPROVED");
    assert_eq!(row(&report, 3)["reasons"][0], "landing page unreachable");
    assert_eq!(report["summary"]["moderation"]["PENDING"], 26);
    assert!(
        stderr.contains("1 APPROVED, 1 NOT_APPROVED, 26 PENDING"),
        "{stderr}"
    );
    assert_eq!(amazon.emulator().calls("dspCreatives"), 28);
    assert_eq!(amazon.emulator().calls("dspAssociations"), 2);

    // The trafficker fixes the refused creative's tag: exactly that one is updated.
    let text = tags_file().replace("c=Summer1&", "c=Summer1b&");
    std::fs::write(&tags, text).unwrap();
    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["summary"]["actions"]["updated"], 1, "{report}");
    assert_eq!(report["summary"]["actions"]["unchanged"], 27);
    assert_eq!(row(&report, 3)["action"], "updated");
    assert_eq!(row(&report, 3)["creativeId"], refused.as_str());
    assert_eq!(row(&report, 3)["moderation"], "PENDING", "back to review");
    let state = stored(&amazon);
    assert_eq!(state.creatives.len(), 28, "nothing duplicated");
    assert_eq!(state.associations.len(), 28);
    let versions: Vec<u32> = state.creatives.iter().map(|c| c.version).collect();
    assert_eq!(versions.iter().filter(|v| **v == 2).count(), 1);
    assert_eq!(
        amazon.emulator().calls("dspCreatives"),
        29,
        "one update call"
    );
    assert_eq!(
        amazon.emulator().calls("dspCreativesList"),
        0,
        "nothing to look up"
    );
    let journal = std::fs::read_to_string(amazon.dir.join("tags.csv.journal")).unwrap();
    assert!(journal.starts_with("{\"journal\":\"matchkey dsp publish v1\""));
    assert!(!journal.contains("ads.example"), "the journal holds no tag");
}

#[test]
fn publish_refuses_bad_rows_before_sending_anything() {
    let amazon = start_publish("dsp-publish-refused");
    let tags = amazon.dir.join("tags.csv");
    let good = display_tag("ok");
    let rows = [
        // 2: campaign c2 is not running.
        format!(",i1,Spring,display,{good},,,300x250,"),
        // 3: an http resource.
        ",d1,Spring,display,\"<script src=\"\"http://ads.example/t.js\"\"></script>\",,,300x250,"
            .to_owned(),
        // 4: audio.
        ",d1,Jingle,audio,https://ads.example/a.mp3,,,,".to_owned(),
        // 5: a VAST URL over http.
        ",v1,Launch,video,http://ads.example/vast.xml,,,,".to_owned(),
        // 6: malformed: one cell too many.
        format!(",d1,Spring,display,{good},,,300x250,,extra"),
        // 7: a video tag on an audio ad group.
        ",a1,Launch,video,https://ads.example/vast.xml,,,,".to_owned(),
        // 8: a placement nobody imported.
        format!("amzdsp-{DEMO_ACCOUNT_ID}-nope,,Spring,display,{good},,,300x250,"),
        // 9: two variants for a mixed placement, nobody decided.
        format!(",d3,Spring,display,{good},{good},,300x250,"),
        // 10: a display tag on video inventory.
        format!(",v1,Spring,display,{good},,,300x250,"),
        // 11: no size; 12: an http tracker; 13: an unclosed macro.
        format!(",d1,Spring,display,{good},,,,"),
        format!(",d1,Spring,display,{good},,,300x250,http://t.example/i"),
        ",v2,Launch,video,https://ads.example/vast.xml?cb=${CACHEBUSTER,,,,".to_owned(),
    ];
    std::fs::write(&tags, format!("{HEADER}{}\n", rows.join("\n"))).unwrap();
    let (stdout, stderr, code) = run(&amazon, &publish_args(tags.to_str().unwrap()));
    assert_eq!(code, Some(1), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let expect = [
        (2, "placement_id", "campaign_not_running"),
        (3, "tag", "insecure_resource"),
        (4, "kind", "audio_not_supported"),
        (5, "tag", "not_https"),
        (6, "row", "malformed_csv"),
        (7, "kind", "audio_not_supported"),
        (8, "placement_id", "unknown_placement"),
        (9, "serving", "serving_undecided"),
        (10, "kind", "kind_mismatch"),
        (11, "size", "empty"),
        (12, "trackers", "not_https"),
        (13, "tag", "unclosed_macro"),
    ];
    for (line, field, reason) in expect {
        let r = row(&report, line);
        assert_eq!(r["action"], "refused", "line {line}: {r}");
        assert_eq!(
            (r["error"]["field"].as_str(), r["error"]["reason"].as_str()),
            (Some(field), Some(reason)),
            "line {line}: {r}"
        );
    }
    assert!(
        row(&report, 2)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("campaign c2 is INACTIVE")
    );
    assert!(
        stderr.contains("line 4: refused (kind: audio_not_supported): audio is not supported"),
        "{stderr}"
    );
    for endpoint in ["dspCreatives", "dspAdExperiences", "dspAssociations"] {
        assert_eq!(
            amazon.emulator().calls(endpoint),
            0,
            "{endpoint}: nothing sent"
        );
    }
    assert_eq!(stored(&amazon).creatives.len(), 0);
}

#[test]
fn publish_picks_the_serving_variant_and_dry_run_sends_nothing() {
    let amazon = start_publish("dsp-publish-serving");
    let tags = amazon.dir.join("tags.csv");
    let (client, server) = (display_tag("client"), display_tag("server"));
    let text = format!(
        "{HEADER},d1,Both,display,{client},{server},,300x250,\n\
         ,d2,Both,display,{client},{server},,300x250,\n\
         ,d3,Both,display,{client},{server},server_side,300x250,\n\
         ,d4,Only,display,,{server},,300x250,\n"
    );
    std::fs::write(&tags, text).unwrap();
    let tags_text = tags.to_str().unwrap();
    let mut args = publish_args(tags_text);
    args.push("--dry-run");
    let (stdout, stderr, code) = run(&amazon, &args);
    // d2 targets an audience, whose type Amazon does not say: its two variants are for a
    // person to choose (refused); d1 targets none: client side.
    assert_eq!(code, Some(1), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["dryRun"], true);
    assert_eq!(row(&report, 3)["error"]["reason"], "serving_undecided");
    let requests = report["requests"].as_array().unwrap();
    let paths: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r["method"].as_str().unwrap(), r["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        paths
            .iter()
            .filter(|p| **p == ("POST", "/dsp/v1/adCreatives"))
            .count(),
        3,
        "one create per creative"
    );
    assert_eq!(paths.iter().filter(|p| p.0 == "PUT").count(), 3);
    assert_eq!(
        paths.last().unwrap(),
        &("POST", "/dsp/v1/adCreatives/associations/adGroups")
    );
    assert_eq!(requests[0]["body"]["language"], "en");
    assert!(requests[0]["body"].get("adCreatives").is_none());
    assert_eq!(
        requests[3]["body"]["adExperiences"],
        json!([{"adExperience": "THIRD_PARTY_DISPLAY"}])
    );
    assert_eq!(
        requests.last().unwrap()["body"]["associations"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(!stdout.contains("Atza"), "no token in the dry run");
    assert_eq!(row(&report, 2)["action"], "would_create");
    for endpoint in ["dspCreatives", "dspAdExperiences", "dspAssociations"] {
        assert_eq!(amazon.emulator().calls(endpoint), 0, "{endpoint}: dry run");
    }
    assert!(!amazon.dir.join("tags.csv.journal").exists());

    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(1), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let variants: Vec<&str> = [2, 4, 5]
        .iter()
        .map(|line| row(&report, *line)["variant"].as_str().unwrap())
        .collect();
    assert_eq!(variants, ["client_side", "server_side", "server_side"]);
    assert_eq!(row(&report, 3)["action"], "refused");
    let state = stored(&amazon);
    let source = |name: &str| {
        state
            .creatives
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .tag_source
            .clone()
    };
    assert!(source("Both 300x250 [d1]").contains("c=client"));
    assert!(source("Both 300x250 [d3]").contains("c=server"));
    assert_eq!(state.creatives.len(), 3);
}

/// The client's write-side enums and limits and the emulator's copy agree.
#[test]
fn client_and_emulator_creative_enums_agree() {
    use matchkey::amazon::dsp::creative;
    assert_eq!(creative::TAG_TYPES, dsp_enums::TAG_TYPES);
    assert_eq!(creative::AD_EXPERIENCES, dsp_enums::AD_EXPERIENCES);
    assert_eq!(&[creative::DESTINATION][..], dsp_enums::DESTINATIONS);
    assert_eq!(creative::ASSOCIATION_STATES, dsp_enums::ASSOCIATION_STATES);
    assert_eq!(
        &[creative::TRACKER_TYPE][..],
        &dsp_enums::TRACKER_TYPES[..1]
    );
    let moderation: Vec<&str> = creative::MODERATION_STATES
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(moderation, dsp_enums::MODERATION_STATES);
    assert_eq!(creative::MAX_PER_CALL, dsp_enums::MAX_PER_CALL);
    assert_eq!(creative::MAX_SIZES, dsp_enums::MAX_SIZES);
    assert_eq!(creative::MAX_TRACKERS, dsp_enums::MAX_TRACKERS);
    assert_eq!(creative::MAX_NAME, dsp_enums::MAX_NAME);
    assert_eq!(creative::ALREADY_ASSOCIATED, dsp_enums::ALREADY_ASSOCIATED);
    assert_eq!(
        creative::CAMPAIGN_NOT_RUNNING,
        dsp_enums::CAMPAIGN_NOT_ACTIVE
    );
    let running: Vec<&str> = dsp::CAMPAIGN_STATES
        .iter()
        .filter(|(_, running)| *running)
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(running, dsp_enums::RUNNING_STATES);
}

fn one_row_file(amazon: &Amazon) -> std::path::PathBuf {
    let tags = amazon.dir.join("tags.csv");
    std::fs::write(
        &tags,
        format!(
            "{HEADER},d1,Spring,display,{},,,300x250,\n",
            display_tag("a")
        ),
    )
    .unwrap();
    tags
}

/// The crash between Amazon's answer and the journal: Amazon creates the creative, the
/// answer is lost. The create is not sent again in that run; the next run finds the
/// creative by its name, adopts its id, and finishes it: one creative, never two.
#[test]
fn publish_never_creates_twice_when_the_answer_is_lost_after_amazon_took_it() {
    let amazon = start_publish("dsp-publish-lost-after");
    let tags = one_row_file(&amazon);
    let tags_text = tags.to_str().unwrap();
    amazon
        .emulator()
        .fault(&fault("dspCreatives", FaultKind::DropAnswer));
    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(1), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(row(&report, 2)["action"], "failed");
    assert_eq!(row(&report, 2)["error"]["reason"], "no_answer");
    assert_eq!(
        amazon.emulator().calls("dspCreatives"),
        1,
        "a lost create is not resent"
    );
    let taken = stored(&amazon).creatives[0].ad_creative_id.clone();
    let journal = std::fs::read_to_string(amazon.dir.join("tags.csv.journal")).unwrap();
    assert!(journal.contains("\"pendingCreate\":true"), "{journal}");

    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(0), "{stderr}\n{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(row(&report, 2)["creativeId"], taken.as_str());
    assert_eq!(row(&report, 2)["action"], "updated");
    assert_eq!(
        amazon.emulator().calls("dspCreativesList"),
        1,
        "looked up once"
    );
    let state = stored(&amazon);
    assert_eq!(state.creatives.len(), 1, "never two");
    assert_eq!(state.associations.len(), 1);
    assert_eq!(
        state.creatives[0].ad_experience.as_deref(),
        Some("THIRD_PARTY_DISPLAY")
    );

    // Done: a third run sends nothing.
    let (_, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        amazon.emulator().calls("dspCreatives"),
        2,
        "the create and the one update"
    );
    assert_eq!(amazon.emulator().calls("dspCreativesList"), 1);
}

/// A lost create whose name Amazon lists twice (someone made another of that name by
/// hand) is not guessed at: the row is refused for a person, and nothing is created.
#[test]
fn publish_refuses_a_lost_create_whose_name_amazon_lists_twice() {
    let amazon = start_publish("dsp-publish-lost-twice");
    let tags = one_row_file(&amazon);
    let tags_text = tags.to_str().unwrap();
    amazon
        .emulator()
        .fault(&fault("dspCreatives", FaultKind::DropAnswer));
    let (_, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(1), "{stderr}");
    // A second creative of the same name, made outside matchkey.
    let token = amazon.refresh(DEMO_REFRESH_TOKEN).unwrap();
    let copy = stored(&amazon).creatives.remove(0);
    let creative = json!({
        "name": copy.name,
        "language": "en",
        "country": "US",
        "adCreativeFormatProperties": {
            "adCreativeFormatType": "THIRD_PARTY",
            "creativeSizes": [{"width": 300, "height": 250}],
            "thirdPartyTag": {"tagSource": copy.tag_source, "tagType": "DISPLAY", "destinationOnAmazon": "OFF_AMAZON"}
        }
    });
    let response = agent()
        .post(format!("{}/dsp/v1/adCreatives", amazon.base()))
        .header("authorization", format!("Bearer {token}"))
        .header("amazon-advertising-api-clientid", DEMO_CLIENT_ID)
        .header("amazon-ads-accountid", DEMO_ACCOUNT_ID)
        .header("amazon-advertising-api-scope", DEMO_PROFILE_ID.to_string())
        .header("content-type", "application/json")
        .send(creative.to_string())
        .unwrap();
    assert_eq!(response.status(), 200);

    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(1), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(row(&report, 2)["action"], "refused");
    assert_eq!(row(&report, 2)["error"]["reason"], "unconfirmed_create");
    assert!(
        row(&report, 2)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lists 2 creatives of that name")
    );
    assert_eq!(
        amazon.emulator().calls("dspCreatives"),
        2,
        "the lost one and the copy only"
    );
    assert_eq!(amazon.emulator().calls("dspAssociations"), 0);
}

/// The other side of a lost answer: Amazon never took the create. The next run finds no
/// creative of that name and creates it.
#[test]
fn publish_creates_again_when_amazon_never_took_the_lost_create() {
    let amazon = start_publish("dsp-publish-lost-before");
    let tags = one_row_file(&amazon);
    let tags_text = tags.to_str().unwrap();
    amazon
        .emulator()
        .fault(&fault("dspCreatives", FaultKind::Drop));
    let (_, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        amazon.emulator().calls("dspCreatives"),
        1,
        "a lost create is not resent"
    );
    assert_eq!(stored(&amazon).creatives.len(), 0);

    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(row(&report, 2)["action"], "created");
    assert_eq!(amazon.emulator().calls("dspCreativesList"), 1);
    assert_eq!(stored(&amazon).creatives.len(), 1);
}

/// An association call refused as a whole fails the rows of that call for this run without
/// ending it; the next run associates them (the creative is not created again).
#[test]
fn publish_a_refused_association_call_fails_its_rows_and_the_next_run_associates() {
    let amazon = start_publish("dsp-publish-html");
    let tags = one_row_file(&amazon);
    let tags_text = tags.to_str().unwrap();
    amazon
        .emulator()
        .fault(&status_fault("dspAssociations", 400));
    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(1), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(row(&report, 2)["error"]["field"], "association");
    // The moderation list is refused after the writes: the report still comes, without it.
    amazon
        .emulator()
        .fault(&status_fault("dspModerations", 404));
    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(0), "{stderr}\n{stdout}");
    assert!(stderr.contains("moderation not read"), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(row(&report, 2)["moderation"].is_null());
    assert_eq!(stored(&amazon).associations.len(), 1);
    assert_eq!(amazon.emulator().calls("dspCreatives"), 1, "created once");
}

/// A call Amazon refuses as a whole fails its rows (exit 1) and leaves nothing pending: the
/// next run creates them.
#[test]
fn publish_refused_call_fails_rows_and_the_next_run_creates_them() {
    let amazon = start_publish("dsp-publish-refused-call");
    let tags = amazon.dir.join("tags.csv");
    std::fs::write(
        &tags,
        format!(
            "{HEADER},d1,Spring,display,{},,,728x90;300x250,\n",
            display_tag("a")
        ),
    )
    .unwrap();
    let tags_text = tags.to_str().unwrap();
    amazon.emulator().fault(&status_fault("dspCreatives", 400));
    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(1), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(row(&report, 2)["action"], "failed");
    assert_eq!(row(&report, 2)["error"]["field"], "create");
    assert_eq!(amazon.emulator().calls("dspAdExperiences"), 0);

    let (stdout, stderr, code) = run(&amazon, &publish_args(tags_text));
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(row(&report, 2)["action"], "created");
    assert_eq!(row(&report, 2)["name"], "Spring 300x250+728x90 [d1]");
}

/// Every set of inventory source types the emulator can give an ad group, and every
/// audience type included or excluded, each through a real import.
#[test]
fn import_supply_and_serving_for_every_combination() {
    const SOURCES: [&str; 5] = [
        "AMAZON",
        "AMAZON_PUBLISHER_DIRECT",
        "THIRD_PARTY_EXCHANGE",
        "DEAL",
        "INVENTORY_GROUP",
    ];
    let mut groups = Vec::new();
    let mut expected = Vec::new();
    for mask in 0u32..32 {
        let sources: Vec<&str> = (0..5)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| SOURCES[i])
            .collect();
        let amazon = mask & 0b00011 != 0;
        let third = mask & 0b11100 != 0;
        let supply = match (amazon, third) {
            (false, false) => "unknown",
            (true, false) => "amazon_owned",
            (false, true) => "third_party",
            (true, true) => "mixed",
        };
        let id = format!("s{mask}");
        groups.push(group(&id, "DISPLAY", &sources, &[]));
        expected.push((id, supply, "client_side"));
    }
    // Amazon's targets answer carries no audience type (developer-guide.md's sample), so
    // an import never guesses one: included or excluded, every audience makes the serving
    // unknown (the rules by type are tested on the core's pure function).
    let audiences = [
        ("AMAZON", false, "unknown"),
        ("AMAZON", true, "unknown"),
        ("THIRD_PARTY", false, "unknown"),
        ("ADVERTISER", false, "unknown"),
        ("AMC", true, "unknown"),
        ("LOOKALIKE", false, "unknown"),
    ];
    for (i, (kind, negative, serving)) in audiences.iter().enumerate() {
        let id = format!("a{i}");
        groups.push(group(
            &id,
            "ONLINE_VIDEO",
            &["AMAZON"],
            &[(kind, *negative)],
        ));
        expected.push((id, "amazon_owned", *serving));
    }
    groups.push(group(
        "both",
        "STREAMING_TV",
        &["DEAL"],
        &[("LOOKALIKE", false), ("AMC", false), ("AMAZON", true)],
    ));
    expected.push(("both".to_owned(), "third_party", "unknown"));

    let mut config = Config::demo();
    config.advertisers[0].campaigns = vec![campaign("c1", "ACTIVE", groups)];
    let amazon = Amazon::start_with("dsp-import-combinations", config);
    let out = amazon.dir.join("placements.csv");
    let (_, stderr, code) = run(&amazon, &import_args(out.to_str().unwrap(), &["c1"]));
    assert_eq!(code, Some(0), "{stderr}");
    let (_, rows) = read(&out);
    assert_eq!(rows.len(), expected.len());
    for (id, supply, serving) in expected {
        let r = rows.iter().find(|r| r["ad_group_id"] == id).unwrap();
        assert_eq!(
            (r["supply"].as_str(), r["serving"].as_str()),
            (supply, serving),
            "{id}"
        );
    }
}
