//! The `matchkey` binary, run as users and release checks run it: every golden vector
//! through `matchkey hash`, and a CSV through `matchkey hash-csv`.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn run(args: &[&str], stdin: &str) -> (String, String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_matchkey"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("matchkey starts");
    // A command that fails early (usage errors) may close stdin before reading it.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

#[test]
fn hash_answers_every_vector_line_for_line() {
    let vectors: Vec<Value> =
        serde_json::from_str(include_str!("vectors/normalization.json")).unwrap();
    let input: String = vectors
        .iter()
        .map(|v| {
            json!({"field": v["field"], "country": v["country"], "input": v["input"]}).to_string()
                + "\n"
        })
        .collect();
    let (stdout, _, ok) = run(&["hash"], &input);
    assert!(ok);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), vectors.len());
    for (v, line) in vectors.iter().zip(&lines) {
        let expected = match v.get("reason") {
            Some(reason) => json!({"error": reason}),
            None => json!({"normalized": v["normalized"], "sha256": v["sha256"]}),
        };
        assert_eq!(line, &expected, "vector {}", v["input"]);
    }
}

#[test]
fn hash_csv_writes_amc_form_and_reports_without_values() {
    let input = "customer_id,email,phone,country\n\
                 7,Jane.Doe@Example.com,(416) 555-0199,CA\n\
                 8,jane@,0,CA\n\
                 9,only-two-fields\n";
    let (stdout, stderr, ok) = run(
        &[
            "hash-csv",
            "--map",
            "email=EMAIL,phone=PHONE",
            "--country-column",
            "country",
            "--keep",
            "customer_id",
        ],
        input,
    );
    assert!(ok, "{stderr}");
    let email = matchkey::sha256_hex("jane.doe@example.com");
    let phone = matchkey::sha256_hex("14165550199");
    // The short row is read (its missing cells empty, so no country: its keys are
    // rejected) and counted as a warning with its line; its kept id is not lost.
    assert_eq!(
        stdout,
        format!("customer_id,email,phone,country\n7,{email},{phone},CA\n8,,,CA\n9,,,\n")
    );
    assert!(
        stderr.contains("3 rows read (utf-8, separated by `,`): 3 written, 0 refused"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning short_row: 1 row on line 4"),
        "{stderr}"
    );
    assert!(
        stderr.contains("EMAIL: 2 rejected (invalid_country 1, invalid_email 1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("PHONE: 2 rejected (invalid_country 1, unparseable_phone 1)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("jane"),
        "the summary must not contain input values"
    );
}

#[test]
fn hash_csv_without_country_is_a_usage_error() {
    let (_, stderr, ok) = run(&["hash-csv", "--map", "email=EMAIL"], "email\n");
    assert!(!ok);
    assert!(stderr.contains("--country"), "{stderr}");
}

#[test]
fn amc_prepare_writes_upload_file_and_dataset_definition() {
    let dir = std::env::temp_dir().join(format!("matchkey-amc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("Crm Export.csv");
    std::fs::write(
        &file,
        "id,email,zip,country\n1,abc@example.com,12345,UK\n2,x,1,usa\n",
    )
    .unwrap();
    let (_, stderr, ok) = run(
        &[
            "amc",
            "prepare",
            "--file",
            file.to_str().unwrap(),
            "--map",
            "email=EMAIL,zip=POSTAL",
            "--country-column",
            "country",
            "--keep",
            "id",
        ],
        "",
    );
    assert!(ok, "{stderr}");
    let csv = std::fs::read_to_string(dir.join("Crm Export.amc.csv")).unwrap();
    let email = matchkey::sha256_hex("abc@example.com");
    // The GB postcode rule rejects a US ZIP; `usa` is not a country, so its row's cells are empty.
    assert_eq!(csv, format!("id,email,zip,country\n1,{email},,GB\n2,,,\n"));
    let def: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("Crm Export.amc.dataset.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(def["dataSet"]["dataSetId"], "crm_export");
    assert_eq!(
        def["dataSet"]["columns"][2]["externalUserIdType"]["hashedPii"],
        "ZIP"
    );
    assert_eq!(def["dataSet"]["columns"][3]["isCountryCode"], true);
    assert!(
        stderr.contains("EMAIL: 1 rejected (invalid_country 1)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn doctor_alone_lists_the_amazon_contracts_of_this_build() {
    let (stdout, stderr, ok) = run(&["doctor"], "");
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("Amazon API contracts this build speaks:\n"),
        "{stdout}"
    );
    let contracts = matchkey::amazon::contract::CONTRACTS;
    for row in contracts {
        assert!(
            stdout.contains(&format!("{}: {} {}", row.api, row.prefix, row.version)),
            "{} missing from\n{stdout}",
            row.api
        );
    }

    let (stdout, stderr, ok) = run(&["doctor", "--json"], "");
    assert!(ok, "{stderr}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        answer["contracts"],
        serde_json::to_value(contracts).unwrap()
    );
    assert_eq!(answer["contracts"][0]["checked"], "openapi");
}
