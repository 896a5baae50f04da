//! `matchkey dsp campaigns` and `matchkey dsp import` against the strict emulator: real
//! HTTP, real Login with Amazon, campaigns set through the emulator's control.

mod support;

use std::process::{Command, Output, Stdio};

use amazon_emulator::{
    AdGroup, Campaign, Config, DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN, dsp_enums,
};
use matchkey::amazon::dsp;
use serde_json::{Value, json};
use support::Amazon;

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
                group("g1", "DISPLAY", &["AMAZON", "APD"], &[]),
                group(
                    "g2",
                    "ONLINE_VIDEO",
                    &["THIRD_PARTY_EXCHANGE", "DEAL"],
                    &[("AMAZON", false)],
                ),
                group(
                    "g3",
                    "STREAMING_TV",
                    &["APD", "INVENTORY_GROUP"],
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
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_matchkey"))
        .args(args)
        .env("AMAZON_API_BASE", amazon.base())
        .env("LWA_TOKEN_URL", format!("{}/auth/o2/token", amazon.base()))
        .env("LWA_CLIENT_ID", DEMO_CLIENT_ID)
        .env("LWA_CLIENT_SECRET", DEMO_CLIENT_SECRET)
        .env("LWA_REFRESH_TOKEN", DEMO_REFRESH_TOKEN)
        .env_remove("ADVERTISER_ID")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
        status.code(),
    )
}

fn put_campaigns(amazon: &Amazon, campaigns: &[Campaign]) {
    let url = format!("{}/__emulator/dsp/{DEMO_ACCOUNT_ID}", amazon.base());
    let response = ureq::put(&url)
        .header("content-type", "application/json")
        .send(json!({ "campaigns": campaigns }).to_string())
        .unwrap();
    assert_eq!(response.status(), 200);
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
    let expect = [
        ("g1", "amazon_owned", "client_side"),
        ("g2", "third_party", "client_side"),
        ("g3", "mixed", "server_side"),
        ("g4", "unknown", "server_side"),
        ("g5", "third_party", "mixed"),
        ("g6", "amazon_owned", "mixed"),
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
    put_campaigns(&amazon, &changed);

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
}

/// The client's enums and the emulator's copy agree (both come from an unverified
/// third-party copy of Amazon's spec; this keeps either from changing alone).
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
}
