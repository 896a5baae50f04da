//! Login with Amazon: the token endpoint (`POST /auth/o2/token`) and a consent page
//! (`GET /ap/oa`) that consents at once and redirects with an authorization code.
//!
//! Errors are 400 `{error, error_description}` with LwA's wording where the doc quotes it
//! (section A3). Tokens never appear in logs or messages.

use std::collections::HashMap;

use hyper::StatusCode;
use hyper::header::AUTHORIZATION;
use serde_json::json;
use time::Duration;

use crate::api::{Call, media_type};
use crate::reply::Reply;
use crate::state::{AccessToken, AuthCode, Grant, World};

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
        let valid = entry.is_some_and(|entry| {
            entry.client_id == client_id
                && entry.redirect_uri == redirect_uri
                && now < entry.expires_at
        });
        if !valid {
            return Reply::lwa_error(
                "invalid_grant",
                "The request has an invalid grant parameter : code",
            );
        }
        let refresh_token = world.mint("Atzr|emu-");
        let grant = Grant {
            client_id: client_id.to_owned(),
            advertisers: None,
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

/// `GET /ap/oa?client_id=…&scope=…&response_type=code&redirect_uri=…&state=…`: the user
/// "consents" at once; the answer is a 302 to `redirect_uri` with `code`, `scope`, `state`.
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
    let Some(client_id) = field("client_id").filter(|id| world.config.client(id).is_some()) else {
        return Reply::lwa_error("invalid_client", "Unknown client_id");
    };
    let Some(redirect_uri) = field("redirect_uri")
        .filter(|uri| uri.starts_with("https://") || uri.starts_with("http://"))
    else {
        return Reply::lwa_error(
            "invalid_request",
            "The request is missing a required parameter : redirect_uri",
        );
    };
    if field("response_type") != Some("code") {
        return Reply::lwa_error("unsupported_response_type", "response_type must be code");
    }
    let scope = field("scope").unwrap_or("");
    if scope.is_empty() || !scope.split(' ').all(|s| SCOPES.contains(&s)) {
        return Reply::lwa_error(
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        );
    }
    let code = world.mint("ANemu");
    let expires_at = world.now() + CODE_LIFETIME;
    world.codes.insert(
        code.clone(),
        AuthCode {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            expires_at,
        },
    );
    let mut params = form_urlencoded::Serializer::new(String::new());
    params
        .append_pair("code", &code)
        .append_pair("scope", scope);
    if let Some(state) = field("state") {
        params.append_pair("state", state);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    Reply::redirect(format!("{redirect_uri}{separator}{}", params.finish()))
}
