//! One audience's membership sync (the `AudienceSync` Durable Object) as a sans-I/O state
//! machine, like [`crate::queue`] and sharing its [`Accumulator`]: the same "due" rule,
//! and the same promise that no request goes to Amazon before a retry time it asked for.
//!
//! Pending changes are kept one per person (the last intent wins), so the accounting
//! counts the changes a later one replaced: accepted = sent + rejected + superseded +
//! pending. A person is an external user id (hashes) or a cookie (a visitor id); both
//! kinds wait in the same accumulator and are sent by kind.
//!
//! Also here: [`Erasures`], the same machine for `PATCH /v2/dp/users` (a person erased
//! once; a repeat request for a pending person is superseded), and [`Pacer`], the one
//! limiter of Data Provider calls per profile (the `Limiter` Durable Object's state).

use matchkey::amazon::retry::{self, Next};
use serde::{Deserialize, Serialize};

use crate::queue::{Accumulator, backoff};

/// How long to wait when no access token could be had.
pub const TOKEN_WAIT_MS: u64 = 60_000;
/// How soon to create the audience again after Amazon said it is gone.
pub const RECREATE_MS: u64 = 1_000;

/// What became of every membership change accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberCounters {
    /// Changes accepted (adds and removes).
    pub accepted: u64,
    /// Changes a later change of the same person replaced before they were sent.
    pub superseded: u64,
    /// Changes Amazon took.
    pub sent: u64,
    /// Changes Amazon refused.
    pub rejected: u64,
}

impl MemberCounters {
    /// A request of `changes`, `new_people` of them for people without a pending change
    /// (the others replace one): counted, and the new ones added to `acc`.
    pub fn joined(
        &mut self,
        acc: &mut Accumulator,
        changes: u64,
        new_people: u64,
        now: u64,
        flush_ms: u64,
    ) {
        self.accepted += changes;
        self.superseded += changes - new_people.min(changes);
        acc.add(new_people, now, flush_ms);
    }

    /// accepted = sent + rejected + superseded + pending.
    pub fn balanced(&self, pending: u64) -> bool {
        self.accepted == self.sent + self.rejected + self.superseded + pending
    }
}

/// The audience's persistent state (one storage key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// People with a pending change, and when they go.
    #[serde(flatten)]
    pub acc: Accumulator,
    /// The Amazon audience, once created (stored as text: JavaScript numbers cannot hold
    /// every id).
    #[serde(default, with = "id_text")]
    pub audience_id: Option<u64>,
    /// Failed sends in a row (the backoff exponent).
    pub failures: u32,
    /// The accounting.
    pub counters: MemberCounters,
}

/// What to do with a chunk Amazon answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Taken: delete the chunk's changes (and follow the job, when there is one).
    Sent,
    /// Refused for good (with Amazon's code): delete them, log the refusal.
    Rejected(Option<String>),
    /// The audience is gone on Amazon's side: keep the changes, create it again.
    AudienceGone,
    /// A passing failure: keep the changes, try again after the hold (`refresh`: the
    /// access token expired).
    Retry {
        /// The code for the log.
        code: String,
        /// Refresh the access token before the next try.
        refresh: bool,
    },
}

impl Membership {
    /// A members request: `changes` accepted, `new_people` of them for people without a
    /// pending change (the others replace one).
    pub fn joined(&mut self, changes: u64, new_people: u64, now: u64, flush_ms: u64) {
        (self.counters).joined(&mut self.acc, changes, new_people, now, flush_ms);
    }

    /// Whether a chunk of `len` changes goes now: full, forced, or its oldest is due.
    pub fn chunk_due(&self, len: usize, batch_size: usize, now: u64) -> bool {
        self.acc.chunk_due(len, batch_size, now)
    }

    /// No token: wait a minute.
    pub fn token_failed(&mut self, now: u64) {
        self.acc.hold_until(now + TOKEN_WAIT_MS);
    }

    /// The audience could not be created: back off.
    pub fn create_failed(&mut self, now: u64, unit_ms: u64, jitter: f64) {
        self.failures = self.failures.saturating_add(1);
        self.acc
            .hold_until(now + backoff(self.failures, jitter, unit_ms));
    }

    /// Amazon's answer to a chunk of `len` changes.
    #[allow(clippy::too_many_arguments)] // One answer, as it came.
    pub fn answered(
        &mut self,
        len: usize,
        status: u16,
        retry_after: Option<&str>,
        body: &str,
        now: u64,
        unit_ms: u64,
        jitter: f64,
    ) -> Chunk {
        let settle = |m: &mut Membership| {
            m.acc.remove(len as u64);
            m.failures = 0;
        };
        match status {
            200..=299 => {
                settle(self);
                self.counters.sent += len as u64;
                Chunk::Sent
            }
            404 => {
                self.audience_id = None;
                self.acc.hold_until(now + RECREATE_MS);
                Chunk::AudienceGone
            }
            429 | 500..=599 | 0 | 401 => {
                let after = match retry::next(status, retry_after, body, self.failures, jitter) {
                    Next::Retry { after_ms, .. } if status == 429 && retry_after.is_some() => {
                        after_ms
                    }
                    _ => backoff(self.failures, jitter, unit_ms),
                };
                self.failures = self.failures.saturating_add(1);
                self.acc.hold_until(now + after);
                Chunk::Retry {
                    code: if status == 401 {
                        "UNAUTHORIZED".into()
                    } else {
                        format!("HTTP_{status}")
                    },
                    refresh: status == 401,
                }
            }
            _ => {
                settle(self);
                self.counters.rejected += len as u64;
                let code = serde_json::from_str::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v["code"].as_str().map(str::to_owned));
                Chunk::Rejected(code)
            }
        }
    }

    /// accepted = sent + rejected + superseded + pending.
    pub fn balanced(&self) -> bool {
        self.counters.balanced(self.acc.pending)
    }
}

/// Erasures waiting for `PATCH /v2/dp/users`, one per person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Erasures {
    /// People with a pending erasure, and when they go.
    #[serde(flatten)]
    pub acc: Accumulator,
    /// Failed sends in a row (the backoff exponent).
    pub failures: u32,
    /// accepted = sent + rejected + superseded + pending (superseded: asked again while
    /// pending).
    pub counters: MemberCounters,
}

impl Erasures {
    /// An erasure request: `accepted` people, `new_people` of them not already pending.
    pub fn joined(&mut self, accepted: u64, new_people: u64, now: u64, flush_ms: u64) {
        (self.counters).joined(&mut self.acc, accepted, new_people, now, flush_ms);
    }

    /// Whether a chunk of `len` goes now (full, forced or due).
    pub fn chunk_due(&self, len: usize, batch_size: usize, now: u64) -> bool {
        self.acc.chunk_due(len, batch_size, now)
    }

    /// Amazon's answer to a chunk of `len` erasures: a 207 counts the users in its
    /// `error` list as rejected and the others as sent; a 404 is a refusal (there is no
    /// audience to create again); otherwise as [`Membership::answered`].
    #[allow(clippy::too_many_arguments)] // One answer, as it came.
    pub fn answered(
        &mut self,
        len: usize,
        status: u16,
        retry_after: Option<&str>,
        body: &str,
        now: u64,
        unit_ms: u64,
        jitter: f64,
    ) -> (Chunk, u64, u64) {
        let mut m = Membership {
            acc: self.acc,
            audience_id: Some(0),
            failures: self.failures,
            counters: self.counters,
        };
        let status_seen = if status == 404 { 400 } else { status };
        let chunk = m.answered(len, status_seen, retry_after, body, now, unit_ms, jitter);
        let (mut sent, mut rejected) = match &chunk {
            Chunk::Sent => (len as u64, 0),
            Chunk::Rejected(_) => (0, len as u64),
            _ => (0, 0),
        };
        if status == 207 {
            let errors = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["error"].as_array().map(Vec::len))
                .unwrap_or(0) as u64;
            let errors = errors.min(sent);
            m.counters.sent -= errors;
            m.counters.rejected += errors;
            sent -= errors;
            rejected += errors;
        }
        self.acc = m.acc;
        self.failures = m.failures;
        self.counters = m.counters;
        (chunk, sent, rejected)
    }

    /// accepted = sent + rejected + superseded + pending.
    pub fn balanced(&self) -> bool {
        self.counters.balanced(self.acc.pending)
    }
}

/// Hands out send slots for one Data Provider profile, so that every object together stays
/// under Amazon's 100 requests per second: slots are spaced `1000 / per_second` ms apart,
/// the next never before now, so no window of a second holds more than `per_second`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pacer {
    /// The first free slot (ms).
    pub next_ms: u64,
}

/// The longest a caller waits in place for a slot; beyond it, it holds and retries later.
pub const MAX_SLOT_WAIT_MS: u64 = 5_000;

impl Pacer {
    /// Reserves `n` consecutive slots at `now`: how long until the first, and the spacing.
    pub fn take(&mut self, now: u64, n: u64, per_second: u64) -> (u64, u64) {
        let spacing = 1000_u64.div_ceil(per_second.clamp(1, 1000));
        let first = self.next_ms.max(now);
        self.next_ms = first + spacing * n.max(1);
        (first - now, spacing)
    }
}

/// An `Option<u64>` as a JSON string, for ids beyond JavaScript's 2^53.
mod id_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(id: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.serialize_some(&id.to_string()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.and_then(|s| s.parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLUSH: u64 = 60_000;

    #[test]
    fn the_last_intent_per_person_is_counted_once() {
        let mut m = Membership::default();
        m.joined(3, 3, 0, FLUSH);
        m.joined(2, 1, 10, FLUSH); // one new person, one replaced change
        assert_eq!(m.acc.pending, 4);
        assert_eq!(m.counters.superseded, 1);
        assert!(m.balanced());
        assert_eq!(m.acc.next_alarm(10, 6000, FLUSH), Some(FLUSH));
        assert!(!m.chunk_due(4, 6000, 10) && m.chunk_due(4, 6000, FLUSH));
        assert_eq!(
            m.answered(4, 200, None, "{}", FLUSH, 1000, 0.5),
            Chunk::Sent
        );
        assert_eq!((m.acc.pending, m.counters.sent), (0, 4));
        assert!(m.balanced());
        m.audience_id = Some(413_642_381_039_213_538);
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            json.contains(r#""audienceId":"413642381039213538""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Membership>(&json).unwrap(), m);
    }

    #[test]
    fn the_pacer_never_puts_more_than_the_rate_in_a_second() {
        let mut p = Pacer::default();
        // Two objects ask at once, again and again (a fake clock that barely moves).
        let mut slots = Vec::new();
        let mut now = 1_000_000;
        for i in 0..400 {
            let (wait, spacing) = p.take(now, 1, 90);
            assert_eq!(spacing, 12);
            slots.push(now + wait);
            if i % 7 == 0 {
                now += 3;
            }
        }
        for (i, &at) in slots.iter().enumerate() {
            let in_window = slots[i..].iter().take_while(|&&s| s < at + 1000).count();
            assert!(in_window <= 90, "{in_window} in a second");
        }
        // A reservation of several: consecutive, and the next caller after them.
        let mut p = Pacer::default();
        assert_eq!(p.take(0, 3, 100), (0, 10));
        assert_eq!(p.take(5, 1, 100), (25, 10));
        // Idle time is not saved up: no burst after a quiet minute.
        assert_eq!(p.take(60_000, 1, 100), (0, 10));
        assert_eq!(p.take(60_000, 1, 100), (10, 10));
    }

    #[test]
    fn erasures_are_counted_once_and_partial_answers_split() {
        let mut e = Erasures::default();
        e.joined(3, 2, 0, FLUSH); // one asked twice
        assert_eq!((e.acc.pending, e.counters.superseded), (2, 1));
        assert!(!e.chunk_due(2, 1000, 10) && e.chunk_due(2, 1000, FLUSH));
        let (c, _, _) = e.answered(2, 429, Some("5"), "{}", FLUSH, 1000, 0.5);
        assert!(matches!(c, Chunk::Retry { .. }));
        assert_eq!(e.acc.not_before, FLUSH + 5000);
        assert!(e.balanced());
        let body = r#"{"success":[{"index":0}],"error":[{"index":1,"errors":[]}]}"#;
        let (c, sent, rejected) = e.answered(2, 207, None, body, FLUSH + 5000, 1000, 0.5);
        assert_eq!((c, sent, rejected), (Chunk::Sent, 1, 1));
        assert_eq!(
            (e.counters.sent, e.counters.rejected, e.acc.pending),
            (1, 1, 0)
        );
        assert!(e.balanced());
        e.joined(1, 1, 0, FLUSH);
        let (c, _, rejected) = e.answered(1, 404, None, "{}", 0, 1000, 0.5);
        assert!(matches!(c, Chunk::Rejected(_)));
        assert_eq!(rejected, 1);
        assert!(e.balanced());
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Erasures>(&json).unwrap(), e);
    }

    #[test]
    fn cookie_and_hashed_chunks_share_the_accounting() {
        let mut m = Membership::default();
        m.joined(5, 5, 0, FLUSH); // 3 hashed people, 2 cookies
        assert_eq!(
            m.answered(3, 200, None, "{}", FLUSH, 1000, 0.5),
            Chunk::Sent
        );
        let r = m.answered(2, 400, None, r#"{"code":"BAD_REQUEST"}"#, FLUSH, 1000, 0.5);
        assert_eq!(r, Chunk::Rejected(Some("BAD_REQUEST".into())));
        assert_eq!(
            (m.counters.sent, m.counters.rejected, m.acc.pending),
            (3, 2, 0)
        );
        assert!(m.balanced());
    }

    #[test]
    fn a_retry_after_holds_every_later_alarm_and_a_gone_audience_is_recreated() {
        let mut m = Membership::default();
        m.joined(6000, 6000, 0, FLUSH);
        let r = m.answered(6000, 429, Some("30"), "{}", 0, 1000, 0.5);
        assert!(matches!(r, Chunk::Retry { refresh: false, .. }));
        assert_eq!(m.acc.next_alarm(1, 6000, FLUSH), Some(30_000));
        m.acc.force = true;
        assert_eq!(m.acc.next_alarm(2, 6000, FLUSH), Some(30_000));
        assert!(matches!(
            m.answered(6000, 401, None, "{}", 30_000, 1000, 0.5),
            Chunk::Retry { refresh: true, .. }
        ));
        m.audience_id = Some(7);
        assert_eq!(
            m.answered(6000, 404, None, "{}", 40_000, 1000, 0.5),
            Chunk::AudienceGone
        );
        assert_eq!(m.audience_id, None);
        assert_eq!(m.acc.pending, 6000);
        let r = m.answered(
            6000,
            400,
            None,
            r#"{"code":"BAD_REQUEST"}"#,
            50_000,
            1000,
            0.5,
        );
        assert_eq!(r, Chunk::Rejected(Some("BAD_REQUEST".into())));
        assert_eq!((m.acc.pending, m.counters.rejected), (0, 6000));
        assert!(m.balanced());
    }
}
