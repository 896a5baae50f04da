//! HTTP-level tests: the real server on 127.0.0.1:0, spoken to over real connections.
//!
//! One test binary (faster to link than one per file); each module covers one area.

mod advertiser_data;
mod audiences;
mod binary;
mod connect;
mod contract;
mod controls;
mod cookies;
mod creatives;
mod dp_audiences;
mod dsp;
mod events;
mod faults;
mod lwa;
mod profiles;
mod support;
mod trafficking;
