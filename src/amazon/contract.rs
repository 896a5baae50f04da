//! Which Amazon API contracts this build speaks: each API, the path prefix and version it
//! calls, the Amazon document it follows (with that document's date) and how the project checks
//! it. `matchkey doctor` prints this table and the Worker's `/v1/admin/check` returns it, so a
//! user can tell when Amazon changes a contract under a deployed build.
//!
//! The documents are the copies vendored in `tests/contracts/amazon/` (sources in `SOURCES.md`
//! there; guide pages under `guides/`); a contract test checks that every row names one.

use serde::Serialize;
use std::prelude::rust_2024::*;

/// How a contract is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Checked {
    /// Every request the core builds is validated against Amazon's published OpenAPI file, and
    /// the emulator refuses what the file refuses.
    Openapi,
    /// Amazon publishes no OpenAPI file: the samples of Amazon's guide pages are the contract.
    GuideSamples,
    /// No Amazon document describes it; only the emulator, written from public traces, checks it.
    EmulatorOnly,
}

impl Checked {
    /// The stable name (`openapi`, `guide_samples`, `emulator_only`).
    pub fn as_str(self) -> &'static str {
        match self {
            Checked::Openapi => "openapi",
            Checked::GuideSamples => "guide_samples",
            Checked::EmulatorOnly => "emulator_only",
        }
    }
}

/// One Amazon API as this build calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApiContract {
    /// The API, in a few words.
    pub api: &'static str,
    /// The path prefix (or the one path) called.
    pub prefix: &'static str,
    /// The version spoken: the path's, or the media type's where the API versions by it.
    pub version: &'static str,
    /// The documents followed, as paths under `tests/contracts/amazon/`.
    pub documents: &'static [&'static str],
    /// The date of the upstream copy of those documents (YYYY-MM-DD).
    pub document_date: &'static str,
    /// How it is checked.
    pub checked: Checked,
}

/// Every Amazon API this build calls.
pub const CONTRACTS: &[ApiContract] = &[
    ApiContract {
        api: "Events API (conversions)",
        prefix: "/adsApi/v1/create/events",
        version: "v1",
        documents: &["amazon-ads-v1-all.json"],
        document_date: "2026-07-21",
        checked: Checked::Openapi,
    },
    ApiContract {
        api: "advertiser accounts",
        prefix: "/adsApi/v1/query/advertiserAccounts",
        version: "v1",
        documents: &["amazon-ads-v1-all.json"],
        document_date: "2026-07-21",
        checked: Checked::Openapi,
    },
    ApiContract {
        api: "legacy DSP conversions",
        prefix: "/accounts/{accountId}/dsp/conversionDefinitions/eventData",
        version: "application/vnd.dspconversioneventimport.v1+json",
        documents: &["dsp-conversions.json"],
        document_date: "2025-10-08",
        checked: Checked::Openapi,
    },
    ApiContract {
        api: "Data Provider audiences and erasure",
        prefix: "/v2/dp/",
        version: "v2",
        documents: &["data-provider.yaml"],
        document_date: "2025-10-08",
        checked: Checked::Openapi,
    },
    ApiContract {
        api: "Data Provider hashed records",
        prefix: "/dp/records/hashed",
        version: super::audience::DP_RECORDS_MEDIA,
        documents: &["hashed-records.json"],
        document_date: "2025-10-08",
        checked: Checked::Openapi,
    },
    ApiContract {
        api: "DSP advertisers",
        prefix: "/dsp/advertisers",
        version: "3.0",
        documents: &["dsp-advertisers.yaml"],
        document_date: "2025-10-08",
        checked: Checked::Openapi,
    },
    ApiContract {
        api: "AMC accounts and instances",
        prefix: "/amc/",
        version: "v1",
        documents: &["AMCAdministration_prod_3p.json"],
        document_date: "2025-12-15",
        checked: Checked::Openapi,
    },
    ApiContract {
        api: "profiles",
        prefix: "/v2/profiles",
        version: "v2",
        documents: &["guides/guides/get-started/retrieve-profiles.md"],
        document_date: "2025-09-16",
        checked: Checked::GuideSamples,
    },
    ApiContract {
        api: "DSP campaigns, ad groups and targets",
        prefix: "/dsp/v1/",
        version: "v1",
        documents: &[
            "guides/guides/dsp/developer-guide.md",
            "guides/reference/migration-guides/adsp-campaign-management.md",
        ],
        document_date: "2025-09-16",
        checked: Checked::GuideSamples,
    },
    ApiContract {
        api: "DSP creatives and associations",
        prefix: "/dsp/v1/adCreatives",
        version: "v1",
        documents: &[
            "guides/guides/dsp/creative-management.md",
            "guides/guides/dsp/creative-associations.md",
            "guides/reference/migration-guides/dsp-creatives.md",
        ],
        document_date: "2025-09-16",
        checked: Checked::GuideSamples,
    },
    ApiContract {
        api: "AMC audiences",
        prefix: "/amc/audiences/",
        version: super::audience::AMC_MEDIA,
        documents: &[
            "guides/guides/amazon-marketing-cloud/audiences/audience-management-service.md",
        ],
        document_date: "2025-09-16",
        checked: Checked::GuideSamples,
    },
    ApiContract {
        api: "AMC advertiser data upload",
        prefix: "/amc/advertiserData/",
        version: "v1",
        documents: &[
            "guides/guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-sets.md",
            "guides/guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-upload.md",
            "guides/guides/amazon-marketing-cloud/advertiser-data-upload/adu-examples.md",
        ],
        document_date: "2025-09-16",
        checked: Checked::GuideSamples,
    },
    ApiContract {
        api: "Login with Amazon tokens",
        prefix: "/auth/o2/token",
        version: "OAuth 2.0",
        documents: &[
            "guides/guides/account-management/authorization/access-tokens.md",
            "guides/guides/account-management/authorization/authorization-grants.md",
        ],
        document_date: "2025-09-16",
        checked: Checked::GuideSamples,
    },
    ApiContract {
        api: "cookie matching",
        prefix: "/ecm3",
        version: "unversioned",
        documents: &[],
        document_date: "",
        checked: Checked::EmulatorOnly,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_its_documents_unless_only_the_emulator_checks_it() {
        for row in CONTRACTS {
            assert_eq!(
                row.documents.is_empty(),
                row.checked == Checked::EmulatorOnly,
                "{}",
                row.api
            );
            assert!(row.prefix.starts_with('/'), "{}", row.api);
            if row.checked == Checked::EmulatorOnly {
                assert!(row.document_date.is_empty(), "{}", row.api);
            } else {
                let d = row.document_date.as_bytes();
                assert!(d.len() == 10 && d[4] == b'-' && d[7] == b'-', "{}", row.api);
            }
        }
    }

    #[test]
    fn rows_serialize_with_stable_names() {
        let v = serde_json::to_value(CONTRACTS[0]).unwrap();
        assert_eq!(v["checked"], "openapi");
        assert_eq!(v["documents"][0], "amazon-ads-v1-all.json");
        assert_eq!(Checked::GuideSamples.as_str(), "guide_samples");
        let guide = serde_json::to_value(Checked::GuideSamples).unwrap();
        assert_eq!(guide, Checked::GuideSamples.as_str());
    }
}
