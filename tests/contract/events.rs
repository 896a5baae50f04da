//! Conversions: the Events API (`POST /adsApi/v1/create/events`, `amazon-ads-v1-all.json`) and
//! the legacy DSP import (`.../dsp/conversionDefinitions/eventData`, `dsp-conversions.json`).
//!
//! Filled by the Events / legacy conversions work (issue items 8 and 9).

#[allow(unused_imports)]
use super::*;
