//! A strict local emulator of the Amazon Ads endpoints matchkey talks to.
//!
//! Tests and the README demo run the real HTTP conversation against it instead of Amazon:
//! Login with Amazon (consent page with PKCE, tokens), profiles, advertiser accounts, DSP
//! advertisers, AMC accounts and instances, the Events API, the legacy
//! DSP conversion import, AMC audiences, AMC advertiser data uploads, Data Provider
//! records and audiences, and DSP trafficking (`/dsp/v1` campaigns, ad groups, targets,
//! third-party creatives, ad experiences, associations, moderation). It validates requests field by field, so that a request it
//! accepts is one Amazon would accept, records what it received, and injects faults on
//! demand. See `README.md` next to this crate.
//!
//! In a test, spawn it on a free local port and talk HTTP to it:
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use amazon_emulator::{Config, Emulator};
//!
//! let emulator = Emulator::new(Config::demo()).expect("the demo configuration is valid");
//! let running = emulator.quiet().spawn().await?;
//! // POST {base_url}/auth/o2/token, then {base_url}/adsApi/v1/create/events, …
//! println!("{}", running.base_url);
//! // Dropping `running` stops the server.
//! # Ok(())
//! # }
//! ```
//!
//! Or serve a listener of your own with [`Emulator::serve`].

mod adu;
mod api;
mod audience;
mod check;
mod codes;
mod config;
mod contract;
mod control;
mod creatives;
mod dsp;
mod events;
mod fault;
mod lwa;
mod reply;
mod server;
mod state;
mod trafficking;

pub use crate::check::FieldError;
pub use crate::config::{
    Advertiser, Client, Config, ConfigError, DEMO_ACCOUNT_ID, DEMO_AMC_INSTANCE_ID, DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET, DEMO_NUMERIC_ID, DEMO_PROFILE_ID, DEMO_REFRESH_TOKEN, DEMO_RETURN_URLS,
    ProfileType, RefreshToken, Region,
};
pub use crate::fault::{ENDPOINTS, Fault, FaultKind, FaultSpec, JOB_ENDPOINTS};
pub use crate::server::{Emulator, Running, serve};
pub use crate::state::{AcceptedEvent, Exchange, Outcome};
pub use crate::trafficking::{AdGroup, AudienceTarget, Campaign};

/// The emulator's copy of Amazon's DSP trafficking enums (unverified shapes, see
/// `src/trafficking.rs`), for tests that compare it with the client's.
pub mod dsp_enums {
    pub use crate::trafficking::{
        AD_EXPERIENCES, ALREADY_ASSOCIATED, ASSOCIATION_STATES, AUDIENCE_TYPES,
        CAMPAIGN_NOT_ACTIVE, CAMPAIGN_STATES, DESTINATIONS, INVENTORY_SOURCE_TYPES,
        INVENTORY_TYPES, MAX_NAME, MAX_PAGE, MAX_PER_CALL, MAX_SIZES, MAX_TRACKERS,
        MODERATION_STATES, RUNNING_STATES, TAG_TYPES,
    };
}

/// Validation rules as pure functions, for callers that want a verdict without HTTP.
pub mod validate {
    pub use crate::adu::{validate_data_set, validate_upload};
    pub use crate::audience::{
        validate_amc_record, validate_dp_metadata, validate_dp_patch, validate_dp_record,
        validate_metadata,
    };
    pub use crate::codes::{CONSENT_COUNTRIES, CONVERSION_TYPES};
    pub use crate::dsp::validate_event_data;
    pub use crate::events::{Window, validate_event};
}
