//! AMC advertiser data upload (data sets, uploads, upload jobs) and the emulated S3.

use amazon_emulator::{DEMO_ACCOUNT_ID, DEMO_AMC_INSTANCE_ID, DEMO_CLIENT_ID};
use serde_json::{Value, json};

use crate::support::{Answer, DIGEST, Emu, config, start, start_with};

const US_MARKETPLACE: &str = "ATVPDKIKX0DER";
const BUCKET: &str = "acme-amc-upload";
const HEADER: &str = "customer_id,email,zip,country";

/// The AMC headers for the demo account, with `bearer`.
fn amc_headers(bearer: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("authorization", bearer),
        ("amazon-advertising-api-clientid", DEMO_CLIENT_ID),
        ("amazon-advertising-api-advertiserid", DEMO_ACCOUNT_ID),
        ("amazon-advertising-api-marketplaceid", US_MARKETPLACE),
        ("content-type", "application/json"),
    ]
}

/// A data set as `matchkey amc prepare` defines it.
fn data_set(id: &str) -> Value {
    let pii = |name: &str, pii: &str| json!({"name": name, "dataType": "STRING", "columnType": "DIMENSION", "nullable": true, "externalUserIdType": {"hashedPii": pii}});
    json!({"dataSet": {
        "dataSetId": id,
        "description": "Hashed first-party customer data prepared by matchkey",
        "columns": [
            {"name": "customer_id", "dataType": "STRING", "columnType": "DIMENSION", "nullable": true},
            pii("email", "EMAIL"),
            pii("zip", "ZIP"),
            {"name": "country", "dataType": "STRING", "columnType": "DIMENSION", "nullable": true, "isCountryCode": true}
        ]
    }})
}

fn upload_body(key: &str) -> Value {
    json!({
        "updateStrategy": "ADDITIVE",
        "compressionFormat": "NONE",
        "dataSource": {"sourceS3Bucket": BUCKET, "sourceFileS3Key": key},
        "fileFormat": {"csvDataFormat": {"fieldDelimiter": ","}}
    })
}

fn instance_path(rest: &str) -> String {
    format!("/amc/advertiserData/{DEMO_AMC_INSTANCE_ID}/{rest}")
}

async fn amc(emu: &Emu, bearer: &str, method: &str, path: &str, body: Option<&Value>) -> Answer {
    let body = body.map(Value::to_string).unwrap_or_default();
    emu.send(method, path, &amc_headers(bearer), body).await
}

async fn put_object(emu: &Emu, key: &str, content: &str) -> Answer {
    let path = format!("/__emulator/s3/{BUCKET}/{key}");
    emu.send("PUT", &path, &[], content.to_owned()).await
}

async fn create_data_set(emu: &Emu, bearer: &str, id: &str) {
    let answer = amc(
        emu,
        bearer,
        "POST",
        &instance_path("dataSets"),
        Some(&data_set(id)),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
}

/// Starts an upload of `key` to `data_set` and returns its id.
async fn start_upload(emu: &Emu, bearer: &str, data_set: &str, key: &str) -> String {
    let answer = amc(
        emu,
        bearer,
        "POST",
        &instance_path(&format!("uploads/{data_set}")),
        Some(&upload_body(key)),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    assert_eq!(answer.json["status"], "SUBMITTED");
    answer.json["uploadId"].as_str().unwrap().to_owned()
}

async fn poll(emu: &Emu, bearer: &str, data_set: &str, upload: &str) -> Value {
    let path = instance_path(&format!("uploads/{data_set}/{upload}"));
    let answer = amc(emu, bearer, "GET", &path, None).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    answer.json["upload"].clone()
}

#[tokio::test]
async fn hashed_csv_upload_completes_with_its_row_count() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let csv = format!("{HEADER}\nc1,{DIGEST},{DIGEST},US\nc2,,{DIGEST},\n");
    let stored = put_object(&emu, "crm/2026-09-01.csv", &csv).await;
    assert_eq!(stored.status, 200);
    assert_eq!(stored.json["size"], csv.len());
    let created = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("dataSets"),
        Some(&data_set("crm_v1")),
    )
    .await;
    assert_eq!(created.status, 200);
    assert_eq!(
        created.json,
        json!({"dataSetId": "crm_v1", "instanceId": DEMO_AMC_INSTANCE_ID})
    );
    let read = amc(
        &emu,
        &bearer,
        "GET",
        &instance_path("dataSets/crm_v1"),
        None,
    )
    .await;
    assert_eq!(read.json, data_set("crm_v1"));

    let upload = start_upload(&emu, &bearer, "crm_v1", "crm/2026-09-01.csv").await;
    let status = poll(&emu, &bearer, "crm_v1", &upload).await;
    assert_eq!(status["status"], "SUCCESS");
    assert_eq!(status["uploadId"], upload.as_str());
    assert_eq!(status["metrics"], json!({"OutputRowCount": 2}));
    assert_eq!(status["createdAt"], crate::support::NOW);
    assert!(status.get("message").is_none());
    // adu-examples.md's finished upload names its instance, data set and source.
    assert_eq!(status["instanceId"], DEMO_AMC_INSTANCE_ID);
    assert_eq!(status["dataSetId"], "crm_v1");
    assert_eq!(
        status["dataSource"],
        json!({"s3Bucket": BUCKET, "s3ObjectKey": "crm/2026-09-01.csv"})
    );

    let state = emu.send("GET", "/__emulator/uploads", &[], "").await.json;
    assert_eq!(state["dataSets"][0]["dataSet"]["dataSetId"], "crm_v1");
    assert_eq!(state["dataSets"][0]["accountId"], DEMO_ACCOUNT_ID);
    assert_eq!(state["uploads"][0]["status"], "SUCCESS");
    assert_eq!(state["uploads"][0]["outputRowCount"], 2);
    assert_eq!(
        state["uploads"][0]["objects"],
        json!([{"bucket": BUCKET, "key": "crm/2026-09-01.csv", "size": csv.len()}])
    );
    assert!(!state.to_string().contains(DIGEST), "no cell values");
    let endpoints: Vec<Value> = emu
        .requests()
        .await
        .iter()
        .map(|r| r["endpoint"].clone())
        .collect();
    assert_eq!(
        endpoints[1..],
        ["amcDataSets", "amcDataSets", "amcUploads", "amcUploadJobs"]
    );
    let filtered = emu
        .send("GET", "/__emulator/requests?endpoint=amcUploads", &[], "")
        .await;
    assert_eq!(filtered.json.as_array().unwrap().len(), 1);

    emu.send("POST", "/__emulator/reset", &[], "").await;
    let state = emu.send("GET", "/__emulator/uploads", &[], "").await.json;
    assert_eq!(state, json!({"dataSets": [], "uploads": []}));
    assert_eq!(
        emu.send("GET", "/__emulator/s3", &[], "").await.json,
        json!([])
    );
}

#[tokio::test]
async fn missing_objects_and_raw_pii_fail_the_job_not_the_request() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    create_data_set(&emu, &bearer, "crm_v1").await;
    let missing = start_upload(&emu, &bearer, "crm_v1", "nowhere.csv").await;
    let status = poll(&emu, &bearer, "crm_v1", &missing).await;
    assert_eq!(status["status"], "FAILED");
    // As adu-examples.md's failed upload: empty metrics, the reason in `message`.
    assert_eq!(status["metrics"], json!({}));
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("s3://acme-amc-upload/nowhere.csv"),
        "{status}"
    );

    let csv = format!("{HEADER}\nc1,{DIGEST},{DIGEST},US\nc2,jane@example.com,{DIGEST},US\n");
    put_object(&emu, "raw.csv", &csv).await;
    let raw = start_upload(&emu, &bearer, "crm_v1", "raw.csv").await;
    let status = poll(&emu, &bearer, "crm_v1", &raw).await;
    assert_eq!(status["status"], "FAILED");
    let reason = status["message"].as_str().unwrap();
    assert!(
        reason.contains("row 2") && reason.contains("'email'"),
        "{reason}"
    );
    assert!(!status.to_string().contains("jane"));
    let state = emu.send("GET", "/__emulator/uploads", &[], "").await.json;
    assert!(!state.to_string().contains("jane"));
}

#[tokio::test]
async fn a_prefix_upload_reads_every_object_under_it() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    create_data_set(&emu, &bearer, "crm_v1").await;
    let part = format!("{HEADER}\nc1,{DIGEST},,US\n");
    put_object(&emu, "daily/part%201.csv", &part).await;
    put_object(&emu, "daily/part%202.csv", &part).await;
    let listed = emu.send("GET", "/__emulator/s3", &[], "").await.json;
    assert_eq!(listed[0]["key"], "daily/part 1.csv");
    let mut body = upload_body("");
    body["dataSource"] = json!({"sourceS3Bucket": BUCKET, "sourceS3Prefix": "daily/"});
    let answer = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("uploads/crm_v1"),
        Some(&body),
    )
    .await;
    let upload = answer.json["uploadId"].as_str().unwrap().to_owned();
    let status = poll(&emu, &bearer, "crm_v1", &upload).await;
    assert_eq!(status["metrics"]["OutputRowCount"], 2, "{status}");
    // adu-examples.md's multi-file sample spells the source `s3Bucket` / `s3PrefixKey`
    // (with "csvDataFormat": {}); the same upload in that form reads the same objects.
    let sample = json!({
        "updateStrategy": "ADDITIVE",
        "compressionFormat": "NONE",
        "dataSource": {"s3Bucket": BUCKET, "s3PrefixKey": "daily/"},
        "fileFormat": {"csvDataFormat": {}}
    });
    let answer = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("uploads/crm_v1"),
        Some(&sample),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    let upload = answer.json["uploadId"].as_str().unwrap().to_owned();
    let status = poll(&emu, &bearer, "crm_v1", &upload).await;
    assert_eq!(status["status"], "SUCCESS", "{status}");
    assert_eq!(
        status["dataSource"],
        json!({"s3Bucket": BUCKET, "s3PrefixKey": "daily/"})
    );
    assert_eq!(status["metrics"]["OutputRowCount"], 2, "{status}");
}

#[tokio::test]
async fn amc_headers_and_instance_ownership_are_checked() {
    let mut config = config();
    let mut other = config.advertisers[0].clone();
    other.account_id = "583000000000002".to_owned();
    other.profile_id = 2;
    other.amc_instance_id = Some("amcother".to_owned());
    config.advertisers.push(other);
    let emu = start_with(config).await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let path = instance_path("dataSets");
    let body = data_set("crm_v1").to_string();
    let send = |headers: Vec<(&'static str, String)>, path: String| {
        let (emu, body) = (emu.clone(), body.clone());
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            emu.send("POST", &path, &headers, body).await
        }
    };
    let headers = |skip: &str, replace: Option<(&'static str, &str)>| {
        amc_headers(&bearer)
            .into_iter()
            .filter(|(name, _)| *name != skip)
            .map(|(name, value)| match replace {
                Some((target, new)) if target == name => (name, new.to_owned()),
                _ => (name, value.to_owned()),
            })
            .collect::<Vec<_>>()
    };
    let cases = [
        (headers("authorization", None), 401, "UNAUTHORIZED"),
        (
            headers(
                "",
                Some(("amazon-advertising-api-clientid", "someone-else")),
            ),
            401,
            "UNAUTHORIZED",
        ),
        (
            headers("amazon-advertising-api-advertiserid", None),
            400,
            "BAD_REQUEST",
        ),
        (
            headers("amazon-advertising-api-marketplaceid", None),
            400,
            "BAD_REQUEST",
        ),
        (
            headers(
                "",
                Some(("amazon-advertising-api-marketplaceid", "ATVPDKIKX0DEX")),
            ),
            400,
            "BAD_REQUEST",
        ),
        (
            headers(
                "",
                Some(("amazon-advertising-api-advertiserid", "ENTITY2UNKNOWN")),
            ),
            403,
            "FORBIDDEN",
        ),
        (
            headers("", Some(("content-type", "text/csv"))),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ];
    for (headers, status, code) in cases {
        let answer = send(headers.clone(), path.clone()).await;
        assert_eq!(
            (answer.status, answer.json["code"].as_str()),
            (status, Some(code)),
            "{headers:?}"
        );
    }
    let foreign = send(
        headers("", None),
        "/amc/advertiserData/amcother/dataSets".to_owned(),
    )
    .await;
    assert_eq!(foreign.status, 404, "another account's instance");
    let unknown = send(
        headers("", None),
        "/amc/advertiserData/amcnobody/dataSets".to_owned(),
    )
    .await;
    assert_eq!(unknown.status, 404);
    let wrong_region = send(headers("", None), format!("/eu{path}")).await;
    assert_eq!(wrong_region.status, 403);
    let right_region = send(headers("", None), format!("/na{path}")).await;
    assert_eq!(right_region.status, 200, "{:?}", right_region.json);
    let log = emu.requests().await;
    let recorded = &log.last().unwrap()["headers"];
    assert_eq!(
        recorded["amazon-advertising-api-advertiserid"],
        DEMO_ACCOUNT_ID
    );
    assert_eq!(recorded["authorization"], "Bearer [redacted]");
}

#[tokio::test]
async fn data_sets_are_validated_unique_and_looked_up() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let mut invalid = data_set("CRM-v1");
    invalid["dataSet"]["columns"][1]["externalUserIdType"]["hashedPii"] = json!("POSTAL_CODE");
    let answer = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("dataSets"),
        Some(&invalid),
    )
    .await;
    assert_eq!(answer.status, 400);
    let locations: Vec<&str> = answer.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fieldLocation"].as_str().unwrap())
        .collect();
    assert_eq!(
        locations,
        [
            "dataSet.dataSetId",
            "dataSet.columns[1].externalUserIdType.hashedPii"
        ]
    );
    let not_json = emu
        .send(
            "POST",
            &instance_path("dataSets"),
            &amc_headers(&bearer),
            "{",
        )
        .await;
    assert_eq!(not_json.status, 400);
    create_data_set(&emu, &bearer, "crm_v1").await;
    let again = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("dataSets"),
        Some(&data_set("crm_v1")),
    )
    .await;
    assert_eq!(
        (again.status, again.json["code"].as_str()),
        (409, Some("CONFLICT"))
    );
    let missing = amc(
        &emu,
        &bearer,
        "GET",
        &instance_path("dataSets/crm_v2"),
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    let to_missing = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("uploads/crm_v2"),
        Some(&upload_body("x.csv")),
    )
    .await;
    assert_eq!(to_missing.status, 404);
    let mut bad_upload = upload_body("x.csv");
    bad_upload["compressionFormat"] = json!("BZIP2");
    bad_upload["dataSource"]["sourceS3Prefix"] = json!("daily/");
    let answer = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("uploads/crm_v1"),
        Some(&bad_upload),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json["errors"].as_array().unwrap().len(), 2);
    // compressionFormat is required (every sample of the guide carries it).
    let mut no_compression = upload_body("x.csv");
    no_compression
        .as_object_mut()
        .unwrap()
        .remove("compressionFormat");
    let answer = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("uploads/crm_v1"),
        Some(&no_compression),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json["errors"][0]["fieldLocation"],
        "compressionFormat"
    );
    let unknown_upload = amc(
        &emu,
        &bearer,
        "GET",
        &instance_path("uploads/crm_v1/nope"),
        None,
    )
    .await;
    assert_eq!(unknown_upload.status, 404);
    let list = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("uploads/list"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(list.status, 404, "uploads/list is not emulated");
}

#[tokio::test]
async fn upload_job_faults_fail_or_delay_the_job() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    create_data_set(&emu, &bearer, "crm_v1").await;
    put_object(&emu, "crm.csv", &format!("{HEADER}\nc1,{DIGEST},,US\n")).await;
    emu.fault(json!({"endpoint": "amcUploads", "kind": "job_pending", "polls": 2}))
        .await;
    emu.fault(json!({"endpoint": "amcUploads", "kind": "job_failed"}))
        .await;
    emu.fault(json!({"endpoint": "amcRecords", "kind": "job_failed"}))
        .await;
    let first = start_upload(&emu, &bearer, "crm_v1", "crm.csv").await;
    for _ in 0..2 {
        let status = poll(&emu, &bearer, "crm_v1", &first).await;
        assert_eq!(status["status"], "IN_PROGRESS");
        assert_eq!(status["metrics"], json!({}));
        emu.post_json("/__emulator/clock", &[], &json!({"advanceSecs": 60}))
            .await;
    }
    let done = poll(&emu, &bearer, "crm_v1", &first).await;
    assert_eq!(done["status"], "SUCCESS");
    assert_eq!(done["createdAt"], crate::support::NOW);
    assert_eq!(
        done["updatedAt"], "2026-09-02T12:01:00Z",
        "finished at the last pending poll"
    );
    let second = start_upload(&emu, &bearer, "crm_v1", "crm.csv").await;
    let status = poll(&emu, &bearer, "crm_v1", &second).await;
    assert_eq!(status["status"], "FAILED");
    assert!(status["message"].as_str().unwrap().contains("job_failed"));
    let third = start_upload(&emu, &bearer, "crm_v1", "crm.csv").await;
    assert_eq!(
        poll(&emu, &bearer, "crm_v1", &third).await["status"],
        "SUCCESS"
    );
    let faults = emu.send("GET", "/__emulator/faults", &[], "").await.json;
    assert_eq!(
        faults[0]["endpoint"], "amcRecords",
        "the AMC records fault is left"
    );
}

#[tokio::test]
async fn request_faults_apply_to_the_advertiser_data_endpoints() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    emu.fault(json!({"endpoint": "amcDataSets", "kind": "status", "status": 429}))
        .await;
    let limited = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("dataSets"),
        Some(&data_set("crm_v1")),
    )
    .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "1");
    emu.fault(json!({"endpoint": "amcDataSets", "kind": "expired_token"}))
        .await;
    let expired = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("dataSets"),
        Some(&data_set("crm_v1")),
    )
    .await;
    assert_eq!(expired.status, 401);
    let bearer = format!("Bearer {}", emu.access_token().await);
    create_data_set(&emu, &bearer, "crm_v1").await;
    let upload = start_upload(&emu, &bearer, "crm_v1", "crm.csv").await;
    emu.fault(json!({"endpoint": "amcUploadJobs", "kind": "drop"}))
        .await;
    let path = instance_path(&format!("uploads/crm_v1/{upload}"));
    let dropped = emu.try_send("GET", &path, &amc_headers(&bearer), "").await;
    assert!(dropped.is_err());
    emu.fault(json!({"endpoint": "amcUploads", "kind": "status", "status": 503}))
        .await;
    let unavailable = amc(
        &emu,
        &bearer,
        "POST",
        &instance_path("uploads/crm_v1"),
        Some(&upload_body("crm.csv")),
    )
    .await;
    assert_eq!(unavailable.json["code"], "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn s3_control_validates_bucket_and_key() {
    let emu = start().await;
    assert_eq!(
        emu.send("PUT", "/__emulator/s3/Acme/x.csv", &[], "a")
            .await
            .status,
        400
    );
    assert_eq!(
        emu.send("PUT", "/__emulator/s3/acme-amc-upload/", &[], "a")
            .await
            .status,
        400
    );
    assert_eq!(
        emu.send("PUT", "/__emulator/s3/acme-amc-upload", &[], "a")
            .await
            .status,
        400
    );
    put_object(&emu, "x.csv", "first").await;
    let replaced = put_object(&emu, "x.csv", "second!").await;
    assert_eq!(replaced.headers["access-control-allow-origin"], "*");
    assert_eq!(
        emu.send("GET", "/__emulator/s3", &[], "").await.json,
        json!([{"bucket": BUCKET, "key": "x.csv", "size": 7}])
    );
    assert_eq!(emu.requests().await.len(), 0, "controls are not recorded");
}
