//! Answers: what a handler returns and how it becomes an HTTP response.
//!
//! Error bodies follow Amazon's shapes: Ads API errors are `{code, message}` (the spec's
//! `*ResponseContent` schemas), LwA errors are `{error, error_description}` (section A3).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER,
};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use crate::state::Outcome;

/// A handler's answer plus what the request log should note about it.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    body: Option<Value>,
    location: Option<String>,
    retry_after: Option<u64>,
    no_store: bool,
    cors: bool,
    /// Answer a 1×1 GIF instead of JSON (the cookie matching pixel).
    pixel: bool,
    /// Answer the gateway's HTML throttling page instead of JSON.
    html: bool,
    /// The JSON body's media type where it is not `application/json`.
    media_type: Option<&'static str>,
    /// Per-item outcomes for the request log.
    pub(crate) outcomes: Option<Vec<Outcome>>,
}

impl Reply {
    /// A JSON answer.
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Self {
            body: Some(body),
            ..Self::empty(status)
        }
    }

    /// An Ads API error: `{code, message}`.
    pub(crate) fn ads_error(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self::json(status, json!({ "code": code, "message": message.into() }))
    }

    /// 400 `BAD_REQUEST` with a message.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::ads_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    /// 401 `UNAUTHORIZED` with a message.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::ads_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    /// 403 `FORBIDDEN` with a message.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::ads_error(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    /// 404 `NOT_FOUND` with a message.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::ads_error(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 409 `CONFLICT` with a message (something with this id exists already).
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::ads_error(StatusCode::CONFLICT, "CONFLICT", message)
    }

    /// 413 `CONTENT_TOO_LARGE`.
    pub(crate) fn too_large(limit: usize) -> Self {
        Self::ads_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "CONTENT_TOO_LARGE",
            format!("The request body exceeds {limit} bytes."),
        )
    }

    /// 415: Amazon answers a wrong media type with 415 (seen on `/v2/profiles`, doc A4).
    /// The body code is an emulator choice; the spec's ErrorCode enum has none for it.
    pub(crate) fn unsupported_media_type(expected: &str) -> Self {
        Self::ads_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("Content-Type must be {expected}."),
        )
    }

    /// An LwA error: 400 `{error, error_description}`, as LwA answers every token error.
    pub(crate) fn lwa_error(error: &str, description: impl Into<String>) -> Self {
        let mut reply = Self::json(
            StatusCode::BAD_REQUEST,
            json!({ "error": error, "error_description": description.into() }),
        );
        reply.no_store = true;
        reply
    }

    /// The answer of a `status` fault, in the shape of the endpoint's API.
    pub(crate) fn fault(status: u16, retry_after: Option<u64>, lwa: bool) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut reply = if lwa {
            // Emulator choice: OAuth 2.0's generic codes; LwA's own 429/5xx bodies are
            // not documented.
            let error = if status.is_server_error() {
                "server_error"
            } else {
                "temporarily_unavailable"
            };
            let mut reply = Self::lwa_error(error, "Emulated failure.");
            reply.status = status;
            reply
        } else {
            let (code, message) = match status.as_u16() {
                400 => ("BAD_REQUEST", "Emulated bad request."),
                401 => ("UNAUTHORIZED", "The access token is expired or invalid."),
                403 => ("FORBIDDEN", "Emulated forbidden."),
                404 => ("NOT_FOUND", "Emulated not found."),
                413 => ("CONTENT_TOO_LARGE", "Emulated content too large."),
                429 => (
                    "TOO_MANY_REQUESTS",
                    "Rate exceeded. Retry after the number of seconds in the Retry-After header.",
                ),
                502 => ("BAD_GATEWAY", "Emulated bad gateway."),
                503 => ("SERVICE_UNAVAILABLE", "Emulated service unavailable."),
                504 => ("GATEWAY_TIMEOUT", "Emulated gateway timeout."),
                _ if status.is_server_error() => ("INTERNAL_ERROR", "Emulated internal error."),
                _ => ("BAD_REQUEST", "Emulated client error."),
            };
            Self::ads_error(status, code, message)
        };
        reply.retry_after = retry_after;
        reply
    }

    /// The API gateway's throttling answer: 429, an HTML page, no `Retry-After` (as
    /// reported against Amazon in amzn/ads-advanced-tools-docs issues 344 and 436).
    pub(crate) fn gateway_throttle() -> Self {
        Self {
            html: true,
            ..Self::empty(StatusCode::TOO_MANY_REQUESTS)
        }
    }

    /// An empty answer (a CORS preflight).
    pub(crate) fn empty(status: StatusCode) -> Self {
        Self {
            status,
            body: None,
            location: None,
            retry_after: None,
            no_store: false,
            cors: false,
            pixel: false,
            html: false,
            media_type: None,
            outcomes: None,
        }
    }

    /// A `302 Found` redirect (the LwA consent page's answer).
    pub(crate) fn redirect(location: String) -> Self {
        Self {
            location: Some(location),
            no_store: true,
            ..Self::empty(StatusCode::FOUND)
        }
    }

    /// A 200 answer with a transparent 1×1 GIF: the cookie matching pixel.
    pub(crate) fn pixel() -> Self {
        Self {
            pixel: true,
            no_store: true,
            ..Self::empty(StatusCode::OK)
        }
    }

    /// Marks the answer as not cacheable (token responses).
    pub(crate) fn no_store(mut self) -> Self {
        self.no_store = true;
        self
    }

    /// Lets any web page read the answer (test controls only: Amazon's endpoints send no
    /// CORS headers, so a browser must never call them directly).
    pub(crate) fn with_cors(mut self) -> Self {
        self.cors = true;
        self
    }

    /// Attaches per-item outcomes for the request log.
    pub(crate) fn with_outcomes(mut self, outcomes: Vec<Outcome>) -> Self {
        self.outcomes = Some(outcomes);
        self
    }

    /// A JSON answer sent as `media_type` (a vendor type such as
    /// `application/vnd.amcinstances.v1+json`).
    pub(crate) fn with_media_type(mut self, media_type: &'static str) -> Self {
        self.media_type = Some(media_type);
        self
    }

    /// The answer's `Content-Type`, if it has a body.
    pub(crate) fn content_type(&self) -> Option<&'static str> {
        if self.pixel {
            Some("image/gif")
        } else if self.html {
            Some("text/html; charset=utf-8")
        } else if self.body.is_some() {
            Some(self.media_type.unwrap_or("application/json"))
        } else {
            None
        }
    }

    /// The answer's body as sent.
    pub(crate) fn body_bytes(&self) -> Bytes {
        if self.pixel {
            Bytes::from_static(PIXEL_GIF)
        } else if self.html {
            Bytes::from_static(GATEWAY_THROTTLE_HTML.as_bytes())
        } else {
            self.body
                .as_ref()
                .map(|value| Bytes::from(value.to_string()))
                .unwrap_or_default()
        }
    }

    /// The HTTP response.
    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let content_type = self.content_type();
        let mut response = Response::new(Full::new(self.body_bytes()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if let Some(content_type) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(LOCATION, location);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.cors {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            headers.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PUT, DELETE"),
            );
            headers.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type"),
            );
        }
        if self.no_store {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }
}

/// The page a throttling gateway answers with (the shape of the reported answers).
const GATEWAY_THROTTLE_HTML: &str = "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n<center><h1>429 Too Many Requests</h1></center>\r\n</body>\r\n</html>\r\n";

/// A transparent 1×1 GIF.
const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Serializes a value that cannot fail to serialize (plain data types).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
