//! STATE-1 (state, province or region) and POSTAL-1/POSTAL-2 (postal codes).

use crate::country::Country;
use crate::reject::Reason;
use crate::text::{fold_upper, lower, nfc, nfkc};
use alloc::string::String;

/// STATE-1: uppercase, transliterate `Ä Ö Ü Ø Æ`, fold accents (NFKD), keep `[A-Z]`; then
/// the country's table (Appendix A), else the first two letters when the input was longer
/// than two characters; lowercase.
///
/// NOTE: [departure] Amazon's uploader deletes non-`[A-Z]` before folding, which makes its
/// own keys unreachable for accented input (`Québec` → `qu`); folding first gives `qc`.
#[cfg(address_rules)]
pub(super) fn state(input: &str, country: Country, out: &mut String) -> Result<(), Reason> {
    let mut key = String::with_capacity(input.len());
    for c in nfc(input).to_uppercase().chars() {
        match c {
            'Ä' => key.push_str("AE"),
            'Ö' => key.push_str("OE"),
            'Ü' => key.push_str("UE"),
            'Ø' => key.push('O'),
            'Æ' => key.push_str("AE"),
            c if c.is_ascii() => key.extend(Some(c).filter(char::is_ascii_uppercase)),
            c => key.push_str(fold_upper(c)),
        }
    }
    let code = match state_table(country).iter().find(|(name, _)| *name == key) {
        Some((_, code)) => code,
        // `key` is ASCII, so byte slicing is character slicing.
        None if input.chars().count() > 2 => &key[..key.len().min(2)],
        None => key.as_str(),
    };
    if code.is_empty() {
        return Err(Reason::EmptyAfterNormalization);
    }
    out.extend(code.chars().map(|c| c.to_ascii_lowercase()));
    Ok(())
}

fn state_table(country: Country) -> &'static [(&'static str, &'static str)] {
    match country.as_str() {
        "US" => US,
        "FR" => FR,
        "CA" => CA,
        "DE" => DE,
        "IT" => IT,
        "ES" => ES,
        _ => &[],
    }
}

/// How a country's postal codes are cleaned and checked (POSTAL-1).
enum PostalRule {
    /// Keep ASCII digits, take the first `n`, require exactly `n`.
    Digits(usize),
    /// Keep ASCII letters and digits, take the first `n`, require `shape`.
    Alnum(usize, Shape),
    /// POSTAL-2 for countries without a rule: lowercase, keep `[0-9a-z]`, no length check.
    Generic,
}

/// The shape an alphanumeric postal code must have. An enum, not a function pointer: an
/// indirect call would keep every function the wasm table holds (`core`'s formatting
/// among them) in the browser build.
#[derive(Clone, Copy)]
enum Shape {
    Ca,
    Gb,
}

impl Shape {
    fn fits(self, code: &[u8]) -> bool {
        match self {
            Shape::Ca => is_ca_postal(code),
            Shape::Gb => is_gb_postcode(code),
        }
    }
}

fn postal_rule(country: Country) -> PostalRule {
    match country.as_str() {
        "US" | "DE" | "FR" | "IT" | "ES" => PostalRule::Digits(5),
        "IN" => PostalRule::Digits(6),
        "JP" => PostalRule::Digits(7),
        "CA" => PostalRule::Alnum(6, Shape::Ca),
        "GB" => PostalRule::Alnum(7, Shape::Gb),
        _ => PostalRule::Generic,
    }
}

/// POSTAL-1: NFKC (full-width digits), the country's rule, lowercase. POSTAL-2 elsewhere.
///
/// NOTE: [departure] Amazon's uploader keeps the input case for CA and GB; every other
/// source and field lowercases, and so does this.
pub(super) fn postal(input: &str, country: Country, out: &mut String) -> Result<(), Reason> {
    let input = nfkc(input);
    let (n, shape) = match postal_rule(country) {
        PostalRule::Digits(n) => {
            out.extend(input.chars().filter(char::is_ascii_digit));
            (n, None)
        }
        PostalRule::Alnum(n, shape) => {
            out.extend(input.chars().filter(char::is_ascii_alphanumeric));
            (n, Some(shape))
        }
        PostalRule::Generic => {
            out.extend(
                input
                    .chars()
                    .flat_map(lower)
                    .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            );
            return if out.is_empty() {
                Err(Reason::EmptyAfterNormalization)
            } else {
                Ok(())
            };
        }
    };
    if out.is_empty() {
        return Err(Reason::EmptyAfterNormalization);
    }
    out.truncate(n);
    let fits = match shape {
        // Digit rules require exactly `n`; the shapes check their own lengths.
        None => out.len() == n,
        Some(shape) => shape.fits(out.as_bytes()),
    };
    if !fits {
        return Err(Reason::InvalidPostalForCountry);
    }
    out.make_ascii_lowercase();
    Ok(())
}

/// `^([A-Za-z]\d){3}$`
fn is_ca_postal(s: &[u8]) -> bool {
    s.len() == 6
        && s.chunks(2)
            .all(|p| p[0].is_ascii_alphabetic() && p[1].is_ascii_digit())
}

/// `^(([A-Za-z]{1,2}\d{2,3})|([A-Za-z]{1,2}\d[A-Za-z]\d))[A-Za-z]{2}$`
fn is_gb_postcode(s: &[u8]) -> bool {
    let Some((inward, outward)) = s.len().checked_sub(2).map(|n| (&s[n..], &s[..n])) else {
        return false;
    };
    if !inward.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let letters = outward
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    if !(1..=2).contains(&letters) {
        return false;
    }
    match &outward[letters..] {
        [a, b] | [a, b, _] if a.is_ascii_digit() && b.is_ascii_digit() => {
            outward[letters..].iter().all(u8::is_ascii_digit)
        }
        [a, b, c] => a.is_ascii_digit() && b.is_ascii_alphabetic() && c.is_ascii_digit(),
        _ => false,
    }
}

/// US: 50 entries.
#[rustfmt::skip]
const US: &[(&str, &str)] = &[
    ("ALABAMA", "AL"), ("ALASKA", "AK"), ("ARIZONA", "AZ"), ("ARKANSAS", "AR"),
    ("CALIFORNIA", "CA"), ("COLORADO", "CO"), ("CONNECTICUT", "CT"), ("DELAWARE", "DE"),
    ("FLORIDA", "FL"), ("GEORGIA", "GA"), ("HAWAII", "HI"), ("IDAHO", "ID"), ("ILLINOIS", "IL"),
    ("INDIANA", "IN"), ("IOWA", "IA"), ("KANSAS", "KS"), ("KENTUCKY", "KY"), ("LOUISIANA", "LA"),
    ("MAINE", "ME"), ("MARYLAND", "MD"), ("MASSACHUSETTS", "MA"), ("MICHIGAN", "MI"),
    ("MINNESOTA", "MN"), ("MISSISSIPPI", "MS"), ("MISSOURI", "MO"), ("MONTANA", "MT"),
    ("NEBRASKA", "NE"), ("NEVADA", "NV"), ("NEWHAMPSHIRE", "NH"), ("NEWJERSEY", "NJ"),
    ("NEWMEXICO", "NM"), ("NEWYORK", "NY"), ("NORTHCAROLINA", "NC"), ("NORTHDAKOTA", "ND"),
    ("OHIO", "OH"), ("OKLAHOMA", "OK"), ("OREGON", "OR"), ("PENNSYLVANIA", "PA"),
    ("RHODEISLAND", "RI"), ("SOUTHCAROLINA", "SC"), ("SOUTHDAKOTA", "SD"), ("TENNESSEE", "TN"),
    ("TEXAS", "TX"), ("UTAH", "UT"), ("VERMONT", "VT"), ("VIRGINIA", "VA"), ("WASHINGTON", "WA"),
    ("WESTVIRGINIA", "WV"), ("WISCONSIN", "WI"), ("WYOMING", "WY"),
];

/// FR: 22 entries.
#[rustfmt::skip]
const FR: &[(&str, &str)] = &[
    ("ALSACE", "AA"), ("AQUITAINE", "AQ"), ("AUVERGNE", "AU"), ("BRITTANY", "BT"),
    ("BURGUNDY", "BG"), ("CENTRE", "CN"), ("CHAMPAGNEARDENNE", "CG"), ("FRANCHECOMTE", "FC"),
    ("ILEDEFRANCE", "IF"), ("LANGUEDOCROUSSILLON", "LU"), ("LIMOUSIN", "LM"), ("LORRAINE", "LE"),
    ("LOWERNORMANDY", "BN"), ("MIDIPYRENEES", "MP"), ("NORDPASDECALAIS", "NP"),
    ("PAYSDELALOIRE", "PL"), ("PICARDY", "PI"), ("POITOUCHARENTES", "PT"),
    ("PROVENCEALPESCOTEDAZUR", "PR"), ("RHONEALPES", "RA"), ("UPPERNORMANDY", "HT"),
    ("CORSICA", "CE"),
];

/// CA: 13 entries.
#[rustfmt::skip]
const CA: &[(&str, &str)] = &[
    ("ALBERTA", "AB"), ("BRITISHCOLUMBIA", "BC"), ("MANITOBA", "MB"), ("NEWBRUNSWICK", "NB"),
    ("NEWFOUNDLANDANDLABRADOR", "NL"), ("NORTHWESTTERRITORIES", "NT"), ("NOVASCOTIA", "NS"),
    ("NUNAVUT", "NU"), ("ONTARIO", "ON"), ("PRINCEEDWARDISLAND", "PE"), ("QUEBEC", "QC"),
    ("SASKATCHEWAN", "SK"), ("YUKON", "YT"),
];

/// DE: 16 entries.
#[rustfmt::skip]
const DE: &[(&str, &str)] = &[
    ("BADENWUERTTEMBERG", "BW"), ("BAVARIA", "BY"), ("BERLIN", "BE"), ("BRANDENBURG", "BB"),
    ("BREMEN", "HB"), ("HAMBURG", "HH"), ("HESSE", "HE"), ("LOWERSAXONY", "NI"),
    ("MECKLENBURGVORPOMMERN", "MV"), ("NORTHRHINEWESTPHALIA", "NW"), ("RHINELANDPALATINATE", "RP"),
    ("SAARLAND", "SL"), ("SAXONY", "SN"), ("SAXONYANHALT", "ST"), ("SCHLESWIGHOLSTEIN", "SH"),
    ("THURINGIA", "TH"),
];

/// IT: 110 entries.
#[rustfmt::skip]
const IT: &[(&str, &str)] = &[
    ("AGRIGENTO", "AG"), ("ALESSANDRIA", "AL"), ("ANCONA", "AN"), ("AOSTA", "AO"), ("AREZZO", "AR"),
    ("ASCOLIPICENO", "AP"), ("ASTI", "AT"), ("AVELLINO", "AV"), ("BARI", "BA"),
    ("BARLETTAANDRIATRANI", "BT"), ("BELLUNO", "BL"), ("BENEVENTO", "BN"), ("BERGAMO", "BG"),
    ("BIELLA", "BI"), ("BOLOGNA", "BO"), ("SOUTHTYROL", "BZ"), ("BRESCIA", "BS"),
    ("BRINDISI", "BR"), ("CAGLIARI", "CA"), ("CALTANISSETTA", "CL"), ("CAMPOBASSO", "CB"),
    ("CARBONIAIGLESIAS", "CI"), ("CASERTA", "CE"), ("CATANIA", "CT"), ("CATANZARO", "CZ"),
    ("CHIETI", "CH"), ("COMO", "CO"), ("COSENZA", "CS"), ("CREMONA", "CR"), ("CROTONE", "KR"),
    ("CUNEO", "CN"), ("ENNA", "EN"), ("FERMO", "FM"), ("FERRARA", "FE"), ("FLORENCE", "FI"),
    ("FOGGIA", "FG"), ("FORLICESENA", "FC"), ("FROSINONE", "FR"), ("GENOA", "GE"),
    ("GORIZIA", "GO"), ("GROSSETO", "GR"), ("IMPERIA", "IM"), ("ISERNIA", "IS"), ("LASPEZIA", "SP"),
    ("LAQUILA", "AQ"), ("LATINA", "LT"), ("LECCE", "LE"), ("LECCO", "LC"), ("LIVORNO", "LI"),
    ("LODI", "LO"), ("LUCCA", "LU"), ("MACERATA", "MC"), ("MANTUA", "MN"),
    ("MASSAANDCARRARA", "MS"), ("MATERA", "MT"), ("MEDIOCAMPIDANO", "VS"), ("MESSINA", "ME"),
    ("MILAN", "MI"), ("MODENA", "MO"), ("MONZAANDBRIANZA", "MB"), ("NAPLES", "NA"),
    ("NOVARA", "NO"), ("NUORO", "NU"), ("OGLIASTRA", "OG"), ("OLBIATEMPIO", "OT"),
    ("ORISTANO", "OR"), ("PADUA", "PD"), ("PALERMO", "PA"), ("PARMA", "PR"), ("PAVIA", "PV"),
    ("PERUGIA", "PG"), ("PESAROANDURBINO", "PU"), ("PESCARA", "PE"), ("PIACENZA", "PC"),
    ("PISA", "PI"), ("PISTOIA", "PT"), ("PORDENONE", "PN"), ("POTENZA", "PZ"), ("PRATO", "PO"),
    ("RAGUSA", "RG"), ("RAVENNA", "RA"), ("REGGIOCALABRIA", "RC"), ("REGGIOEMILIA", "RE"),
    ("RIETI", "RI"), ("RIMINI", "RN"), ("ROME", "RM"), ("ROVIGO", "RO"), ("SALERNO", "SA"),
    ("SASSARI", "SS"), ("SAVONA", "SV"), ("SIENA", "SI"), ("SONDRIO", "SO"), ("SYRACUSE", "SR"),
    ("TARANTO", "TA"), ("TERAMO", "TE"), ("TERNI", "TR"), ("TRAPANI", "TP"), ("TRENTINO", "TN"),
    ("TREVISO", "TV"), ("TRIESTE", "TS"), ("TURIN", "TO"), ("UDINE", "UD"), ("VARESE", "VA"),
    ("VENICE", "VE"), ("VERBANOCUSIOOSSOLA", "VB"), ("VERCELLI", "VC"), ("VERONA", "VR"),
    ("VIBOVALENTIA", "VV"), ("VICENZA", "VI"), ("VITERBO", "VT"),
];

/// ES: 63 entries.
#[rustfmt::skip]
const ES: &[(&str, &str)] = &[
    ("ALICANTE", "A"), ("ALACANT", "A"), ("ALBACETE", "AB"), ("ALMERIA", "AL"), ("AVILA", "AV"),
    ("BARCELONA", "B"), ("BADAJOZ", "BA"), ("VIZCAYA", "BI"), ("BIZKAIA", "BI"), ("BURGOS", "BU"),
    ("LACORUNA", "C"), ("ACORUNA", "C"), ("CADIZ", "CA"), ("CACERES", "CC"), ("CEUTA", "CE"),
    ("CORDOBA", "CO"), ("CIUDADREAL", "CR"), ("CASTELLON", "CS"), ("CASTELLO", "CS"),
    ("CUENCA", "CU"), ("LASPALMAS", "GC"), ("GIRONA", "GI"), ("GERONA", "GI"), ("GRANADA", "GR"),
    ("GUADALAJARA", "GU"), ("HUELVA", "H"), ("HUESCA", "HU"), ("JAEN", "J"), ("LERIDA", "L"),
    ("LLEIDA", "L"), ("LEON", "LE"), ("LARIOJA", "LO"), ("LUGO", "LU"), ("MADRID", "M"),
    ("MALAGA", "MA"), ("MELILLA", "ML"), ("MURCIA", "MU"), ("NAVARRA", "NA"), ("NAFARROA", "NA"),
    ("ASTURIAS", "O"), ("ORENSE", "OR"), ("OURENSE", "OR"), ("PALENCIA", "P"), ("BALEARES", "PM"),
    ("BALEARS", "PM"), ("PONTEVEDRA", "PO"), ("CANTABRIA", "S"), ("SALAMANCA", "SA"),
    ("SEVILLA", "SE"), ("SEGOVIA", "SG"), ("SORIA", "SO"), ("GUIPUZCOA", "SS"), ("GIPUZKOA", "SS"),
    ("TARRAGONA", "T"), ("TERUEL", "TE"), ("SANTACRUZDETENERIFE", "TF"), ("TOLEDO", "TO"),
    ("VALENCIA", "V"), ("VALLADOLID", "VA"), ("ALAVA", "VI"), ("ARABA", "VI"), ("ZARAGOZA", "Z"),
    ("ZAMORA", "ZA"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    fn run_state(input: &str, country: Country) -> Result<String, Reason> {
        let mut out = String::new();
        state(input, country, &mut out).map(|()| out)
    }

    fn run_postal(input: &str, country: &str) -> Result<String, Reason> {
        let mut out = String::new();
        postal(input, Country::parse(country).unwrap(), &mut out).map(|()| out)
    }

    #[test]
    fn states_fold_before_lookup() {
        assert_eq!(run_state("Île-de-France", Country::FR).as_deref(), Ok("if"));
        assert_eq!(run_state("Rhône-Alpes", Country::FR).as_deref(), Ok("ra"));
        assert_eq!(run_state("Cádiz", Country::ES).as_deref(), Ok("ca"));
        assert_eq!(run_state("N.Y.", Country::US).as_deref(), Ok("ny"));
        assert_eq!(run_state("Gujarat", Country::IN).as_deref(), Ok("gu"));
        assert_eq!(run_state("Ä", Country::DE).as_deref(), Ok("ae"));
    }

    #[test]
    fn tables_have_their_sizes() {
        let sizes: Vec<_> = [US, FR, CA, DE, IT, ES].iter().map(|t| t.len()).collect();
        // Appendix A's heading says 107 for IT, but its list (and the uploader's) has 110.
        assert_eq!(sizes, [50, 22, 13, 16, 110, 63]);
    }

    #[test]
    fn postal_shapes() {
        assert_eq!(run_postal("SW1A 1AA", "GB").as_deref(), Ok("sw1a1aa"));
        assert_eq!(run_postal("EC1A1BB", "GB").as_deref(), Ok("ec1a1bb"));
        assert_eq!(run_postal("B33 8TH", "GB").as_deref(), Ok("b338th"));
        assert_eq!(run_postal("W1A 0AX", "GB").as_deref(), Ok("w1a0ax"));
        assert_eq!(run_postal("H0H 0H0", "CA").as_deref(), Ok("h0h0h0"));
        assert_eq!(
            run_postal("１００－０００１", "JP").as_deref(),
            Ok("1000001")
        );
        assert_eq!(run_postal("2000", "AU").as_deref(), Ok("2000"));
        assert_eq!(run_postal("1012 AB", "NL").as_deref(), Ok("1012ab"));
        assert_eq!(
            run_postal("0213", "US"),
            Err(Reason::InvalidPostalForCountry)
        );
        assert_eq!(
            run_postal("ABC", "US"),
            Err(Reason::EmptyAfterNormalization)
        );
        assert_eq!(
            run_postal("12A 4B5", "CA"),
            Err(Reason::InvalidPostalForCountry)
        );
    }
}
