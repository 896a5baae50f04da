//! The identifiers Amazon takes unhashed: MAID (MAID-1), RAMP_ID (RAMP_ID-1), MATCH_ID.

use crate::hash::is_sha256_hex;
use crate::reject::Reason;
use alloc::string::String;

/// MAID-1: lowercase UUID (IDFA, GAID/ADID, Fire ADID); not all zeros, not a digest.
pub(super) fn maid(input: &str, out: &mut String) -> Result<(), Reason> {
    if is_sha256_hex(input) {
        return Err(Reason::MaidMustNotBeHashed);
    }
    let bytes = input.as_bytes();
    let uuid_shaped = bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if !uuid_shaped {
        return Err(Reason::InvalidMaid);
    }
    if bytes.iter().all(|b| matches!(b, b'0' | b'-')) {
        return Err(Reason::ZeroedMaid);
    }
    out.extend(input.chars().map(|c| c.to_ascii_lowercase()));
    Ok(())
}

/// RAMP_ID-1: as given (case-sensitive), without white space inside.
pub(super) fn ramp_id(input: &str, out: &mut String) -> Result<(), Reason> {
    if input.chars().any(crate::text::is_py_space) {
        return Err(Reason::InvalidRampId);
    }
    out.push_str(input);
    Ok(())
}

/// MATCH_ID: the advertiser's opaque id, trimmed, unhashed.
pub(super) fn match_id(input: &str, out: &mut String) -> Result<(), Reason> {
    out.push_str(input);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maid_shapes() {
        let mut out = String::new();
        assert_eq!(maid("not-a-uuid", &mut out), Err(Reason::InvalidMaid));
        assert_eq!(
            maid("6D92078A-8246-4BA4-AE5B-76104861E7D", &mut out),
            Err(Reason::InvalidMaid)
        );
        assert_eq!(
            maid("6D92078A-8246-4BA4-AE5B-76104861E7DC", &mut out),
            Ok(())
        );
        assert_eq!(out, "6d92078a-8246-4ba4-ae5b-76104861e7dc");
    }

    #[test]
    fn ramp_id_rejects_inner_space() {
        assert_eq!(
            ramp_id("XY10 05", &mut String::new()),
            Err(Reason::InvalidRampId)
        );
    }
}
