//! The CLI's Amazon commands (`audience push`, `amc upload`) against the strict emulator,
//! spawned here on a loopback port: real HTTP, real Login with Amazon, real faults.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{Amazon, fault, slow, status_fault};

use amazon_emulator::{
    Config, DEMO_NUMERIC_ID, DEMO_PROFILE_ID, DEMO_REFRESH_TOKEN, FaultKind, FaultSpec,
};
use serde_json::Value;

impl Amazon {
    fn start(test: &str) -> Amazon {
        Amazon::start_with(test, Config::demo())
    }

    /// `matchkey ARGS` with the demo credentials, pointed at the emulator.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.matchkey();
        command
            .args(args)
            .env("AMC_ADVERTISER_ID", DEMO_NUMERIC_ID.to_string())
            .env("PROFILE_ID", DEMO_PROFILE_ID.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn run(&self, args: &[&str]) -> (Value, String, Option<i32>) {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command(args).output().unwrap();
        let stderr = String::from_utf8(stderr).unwrap();
        let report = serde_json::from_slice(&stdout).unwrap_or(Value::Null);
        (report, stderr, status.code())
    }

    /// The members of the one audience the emulator holds.
    fn members(&self) -> Vec<String> {
        let mut audiences = self.emulator().audiences();
        assert_eq!(audiences.len(), 1, "one audience");
        audiences.remove(0).members
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// `rows` members with an email each (one in a hundred also with a phone).
fn members_csv(rows: usize) -> String {
    let mut text = String::from("id,email,phone\n");
    for i in 0..rows {
        let phone = if i % 100 == 0 {
            format!("(415) 555-{:04}", i % 10_000)
        } else {
            String::new()
        };
        text.push_str(&format!("u{i},Member.{i}@Example.com,{phone}\n"));
    }
    text
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn push_args<'a>(file: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "audience",
        "push",
        "--name",
        "newsletter",
        "--file",
        file,
        "--map",
        "email=EMAIL,phone=PHONE",
        "--id-column",
        "id",
        "--country",
        "US",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn push_sends_15000_members_in_3_requests_and_follows_their_jobs() {
    let amazon = Amazon::start("push15k");
    let file = amazon.file("members.csv", &members_csv(15_000));
    let (report, stderr, code) = amazon.run(&push_args(path(&file), &[]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["rows"], 15_000);
    assert_eq!(report["sent"], 15_000);
    assert_eq!(report["batches"], 3);
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j["status"] == "SUCCEEDED"), "{jobs:?}");

    let sent = amazon.emulator().requests("amcRecords");
    let sizes: Vec<usize> = sent
        .iter()
        .map(|r| r.body["records"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [6000, 6000, 3000]);
    assert!(sent.iter().all(|r| r.status == Some(202)));
    let first = &sent[0].body["records"][0];
    assert_eq!(first["externalUserId"], "u0");
    assert_eq!(first["action"], "CREATE");
    assert_eq!(
        first["hashedPII"][0]["email"],
        matchkey::sha256_hex("member.0@example.com").as_str()
    );
    assert_eq!(amazon.emulator().calls("amcMetadata"), 1);
    assert_eq!(amazon.members().len(), 15_000);
    // Only hashes left the machine, and nothing personal is in what the CLI printed.
    for text in [&stderr, &report.to_string()] {
        assert!(!text.to_lowercase().contains("example.com"), "{text}");
    }
    let all = amazon.emulator().log_text();
    assert!(!all.to_lowercase().contains("example.com"));

    // Run again: the journal says it is done, and nothing is sent twice.
    let (again, stderr, code) = amazon.run(&push_args(path(&file), &[]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("complete"), "{stderr}");
    assert_eq!(again["sent"], 15_000);
    assert_eq!(amazon.emulator().calls("amcRecords"), 3);

    // --remove takes them out again (a new journal: other settings).
    let remove = push_args(path(&file), &["--remove", "--audience-id"]);
    let id = report["audience"]["audienceId"].to_string();
    let mut remove = remove;
    remove.push(&id);
    let (_, stderr, code) = amazon.run(&remove);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(amazon.members().is_empty());
}

#[test]
fn push_reports_rejects_by_field_and_reason_without_values() {
    let amazon = Amazon::start("rejects");
    let file = amazon.file(
        "m.csv",
        "id,email,phone\nu1,a@example.com,\nu2,not-an-email,\nu3,,\nbad id,b@example.com,\nu5,c@example.com,12\n",
    );
    let (report, stderr, code) = amazon.run(&push_args(path(&file), &[]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["rows"], 5);
    assert_eq!(report["sent"], 2, "{report}");
    assert_eq!(report["skipped"]["invalid_external_user_id"], 1);
    assert_eq!(report["rejected"]["EMAIL"]["invalid_email"], 1);
    assert_eq!(report["rejected"]["PHONE"].as_object().unwrap().len(), 1);
    assert_eq!(report["skipped"]["no_match_keys"], 2);
    assert!(
        stderr.contains("EMAIL: rejected (invalid_email 1)"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-an-email") && !report.to_string().contains("not-an-email"));
}

#[test]
fn push_waits_out_429_and_resumes_after_a_refusal_or_a_kill() {
    let amazon = Amazon::start("resume");
    let file = amazon.file("members.csv", &members_csv(15_000));

    // 429 with Retry-After: waited out, nothing lost.
    amazon.emulator().fault(&FaultSpec {
        retry_after: Some(1),
        ..status_fault("amcRecords", 429)
    });
    let (report, stderr, code) = amazon.run(&push_args(path(&file), &[]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["sent"], 15_000);
    let statuses: Vec<u16> = amazon
        .emulator()
        .requests("amcRecords")
        .iter()
        .map(|r| r.status.unwrap())
        .collect();
    assert_eq!(statuses, [429, 202, 202, 202]);

    // A refusal stops the run and keeps what was accepted.
    let journal = amazon.dir.join("refusal.journal");
    let journal_args = ["--journal", path(&journal), "--restart"];
    amazon.emulator().reset();
    amazon.emulator().fault(&slow("amcRecords", 1, 1));
    amazon.emulator().fault(&status_fault("amcRecords", 400));
    let (_, stderr, code) = amazon.run(&push_args(path(&file), &journal_args));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("batch 2: Amazon refused it"), "{stderr}");
    assert!(stderr.contains("after row 6000"), "{stderr}");
    let (report, stderr, code) =
        amazon.run(&push_args(path(&file), &["--journal", path(&journal)]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("resuming after row 6000"), "{stderr}");
    assert_eq!(report["resumedAfterRow"], 6000);
    assert_eq!(
        (report["rows"].as_u64(), report["sent"].as_u64()),
        (Some(15_000), Some(15_000))
    );
    assert_eq!(
        amazon.emulator().calls("amcMetadata"),
        1,
        "the audience is reused"
    );
    assert_eq!(amazon.members().len(), 15_000);

    // A kill mid-request: the rerun sends the batches the journal does not have.
    amazon.emulator().reset();
    let journal = amazon.dir.join("kill.journal");
    amazon.emulator().fault(&slow("amcRecords", 2000, 2));
    let mut child: Child = amazon
        .command(&push_args(path(&file), &["--journal", path(&journal)]))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while amazon.emulator().requests("amcRecords").is_empty() {
        assert!(Instant::now() < deadline, "the first batch never arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let (report, stderr, code) =
        amazon.run(&push_args(path(&file), &["--journal", path(&journal)]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["resumedAfterRow"], 6000);
    assert_eq!(report["sent"], 15_000);
    assert_eq!(amazon.members().len(), 15_000);
}

#[test]
fn push_reads_a_spreadsheet_export_and_refuses_a_bad_file_before_sending() {
    let amazon = Amazon::start("export");
    // Windows-1252, semicolons, CRLF, header names in another case, a short row on line 3.
    let mut bytes =
        b"ID;E-Mail;Telefon;Ort\r\nu1;Ann@Example.com;;K\xf6ln\r\nu2;bob@example.com\r\n".to_vec();
    let file = amazon.dir.join("export.csv");
    std::fs::write(&file, &bytes).unwrap();
    let args = |file: &Path, extra: &[&'static str]| {
        let mut args: Vec<String> = [
            "audience",
            "push",
            "--name",
            "export",
            "--file",
            path(file),
            "--map",
            "e-mail=EMAIL,telefon=PHONE",
            "--id-column",
            "id",
            "--country",
            "US",
            "--no-progress",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        amazon.run(&args)
    };
    let (report, stderr, code) = run(args(&file, &[]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["sent"], 2, "{report}");
    assert_eq!(
        (report["encoding"].as_str(), report["delimiter"].as_str()),
        (Some("windows-1252"), Some(";"))
    );
    assert_eq!(report["warnings"]["short_row"], 1);
    assert!(
        stderr.contains("warning short_row: 1 row on line 3"),
        "{stderr}"
    );

    // A row that is not UTF-8 in a UTF-8 file: refused before anything is sent.
    bytes = b"id,E-mail,telefon\nu1,ann@example.com,\nu2,J\xf6rg@example.com,\n".to_vec();
    let bad = amazon.dir.join("bad.csv");
    std::fs::write(&bad, &bytes).unwrap();
    let sent_before = amazon.emulator().calls("amcRecords");
    let (_, stderr, code) = run(args(&bad, &["--encoding", "utf-8"]));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("refused invalid_encoding: 1 row on line 3"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing sent"), "{stderr}");
    assert_eq!(amazon.emulator().calls("amcRecords"), sent_before);
    let (report, stderr, code) = run(args(
        &bad,
        &["--encoding", "utf-8", "--max-bad-rows", "50%"],
    ));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        (report["sent"].as_u64(), report["badRows"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(report["skipped"]["invalid_encoding"], 1);
    assert!(!stderr.contains("rg@") && !report.to_string().contains("rg@"));
}

#[test]
fn push_records_a_failed_job_and_exits_1() {
    let amazon = Amazon::start("jobfail");
    let file = amazon.file("members.csv", &members_csv(10));
    amazon
        .emulator()
        .fault(&fault("amcRecords", FaultKind::JobFailed));
    let (report, stderr, code) = amazon.run(&push_args(path(&file), &[]));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(report["jobs"][0]["status"], "FAILED");
    assert!(stderr.contains("FAILED"), "{stderr}");
}

#[test]
fn push_names_what_is_missing() {
    let amazon = Amazon::start("missing");
    let file = amazon.file("members.csv", &members_csv(3));
    let output = amazon
        .command(&push_args(path(&file), &[]))
        .env_remove("LWA_REFRESH_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("LWA_REFRESH_TOKEN is not set"), "{stderr}");

    let (_, stderr, code) = amazon.run(&push_args(
        path(&file),
        &["--api", "dp", "--profile-id", ""],
    ));
    assert_eq!(code, Some(2), "{stderr}");

    let de = push_args(path(&file), &[]);
    let de: Vec<&str> = de
        .iter()
        .map(|a| if *a == "US" { "DE" } else { a })
        .collect();
    // Every row needs consent nobody gave: nothing sent is a failure (exit 1), reported.
    let (report, stderr, code) = amazon.run(&de);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(report["skipped"]["consent_required"], 3);
    assert_eq!(report["sent"], 0);
    assert!(stderr.contains("no member could be sent"), "{stderr}");

    amazon.emulator().revoke(DEMO_REFRESH_TOKEN);
    let mut stdin = amazon
        .command(&push_args(path(&file), &["--restart"]))
        .spawn()
        .unwrap();
    stdin.stdin.take().map(|mut s| s.write_all(b""));
    let output = stdin.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("invalid_grant"), "{stderr}");
}

fn upload_args<'a>(definition: &'a str, key: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "amc",
        "upload",
        "--instance-id",
        "amcmatchkeydemo",
        "--account-id",
        "ENTITY1MATCHKEYDEMO",
        "--definition",
        definition,
        "--s3-bucket",
        "acme-amc",
        "--s3-key",
        key,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn amc_upload_creates_the_data_set_once_and_loads_the_prepared_file() {
    let amazon = Amazon::start("amcupload");
    let input = amazon.file(
        "customers.csv",
        "customer_id,email,zip,country\nc1,A@Example.com,12345,US\nc2,b@example.com,94105-1234,US\nc3,nope,1,US\n",
    );
    let prepared = Command::new(env!("CARGO_BIN_EXE_matchkey"))
        .args([
            "amc",
            "prepare",
            "--file",
            path(&input),
            "--map",
            "email=EMAIL,zip=POSTAL",
        ])
        .args([
            "--country-column",
            "country",
            "--keep",
            "customer_id",
            "--no-progress",
        ])
        .output()
        .unwrap();
    assert!(prepared.status.success(), "{prepared:?}");
    let csv = std::fs::read(amazon.dir.join("customers.amc.csv")).unwrap();
    amazon
        .emulator()
        .put_object("acme-amc", "crm/2026-11-23.csv", csv);
    let definition = amazon.dir.join("customers.amc.dataset.json");

    let (report, stderr, code) =
        amazon.run(&upload_args(path(&definition), "crm/2026-11-23.csv", &[]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["dataSetId"], "customers");
    assert_eq!(report["dataSetCreated"], true);
    assert_eq!(report["status"], "COMPLETED");
    assert_eq!(report["rows"], 3);
    let upload = &amazon.emulator().requests("amcUploads")[0];
    assert_eq!(
        upload.body["dataSource"]["sourceFileS3Key"],
        "crm/2026-11-23.csv"
    );
    assert_eq!(upload.body["countryCode"], "US");
    assert_eq!(upload.body["compressionFormat"], "NONE");

    // Again, while the job stays pending for two polls, and the gateway first throttles
    // the status poll with its HTML 429 (no Retry-After): backed off, the data set reused.
    amazon.emulator().fault(&FaultSpec {
        polls: Some(2),
        ..fault("amcUploads", FaultKind::JobPending)
    });
    amazon
        .emulator()
        .fault(&fault("amcUploadJobs", FaultKind::Html429));
    let (report, stderr, code) =
        amazon.run(&upload_args(path(&definition), "crm/2026-11-23.csv", &[]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["dataSetCreated"], false);
    assert_eq!(report["status"], "COMPLETED");
    let polls = amazon.emulator().requests("amcUploadJobs");
    assert_eq!(polls.len(), 1 + 1 + 3);
    assert_eq!(polls[1].status, Some(429));
    assert_eq!(polls[1].fault, Some(FaultKind::Html429));

    // A key that is not in S3: the job fails, exit 1, with Amazon's reason.
    let (report, stderr, code) =
        amazon.run(&upload_args(path(&definition), "crm/missing.csv", &[]));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(report["status"], "FAILED");
    assert!(
        report["failureReason"]
            .as_str()
            .unwrap()
            .contains("crm/missing.csv")
    );

    // No definition for a data set that does not exist: says what to pass.
    let (_, stderr, code) = amazon.run(&[
        "amc",
        "upload",
        "--instance-id",
        "amcmatchkeydemo",
        "--account-id",
        "ENTITY1MATCHKEYDEMO",
        "--dataset-id",
        "other_set",
        "--s3-bucket",
        "acme-amc",
        "--s3-key",
        "k.csv",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("data set other_set does not exist; pass --definition"),
        "{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("example.com"));
}

#[test]
fn push_through_the_data_provider_api_uploads_then_associates() {
    let amazon = Amazon::start("dppush");
    let file = amazon.file("members.csv", &members_csv(7_000));
    let (report, stderr, code) = amazon.run(&push_args(path(&file), &["--api", "dp"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["sent"], 7_000);
    assert_eq!(report["audience"]["api"], "dp");
    assert_eq!(amazon.emulator().calls("dpAudienceMetadata"), 1);
    assert_eq!(amazon.emulator().calls("dpRecords"), 2);
    // At most 2,000 patches per PATCH /v2/dp/audience (data-provider.yaml): the batches
    // of 6,000 and 1,000 records take 3 + 1 calls, each answered 200 {jobId, requestId}.
    let patches = amazon.emulator().requests("dpAudience");
    assert_eq!(patches.len(), 4);
    assert!(patches.iter().all(|p| p.status == Some(200)));
    assert!(
        patches
            .iter()
            .all(|p| p.body["patches"].as_array().unwrap().len() <= 2_000)
    );
    assert_eq!(amazon.members().len(), 7_000);

    let id = report["audience"]["audienceId"].to_string();
    let (_, stderr, code) = amazon.run(&push_args(path(&file), &["--api", "dp", "--remove"]));
    assert_eq!(code, Some(2), "--remove needs the audience");
    assert!(stderr.contains("--audience-id"), "{stderr}");
    let remove = ["--api", "dp", "--remove", "--audience-id", &id];
    let (_, stderr, code) = amazon.run(&push_args(path(&file), &remove));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(amazon.members().is_empty());
}

/// The consent countries are one list in the core; the emulator keeps its own copy as an
/// independent check of Amazon's rule, and the two must agree.
#[test]
fn consent_countries_agree_with_the_emulator() {
    let emulator: Vec<&str> = amazon_emulator::validate::CONSENT_COUNTRIES
        .iter()
        .copied()
        .filter(|c| *c != "OTHER_EEA")
        .collect();
    assert_eq!(matchkey::consent::CONSENT_COUNTRIES, emulator.as_slice());
}

/// Amazon's conversion types: one list in the core, checked against the emulator's own.
#[test]
fn conversion_types_agree_with_the_emulator() {
    assert_eq!(
        matchkey::amazon::events::CONVERSION_TYPES.as_slice(),
        amazon_emulator::validate::CONVERSION_TYPES
    );
}

/// `--threads 2` and `3` send the same records in the same batches as `--threads 1`,
/// journal the same batches (rows through, totals) and report the same counts, on a file
/// with rejects, short rows, refused rows, rows without consent or country, spanning
/// several of the reader's chunks and more batches than chunks.
#[test]
fn push_sends_the_same_batches_with_any_thread_count() {
    let amazon = Amazon::start("threads");
    let mut text = String::from("id;email;phone;country\r\n");
    let countries = ["US", "DE", "fr", "", "XX", "CA", "us"];
    for i in 0..11_000 {
        let email = match i % 9 {
            0 => "not-an-email".to_owned(),
            1 => String::new(),
            _ => format!("Member.{i}@Example.com"),
        };
        let phone = if i % 4 == 0 { "12" } else { "(415) 555-0199" };
        let country = countries[i % countries.len()];
        match i % 101 {
            0 => text.push_str(&format!("u{i};{email}\r\n")),
            1 => text.push_str(&format!("u{i};{email};{phone};{country};extra\r\n")),
            _ => text.push_str(&format!("u{i};{email};{phone};{country}\r\n")),
        }
    }
    let mut bytes = text.into_bytes();
    // A row that is not UTF-8 (refused, tolerated by --max-bad-rows).
    let at = bytes.len() / 3;
    bytes[at] = 0xFF;
    let file = amazon.dir.join("threads.csv");
    std::fs::write(&file, &bytes).unwrap();

    let mut runs = Vec::new();
    for threads in ["1", "2", "3"] {
        amazon.emulator().reset();
        let journal = amazon.dir.join(format!("threads-{threads}.journal"));
        let (mut report, stderr, code) = amazon.run(&[
            "audience",
            "push",
            "--name",
            "threads",
            "--file",
            path(&file),
            "--map",
            "email=EMAIL,phone=PHONE",
            "--country-column",
            "country",
            "--batch-size",
            "700",
            "--max-bad-rows",
            "5",
            "--no-progress",
            "--no-wait",
            "--journal",
            path(&journal),
            "--threads",
            threads,
        ]);
        assert_eq!(code, Some(0), "{stderr}");
        let records: Vec<Value> = amazon
            .emulator()
            .requests("amcRecords")
            .iter()
            .map(|r| r.body["records"].clone())
            .collect();
        let batches: Vec<Value> = std::fs::read_to_string(&journal)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l.get("batch").is_some())
            .map(|mut l| {
                l.as_object_mut().unwrap().retain(|k, _| !k.contains("job"));
                l
            })
            .collect();
        for volatile in ["seconds", "rowsPerSecond", "journal", "jobs", "audience"] {
            report.as_object_mut().unwrap().remove(volatile);
        }
        runs.push((records, batches, report));
    }
    let (records, batches, report) = &runs[0];
    assert!(records.len() > 5, "{}", records.len());
    assert!(batches.len() >= records.len());
    assert_eq!(report["badRows"], 1, "{report}");
    assert!(
        report["warnings"]["short_row"].as_u64() > Some(0),
        "{report}"
    );
    assert!(
        report["skipped"]["consent_required"].as_u64() > Some(0),
        "{report}"
    );
    assert!(report["rejected"]["EMAIL"].is_object(), "{report}");
    for (threads, run) in [(2, &runs[1]), (3, &runs[2])] {
        assert!(run.0 == runs[0].0, "--threads {threads} sent other records");
        assert_eq!(run.1, runs[0].1, "--threads {threads}");
        assert_eq!(run.2, runs[0].2, "--threads {threads}");
    }
}
