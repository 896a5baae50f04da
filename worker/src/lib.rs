//! The matchkey Cloudflare Worker: authenticated ingest, batching per advertiser and
//! region in a Durable Object, Login with Amazon, delivery to the Events API with
//! retries, a D1 delivery log with dead letters and replay, health.
//!
//! `config`, `ingest` and `audience` are pure and tested natively, as are the Amazon
//! calls they share with the CLI (`matchkey::amazon`); `edge` (wasm32 only) is
//! the thin effectful part. See `worker/README.md`.

pub mod access;
pub mod audience;
pub mod backlog;
pub mod check;
pub mod config;
pub mod console;
pub mod dedupe;
#[cfg(target_arch = "wasm32")]
mod edge;
pub mod erasure;
pub mod ingest;
pub mod integration;
pub mod live;
pub mod migrations;
pub mod queue;
pub mod route;
pub mod seal;
pub mod shard;
pub mod sync;
pub mod target;
