//! Account discovery: profiles (`GET /v2/profiles`: no vendored OpenAPI file, the guide page
//! `guides/get-started/retrieve-profiles.md` is the contract), DSP advertisers
//! (`dsp-advertisers.yaml`), AMC accounts and instances (`AMCAdministration_prod_3p.json`).

use matchkey::amazon::connect;

use super::*;

#[test]
fn dsp_advertisers_listing_conforms() {
    let op = assert_conforms(&connect::list_dsp_advertisers(&auth(), 42));
    assert_eq!(
        (op.file, op.path.as_str()),
        ("dsp-advertisers.yaml", "/dsp/advertisers")
    );
}

#[test]
fn amc_accounts_listing_conforms() {
    let op = assert_conforms(&connect::list_amc_accounts(&auth()));
    assert_eq!(op.operation_id.as_deref(), Some("AmcpLinkListAmcAccounts"));
}

#[test]
fn amc_instances_listing_conforms_on_every_page() {
    for token in [None, Some("next/page+token")] {
        let op = assert_conforms(&connect::list_amc_instances(
            &auth(),
            "ENTITY1ABC",
            "ATVPDKIKX0DER",
            token,
        ));
        assert_eq!(op.operation_id.as_deref(), Some("listInstances"));
    }
}

#[test]
fn profiles_listing_has_no_vendored_spec_and_sends_the_guides_headers() {
    let request = connect::list_profiles(&auth());
    assert_undocumented(&request);
    // retrieve-profiles.md: "The request has two required headers".
    let page = amazon_contract::guide("guides/get-started/retrieve-profiles.md");
    for header in ["Amazon-Advertising-API-ClientId", "Authorization"] {
        assert!(page.contains(&format!("`{header}`")), "{header}");
        assert!(request.header_value(header).is_some(), "{header}");
    }
    assert!(request.url.ends_with("/v2/profiles"));
}

#[test]
fn a_fully_populated_dsp_advertisers_answer_is_documented_and_read() {
    // The file's own examples for each field (dsp-advertisers.yaml, DspAdvertiserV1).
    let body = r#"{"totalResults":1,"response":[{"advertiserId":"4728736040201","name":"DSP Public API Advertiser","currency":"USD","url":"www.example.com","country":"US","timezone":"America/Los_Angeles"}]}"#;
    let request = connect::list_dsp_advertisers(&auth(), 42);
    assert_answer_conforms(&request, 200, "application/json", body);
    let advertisers = connect::parse_dsp_advertisers(body).unwrap();
    assert_eq!(advertisers[0].advertiser_id, "4728736040201");
    assert_eq!(advertisers[0].currency, "USD");
}

#[test]
fn every_dsp_advertisers_page_conforms_and_paging_ends() {
    for start in [0, 100, 29_900] {
        let op = assert_conforms(&connect::list_dsp_advertisers_page(&auth(), 42, start));
        assert_eq!(op.path, "/dsp/advertisers");
    }
    // The smallest valid answer: no field is required.
    let request = connect::list_dsp_advertisers(&auth(), 42);
    assert_answer_conforms(&request, 200, "application/json", "{}");
    assert_eq!(
        connect::parse_dsp_advertisers_page("{}"),
        Some((vec![], None))
    );
    assert_eq!(
        connect::next_dsp_advertisers_start(0, 100, Some(1100)),
        Some(100)
    );
    assert_eq!(
        connect::next_dsp_advertisers_start(1000, 100, Some(1100)),
        None
    );
}

#[test]
fn amc_accounts_pages_conform_and_their_answers_are_read() {
    let first = connect::list_amc_accounts_page(&auth(), None);
    let next = connect::list_amc_accounts_page(&auth(), Some("next/page+token"));
    for request in [&first, &next] {
        assert_eq!(
            assert_conforms(request).operation_id.as_deref(),
            Some("AmcpLinkListAmcAccounts")
        );
    }
    let media = "application/vnd.amcaudiencesconnections.v1+json";
    assert_answer_conforms(&first, 200, media, "{}");
    assert_eq!(connect::parse_amc_accounts_page("{}"), Some((vec![], None)));
    let full = r#"{"amcAccounts":[{"accountId":"ENTITY1ABC","accountName":"Acme","marketplaceId":"ATVPDKIKX0DER"}],"nextToken":"t2"}"#;
    assert_answer_conforms(&first, 200, media, full);
    let (accounts, token) = connect::parse_amc_accounts_page(full).unwrap();
    assert_eq!(
        (accounts[0].account_id.as_str(), token.as_deref()),
        ("ENTITY1ABC", Some("t2"))
    );
}

#[test]
fn amc_instances_answers_smallest_and_fully_populated() {
    let request = connect::list_amc_instances(&auth(), "ENTITY1ABC", "ATVPDKIKX0DER", None);
    let media = "application/vnd.amcinstances.v1+json";
    assert_answer_conforms(&request, 200, media, "{}");
    assert_eq!(connect::parse_amc_instances("{}"), Some((vec![], None)));
    let full = r#"{"instances":[{"instanceId":"amc1","instanceName":"n","instanceType":"STANDARD","creationStatus":"COMPLETED",
        "creationDatetime":"2026-01-01T00:00:00Z","apiEndpoint":"https://x","awsAccountId":"1","dataUploadAwsAccountId":"2",
        "s3BucketName":"b","s3BucketRegion":"us-east-1","entities":["NA"],"advertiserTypes":["DISPLAY"],"customerCanonicalName":"c"}],"nextToken":"2"}"#;
    assert_answer_conforms(&request, 200, media, full);
    let (instances, next) = connect::parse_amc_instances(full).unwrap();
    assert_eq!(
        (instances[0].instance_id.as_str(), next.as_deref()),
        ("amc1", Some("2"))
    );
}

#[test]
fn the_advertiser_accounts_query_conforms() {
    // POST /adsApi/v1/query/advertiserAccounts: the CLI and Worker do not send it yet; the
    // emulator enforces the file for it (tests/amazon-emulator/src/contract.rs).
    let op = amazon_contract::Contract::amazon()
        .find(
            "POST",
            "https://advertising-api.amazon.com/adsApi/v1/query/advertiserAccounts",
        )
        .unwrap();
    assert_eq!(op.file, "amazon-ads-v1-all.json");
}
