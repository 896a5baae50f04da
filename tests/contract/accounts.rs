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
