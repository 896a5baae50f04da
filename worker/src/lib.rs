//! The matchkey Cloudflare Worker: ingest, batching, Amazon delivery.

pub mod amazon;
pub mod config;
pub mod ingest;
