//! The golden vectors (`tests/vectors/normalization.json`, copied from
//! `shared/vectors/`) driven through one `check` helper: every vector's normalized value,
//! hash and reject reason must match.

use matchkey::{Country, Field, normalize};
use serde::Deserialize;

/// One vector: `{field, country, input, normalized, sha256, reason?, source}`.
#[derive(Debug, Deserialize)]
struct Vector {
    field: String,
    country: String,
    input: String,
    normalized: Option<String>,
    sha256: Option<String>,
    reason: Option<String>,
}

/// What the crate answers for a vector, in the vector's own shape.
#[derive(Debug, PartialEq)]
struct Answer {
    normalized: Option<String>,
    sha256: Option<String>,
    reason: Option<String>,
}

fn check(v: &Vector) -> Result<(), String> {
    let field: Field = v.field.parse().map_err(|e| format!("{e}"))?;
    let country = Country::parse(&v.country).map_err(|e| format!("{e}"))?;
    let answer = match normalize(field, &v.input, country) {
        Ok(n) => Answer {
            normalized: Some(n.value().to_owned()),
            sha256: n.sha256().map(|h| h.to_string()),
            reason: None,
        },
        Err(reject) => Answer {
            normalized: None,
            sha256: None,
            reason: Some(reject.code().to_owned()),
        },
    };
    let expected = Answer {
        normalized: v.normalized.clone(),
        sha256: v.sha256.clone(),
        reason: v.reason.clone(),
    };
    if answer == expected {
        Ok(())
    } else {
        Err(format!(
            "{} {} {:?}: got {answer:?}, want {expected:?}",
            v.field, v.country, v.input
        ))
    }
}

#[test]
fn every_golden_vector_passes() {
    let vectors: Vec<Vector> =
        serde_json::from_str(include_str!("vectors/normalization.json")).expect("vectors parse");
    assert!(vectors.len() >= 100, "the vector file lost entries");
    let failures: Vec<String> = vectors.iter().filter_map(|v| check(v).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors fail:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}
