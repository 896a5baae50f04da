//! amazon-emulator: a strict local stand-in for the Amazon Ads APIs matchkey uses (Login
//! with Amazon, profiles and advertiser accounts, the Events API, the legacy DSP
//! conversions API, AMC audiences and the Data Provider API), with controls for tests:
//! fault injection, a log of everything received, revocation and reset.
//!
//! It exists so that tests and the demo exercise the real HTTP conversation without ever
//! calling Amazon. A request it accepts should be one Amazon accepts; see `validate`.

pub mod config;
mod server;
pub mod validate;

pub use config::Config;
pub use server::{Emulator, Fault, serve};
