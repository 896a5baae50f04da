//! Data Provider (`data-provider.yaml`: audience metadata, `PATCH /v2/dp/audience`,
//! `PATCH /v2/dp/users`; `hashed-records.json`: `POST /dp/records/hashed`) and AMC audiences
//! (`/amc/audiences/...`: no vendored OpenAPI file, the guide page
//! `guides/amazon-marketing-cloud/audiences/audience-management-service.md` is the contract).
//!
//! Filled by the Data Provider work (issue items 1, 2 and 7).

#[allow(unused_imports)]
use super::*;
