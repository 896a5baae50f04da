//! One audience's membership sync (the `AudienceSync` Durable Object) as a sans-I/O state
//! machine, like [`crate::queue`] and sharing its [`Accumulator`]: the same "due" rule,
//! and the same promise that no request goes to Amazon before a retry time it asked for.
//!
//! Pending changes are kept one per person (the last intent wins), so the accounting
//! counts the changes a later one replaced: accepted = sent + rejected + dead-lettered +
//! superseded + pending. A person is an external user id (hashes) or a cookie (a visitor
//! id); both kinds wait in the same accumulator and are sent by kind.
//!
//! No refusal deletes work: a request Amazon finds too large (413, or its
//! `INPUT_TOO_LARGE` code) is split, the next chunks half its size until its changes are
//! through (a single change too large for Amazon goes to the dead letters); any other 4xx
//! sends the chunk's changes to the dead letters with Amazon's status and code, and the
//! accounting counts them there; 429, 5xx and network failures are retried.
//!
//! Also here: [`Erasures`], the same machine for `PATCH /v2/dp/users` (a person erased
//! once; a repeat request for a pending person is superseded), and [`Pacer`], the limiter
//! of Data Provider calls per profile and operation (the `Limiter` Durable Object's state),
//! at the rates of the core's one table ([`matchkey::amazon::audience::RATES`]).

use matchkey::amazon::audience::{DpOperation, MAX_PATCHES_PER_REQUEST, error_code, too_large};
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
    /// Changes refused before this version, which deleted them (kept for the balance of
    /// objects written by it; nothing counts here any more).
    pub rejected: u64,
    /// Changes Amazon refused, kept in the dead letters with its status and code.
    #[serde(default)]
    pub dead_lettered: u64,
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

    /// accepted = sent + rejected + dead-lettered + superseded + pending.
    pub fn balanced(&self, pending: u64) -> bool {
        self.accepted == self.sent + self.rejected + self.dead_lettered + self.superseded + pending
    }
}

/// A split in progress: after a too-large answer, chunks of at most `limit` until `left`
/// changes have gone through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Split {
    /// The largest chunk for now.
    pub limit: usize,
    /// Changes still to send at that size.
    pub left: u64,
}

/// The chunk size of an audience's sends: the configured batch (`AUDIENCE_BATCH`, whose
/// meaning for AMC records is unchanged), and never more than one `PATCH /v2/dp/audience`
/// takes when the Data Provider API is in play (so that one chunk is one patch call and a
/// refusal concerns exactly its changes), nor more than a split in progress allows.
pub fn chunk_size(batch: usize, data_provider: bool, split: Option<Split>) -> usize {
    let cap = if data_provider {
        batch.min(MAX_PATCHES_PER_REQUEST)
    } else {
        batch
    };
    split.map_or(cap, |s| s.limit.min(cap)).max(1)
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
    /// A split in progress.
    #[serde(default)]
    pub split: Option<Split>,
    /// The accounting.
    pub counters: MemberCounters,
}

/// What to do with a chunk Amazon answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Taken: delete the chunk's changes (and follow the job, when there is one).
    Sent,
    /// Refused for good: move the chunk's changes to the dead letters, with Amazon's
    /// HTTP status and code (`HTTP_<status>` when its body names none).
    DeadLetter {
        /// Amazon's HTTP status.
        status: u16,
        /// Amazon's code.
        code: String,
    },
    /// Too large for Amazon: keep the changes and send them again now, in chunks of at
    /// most `limit`.
    Split {
        /// The next chunks' size.
        limit: usize,
    },
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

/// Amazon's code in a refusal, or `HTTP_<status>` (a body that is not JSON, say).
pub fn refusal_code(status: u16, body: &str) -> String {
    error_code(body).unwrap_or_else(|| format!("HTTP_{status}"))
}

impl Membership {
    /// A members request: `changes` accepted, `new_people` of them for people without a
    /// pending change (the others replace one).
    pub fn joined(&mut self, changes: u64, new_people: u64, now: u64, flush_ms: u64) {
        (self.counters).joined(&mut self.acc, changes, new_people, now, flush_ms);
    }

    /// Whether a chunk of `len` changes goes now: full (at `chunk`, see [`chunk_size`]),
    /// forced, or its oldest is due.
    pub fn chunk_due(&self, len: usize, chunk: usize, now: u64) -> bool {
        self.acc.chunk_due(len, chunk, now)
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
            m.failures = 0;
            m.settle(len);
        };
        if (200..300).contains(&status) {
            settle(self);
            self.counters.sent += len as u64;
            return Chunk::Sent;
        }
        if too_large(status, body) && len > 1 {
            let limit = len / 2;
            let left = self.split.map_or(0, |s| s.left).max(len as u64);
            self.split = Some(Split { limit, left });
            return Chunk::Split { limit };
        }
        match status {
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
                self.counters.dead_lettered += len as u64;
                Chunk::DeadLetter {
                    status,
                    code: refusal_code(status, body),
                }
            }
        }
    }

    /// `len` changes leave the pending ones (and a split in progress).
    fn settle(&mut self, len: usize) {
        self.acc.remove(len as u64);
        if let Some(split) = &mut self.split {
            split.left = split.left.saturating_sub(len as u64);
            if split.left == 0 {
                self.split = None;
            }
        }
    }

    /// `len` changes accepted for a target the integration no longer points at
    /// ([`crate::target::deliverable`]): never sent, they go to the dead letters
    /// (`target_changed`) under the target that accepted them.
    pub fn target_changed(&mut self, len: usize) {
        self.settle(len);
        self.counters.dead_lettered += len as u64;
    }

    /// accepted = sent + rejected + dead-lettered + superseded + pending.
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
    /// A split in progress.
    #[serde(default)]
    pub split: Option<Split>,
    /// accepted = sent + rejected + dead-lettered + superseded + pending (superseded:
    /// asked again while pending).
    pub counters: MemberCounters,
}

impl Erasures {
    /// An erasure request: `accepted` people, `new_people` of them not already pending.
    pub fn joined(&mut self, accepted: u64, new_people: u64, now: u64, flush_ms: u64) {
        (self.counters).joined(&mut self.acc, accepted, new_people, now, flush_ms);
    }

    /// The next chunk's size: 1,000 users per call (the core's limit), less while a
    /// split lasts.
    pub fn chunk_size(&self) -> usize {
        chunk_size(
            matchkey::amazon::cookie::MAX_USERS_PER_ERASURE,
            false,
            self.split,
        )
    }

    /// Whether a chunk of `len` goes now (full, forced or due).
    pub fn chunk_due(&self, len: usize, now: u64) -> bool {
        self.acc.chunk_due(len, self.chunk_size(), now)
    }

    /// Amazon's answer to a chunk of `len` erasures (202 when taken). An erasure has legal
    /// weight: a 404 is a refusal like any other 4xx (there is no audience to create
    /// again) and goes to the dead letters with Amazon's code, a too-large answer splits,
    /// 429 and 5xx retry; otherwise as [`Membership::answered`].
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
        let status_seen = if status == 404 { 400 } else { status };
        let mut chunk = self.as_membership(|m| {
            m.answered(len, status_seen, retry_after, body, now, unit_ms, jitter)
        });
        if let Chunk::DeadLetter { status: seen, code } = &mut chunk {
            *seen = status;
            *code = refusal_code(status, body);
        }
        chunk
    }

    /// `len` erasures accepted for a target the integration no longer points at: as
    /// [`Membership::target_changed`] (an erasure is never dropped, nor sent elsewhere).
    pub fn target_changed(&mut self, len: usize) {
        self.as_membership(|m| m.target_changed(len));
    }

    /// Runs `f` on the erasures seen as one audience's changes (the same accumulator,
    /// retries, splits and counters), then keeps what it changed.
    fn as_membership<T>(&mut self, f: impl FnOnce(&mut Membership) -> T) -> T {
        let mut m = Membership {
            acc: self.acc,
            audience_id: Some(0),
            failures: self.failures,
            split: self.split,
            counters: self.counters,
        };
        let out = f(&mut m);
        self.acc = m.acc;
        self.failures = m.failures;
        self.split = m.split;
        self.counters = m.counters;
        out
    }

    /// accepted = sent + rejected + dead-lettered + superseded + pending.
    pub fn balanced(&self) -> bool {
        self.counters.balanced(self.acc.pending)
    }
}

/// Hands out send slots for one Data Provider profile and operation, so that every object
/// together stays under the operation's documented rate: slots are spaced
/// `1000 / per_second` ms apart, the next never before now, so no window of a second holds
/// more than `per_second`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pacer {
    /// The first free slot (ms).
    pub next_ms: u64,
}

/// The pace of one Data Provider operation: its documented rate, and never more than
/// `DP_REQUESTS_PER_SECOND` (default 90, under the 100 of the patches).
pub fn pace(operation: DpOperation, configured: u64) -> u64 {
    operation.rate().per_second.min(configured).max(1)
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
    fn work_for_a_changed_target_is_dead_lettered_and_still_balances() {
        let mut m = Membership::default();
        m.joined(5, 4, 0, FLUSH);
        m.split = Some(Split { limit: 2, left: 3 });
        m.target_changed(3);
        assert_eq!((m.acc.pending, m.counters.dead_lettered), (1, 3));
        assert_eq!(m.counters.sent, 0, "nothing counted as sent");
        assert_eq!(m.split, None, "the split's changes left");
        assert!(m.balanced());
        m.target_changed(1);
        assert_eq!(m.acc.pending, 0);
        assert!(m.balanced());

        let mut e = Erasures::default();
        e.joined(3, 3, 0, FLUSH);
        e.target_changed(3);
        assert_eq!(
            (e.acc.pending, e.counters.dead_lettered, e.counters.sent),
            (0, 3, 0)
        );
        assert!(e.balanced());
    }

    #[test]
    fn erasures_are_counted_once_retried_split_and_dead_lettered() {
        let mut e = Erasures::default();
        e.joined(3, 2, 0, FLUSH); // one asked twice
        assert_eq!((e.acc.pending, e.counters.superseded), (2, 1));
        assert!(!e.chunk_due(2, 10) && e.chunk_due(2, FLUSH));
        let c = e.answered(2, 429, Some("5"), "{}", FLUSH, 1000, 0.5);
        assert!(matches!(c, Chunk::Retry { .. }));
        assert_eq!(e.acc.not_before, FLUSH + 5000);
        // An HTML 503 from the gateway is a passing failure too, not a refusal.
        let c = e.answered(2, 503, None, "<html>503</html>", FLUSH + 5000, 1000, 0.5);
        assert!(matches!(c, Chunk::Retry { .. }));
        assert_eq!(e.acc.pending, 2);
        assert!(e.balanced());
        // 202 is Amazon's answer (data-provider.yaml): every user of the chunk is sent.
        let c = e.answered(
            2,
            202,
            None,
            r#"{"requestId":"r"}"#,
            FLUSH + 9000,
            1000,
            0.5,
        );
        assert_eq!(c, Chunk::Sent);
        assert_eq!((e.counters.sent, e.acc.pending), (2, 0));
        assert!(e.balanced());
        // 1,000 users and 413: halves, then quarters, and back to full size after them.
        e.joined(1000, 1000, 0, FLUSH);
        assert_eq!(e.chunk_size(), 1000);
        let held = e.acc.not_before;
        let c = e.answered(1000, 413, None, "{}", 0, 1000, 0.5);
        assert_eq!(c, Chunk::Split { limit: 500 });
        assert_eq!((e.chunk_size(), e.acc.pending), (500, 1000));
        assert_eq!(e.acc.not_before, held, "a split adds no wait");
        assert!(e.chunk_due(500, 0), "a half goes at once");
        assert_eq!(e.answered(500, 202, None, "{}", 0, 1000, 0.5), Chunk::Sent);
        assert_eq!(e.chunk_size(), 500);
        assert_eq!(e.answered(500, 202, None, "{}", 0, 1000, 0.5), Chunk::Sent);
        assert_eq!((e.chunk_size(), e.split), (1000, None));
        assert!(e.balanced());
        // A 404, a 400: refused for good, with Amazon's code, and counted as dead letters.
        e.joined(2, 2, 0, FLUSH);
        let c = e.answered(1, 404, None, "{}", 0, 1000, 0.5);
        assert_eq!(
            c,
            Chunk::DeadLetter {
                status: 404,
                code: "HTTP_404".into()
            }
        );
        let body = r#"{"requestId":"F8","error":{"httpStatusCode":"400","description":"Bad Request","errors":[{"errorType":"INVALID_INPUT","message":"The inputs that you provided are not valid."}]}}"#;
        assert_eq!(
            e.answered(1, 400, None, body, 0, 1000, 0.5),
            Chunk::DeadLetter {
                status: 400,
                code: "INVALID_INPUT".into()
            }
        );
        assert_eq!((e.counters.dead_lettered, e.acc.pending), (2, 0));
        assert!(e.balanced());
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Erasures>(&json).unwrap(), e);
    }

    #[test]
    fn erasures_go_at_one_a_second() {
        let mut p = Pacer::default();
        let rate = pace(DpOperation::Erasure, 90);
        assert_eq!(rate, 1);
        let waits: Vec<u64> = (0..3).map(|_| p.take(0, 1, rate).0).collect();
        assert_eq!(waits, [0, 1000, 2000]);
        assert_eq!(pace(DpOperation::Membership, 90), 90);
        assert_eq!(pace(DpOperation::Membership, 500), 100);
        assert_eq!(pace(DpOperation::AudienceMetadata, 90), 1);
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
        assert_eq!(
            r,
            Chunk::DeadLetter {
                status: 400,
                code: "BAD_REQUEST".into()
            }
        );
        assert_eq!(
            (m.counters.sent, m.counters.dead_lettered, m.acc.pending),
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
        // Amazon's gateway answers 429 with an HTML page and no Retry-After: a retry with
        // backoff, never a refusal.
        let r = m.answered(
            6000,
            429,
            None,
            "<html><body>Too Many Requests</body></html>",
            45_000,
            1000,
            0.5,
        );
        assert_eq!(
            r,
            Chunk::Retry {
                code: "HTTP_429".into(),
                refresh: false
            }
        );
        assert!(m.acc.not_before > 45_000);
        assert_eq!(m.acc.pending, 6000);
        // A gateway's HTML 403 names no code: dead letters under HTTP_403.
        let r = m.answered(6000, 403, None, "<html>Forbidden</html>", 50_000, 1000, 0.5);
        assert_eq!(
            r,
            Chunk::DeadLetter {
                status: 403,
                code: "HTTP_403".into()
            }
        );
        assert_eq!((m.acc.pending, m.counters.dead_lettered), (0, 6000));
        assert!(m.balanced());
    }

    #[test]
    fn a_too_large_patch_is_split_until_one_change_is_left_never_dropped() {
        // The Data Provider cap holds whatever AUDIENCE_BATCH says; AMC keeps its size.
        assert_eq!(chunk_size(6000, true, None), 2000);
        assert_eq!(chunk_size(500, true, None), 500);
        assert_eq!(chunk_size(6000, false, None), 6000);
        let mut m = Membership::default();
        m.joined(2000, 2000, 0, FLUSH);
        let big = r#"{"requestId":"F88750355N-B70JY53CSD","error":{"httpStatusCode":"413","description":"Input Too Large","errors":[{"errorType":"INPUT_TOO_LARGE","message":"The input payload exceeds 1MB limit."}]}}"#;
        assert_eq!(
            m.answered(2000, 413, None, big, 0, 1000, 0.5),
            Chunk::Split { limit: 1000 }
        );
        assert_eq!(m.acc.pending, 2000, "nothing dropped");
        assert_eq!(m.acc.not_before, 0, "a split goes at once");
        assert_eq!(chunk_size(6000, true, m.split), 1000);
        // The first half is too large again: quarters, for the whole 2,000 still.
        assert_eq!(
            m.answered(1000, 400, None, big, 0, 1000, 0.5),
            Chunk::Split { limit: 500 }
        );
        assert_eq!(
            m.split,
            Some(Split {
                limit: 500,
                left: 2000
            })
        );
        for _ in 0..4 {
            assert_eq!(m.answered(500, 200, None, "{}", 0, 1000, 0.5), Chunk::Sent);
        }
        assert_eq!((m.split, m.acc.pending, m.counters.sent), (None, 0, 2000));
        assert_eq!(chunk_size(6000, true, m.split), 2000);
        // One change Amazon finds too large on its own: the dead letters, with the code.
        m.joined(3, 3, 0, FLUSH);
        let mut dead = 0;
        let mut calls = 0;
        while m.acc.pending > 0 {
            let len = chunk_size(2000, true, m.split).min(m.acc.pending as usize);
            calls += 1;
            assert!(calls < 10, "a split ends");
            if let Chunk::DeadLetter { status, code } =
                m.answered(len, 413, None, big, 0, 1000, 0.5)
            {
                assert_eq!((status, code.as_str()), (413, "INPUT_TOO_LARGE"));
                dead += len;
            }
        }
        assert_eq!((dead, m.counters.dead_lettered), (3, 3));
        assert!(m.balanced());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Membership>(&json).unwrap(), m);
        // State written before this version (no split, no deadLettered) still reads.
        let old = r#"{"pending":1,"dueAt":null,"notBefore":0,"force":false,"audienceId":"7","failures":0,"counters":{"accepted":2,"superseded":0,"sent":0,"rejected":1}}"#;
        let m: Membership = serde_json::from_str(old).unwrap();
        assert!(m.balanced() && m.split.is_none());
    }
}
