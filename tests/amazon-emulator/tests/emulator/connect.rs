//! Connecting an account: the consent page with PKCE and allowed return URLs, the
//! authorization-code grant, the consent controls, and discovery (profiles per region,
//! DSP advertisers of agency profiles, AMC accounts and instances).

use amazon_emulator::{
    Config, DEMO_ACCOUNT_ID, DEMO_AMC_INSTANCE_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
};
use serde_json::{Value, json};

use crate::support::{Answer, Emu, advertising_headers, form, start, start_with};

const REDIRECT: &str = "http://localhost:8338/callback";
/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The consent page with `extra` query fields on top of a valid S256 request.
async fn consent(emu: &Emu, redirect: &str, extra: &[(&str, &str)]) -> Answer {
    let mut fields = vec![
        ("client_id", DEMO_CLIENT_ID),
        ("scope", "advertising::campaign_management"),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("state", "s1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        fields.retain(|(n, _)| n != name);
        if !value.is_empty() {
            fields.push((name, value));
        }
    }
    emu.send("GET", &format!("/ap/oa?{}", form(&fields)), &[], "")
        .await
}

/// The query of a consent redirect, as pairs.
fn redirect_query(answer: &Answer) -> Vec<(String, String)> {
    assert_eq!(answer.status, 302, "{:?}", answer.json);
    let location = answer.headers["location"].to_str().unwrap();
    let query = location.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

async fn code(emu: &Emu) -> String {
    let query = redirect_query(&consent(emu, REDIRECT, &[]).await);
    assert_eq!(param(&query, "state"), Some("s1"));
    param(&query, "code").unwrap().to_owned()
}

async fn exchange(emu: &Emu, code: &str, redirect: &str, verifier: Option<&str>) -> Answer {
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("client_id", DEMO_CLIENT_ID),
        ("client_secret", DEMO_CLIENT_SECRET),
    ];
    if let Some(verifier) = verifier {
        fields.push(("code_verifier", verifier));
    }
    emu.token_request(&fields).await
}

fn error(answer: &Answer) -> (u16, &str, &str) {
    (
        answer.status,
        answer.json["error"].as_str().unwrap_or(""),
        answer.json["error_description"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn pkce_code_grant_works_once_with_the_right_verifier() {
    let emu = start().await;
    let code = code(&emu).await;
    let answer = exchange(&emu, &code, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    assert!(
        answer.json["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("Atzr|")
    );
    let again = exchange(&emu, &code, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(
        error(&again),
        (
            400,
            "invalid_grant",
            "The request has an invalid grant parameter : code"
        )
    );
}

#[tokio::test]
async fn a_wrong_or_missing_verifier_is_refused_and_burns_the_code() {
    let emu = start().await;
    let first = code(&emu).await;
    let other = "A".repeat(43);
    let answer = exchange(&emu, &first, REDIRECT, Some(&other)).await;
    assert_eq!(
        error(&answer),
        (
            400,
            "invalid_grant",
            "The request has an invalid grant parameter : code_verifier"
        )
    );
    // The code is gone even though the right verifier comes next.
    let retry = exchange(&emu, &first, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(error(&retry).1, "invalid_grant");

    let second = code(&emu).await;
    let missing = exchange(&emu, &second, REDIRECT, None).await;
    assert_eq!(
        error(&missing),
        (
            400,
            "invalid_request",
            "The request is missing a required parameter : code_verifier"
        )
    );
    // A malformed verifier (too short) never matches.
    let third = code(&emu).await;
    assert_eq!(
        error(&exchange(&emu, &third, REDIRECT, Some("short")).await).2,
        "The request has an invalid grant parameter : code_verifier"
    );
}

#[tokio::test]
async fn codes_without_pkce_refuse_a_verifier_and_plain_challenges_compare_as_is() {
    let emu = start().await;
    let query = redirect_query(
        &consent(
            &emu,
            REDIRECT,
            &[("code_challenge", ""), ("code_challenge_method", "")],
        )
        .await,
    );
    let code = param(&query, "code").unwrap().to_owned();
    assert_eq!(
        error(&exchange(&emu, &code, REDIRECT, Some(VERIFIER)).await).1,
        "invalid_request"
    );
    let query = redirect_query(
        &consent(
            &emu,
            REDIRECT,
            &[
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ],
        )
        .await,
    );
    let code = param(&query, "code").unwrap().to_owned();
    assert_eq!(
        exchange(&emu, &code, REDIRECT, Some(VERIFIER)).await.status,
        200
    );
}

#[tokio::test]
async fn bad_pkce_parameters_go_back_to_the_redirect_uri() {
    let emu = start().await;
    for extra in [
        [
            ("code_challenge_method", "S512"),
            ("code_challenge", CHALLENGE),
        ],
        [
            ("code_challenge", "tooshort"),
            ("code_challenge_method", "S256"),
        ],
        [("code_challenge", ""), ("code_challenge_method", "S256")],
    ] {
        let query = redirect_query(&consent(&emu, REDIRECT, &extra).await);
        assert_eq!(param(&query, "error"), Some("invalid_request"), "{extra:?}");
        assert_eq!(param(&query, "state"), Some("s1"));
        assert_eq!(param(&query, "code"), None);
    }
    let query = redirect_query(&consent(&emu, REDIRECT, &[("scope", "everything")]).await);
    assert_eq!(param(&query, "error"), Some("invalid_scope"));
}

#[tokio::test]
async fn only_allowed_return_urls_get_a_redirect() {
    let emu = start().await;
    for refused in [
        "https://evil.example/callback",
        "http://localhost:8338/other",
        "http://localhost:8338/callback?next=https://evil.example/",
    ] {
        let answer = consent(&emu, refused, &[]).await;
        assert_eq!(answer.status, 400, "{refused}");
        assert!(answer.headers.get("location").is_none());
        assert_eq!(
            error(&answer).2,
            "The redirect URI you provided has not been whitelisted for your application."
        );
    }
    // Any loopback port, for tests that bind a free one (emulator choice).
    let query = redirect_query(&consent(&emu, "http://localhost:41234/callback", &[]).await);
    let code = param(&query, "code").unwrap().to_owned();
    // The token request must name the same redirect URI.
    assert_eq!(
        error(&exchange(&emu, &code, REDIRECT, Some(VERIFIER)).await).2,
        "The request has an invalid grant parameter : redirect_uri"
    );
}

#[tokio::test]
async fn codes_expire_after_five_minutes_or_on_demand() {
    let emu = start().await;
    let late = code(&emu).await;
    emu.post_json("/__emulator/clock", &[], &json!({"advanceSecs": 300}))
        .await;
    assert_eq!(
        error(&exchange(&emu, &late, REDIRECT, Some(VERIFIER)).await).2,
        "The request has an invalid grant parameter : code"
    );
    let expired = code(&emu).await;
    let answer = emu
        .post_json("/__emulator/codes/expire", &[], &json!({}))
        .await;
    assert_eq!(answer.json, json!({"expired": 1}));
    assert_eq!(
        error(&exchange(&emu, &expired, REDIRECT, Some(VERIFIER)).await).1,
        "invalid_grant"
    );
}

#[tokio::test]
async fn a_denied_consent_redirects_with_access_denied_and_the_state() {
    let emu = start().await;
    let set = emu
        .post_json("/__emulator/authorize", &[], &json!({"approve": false}))
        .await;
    assert_eq!(set.json, json!({"approve": false, "accounts": null}));
    let query = redirect_query(&consent(&emu, REDIRECT, &[]).await);
    assert_eq!(param(&query, "error"), Some("access_denied"));
    assert_eq!(param(&query, "state"), Some("s1"));
    assert_eq!(param(&query, "code"), None);
    let bad = emu
        .post_json(
            "/__emulator/authorize",
            &[],
            &json!({"approve": true, "accounts": ["nobody"]}),
        )
        .await;
    assert_eq!(bad.status, 400);
    emu.send("POST", "/__emulator/reset", &[], "").await;
    let reset = emu.send("GET", "/__emulator/authorize", &[], "").await;
    assert_eq!(reset.json["approve"], true);
}

/// An access token from a fresh consent (with the accounts chosen on the page).
async fn connect(emu: &Emu, accounts: Option<&[&str]>) -> String {
    let body = match accounts {
        Some(list) => json!({"approve": true, "accounts": list}),
        None => json!({"approve": true}),
    };
    emu.post_json("/__emulator/authorize", &[], &body).await;
    let code = code(emu).await;
    let answer = exchange(emu, &code, REDIRECT, Some(VERIFIER)).await;
    answer.json["access_token"].as_str().unwrap().to_owned()
}

async fn profiles(emu: &Emu, bearer: &str, prefix: &str) -> Vec<Value> {
    let mut headers = advertising_headers(bearer);
    headers.push(("content-type", "application/json"));
    let answer = emu
        .send("GET", &format!("{prefix}/v2/profiles"), &headers, "")
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    answer.json.as_array().unwrap().clone()
}

#[tokio::test]
async fn profiles_per_region_follow_the_accounts_chosen_on_the_consent_page() {
    let emu = start_with(Config::three_regions()).await;
    let bearer = format!("Bearer {}", connect(&emu, None).await);
    let na = profiles(&emu, &bearer, "/na").await;
    let eu = profiles(&emu, &bearer, "/eu").await;
    let fe = profiles(&emu, &bearer, "/fe").await;
    assert_eq!((na.len(), eu.len(), fe.len()), (1, 1, 1));
    assert_eq!(eu[0]["profileId"], 3_333_333_333u64);
    assert_eq!(eu[0]["accountInfo"]["type"], "agency");
    assert_eq!(fe[0]["accountInfo"]["type"], "seller");

    let bearer = format!("Bearer {}", connect(&emu, Some(&["583000000000002"])).await);
    assert!(profiles(&emu, &bearer, "/na").await.is_empty());
    assert_eq!(profiles(&emu, &bearer, "/eu").await.len(), 1);
    let bearer = format!("Bearer {}", connect(&emu, Some(&[])).await);
    assert!(profiles(&emu, &bearer, "").await.is_empty());
}

#[tokio::test]
async fn dsp_advertisers_are_listed_for_agency_profiles() {
    let emu = start_with(Config::three_regions()).await;
    let bearer = format!("Bearer {}", connect(&emu, None).await);
    let list = |scope: &'static str, prefix: &'static str| {
        let emu = emu.clone();
        let bearer = bearer.clone();
        async move {
            let mut headers = advertising_headers(&bearer);
            if !scope.is_empty() {
                headers.push(("amazon-advertising-api-scope", scope));
            }
            emu.send("GET", &format!("{prefix}/dsp/advertisers"), &headers, "")
                .await
        }
    };
    let eu = list("3333333333", "/eu").await;
    assert_eq!(eu.status, 200, "{:?}", eu.json);
    assert_eq!(eu.json["totalResults"], 1);
    assert_eq!(eu.json["response"][0]["advertiserId"], "583000000000002");
    assert_eq!(eu.json["response"][0]["currency"], "EUR");
    assert_eq!(
        list("1234567890", "").await.json["response"][0]["advertiserId"],
        DEMO_ACCOUNT_ID
    );
    assert_eq!(list("3333333333", "/na").await.status, 403);
    assert_eq!(
        list("4444444444", "/fe").await.status,
        403,
        "a seller profile"
    );
    assert_eq!(list("", "").await.status, 400);
    assert_eq!(list("999", "").await.status, 403);
}

#[tokio::test]
async fn amc_accounts_and_their_instances() {
    let emu = start_with(Config::three_regions()).await;
    let bearer = format!("Bearer {}", connect(&emu, None).await);
    let headers = advertising_headers(&bearer);
    let all = emu.send("GET", "/amc/accounts", &headers, "").await;
    assert_eq!(all.status, 200, "{:?}", all.json);
    assert_eq!(
        all.json["amcAccounts"],
        json!([
            {"accountId": DEMO_ACCOUNT_ID, "accountName": "matchkey demo advertiser", "marketplaceId": "ATVPDKIKX0DER"},
            {"accountId": "ENTITY2EU", "accountName": "Acme EU", "marketplaceId": "A1PA6795UKMFR9"}
        ])
    );
    let eu = emu.send("GET", "/eu/amc/accounts", &headers, "").await;
    assert_eq!(eu.json["amcAccounts"].as_array().unwrap().len(), 1);

    let instances = |account: &'static str, market: &'static str, query: &'static str| {
        let emu = emu.clone();
        let bearer = bearer.clone();
        async move {
            let mut headers = advertising_headers(&bearer);
            if !account.is_empty() {
                headers.push(("amazon-advertising-api-advertiserid", account));
            }
            if !market.is_empty() {
                headers.push(("amazon-advertising-api-marketplaceid", market));
            }
            emu.send("GET", &format!("/amc/instances{query}"), &headers, "")
                .await
        }
    };
    let demo = instances(DEMO_ACCOUNT_ID, "ATVPDKIKX0DER", "?limit=10").await;
    assert_eq!(demo.status, 200, "{:?}", demo.json);
    assert_eq!(
        demo.json["instances"][0]["instanceId"],
        DEMO_AMC_INSTANCE_ID
    );
    assert_eq!(demo.json["instances"][0]["creationStatus"], "COMPLETED");
    assert!(demo.json.get("nextToken").is_none());
    assert_eq!(instances("", "ATVPDKIKX0DER", "").await.status, 400);
    assert_eq!(instances(DEMO_ACCOUNT_ID, "", "").await.status, 400);
    assert_eq!(
        instances(DEMO_ACCOUNT_ID, "ATVPDKIKX0DER", "?limit=0")
            .await
            .status,
        400
    );
    assert_eq!(
        instances(DEMO_ACCOUNT_ID, "ATVPDKIKX0DER", "?entityId=x")
            .await
            .status,
        400
    );
    assert_eq!(
        instances("ENTITYNOBODY", "ATVPDKIKX0DER", "").await.status,
        403
    );

    // A grant without the EU account sees neither its AMC account nor its instances.
    let bearer = format!("Bearer {}", connect(&emu, Some(&[DEMO_ACCOUNT_ID])).await);
    let headers = advertising_headers(&bearer);
    let some = emu.send("GET", "/amc/accounts", &headers, "").await;
    assert_eq!(some.json["amcAccounts"].as_array().unwrap().len(), 1);
    let mut headers = headers;
    headers.push(("amazon-advertising-api-advertiserid", "ENTITY2EU"));
    headers.push(("amazon-advertising-api-marketplaceid", "A1PA6795UKMFR9"));
    assert_eq!(
        emu.send("GET", "/amc/instances", &headers, "").await.status,
        403
    );
}

#[tokio::test]
async fn long_lists_are_paged_as_the_specs_say() {
    let emu = start_with(Config::paged(150, 120)).await;
    let bearer = format!("Bearer {}", connect(&emu, None).await);
    // dsp-advertisers.yaml: startIndex (0-based) and count (at most 100), totalResults.
    let page = |query: &'static str| {
        let emu = emu.clone();
        let bearer = bearer.clone();
        async move {
            let mut headers = advertising_headers(&bearer);
            headers.push(("amazon-advertising-api-scope", "7000000000"));
            emu.send("GET", &format!("/dsp/advertisers{query}"), &headers, "")
                .await
        }
    };
    let first = page("?startIndex=0&count=100").await;
    assert_eq!(first.status, 200, "{:?}", first.json);
    assert_eq!(first.json["totalResults"], 150);
    assert_eq!(first.json["response"].as_array().unwrap().len(), 100);
    let second = page("?startIndex=100&count=100").await;
    assert_eq!(second.json["response"].as_array().unwrap().len(), 50);
    assert_eq!(
        second.json["response"][0]["advertiserId"],
        "590000000000100"
    );
    assert_eq!(
        page("").await.json["response"].as_array().unwrap().len(),
        100
    );
    for bad in ["?count=101", "?count=0", "?startIndex=29901", "?start=1"] {
        assert_eq!(page(bad).await.status, 400, "{bad}");
    }
    // AMC accounts: 100 a page, then nextToken.
    let headers = advertising_headers(&bearer);
    let accounts = emu.send("GET", "/amc/accounts", &headers, "").await;
    assert_eq!(accounts.json["amcAccounts"].as_array().unwrap().len(), 100);
    let token = accounts.json["nextToken"].as_str().unwrap().to_owned();
    let rest = emu
        .send(
            "GET",
            &format!("/amc/accounts?nextToken={token}"),
            &headers,
            "",
        )
        .await;
    // The demo advertiser's account and the 120 paged ones.
    assert_eq!(rest.json["amcAccounts"].as_array().unwrap().len(), 21);
    assert!(rest.json.get("nextToken").is_none());
    assert_eq!(
        emu.send("GET", "/amc/accounts?nextToken=x", &headers, "")
            .await
            .status,
        400
    );
}
