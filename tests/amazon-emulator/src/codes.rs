//! Enumerations copied from Amazon's specifications.
//!
//! The Events API lists are the exact `enum` values of the merged Amazon Ads API v1 OpenAPI
//! (`lai3221/amazon-ads-api-v1`, `.openapi/amazon-ads-v1-all.json`, schemas `CountryCode`,
//! `CurrencyCode`, `ConversionType`, `EventSource`, `MatchKeyType`, `DataType`). The other
//! lists come from `../shared/spec/amazon-api.md` (sections A2, A5 and A9); where that file
//! is vague the list here is deliberately a subset, so that what the emulator accepts
//! Amazon accepts too.

/// `CountryCode` of the Events API: ISO 3166-1 alpha-2 plus `OTHER`, `OTHER_EEA` and `ZZ`.
pub(crate) const COUNTRY_CODES: &[&str] = &[
    "AD",
    "AE",
    "AF",
    "AG",
    "AI",
    "AL",
    "AM",
    "AO",
    "AQ",
    "AR",
    "AS",
    "AT",
    "AU",
    "AW",
    "AX",
    "AZ",
    "BA",
    "BB",
    "BD",
    "BE",
    "BF",
    "BG",
    "BH",
    "BI",
    "BJ",
    "BL",
    "BM",
    "BN",
    "BO",
    "BQ",
    "BR",
    "BS",
    "BT",
    "BV",
    "BW",
    "BY",
    "BZ",
    "CA",
    "CC",
    "CD",
    "CF",
    "CG",
    "CH",
    "CI",
    "CK",
    "CL",
    "CM",
    "CN",
    "CO",
    "CR",
    "CU",
    "CV",
    "CW",
    "CX",
    "CY",
    "CZ",
    "DE",
    "DJ",
    "DK",
    "DM",
    "DO",
    "DZ",
    "EC",
    "EE",
    "EG",
    "EH",
    "ER",
    "ES",
    "ET",
    "FI",
    "FJ",
    "FK",
    "FM",
    "FO",
    "FR",
    "GA",
    "GB",
    "GD",
    "GE",
    "GF",
    "GG",
    "GH",
    "GI",
    "GL",
    "GM",
    "GN",
    "GP",
    "GQ",
    "GR",
    "GS",
    "GT",
    "GU",
    "GW",
    "GY",
    "HK",
    "HM",
    "HN",
    "HR",
    "HT",
    "HU",
    "ID",
    "IE",
    "IL",
    "IM",
    "IN",
    "IO",
    "IQ",
    "IR",
    "IS",
    "IT",
    "JE",
    "JM",
    "JO",
    "JP",
    "KE",
    "KG",
    "KH",
    "KI",
    "KM",
    "KN",
    "KP",
    "KR",
    "KW",
    "KY",
    "KZ",
    "LA",
    "LB",
    "LC",
    "LI",
    "LK",
    "LR",
    "LS",
    "LT",
    "LU",
    "LV",
    "LY",
    "MA",
    "MC",
    "MD",
    "ME",
    "MF",
    "MG",
    "MH",
    "MK",
    "ML",
    "MM",
    "MN",
    "MO",
    "MP",
    "MQ",
    "MR",
    "MS",
    "MT",
    "MU",
    "MV",
    "MW",
    "MX",
    "MY",
    "MZ",
    "NA",
    "NC",
    "NE",
    "NF",
    "NG",
    "NI",
    "NL",
    "NO",
    "NP",
    "NR",
    "NU",
    "NZ",
    "OM",
    "OTHER",
    "OTHER_EEA",
    "PA",
    "PE",
    "PF",
    "PG",
    "PH",
    "PK",
    "PL",
    "PM",
    "PN",
    "PR",
    "PS",
    "PT",
    "PW",
    "PY",
    "QA",
    "RE",
    "RO",
    "RS",
    "RU",
    "RW",
    "SA",
    "SB",
    "SC",
    "SD",
    "SE",
    "SG",
    "SH",
    "SI",
    "SJ",
    "SK",
    "SL",
    "SM",
    "SN",
    "SO",
    "SR",
    "SS",
    "ST",
    "SV",
    "SX",
    "SY",
    "SZ",
    "TC",
    "TD",
    "TF",
    "TG",
    "TH",
    "TJ",
    "TK",
    "TL",
    "TM",
    "TN",
    "TO",
    "TR",
    "TT",
    "TV",
    "TW",
    "TZ",
    "UA",
    "UG",
    "UM",
    "US",
    "UY",
    "UZ",
    "VA",
    "VC",
    "VE",
    "VG",
    "VI",
    "VN",
    "VU",
    "WF",
    "WS",
    "YE",
    "YT",
    "ZA",
    "ZM",
    "ZW",
    "ZZ",
];

/// `CurrencyCode` of the Events API.
pub(crate) const CURRENCY_CODES: &[&str] = &[
    "AED", "ARS", "AUD", "AZN", "BBD", "BGN", "BHD", "BMD", "BND", "BOB", "BRL", "BSD", "CAD",
    "CHF", "CLP", "CNY", "COP", "CRC", "CZK", "DKK", "DOP", "DZD", "EGP", "EUR", "GBP", "GHS",
    "GTQ", "HKD", "HNL", "HRK", "HUF", "IDR", "ILS", "INR", "JMD", "JOD", "JPY", "KES", "KRW",
    "KWD", "KYD", "KZT", "LBP", "LKR", "MAD", "MUR", "MXN", "MXP", "MYR", "NAD", "NGN", "NOK",
    "NZD", "PAB", "PEN", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "SAR", "SEK",
    "SGD", "THB", "TND", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "VND", "XAF", "XCD",
    "XOF", "XPF", "ZAR",
];

/// Currencies accepted by the legacy DSP import: `ConversionDefinitionCurrencyCodeV1` of
/// `dsp-conversions.json` (18 codes).
pub(crate) const LEGACY_CURRENCY_CODES: &[&str] = &[
    "AED", "AUD", "BRL", "CAD", "CNY", "DKK", "EUR", "GBP", "INR", "JPY", "MXN", "NOK", "NZD",
    "SAR", "SEK", "SGD", "TRY", "USD",
];

/// `ConversionType` of the Events API.
pub const CONVERSION_TYPES: &[&str] = &[
    "ADD_TO_SHOPPING_CART",
    "APPLICATION",
    "CHECKOUT",
    "CONTACT",
    "LEAD",
    "MOBILE_APP_FIRST_START",
    "OFF_AMAZON_PURCHASES",
    "OTHER",
    "PAGE_VIEW",
    "SEARCH",
    "SIGN_UP",
    "SUBSCRIBE",
];

/// The conversion type whose `value` is money (≥ 0) and which may carry `unitsSold`.
pub(crate) const PURCHASE: &str = "OFF_AMAZON_PURCHASES";

/// `EventSource` of the Events API.
pub(crate) const EVENT_SOURCES: &[&str] = &[
    "ANDROID",
    "FIRE_TV",
    "IOS",
    "MEASUREMENT_ATTRIBUTION_PARTNER",
    "OFFLINE",
    "WEBSITE",
];

/// `EventIngestionMethod` of the Events API.
pub(crate) const INGESTION_METHODS: &[&str] = &["SERVER_TO_SERVER"];

/// Match-key types whose value must be a SHA-256 digest of the normalized value.
pub(crate) const HASHED_MATCH_KEYS: &[&str] = &[
    "EMAIL",
    "PHONE",
    "FIRST_NAME",
    "LAST_NAME",
    "ADDRESS",
    "CITY",
    "STATE",
    "POSTAL",
];

/// Match-key types sent raw (identifiers, and `FIP`, a full IP address).
pub(crate) const RAW_MATCH_KEYS: &[&str] = &[
    "MAID",
    "RAMP_ID",
    "MATCH_ID",
    "REAL_ID",
    "MERKLE_ID",
    "KANTAR_ID",
    "FIP",
];

/// Match-key types of the legacy DSP import (section A2).
pub(crate) const LEGACY_MATCH_KEYS: &[&str] = &[
    "EMAIL",
    "PHONE",
    "FIRST_NAME",
    "LAST_NAME",
    "ADDRESS",
    "CITY",
    "STATE",
    "POSTAL",
    "MAID",
    "RAMP_ID",
];

/// `DataType` of a `customData` item.
pub(crate) const CUSTOM_DATA_TYPES: &[&str] = &["INTEGER", "STRING", "TIMESTAMP"];

/// `ConsentStatus` values of `amazonConsent`.
pub(crate) const CONSENT_STATUSES: &[&str] = &["DENIED", "GRANTED"];

/// Countries whose events need a consent signal: the EU (with its outermost regions that
/// have their own ISO code, and Åland), Iceland, Liechtenstein, Norway, the UK and
/// `OTHER_EEA`. The doc says "EU/UK (EEA)"; Switzerland is not listed there, so not here.
pub const CONSENT_COUNTRIES: &[&str] = &[
    "AT",
    "AX",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GB",
    "GF",
    "GP",
    "GR",
    "HR",
    "HU",
    "IE",
    "IS",
    "IT",
    "LI",
    "LT",
    "LU",
    "LV",
    "MF",
    "MQ",
    "MT",
    "NL",
    "NO",
    "PL",
    "PT",
    "RE",
    "RO",
    "SE",
    "SI",
    "SK",
    "YT",
    "OTHER_EEA",
];

/// Countries supported for hashed PII by the AMC audience API (section A5).
pub(crate) const AMC_COUNTRIES: &[&str] = &[
    "AE", "AU", "BE", "BR", "CA", "DE", "EG", "ES", "FR", "GB", "IN", "IT", "JP", "MX", "NL", "PL",
    "SA", "SE", "SG", "TR", "US",
];

/// Keys of an AMC `hashedPII` object (lowercase spelling, section A5).
pub(crate) const AMC_PII_KEYS: &[&str] = &[
    "email",
    "phone",
    "firstname",
    "lastname",
    "address",
    "city",
    "state",
    "postal",
];

/// Keys of a Data Provider `hashedRecords` object (camelCase spelling, section A5).
pub(crate) const DP_PII_KEYS: &[&str] = &[
    "email",
    "phone",
    "firstName",
    "lastName",
    "address",
    "city",
    "state",
    "postalCode",
];

/// Whether `code` is in `list`.
pub(crate) fn contains(list: &[&str], code: &str) -> bool {
    list.contains(&code)
}

/// An ISO 3166-1 alpha-2 code in uppercase: [`COUNTRY_CODES`] without the Events API's
/// `OTHER`, `OTHER_EEA` and `ZZ`.
pub(crate) fn is_alpha2(code: &str) -> bool {
    code.len() == 2 && code != "ZZ" && contains(COUNTRY_CODES, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_or_small_and_have_no_duplicates() {
        for list in [
            COUNTRY_CODES,
            CURRENCY_CODES,
            CONSENT_COUNTRIES,
            AMC_COUNTRIES,
        ] {
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len());
        }
    }

    #[test]
    fn consent_and_amc_countries_are_valid_country_codes() {
        for code in CONSENT_COUNTRIES.iter().chain(AMC_COUNTRIES) {
            assert!(contains(COUNTRY_CODES, code), "{code}");
        }
        for code in LEGACY_CURRENCY_CODES {
            assert!(contains(CURRENCY_CODES, code), "{code}");
        }
    }

    #[test]
    fn alpha2_codes_exclude_the_events_api_extras() {
        assert!(is_alpha2("US") && is_alpha2("GB"));
        for code in ["ZZ", "OTHER", "OTHER_EEA", "UK", "us", "USA", ""] {
            assert!(!is_alpha2(code), "{code}");
        }
    }
}
