//! The matchkey Cloudflare Worker (work in progress).
