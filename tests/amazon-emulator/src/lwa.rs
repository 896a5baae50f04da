//! Login with Amazon: the token endpoint (`POST /auth/o2/token`) and a consent page
//! (`GET /ap/oa`) that answers at once as the test controls say (`POST
//! /__emulator/authorize`: allow with a choice of accounts, or deny) and redirects with an
//! authorization code bound to the client, the redirect URI and the PKCE challenge.
//!
//! Errors are 400 `{error, error_description}` with LwA's wording where the doc quotes it
//! (sections A3 and F1). Tokens never appear in logs or messages.

use std::collections::HashMap;

use hyper::StatusCode;
use hyper::header::AUTHORIZATION;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::api::{Call, media_type};
use crate::reply::Reply;
use crate::state::{AccessToken, AuthCode, Grant, World};

/// LwA's answer to a code that is unknown, used, expired or another client's (doc F1).
const INVALID_CODE: &str = "The request has an invalid grant parameter : code";

/// LwA's answer to an unknown, revoked or foreign refresh token (quoted in doc A3).
const INVALID_REFRESH: &str = "The request has an invalid grant parameter : refresh_token. User may have revoked or didn't grant the permission.";
/// How long an authorization code lives.
const CODE_LIFETIME: Duration = Duration::minutes(5);
/// Scopes the consent page grants.
const SCOPES: &[&str] = &[
    "advertising::campaign_management",
    "advertising::audiences",
    "cpc_advertising:campaign_management",
    "profile",
    "profile:user_id",
];

/// `POST /auth/o2/token` with `grant_type` `refresh_token` or `authorization_code`.
pub(crate) fn token(world: &mut World, call: &Call<'_>) -> Reply {
    // Segment found that LwA refuses a token call carrying an Authorization header.
    if call.headers.contains_key(AUTHORIZATION) {
        return Reply::lwa_error(
            "invalid_request",
            "The token request must not carry an Authorization header.",
        );
    }
    if media_type(call).as_deref() != Some("application/x-www-form-urlencoded") {
        return Reply::lwa_error(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded.",
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(call.body).into_owned().collect();
    let field = |name: &str| {
        form.get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    };
    let missing = |name: &str| {
        Reply::lwa_error(
            "invalid_request",
            format!("The request is missing a required parameter : {name}"),
        )
    };
    let Some(grant_type) = field("grant_type") else {
        return missing("grant_type");
    };
    let Some(client_id) = field("client_id") else {
        return missing("client_id");
    };
    let Some(client_secret) = field("client_secret") else {
        return missing("client_secret");
    };
    if !matches!(grant_type, "refresh_token" | "authorization_code") {
        return Reply::lwa_error(
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server",
        );
    }
    let client_ok = world
        .config
        .client(client_id)
        .is_some_and(|client| client.client_secret == client_secret);
    if !client_ok {
        return Reply::lwa_error("invalid_client", "Client authentication failed");
    }
    let (refresh_token, grant) = if grant_type == "refresh_token" {
        let Some(refresh_token) = field("refresh_token") else {
            return missing("refresh_token");
        };
        let grant = world
            .grants
            .get(refresh_token)
            .filter(|grant| grant.client_id == client_id && !world.revoked.contains(refresh_token));
        let Some(grant) = grant.cloned() else {
            return Reply::lwa_error("invalid_grant", INVALID_REFRESH);
        };
        (refresh_token.to_owned(), grant)
    } else {
        let Some(code) = field("code") else {
            return missing("code");
        };
        let Some(redirect_uri) = field("redirect_uri") else {
            return missing("redirect_uri");
        };
        // A code works once, whatever the outcome.
        let entry = world.codes.remove(code);
        let now = world.now();
        let Some(entry) =
            entry.filter(|entry| entry.client_id == client_id && now < entry.expires_at)
        else {
            return Reply::lwa_error("invalid_grant", INVALID_CODE);
        };
        // Emulator choice: the description names the parameter that failed (LwA's
        // "invalid grant parameter : …" form), so a client can say what went wrong.
        if entry.redirect_uri != redirect_uri {
            return Reply::lwa_error(
                "invalid_grant",
                "The request has an invalid grant parameter : redirect_uri",
            );
        }
        let verifier = field("code_verifier");
        match (&entry.challenge, verifier) {
            (None, None) => {}
            (None, Some(_)) => {
                return Reply::lwa_error(
                    "invalid_request",
                    "code_verifier was sent for a code issued without code_challenge",
                );
            }
            (Some(_), None) => return missing("code_verifier"),
            (Some((challenge, method)), Some(verifier)) => {
                if !is_pkce_string(verifier) || pkce_transform(method, verifier) != *challenge {
                    return Reply::lwa_error(
                        "invalid_grant",
                        "The request has an invalid grant parameter : code_verifier",
                    );
                }
            }
        }
        let refresh_token = world.mint("Atzr|emu-");
        let grant = Grant {
            client_id: client_id.to_owned(),
            advertisers: entry.advertisers,
        };
        world.grants.insert(refresh_token.clone(), grant.clone());
        (refresh_token, grant)
    };
    let ttl = world.config.token_ttl_secs;
    let access_token = world.mint("Atza|emu-");
    let expires_at = world.now() + Duration::seconds(i64::try_from(ttl).unwrap_or(i64::MAX));
    world.access_tokens.insert(
        access_token.clone(),
        AccessToken {
            client_id: grant.client_id,
            expires_at,
            advertisers: grant.advertisers,
        },
    );
    Reply::json(
        StatusCode::OK,
        json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": ttl,
            "refresh_token": refresh_token
        }),
    )
    .no_store()
}

/// `GET /ap/oa?client_id=…&scope=…&response_type=code&redirect_uri=…&state=…
/// &code_challenge=…&code_challenge_method=S256`: the user answers at once as
/// `POST /__emulator/authorize` set (allow, by default for every account), and the answer
/// is a 302 to `redirect_uri` with `code`, `scope` and `state`, or with
/// `error=access_denied`. A redirect URI that is not one of the client's allowed return
/// URLs gets no redirect at all (400), as LwA shows its error page instead.
pub(crate) fn authorize(world: &mut World, call: &Call<'_>) -> Reply {
    let query: HashMap<String, String> =
        form_urlencoded::parse(call.query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let field = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    };
    let Some(client) = field("client_id").and_then(|id| world.config.client(id)) else {
        return Reply::lwa_error("invalid_client", "Unknown client_id");
    };
    let client_id = client.client_id.clone();
    let Some(redirect_uri) = field("redirect_uri") else {
        return Reply::lwa_error(
            "invalid_request",
            "The request is missing a required parameter : redirect_uri",
        );
    };
    if !client.allows_return_url(redirect_uri) {
        // LwA: "The redirect URI you provided has not been whitelisted for your
        // application" (doc F5), on its own page: never a redirect to an unknown URI.
        return Reply::lwa_error(
            "invalid_request",
            "The redirect URI you provided has not been whitelisted for your application.",
        );
    }
    // From here on, errors go back to the (trusted) redirect URI, as OAuth 2.0 says.
    let state = field("state");
    let back = |params: &[(&str, &str)]| {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            serializer.append_pair(name, value);
        }
        if let Some(state) = state {
            serializer.append_pair("state", state);
        }
        let separator = if redirect_uri.contains('?') { '&' } else { '?' };
        Reply::redirect(format!("{redirect_uri}{separator}{}", serializer.finish()))
    };
    let refuse = |error: &str, description: &str| {
        back(&[("error", error), ("error_description", description)])
    };
    if field("response_type") != Some("code") {
        return refuse("unsupported_response_type", "response_type must be code");
    }
    let scope = field("scope").unwrap_or("");
    if scope.is_empty() || !scope.split(' ').all(|s| SCOPES.contains(&s)) {
        return refuse(
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        );
    }
    let challenge = match (field("code_challenge"), field("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return refuse(
                "invalid_request",
                "code_challenge_method was sent without code_challenge",
            );
        }
        // RFC 7636: the method defaults to `plain`.
        (Some(challenge), method) => {
            let method = method.unwrap_or("plain");
            if !matches!(method, "S256" | "plain") {
                return refuse(
                    "invalid_request",
                    "code_challenge_method must be S256 or plain",
                );
            }
            if !is_pkce_string(challenge) {
                return refuse(
                    "invalid_request",
                    "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]",
                );
            }
            Some((challenge.to_owned(), method.to_owned()))
        }
    };
    let consent = world.consent.clone();
    if !consent.approve {
        return refuse("access_denied", "The user denied the request.");
    }
    let code = world.mint("ANemu");
    let expires_at = world.now() + CODE_LIFETIME;
    world.codes.insert(
        code.clone(),
        AuthCode {
            client_id,
            redirect_uri: redirect_uri.to_owned(),
            expires_at,
            challenge,
            advertisers: consent.accounts,
        },
    );
    back(&[("code", &code), ("scope", scope)])
}

/// RFC 7636's `code_verifier` and `code_challenge` alphabet and length: 43 to 128 of
/// `[A-Za-z0-9-._~]`.
fn is_pkce_string(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The challenge a verifier stands for: `BASE64URL(SHA256(verifier))` without padding for
/// `S256`, the verifier itself for `plain`.
pub(crate) fn pkce_transform(method: &str, verifier: &str) -> String {
    if method != "S256" {
        return verifier.to_owned();
    }
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let digest: [u8; 32] = Sha256::digest(verifier.as_bytes()).into();
    let mut out = String::with_capacity(43);
    for chunk in digest.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_transform("S256", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(pkce_transform("plain", "abc"), "abc");
        assert!(is_pkce_string(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!is_pkce_string("short"));
        assert!(!is_pkce_string(&"a+".repeat(30)));
    }
}
