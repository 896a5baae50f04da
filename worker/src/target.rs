//! Where pending work goes, as a value: the advertiser, region, grant and profiles an
//! event, an audience change or an erasure was accepted for. Work is delivered to the
//! target that accepted it or dead-lettered, never sent to another one: an integration
//! edited to another advertiser or connection must not carry what it already took to
//! that other account. The decisions are pure and tested here; `edge/` keeps the pinned
//! target in each queue object and the admin API refuses such an edit while work waits.

use serde::{Deserialize, Serialize};

use crate::config::{ApiKind, AudienceApi, Config};

/// The account side of a [`Config`]: what changes whose Amazon account receives data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `Amazon-Ads-AccountId` (the Events API) or the DSP advertiser of the import.
    pub advertiser_id: String,
    /// `NA`, `EU` or `FE`.
    pub region: String,
    /// The connection whose grant is used (`None`: the Worker's `LWA_REFRESH_TOKEN`).
    pub connection_id: Option<String>,
    /// The `Amazon-Advertising-API-Scope` of the legacy import or of Data Provider calls.
    pub profile_id: Option<String>,
    /// The DSP advertiser audiences and erasures name.
    pub amc_advertiser_id: Option<u64>,
}

impl Target {
    /// The target a configuration sends to.
    pub fn of(c: &Config) -> Target {
        let profile_id = match (&c.api_kind, &c.audience_api) {
            (ApiKind::Dsp { profile_id, .. }, _) | (_, AudienceApi::Dp { profile_id }) => {
                Some(profile_id.clone())
            }
            _ => None,
        };
        Target {
            advertiser_id: c.advertiser_id.clone(),
            region: c.region.as_str().to_owned(),
            connection_id: c.connection_id.clone(),
            profile_id,
            amc_advertiser_id: c.amc_advertiser_id,
        }
    }

    /// A short, stable name of the target (16 hex of the SHA-256 of its fields), for
    /// requests between the Worker and its objects and for the dead letters' column.
    pub fn key(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        matchkey::sha256_hex(&text).as_str()[..16].to_owned()
    }
}

/// What a queue object does with work offered for `offered` while it holds `pending`
/// items accepted for `pinned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// Take it; the object's target is (now) `offered`.
    Take,
    /// Refuse it for now (503 with Retry-After): what waits belongs to another target
    /// and must leave first.
    Wait,
}

/// The pin rule: an object takes work for the target it holds work for, or for any
/// target once it holds nothing.
pub fn pin(pinned: Option<&Target>, offered: &Target, pending: u64) -> Pin {
    match pinned {
        Some(p) if p != offered && pending > 0 => Pin::Wait,
        _ => Pin::Take,
    }
}

/// Whether work pinned to `pinned` may be sent with the configuration `now` gives: only
/// to the same target; otherwise it is dead-lettered (`target_changed`), kept for a
/// replay once the integration points there again.
pub fn deliverable(pinned: Option<&Target>, now: &Config) -> bool {
    pinned.is_none_or(|p| *p == Target::of(now))
}

/// Code of the dead letters written for work whose integration now points elsewhere.
pub const TARGET_CHANGED: &str = "target_changed";

#[cfg(test)]
mod tests {
    use super::*;

    fn config(advertiser: &str, connection: Option<&str>) -> Config {
        let mut c = Config::from_vars(|n| match n {
            "ADVERTISER_ID" => Some(advertiser.to_owned()),
            _ => None,
        })
        .unwrap();
        c.connection_id = connection.map(str::to_owned);
        c
    }

    #[test]
    fn a_target_is_the_advertiser_region_grant_and_profiles() {
        let a = Target::of(&config("A", Some("conn_a")));
        assert_eq!(a, Target::of(&config("A", Some("conn_a"))));
        assert_ne!(a, Target::of(&config("B", Some("conn_a"))), "advertiser");
        assert_ne!(a, Target::of(&config("A", Some("conn_b"))), "connection");
        assert_ne!(a, Target::of(&config("A", None)), "the Worker's own grant");
        let mut eu = config("A", Some("conn_a"));
        eu.region = crate::config::Region::Eu;
        assert_ne!(a, Target::of(&eu), "region");
        let mut dp = config("A", Some("conn_a"));
        dp.audience_api = AudienceApi::Dp {
            profile_id: "7".into(),
        };
        assert_ne!(a, Target::of(&dp), "profile");
        let mut amc = config("A", Some("conn_a"));
        amc.amc_advertiser_id = Some(9);
        assert_ne!(a, Target::of(&amc), "audiences' advertiser");
        // Settings that do not change the account do not change the target.
        let mut other = config("A", Some("conn_a"));
        other.data_set_name = Some("x".into());
        other.flush_seconds = 1;
        assert_eq!(a, Target::of(&other));
        assert_eq!(a.key(), Target::of(&other).key());
        assert_ne!(a.key(), Target::of(&config("B", Some("conn_a"))).key());
        assert_eq!(a.key().len(), 16);
    }

    #[test]
    fn an_object_takes_work_only_for_the_target_it_holds_work_for() {
        let a = Target::of(&config("A", Some("conn_a")));
        let b = Target::of(&config("B", Some("conn_b")));
        assert_eq!(pin(None, &a, 0), Pin::Take);
        assert_eq!(
            pin(None, &a, 5),
            Pin::Take,
            "older objects: nothing pinned yet"
        );
        assert_eq!(pin(Some(&a), &a, 5), Pin::Take);
        assert_eq!(pin(Some(&a), &b, 5), Pin::Wait);
        assert_eq!(pin(Some(&a), &b, 0), Pin::Take, "empty: it moves to b");
    }

    #[test]
    fn pinned_work_goes_only_to_its_own_target() {
        let a = config("A", Some("conn_a"));
        let b = config("B", Some("conn_b"));
        let pinned = Target::of(&a);
        assert!(deliverable(Some(&pinned), &a));
        assert!(!deliverable(Some(&pinned), &b));
        assert!(deliverable(None, &b));
    }
}
