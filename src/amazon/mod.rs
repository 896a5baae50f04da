//! The Amazon Ads side, as pure functions shared by the Worker and the CLI: what to send
//! (each call described as an [`ApiRequest`] that the caller's runtime performs — `fetch`
//! in the Worker, a blocking client in the CLI) and what an answer means. No I/O here.
//!
//! - [`events`]: conversions (Events API, legacy DSP import) and their 207 answers.
//! - [`retry`]: refresh, retry or fail after an answer; the Login with Amazon grant.
//! - [`audience`]: audience members as AMC records or Data Provider records, and the
//!   audience calls.
//! - [`cookie`]: the visitor id rule, cookie matching, `COOKIE-<id>` membership patches
//!   and `PATCH /v2/dp/users` erasure (Data Provider API).
//! - [`amc`]: AMC advertiser data upload (data sets and upload jobs).
//! - [`connect`]: the authorization-code grant with PKCE, and discovery of what a grant
//!   reaches (profiles, DSP advertisers, AMC accounts and instances).
//! - [`contract`]: which Amazon API contracts this build speaks (API, version, the document
//!   followed and how it is checked), for `matchkey doctor` and the Worker's `/v1/admin/check`.
//! - [`dsp`]: DSP trafficking: campaigns, ad groups, their inventory sources and
//!   audiences, and the `supply` / `serving` / running rules; third-party creatives, ad
//!   experiences, associations and moderation ([`dsp::creative`]); tag checks
//!   ([`dsp::tag`]).

use std::prelude::rust_2024::*;

pub mod amc;
pub mod audience;
pub mod connect;
pub mod contract;
pub mod cookie;
pub mod dsp;
pub mod events;
mod request;
pub mod retry;

pub use request::{ApiRequest, Auth, Method, Token, TokenError, lwa_refresh, parse_token};

/// `head`, the serialized items joined by commas, `tail`: a JSON body around items that
/// are already JSON, without parsing them again.
fn json_list<'a>(head: &str, items: impl IntoIterator<Item = &'a str>, tail: &str) -> String {
    let mut out = String::from(head);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push_str(tail);
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters (form bodies and query
/// values).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
