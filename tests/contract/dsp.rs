//! DSP trafficking and creatives (`/dsp/v1/...`): Amazon publishes no OpenAPI file for them, so
//! the guide pages' samples are the contract (`guides/dsp/developer-guide.md`,
//! `creative-management.md`, `creative-associations.md`, and the migration notes under
//! `reference/migration-guides/`). Requests are [`assert_undocumented`] and compared with the
//! samples; where samples disagree, the majority form is sent and both are parsed.
//!
//! Filled by the DSP work (issue items 3, 4 and 5).

#[allow(unused_imports)]
use super::*;
