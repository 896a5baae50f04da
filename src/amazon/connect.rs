//! Connecting an Amazon Ads account: Login with Amazon's authorization-code grant with
//! `state` and PKCE (S256), and the discovery calls that show what the grant reaches
//! (profiles per region, DSP advertisers of agency profiles, AMC accounts and instances).
//! Facts: `spec/amazon-api.md` §F1 and §F2.
//!
//! Pure like the rest of [`crate::amazon`]: the caller brings the random bytes (verifier,
//! state), sends the requests and hands the answers back.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::prelude::rust_2024::*;

use super::request::{ApiRequest, Auth, Method};
use super::url_encode;

/// The scope of DSP, the Events API and AMC.
pub const SCOPE_CAMPAIGN_MANAGEMENT: &str = "advertising::campaign_management";
/// The scope of the Data Provider API (audiences).
pub const SCOPE_AUDIENCES: &str = "advertising::audiences";

/// An Amazon Ads region: its consent page, token URL and API host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    /// North America.
    Na,
    /// Europe.
    Eu,
    /// Far East.
    Fe,
}

impl Region {
    /// The three regions, in Amazon's order.
    pub const ALL: [Region; 3] = [Region::Na, Region::Eu, Region::Fe];

    /// `NA`, `EU` or `FE`, any case.
    pub fn parse(code: &str) -> Option<Region> {
        match code.to_ascii_uppercase().as_str() {
            "NA" => Some(Region::Na),
            "EU" => Some(Region::Eu),
            "FE" => Some(Region::Fe),
            _ => None,
        }
    }

    /// The region's code as Amazon writes it.
    pub fn code(self) -> &'static str {
        match self {
            Region::Na => "NA",
            Region::Eu => "EU",
            Region::Fe => "FE",
        }
    }

    /// Login with Amazon's consent page for the region.
    pub fn authorization_url(self) -> &'static str {
        match self {
            Region::Na => "https://www.amazon.com/ap/oa",
            Region::Eu => "https://eu.account.amazon.com/ap/oa",
            Region::Fe => "https://apac.account.amazon.com/ap/oa",
        }
    }

    /// Login with Amazon's token URL for the region.
    pub fn token_url(self) -> &'static str {
        match self {
            Region::Na => "https://api.amazon.com/auth/o2/token",
            Region::Eu => "https://api.amazon.co.uk/auth/o2/token",
            Region::Fe => "https://api.amazon.co.jp/auth/o2/token",
        }
    }

    /// The Ads API host of the region.
    pub fn api_base(self) -> &'static str {
        match self {
            Region::Na => "https://advertising-api.amazon.com",
            Region::Eu => "https://advertising-api-eu.amazon.com",
            Region::Fe => "https://advertising-api-fe.amazon.com",
        }
    }
}

/// Base64url without padding (RFC 4648 §5), the encoding of PKCE values and `state`.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The PKCE `code_verifier` for 32 random bytes: 43 characters of `[A-Za-z0-9_-]`.
pub fn pkce_verifier(random: &[u8; 32]) -> String {
    base64url(random)
}

/// The S256 `code_challenge` of a verifier: `BASE64URL(SHA256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    let digest: [u8; 32] = Sha256::digest(verifier.as_bytes()).into();
    base64url(&digest)
}

/// What the consent page needs.
#[derive(Debug, Clone, Copy)]
pub struct Authorization<'a> {
    /// The consent page ([`Region::authorization_url`], or a stand-in).
    pub auth_url: &'a str,
    /// The LwA client id.
    pub client_id: &'a str,
    /// Scopes, joined with spaces.
    pub scopes: &'a [&'a str],
    /// Where Amazon sends the browser back; must be an Allowed Return URL of the security
    /// profile, exactly.
    pub redirect_uri: &'a str,
    /// The anti-forgery value the callback must carry back.
    pub state: &'a str,
    /// The PKCE verifier (only its S256 challenge goes into the URL).
    pub code_verifier: &'a str,
}

/// The consent page's URL: `client_id`, `scope`, `response_type=code`, `redirect_uri`,
/// `state`, `code_challenge`, `code_challenge_method=S256`.
pub fn authorization_url(a: &Authorization<'_>) -> String {
    let separator = if a.auth_url.contains('?') { '&' } else { '?' };
    format!(
        "{}{separator}client_id={}&scope={}&response_type=code&redirect_uri={}&state={}&code_challenge={}&code_challenge_method=S256",
        a.auth_url,
        url_encode(a.client_id),
        url_encode(&a.scopes.join(" ")),
        url_encode(a.redirect_uri),
        url_encode(a.state),
        pkce_challenge(a.code_verifier),
    )
}

/// Why the callback brought no usable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackError {
    /// `state` missing or not ours: a forged or stale redirect. Never exchange its code.
    StateMismatch,
    /// Amazon redirected with `error` (e.g. `access_denied`) and its description.
    Refused {
        /// LwA's error code.
        error: String,
        /// LwA's description, if any.
        description: Option<String>,
    },
    /// No `code` (and no `error`): not a redirect from the consent page.
    NoCode,
}

/// Reads the redirect from the consent page: a full URL, a path with a query, or just the
/// query. Returns the code when `state` matches `expected_state`.
pub fn parse_callback(redirected: &str, expected_state: &str) -> Result<String, CallbackError> {
    let redirected = redirected.trim();
    let query = match redirected.split_once('?') {
        Some((_, query)) => query,
        None => redirected,
    };
    let query = query.split('#').next().unwrap_or("");
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(value) = url_decode(value) else {
            continue;
        };
        match name {
            "code" => code = Some(value),
            "state" => state = Some(value),
            "error" => error = Some(value),
            "error_description" => description = Some(value),
            _ => {}
        }
    }
    // The state is checked first: an error redirect with a foreign state is forged too.
    if state.as_deref() != Some(expected_state) {
        return Err(CallbackError::StateMismatch);
    }
    if let Some(error) = error {
        return Err(CallbackError::Refused { error, description });
    }
    code.filter(|c| !c.is_empty()).ok_or(CallbackError::NoCode)
}

/// `%XX` and `+` decoding of a query value; `None` when malformed or not UTF-8.
fn url_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The code exchange: `grant_type=authorization_code` with the code, the same redirect URI
/// and the PKCE verifier, to the token URL (no `Authorization` header).
pub fn code_grant(
    token_url: &str,
    client_id: &str,
    client_secret: &str,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> ApiRequest {
    ApiRequest::new(Method::Post, token_url).body(
        "application/x-www-form-urlencoded",
        format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&client_secret={}&code_verifier={}",
            url_encode(code),
            url_encode(redirect_uri),
            url_encode(client_id),
            url_encode(client_secret),
            url_encode(code_verifier),
        ),
    )
}

/// The tokens of a successful exchange. `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    /// The refresh token (`Atzr|…`): a long-lived secret.
    pub refresh_token: String,
    /// An access token for the discovery calls.
    pub access_token: String,
    /// The access token's lifetime in seconds.
    pub expires_in: u64,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Why the exchange gave no tokens, as far as Login with Amazon's answer tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    /// `invalid_grant` naming the code: used already, older than 5 minutes, or another
    /// client's. (Also LwA's answer when it does not say which parameter failed.)
    CodeRejected,
    /// `invalid_grant` naming `redirect_uri`: not the consent page's redirect URI.
    RedirectUriMismatch,
    /// `invalid_grant` naming `code_verifier`: the PKCE verifier does not match.
    VerifierMismatch,
    /// `invalid_client`: wrong client id or secret.
    InvalidClient,
    /// Anything else: LwA's error code (with its description) or `HTTP_<status>`.
    Other(String),
}

/// Reads the token endpoint's answer to [`code_grant`] (`status` 0: no answer).
pub fn parse_code_grant(status: u16, body: &str) -> Result<Grant, GrantError> {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let text = |name: &str| v[name].as_str().filter(|s| !s.is_empty());
    if status == 200
        && let (Some(access), Some(refresh)) = (text("access_token"), text("refresh_token"))
    {
        return Ok(Grant {
            refresh_token: refresh.to_owned(),
            access_token: access.to_owned(),
            expires_in: v["expires_in"].as_u64().unwrap_or(3600),
        });
    }
    let description = text("error_description").unwrap_or("");
    let about = |parameter: &str| {
        description
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.trim() == parameter)
    };
    match text("error") {
        Some("invalid_grant") if about("redirect_uri") => Err(GrantError::RedirectUriMismatch),
        Some("invalid_grant") if about("code_verifier") => Err(GrantError::VerifierMismatch),
        Some("invalid_grant") => Err(GrantError::CodeRejected),
        Some("invalid_client") => Err(GrantError::InvalidClient),
        Some(code) if description.is_empty() => Err(GrantError::Other(code.to_owned())),
        Some(code) => Err(GrantError::Other(format!("{code}: {description}"))),
        None if status == 0 => Err(GrantError::Other("lwa_unreachable".into())),
        None => Err(GrantError::Other(format!("HTTP_{status}"))),
    }
}

/// A profile from `GET /v2/profiles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `profileId` (`Amazon-Advertising-API-Scope`).
    pub profile_id: u64,
    /// Marketplace country.
    pub country_code: String,
    /// Currency.
    pub currency_code: String,
    /// Time zone.
    pub timezone: String,
    /// `accountInfo.type`: `agency` (DSP), `vendor` or `seller`.
    pub account_type: String,
    /// `accountInfo.id` (the entity id).
    pub account_id: String,
    /// `accountInfo.name`.
    pub account_name: String,
    /// `accountInfo.marketplaceStringId`.
    pub marketplace_id: String,
}

impl Profile {
    /// Whether it is a DSP (agency) profile, whose DSP advertisers can be listed.
    pub fn is_agency(&self) -> bool {
        self.account_type == "agency"
    }
}

/// `GET /v2/profiles` on a region's host: that region's profiles only. Carries
/// `Content-Type: application/json`, without which Amazon answered 415 (§A4).
pub fn list_profiles(auth: &Auth<'_>) -> ApiRequest {
    auth.request(Method::Get, "/v2/profiles")
        .header("content-type", "application/json")
}

/// Reads `GET /v2/profiles` (a JSON array); `None` when it is not one.
pub fn parse_profiles(body: &str) -> Option<Vec<Profile>> {
    let list: Vec<Value> = serde_json::from_str(body).ok()?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    list.iter()
        .map(|p| {
            let info = &p["accountInfo"];
            Some(Profile {
                profile_id: id_number(&p["profileId"])?,
                country_code: text(&p["countryCode"]),
                currency_code: text(&p["currencyCode"]),
                timezone: text(&p["timezone"]),
                account_type: text(&info["type"]),
                account_id: text(&info["id"]),
                account_name: text(&info["name"]),
                marketplace_id: text(&info["marketplaceStringId"]),
            })
        })
        .collect()
}

/// A profile id, whether Amazon sent it as a number or a string of digits.
fn id_number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

/// A DSP advertiser from `GET /dsp/advertisers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DspAdvertiser {
    /// `advertiserId`: the `Amazon-Ads-AccountId` of the Events API.
    pub advertiser_id: String,
    /// Name.
    pub name: String,
    /// Currency.
    pub currency: String,
    /// Country.
    pub country: String,
    /// Time zone.
    pub timezone: String,
}

/// Most DSP advertisers one `GET /dsp/advertisers` answers (`count`, at most 100,
/// `dsp-advertisers.yaml`).
pub const DSP_ADVERTISERS_PAGE: usize = 100;
/// The largest `startIndex` the spec allows (`maximum: 29900`).
const DSP_ADVERTISERS_MAX_START: usize = 29_900;

/// `GET /dsp/advertisers` for an agency profile (`Amazon-Advertising-API-Scope`): the
/// first page.
pub fn list_dsp_advertisers(auth: &Auth<'_>, profile_id: u64) -> ApiRequest {
    list_dsp_advertisers_page(auth, profile_id, 0)
}

/// `GET /dsp/advertisers?startIndex=…&count=100`: the page from `start_index` (the
/// spec's 0-based record offset; see [`next_dsp_advertisers_start`]).
pub fn list_dsp_advertisers_page(
    auth: &Auth<'_>,
    profile_id: u64,
    start_index: usize,
) -> ApiRequest {
    auth.request(
        Method::Get,
        &format!("/dsp/advertisers?startIndex={start_index}&count={DSP_ADVERTISERS_PAGE}"),
    )
    .header("amazon-advertising-api-scope", profile_id.to_string())
}

/// Reads `{totalResults, response:[{advertiserId, name, currency, url, country,
/// timezone}]}` (`DspAdvertisersV1`; neither field is required, so an empty list may be
/// left out; the id is a string there, a number is taken too).
pub fn parse_dsp_advertisers(body: &str) -> Option<Vec<DspAdvertiser>> {
    parse_dsp_advertisers_page(body).map(|(list, _)| list)
}

/// [`parse_dsp_advertisers`] with `totalResults`, when Amazon gives it.
pub fn parse_dsp_advertisers_page(body: &str) -> Option<(Vec<DspAdvertiser>, Option<u64>)> {
    let v: Value = serde_json::from_str(body).ok()?;
    if !v.is_object() {
        return None;
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let list = match &v["response"] {
        Value::Null => Vec::new(),
        list => list
            .as_array()?
            .iter()
            .map(|a| {
                let id = match &a["advertiserId"] {
                    Value::String(s) if !s.is_empty() => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some(DspAdvertiser {
                    advertiser_id: id,
                    name: text(&a["name"]),
                    currency: text(&a["currency"]),
                    country: text(&a["country"]),
                    timezone: text(&a["timezone"]),
                })
            })
            .collect::<Option<Vec<_>>>()?,
    };
    Some((list, v["totalResults"].as_u64()))
}

/// The `startIndex` of the page after one that started at `start` and held `got`
/// advertisers of `total` (when Amazon said): `None` once every advertiser was read, the
/// page came back short or empty, or the spec's largest offset is passed.
pub fn next_dsp_advertisers_start(start: usize, got: usize, total: Option<u64>) -> Option<usize> {
    let next = start + got;
    let more = match total {
        Some(total) => (next as u64) < total,
        None => got == DSP_ADVERTISERS_PAGE,
    };
    (got > 0 && more && next <= DSP_ADVERTISERS_MAX_START).then_some(next)
}

/// An AMC account from `GET /amc/accounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmcAccount {
    /// `accountId` (`ENTITY…`): the `Amazon-Advertising-API-AdvertiserId` of AMC calls.
    pub account_id: String,
    /// `accountName`.
    pub account_name: String,
    /// `marketplaceId`.
    pub marketplace_id: String,
}

/// `GET /amc/accounts`: the first page.
pub fn list_amc_accounts(auth: &Auth<'_>) -> ApiRequest {
    list_amc_accounts_page(auth, None)
}

/// `GET /amc/accounts[?nextToken=…]` (`AMCAdministration_prod_3p.json`: at most 100 a
/// page, then a `nextToken`).
pub fn list_amc_accounts_page(auth: &Auth<'_>, next_token: Option<&str>) -> ApiRequest {
    let mut path = String::from("/amc/accounts");
    if let Some(token) = next_token {
        path.push_str("?nextToken=");
        path.push_str(&url_encode(token));
    }
    auth.request(Method::Get, &path)
}

/// Reads `{amcAccounts:[{accountId, accountName, marketplaceId}]}`, one page.
pub fn parse_amc_accounts(body: &str) -> Option<Vec<AmcAccount>> {
    parse_amc_accounts_page(body).map(|(list, _)| list)
}

/// [`parse_amc_accounts`] and the next page's token (`AmcpLinkListAmcAccountsResponseContent`:
/// neither field required, so a missing list is an empty one).
pub fn parse_amc_accounts_page(body: &str) -> Option<(Vec<AmcAccount>, Option<String>)> {
    let v: Value = serde_json::from_str(body).ok()?;
    if !v.is_object() {
        return None;
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let list = match &v["amcAccounts"] {
        Value::Null => Vec::new(),
        list => list
            .as_array()?
            .iter()
            .map(|a| {
                Some(AmcAccount {
                    account_id: a["accountId"]
                        .as_str()
                        .filter(|s| !s.is_empty())?
                        .to_owned(),
                    account_name: text(&a["accountName"]),
                    marketplace_id: text(&a["marketplaceId"]),
                })
            })
            .collect::<Option<Vec<_>>>()?,
    };
    let next = v["nextToken"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Some((list, next))
}

/// An AMC instance from `GET /amc/instances`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmcInstance {
    /// `instanceId` (`/amc/advertiserData/{instanceId}/…`).
    pub instance_id: String,
    /// `instanceName`.
    pub instance_name: String,
    /// `instanceType` (`STANDARD`, `SANDBOX` …).
    pub instance_type: String,
    /// `creationStatus` (`COMPLETED` when ready).
    pub status: String,
}

/// One page of `GET /amc/instances?limit=100[&nextToken=…]` for an AMC account.
pub fn list_amc_instances(
    auth: &Auth<'_>,
    account_id: &str,
    marketplace_id: &str,
    next_token: Option<&str>,
) -> ApiRequest {
    let mut path = String::from("/amc/instances?limit=100");
    if let Some(token) = next_token {
        path.push_str("&nextToken=");
        path.push_str(&url_encode(token));
    }
    auth.request(Method::Get, &path)
        .header("amazon-advertising-api-advertiserid", account_id)
        .header("amazon-advertising-api-marketplaceid", marketplace_id)
}

/// Reads one page of instances and the next page's token.
pub fn parse_amc_instances(body: &str) -> Option<(Vec<AmcInstance>, Option<String>)> {
    let v: Value = serde_json::from_str(body).ok()?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    if !v.is_object() {
        return None;
    }
    let empty = Vec::new();
    let list = match &v["instances"] {
        // `ListInstancesResponse` requires no field: a missing list is an empty one.
        Value::Null => &empty,
        list => list.as_array()?,
    }
    .iter()
    .map(|i| {
        Some(AmcInstance {
            instance_id: i["instanceId"]
                .as_str()
                .filter(|s| !s.is_empty())?
                .to_owned(),
            instance_name: text(&i["instanceName"]),
            instance_type: text(&i["instanceType"]),
            status: text(&i["creationStatus"]),
        })
    })
    .collect::<Option<Vec<_>>>()?;
    let next = v["nextToken"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Some((list, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_and_pkce_follow_the_rfcs() {
        // RFC 4648 §10 vectors, without padding.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(input.as_bytes()), expected);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        // RFC 7636 appendix B.
        let random = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = pkce_verifier(&random);
        assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce_challenge(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn regions_have_amazons_hosts() {
        assert_eq!(Region::parse("eu"), Some(Region::Eu));
        assert_eq!(Region::parse("UK"), None);
        assert_eq!(
            Region::Fe.authorization_url(),
            "https://apac.account.amazon.com/ap/oa"
        );
        assert_eq!(
            Region::Eu.token_url(),
            "https://api.amazon.co.uk/auth/o2/token"
        );
        assert_eq!(Region::Na.api_base(), "https://advertising-api.amazon.com");
    }

    #[test]
    fn the_consent_url_carries_the_challenge_not_the_verifier() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let url = authorization_url(&Authorization {
            auth_url: Region::Na.authorization_url(),
            client_id: "amzn1.application-oa2-client.x",
            scopes: &[SCOPE_CAMPAIGN_MANAGEMENT, SCOPE_AUDIENCES],
            redirect_uri: "http://localhost:8338/callback",
            state: "st/1",
            code_verifier: verifier,
        });
        assert_eq!(
            url,
            "https://www.amazon.com/ap/oa?client_id=amzn1.application-oa2-client.x\
             &scope=advertising%3A%3Acampaign_management%20advertising%3A%3Aaudiences\
             &response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A8338%2Fcallback\
             &state=st%2F1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256"
        );
        assert!(!url.contains(verifier));
    }

    #[test]
    fn callbacks_need_our_state() {
        let ok = "http://localhost:8338/callback?code=ANx%7C1&scope=a&state=s1";
        assert_eq!(parse_callback(ok, "s1"), Ok("ANx|1".into()));
        assert_eq!(parse_callback("code=c&state=s1", "s1"), Ok("c".into()));
        assert_eq!(
            parse_callback("/callback?code=c&state=s1#frag", "s1"),
            Ok("c".into())
        );
        assert_eq!(parse_callback(ok, "s2"), Err(CallbackError::StateMismatch));
        assert_eq!(
            parse_callback("/callback?code=c", "s1"),
            Err(CallbackError::StateMismatch)
        );
        assert_eq!(
            parse_callback(
                "/callback?error=access_denied&error_description=The+user+denied&state=s1",
                "s1"
            ),
            Err(CallbackError::Refused {
                error: "access_denied".into(),
                description: Some("The user denied".into())
            })
        );
        assert_eq!(
            parse_callback("/callback?error=access_denied&state=evil", "s1"),
            Err(CallbackError::StateMismatch)
        );
        assert_eq!(
            parse_callback("/callback?state=s1", "s1"),
            Err(CallbackError::NoCode)
        );
    }

    #[test]
    fn the_code_exchange_and_its_answers() {
        let r = code_grant(
            "http://t/auth/o2/token",
            "c",
            "s",
            "AN|1",
            "http://l/cb",
            "v",
        );
        assert_eq!(
            (r.method, r.url.as_str()),
            (Method::Post, "http://t/auth/o2/token")
        );
        assert_eq!(r.header_value("authorization"), None);
        assert_eq!(
            r.body.as_deref(),
            Some(
                "grant_type=authorization_code&code=AN%7C1&redirect_uri=http%3A%2F%2Fl%2Fcb\
                 &client_id=c&client_secret=s&code_verifier=v"
            )
        );
        let ok = parse_code_grant(
            200,
            r#"{"access_token":"Atza|a","refresh_token":"Atzr|r","token_type":"bearer","expires_in":3600}"#,
        )
        .unwrap();
        assert_eq!(ok.refresh_token, "Atzr|r");
        assert!(!format!("{ok:?}").contains("Atz"));
        let err = |description: &str| {
            parse_code_grant(
                400,
                &format!(r#"{{"error":"invalid_grant","error_description":"{description}"}}"#),
            )
        };
        let prefix = "The request has an invalid grant parameter : ";
        assert_eq!(err(&format!("{prefix}code")), Err(GrantError::CodeRejected));
        assert_eq!(
            err(&format!("{prefix}redirect_uri")),
            Err(GrantError::RedirectUriMismatch)
        );
        assert_eq!(
            err(&format!("{prefix}code_verifier")),
            Err(GrantError::VerifierMismatch)
        );
        assert_eq!(err("anything"), Err(GrantError::CodeRejected));
        assert_eq!(
            parse_code_grant(400, r#"{"error":"invalid_client"}"#),
            Err(GrantError::InvalidClient)
        );
        assert_eq!(
            parse_code_grant(
                400,
                r#"{"error":"invalid_request","error_description":"x"}"#
            ),
            Err(GrantError::Other("invalid_request: x".into()))
        );
        assert_eq!(
            parse_code_grant(200, r#"{"access_token":"a"}"#),
            Err(GrantError::Other("HTTP_200".into()))
        );
        assert_eq!(
            parse_code_grant(0, ""),
            Err(GrantError::Other("lwa_unreachable".into()))
        );
    }

    #[test]
    fn discovery_requests_and_answers() {
        let auth = Auth {
            api_base: "http://e/eu",
            access_token: "Atza|t",
            client_id: "cid",
        };
        let r = list_profiles(&auth);
        assert_eq!(r.url, "http://e/eu/v2/profiles");
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        assert_eq!(
            r.header_value("amazon-advertising-api-clientid"),
            Some("cid")
        );
        let profiles = parse_profiles(
            r#"[{"profileId":3333333333,"countryCode":"DE","currencyCode":"EUR","timezone":"Europe/Berlin",
                 "accountInfo":{"marketplaceStringId":"A1PA6795UKMFR9","id":"ENTITY1","type":"agency","name":"Acme"}},
                {"profileId":"42","accountInfo":{"type":"seller"}}]"#,
        )
        .unwrap();
        assert_eq!(profiles[0].profile_id, 3_333_333_333);
        assert!(profiles[0].is_agency() && !profiles[1].is_agency());
        assert_eq!(profiles[1].profile_id, 42);
        assert_eq!(parse_profiles("[]"), Some(vec![]));
        assert_eq!(parse_profiles(r#"{"code":"x"}"#), None);

        let r = list_dsp_advertisers(&auth, 3_333_333_333);
        assert_eq!(r.url, "http://e/eu/dsp/advertisers?startIndex=0&count=100");
        assert_eq!(
            r.header_value("amazon-advertising-api-scope"),
            Some("3333333333")
        );
        let advertisers = parse_dsp_advertisers(
            r#"{"totalResults":2,"response":[{"advertiserId":"583","name":"A","currency":"EUR","country":"DE","timezone":"Europe/Berlin"},{"advertiserId":584}]}"#,
        )
        .unwrap();
        assert_eq!(advertisers[0].advertiser_id, "583");
        assert_eq!(advertisers[1].advertiser_id, "584");
        // Pages: by totalResults when given, else until a short page.
        assert_eq!(
            list_dsp_advertisers_page(&auth, 1, 200).url,
            "http://e/eu/dsp/advertisers?startIndex=200&count=100"
        );
        assert_eq!(next_dsp_advertisers_start(0, 100, Some(250)), Some(100));
        assert_eq!(next_dsp_advertisers_start(200, 50, Some(250)), None);
        assert_eq!(next_dsp_advertisers_start(0, 100, Some(100)), None);
        assert_eq!(next_dsp_advertisers_start(0, 100, None), Some(100));
        assert_eq!(next_dsp_advertisers_start(100, 99, None), None);
        assert_eq!(next_dsp_advertisers_start(100, 0, Some(500)), None);
        assert_eq!(next_dsp_advertisers_start(29_900, 100, Some(40_000)), None);
        // The smallest valid answer (no field is required) and a full one.
        assert_eq!(parse_dsp_advertisers_page("{}"), Some((vec![], None)));
        assert_eq!(
            parse_dsp_advertisers_page(r#"{"totalResults":1100,"response":[{"advertiserId":"4728736040201","name":"DSP Public API Advertiser","currency":"USD","url":"www.example.com","country":"US","timezone":"America/Los_Angeles"}]}"#)
                .map(|(list, total)| (list.len(), total)),
            Some((1, Some(1100)))
        );
        assert_eq!(parse_dsp_advertisers_page("[]"), None);

        assert_eq!(list_amc_accounts(&auth).url, "http://e/eu/amc/accounts");
        assert_eq!(
            list_amc_accounts_page(&auth, Some("t/2")).url,
            "http://e/eu/amc/accounts?nextToken=t%2F2"
        );
        assert_eq!(parse_amc_accounts_page("{}"), Some((vec![], None)));
        let (page, next) = parse_amc_accounts_page(
            r#"{"amcAccounts":[{"accountId":"ENTITY1","accountName":"A","marketplaceId":"m"}],"nextToken":"t2"}"#,
        )
        .unwrap();
        assert_eq!((page.len(), next.as_deref()), (1, Some("t2")));
        assert_eq!(parse_amc_instances("{}"), Some((vec![], None)));
        let accounts = parse_amc_accounts(
            r#"{"amcAccounts":[{"accountId":"ENTITY1","accountName":"A","marketplaceId":"ATVPDKIKX0DER"}]}"#,
        )
        .unwrap();
        assert_eq!(accounts[0].account_id, "ENTITY1");

        let r = list_amc_instances(&auth, "ENTITY1", "ATVPDKIKX0DER", Some("a b"));
        assert_eq!(r.url, "http://e/eu/amc/instances?limit=100&nextToken=a%20b");
        assert_eq!(
            r.header_value("amazon-advertising-api-advertiserid"),
            Some("ENTITY1")
        );
        assert_eq!(
            r.header_value("amazon-advertising-api-marketplaceid"),
            Some("ATVPDKIKX0DER")
        );
        let (instances, next) = parse_amc_instances(
            r#"{"instances":[{"instanceId":"amc1","instanceName":"n","instanceType":"STANDARD","creationStatus":"COMPLETED"}],"nextToken":"2"}"#,
        )
        .unwrap();
        assert_eq!(
            (instances[0].instance_id.as_str(), next.as_deref()),
            ("amc1", Some("2"))
        );
        assert_eq!(parse_amc_instances(r#"{"instances":[{}]}"#), None);
    }
}
