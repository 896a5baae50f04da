//! One Amazon call, described rather than performed, so that the Worker and the CLI send
//! byte-for-byte the same requests; and Login with Amazon.

use serde_json::Value;
use std::prelude::rust_2024::*;

use super::retry::lwa_refresh_form;

/// An HTTP method Amazon's APIs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PATCH`
    Patch,
    /// `PUT`
    Put,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Put => "PUT",
        }
    }
}

/// A request to send: method, absolute URL, headers and body.
///
/// Its `Debug` output leaves out header values and the body (tokens, secrets, hashes).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(&'static str, String)>,
    /// The body, if any.
    pub body: Option<String>,
}

impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body_bytes", &self.body.as_ref().map_or(0, String::len))
            .finish()
    }
}

impl ApiRequest {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: impl Into<String>) -> ApiRequest {
        ApiRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> ApiRequest {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets the body and its content type.
    pub fn body(self, content_type: &'static str, body: String) -> ApiRequest {
        let mut request = self.header("content-type", content_type);
        request.body = Some(body);
        request
    }

    /// A header's value, if set.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What every Ads API call carries: the access token and the LwA client id.
#[derive(Clone, Copy)]
pub struct Auth<'a> {
    /// The API's base URL, e.g. `https://advertising-api.amazon.com` (no trailing slash).
    pub api_base: &'a str,
    /// The LwA access token.
    pub access_token: &'a str,
    /// The LwA client id (`Amazon-Advertising-API-ClientId`).
    pub client_id: &'a str,
}

impl std::fmt::Debug for Auth<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl Auth<'_> {
    /// A request to `path` under the API base with the authorization headers of the
    /// older APIs (`Amazon-Advertising-API-ClientId`).
    pub fn request(&self, method: Method, path: &str) -> ApiRequest {
        self.bearer(method, path)
            .header("amazon-advertising-api-clientid", self.client_id)
    }

    /// The same for the v1 APIs (`Amazon-Ads-ClientId`).
    pub fn v1_request(&self, method: Method, path: &str) -> ApiRequest {
        self.bearer(method, path)
            .header("amazon-ads-clientid", self.client_id)
    }

    fn bearer(&self, method: Method, path: &str) -> ApiRequest {
        ApiRequest::new(
            method,
            format!("{}{path}", self.api_base.trim_end_matches('/')),
        )
        .header("authorization", format!("Bearer {}", self.access_token))
    }
}

/// The refresh-token grant to Login with Amazon's token URL.
pub fn lwa_refresh(
    token_url: &str,
    client_id: &str,
    client_secret: &str,
    refresh_token: &str,
) -> ApiRequest {
    ApiRequest::new(Method::Post, token_url).body(
        "application/x-www-form-urlencoded",
        lwa_refresh_form(client_id, client_secret, refresh_token),
    )
}

/// An access token and how many seconds it lives.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The bearer token.
    pub access_token: String,
    /// Lifetime in seconds (3600 when Amazon does not say).
    pub expires_in: u64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Why Login with Amazon gave no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// `invalid_grant`: the refresh token is revoked or expired; the advertiser must
    /// authorize again. Retrying does not help.
    Reauthorize,
    /// Anything else (`invalid_client`, LwA down, no answer): LwA's error code or
    /// `HTTP_<status>`.
    Unavailable(String),
}

/// Reads Login with Amazon's answer (`status` 0: no answer).
pub fn parse_token(status: u16, body: &str) -> Result<Token, TokenError> {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if status == 200
        && let Some(token) = v["access_token"].as_str().filter(|t| !t.is_empty())
    {
        return Ok(Token {
            access_token: token.to_owned(),
            expires_in: v["expires_in"].as_u64().unwrap_or(3600),
        });
    }
    match v["error"].as_str() {
        Some("invalid_grant") => Err(TokenError::Reauthorize),
        Some(code) => Err(TokenError::Unavailable(code.to_owned())),
        None if status == 0 => Err(TokenError::Unavailable("lwa_unreachable".into())),
        None => Err(TokenError::Unavailable(format!("HTTP_{status}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_auth_and_hide_it_from_debug() {
        let auth = Auth {
            api_base: "http://127.0.0.1:9/",
            access_token: "Atza|secret",
            client_id: "cid",
        };
        let r = auth
            .request(Method::Post, "/amc/audiences/records")
            .body("application/json", "{}".into());
        assert_eq!(r.url, "http://127.0.0.1:9/amc/audiences/records");
        assert_eq!(r.header_value("Authorization"), Some("Bearer Atza|secret"));
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        let shown = format!("{r:?} {auth:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("{}"),
            "{shown}"
        );
    }

    #[test]
    fn token_answers() {
        let ok = parse_token(200, r#"{"access_token":"Atza|x","expires_in":60}"#).unwrap();
        assert_eq!((ok.access_token.as_str(), ok.expires_in), ("Atza|x", 60));
        assert!(!format!("{ok:?}").contains("Atza"));
        assert_eq!(
            parse_token(400, r#"{"error":"invalid_grant"}"#),
            Err(TokenError::Reauthorize)
        );
        assert_eq!(
            parse_token(401, r#"{"error":"invalid_client"}"#),
            Err(TokenError::Unavailable("invalid_client".into()))
        );
        assert_eq!(
            parse_token(503, ""),
            Err(TokenError::Unavailable("HTTP_503".into()))
        );
        let form = lwa_refresh("http://t/auth/o2/token", "c", "s", "r");
        assert_eq!(form.method, Method::Post);
        assert!(form.body.unwrap().starts_with("grant_type=refresh_token&"));
    }
}
