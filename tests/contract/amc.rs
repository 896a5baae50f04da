//! AMC advertiser data upload (`/amc/advertiserData/...`): no public OpenAPI file, so the guide
//! pages under `guides/amazon-marketing-cloud/advertiser-data-upload/` (data sets, uploads,
//! `adu-examples.md`) are the contract.
//!
//! Filled by the AMC uploads work (issue item 6).

#[allow(unused_imports)]
use super::*;
