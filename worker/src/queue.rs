//! The delivery queue of one advertiser and region (the `Batcher` Durable Object) as a
//! sans-I/O state machine, after quinn-proto: inputs are calls with the time as an
//! argument (events enqueued, the alarm fired, the token refused, Amazon answered), the
//! outputs are decisions the Durable Object carries out (delete these events, log this,
//! dead-letter those, set the alarm at `t`). It never reads a clock, sleeps or sends, so
//! every retry rule, budget, Retry-After and 207 case is a native test with a fake clock.
//!
//! The rules it keeps:
//! - an alarm is never set earlier than a stored retry time (`not_before`), whatever
//!   arrives, `/v1/flush` included;
//! - the retry budget is time-based: a batch is dead-lettered only once delivery has been
//!   failing for `retry_budget_ms` (hours, inside Amazon's 21-day window); token failures
//!   do not use it, and any success resets it;
//! - the backlog is a counter, not a listing, and above `max_backlog` new events are
//!   refused (the caller answers 503 with Retry-After and the tag keeps them);
//! - nothing accepted is lost: accepted = delivered + rejected + dead-lettered + pending.

use matchkey::amazon::events::{EventError, MultiStatus};
use matchkey::amazon::retry::{self, Next};
use serde::{Deserialize, Serialize};

/// Per-event error codes Amazon uses for a passing trouble: the event is kept and sent
/// again, not counted as rejected.
pub const TRANSIENT_EVENT_CODES: &[&str] = &["INTERNAL_ERROR", "TOO_MANY_REQUESTS"];

/// How long sending pauses after Login with Amazon refused the refresh token
/// (`invalid_grant`): a person has to re-authorize, and `/v1/replay` resumes at once.
pub const REAUTHORIZE_PAUSE_MS: u64 = 300_000;

/// The settings the queue obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Events per Amazon request.
    pub batch_size: usize,
    /// The longest a partial batch waits, from its oldest event.
    pub flush_ms: u64,
    /// How long delivery may keep failing before a batch is dead-lettered.
    pub retry_budget_ms: u64,
    /// Most events kept waiting; beyond it ingest is refused with 503.
    pub max_backlog: u64,
    /// The first backoff step (1 s in production; tests shorten it). Backoff doubles
    /// from it, with jitter, up to 5 minutes.
    pub backoff_unit_ms: u64,
}

impl Limits {
    /// The wait before attempt `attempt + 1` when Amazon gave no Retry-After.
    fn backoff(&self, attempt: u32, jitter: f64) -> u64 {
        backoff(attempt, jitter, self.backoff_unit_ms)
    }
}

/// The core's backoff (1 s doubling with jitter, at most 5 minutes) on a unit of
/// `unit_ms` instead of a second: both machines' one backoff.
pub fn backoff(attempt: u32, jitter: f64, unit_ms: u64) -> u64 {
    retry::backoff_ms(attempt, jitter) * unit_ms / 1000
}

/// What became of every event ever accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Events accepted into the queue (replayed dead letters count again).
    pub accepted: u64,
    /// Events Amazon accepted.
    pub delivered: u64,
    /// Events Amazon refused, one by one (in the log with its code).
    pub rejected: u64,
    /// Events given up on (in D1's dead letters, replayable).
    pub dead_lettered: u64,
    /// Dead letters accepted again by `/v1/replay` (part of `accepted`).
    pub replayed: u64,
    /// Repeats of events already accepted ([`crate::dedupe`]): answered as accepted,
    /// queued nothing, and not part of `accepted`.
    #[serde(default)]
    pub repeats: u64,
    /// Events the window of accepted ids could not vouch for (older than what it holds):
    /// queued, and part of `accepted`.
    #[serde(default)]
    pub unchecked: u64,
}

/// The queue's persistent state (one storage key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    /// The last event sequence number handed out.
    pub seq: u64,
    /// What waits, since when, and until when nothing may be sent.
    #[serde(flatten)]
    pub acc: Accumulator,
    /// When the current run of failed deliveries began.
    pub failing_since: Option<u64>,
    /// Failed deliveries in a row (the backoff exponent).
    pub failures: u32,
    /// Token failures in a row (their own backoff; they do not use the retry budget).
    pub token_failures: u32,
    /// Sending waits for a person to re-authorize (`invalid_grant`).
    pub reauthorize: bool,
    /// The accounting.
    pub counters: Counters,
}

/// Why events could not be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogFull {
    /// Seconds after which the caller may try again.
    pub retry_after_secs: u64,
}

/// What a token failure was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFailure {
    /// `invalid_grant`: a person must re-authorize.
    Reauthorize,
    /// Login with Amazon could not be reached, or another passing error.
    Unavailable,
}

/// The outcome of one delivery attempt, for the Durable Object to carry out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Indexes (in the batch) Amazon accepted: delete them.
    pub delivered: Vec<usize>,
    /// Events Amazon refused one by one: delete them, log each.
    pub rejected: Vec<EventError>,
    /// Indexes to dead-letter (write to D1, then delete), with the reason.
    pub dead: Vec<usize>,
    /// The code logged with the attempt (`None` when all went well).
    pub code: Option<String>,
    /// The log's outcome word: `delivered`, `retry`, `dead_lettered`.
    pub outcome: &'static str,
    /// Refresh the access token and send this batch again at once.
    pub refresh: bool,
    /// Send no more batches on this run.
    pub stop: bool,
}

/// What both Durable Objects accumulate, and the one rule for when they send: how much
/// waits, when the oldest of it becomes due, and until when nothing may be sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accumulator {
    /// Items waiting (events, or people with a pending change).
    pub pending: u64,
    /// When the oldest waiting item becomes due as a partial batch (ms).
    pub due_at: Option<u64>,
    /// No request to Amazon before this time (Retry-After, backoff, re-authorization).
    pub not_before: u64,
    /// Send partial batches on the next run, whatever their age.
    pub force: bool,
}

impl Accumulator {
    /// `n` new items at `now`: the first of a fresh backlog is due `flush_ms` later.
    pub fn add(&mut self, n: u64, now: u64, flush_ms: u64) {
        if n == 0 {
            return;
        }
        if self.pending == 0 {
            self.due_at = Some(now + flush_ms);
        }
        self.pending += n;
    }

    /// Whether a chunk of `len` items goes now: full, forced, or its oldest is due.
    pub fn chunk_due(&self, len: usize, batch_size: usize, now: u64) -> bool {
        self.force || len >= batch_size || self.due_at.is_some_and(|d| now >= d)
    }

    /// `n` items settled (sent, refused or given up).
    pub fn remove(&mut self, n: u64) {
        self.pending = self.pending.saturating_sub(n);
        if self.pending == 0 {
            self.due_at = None;
        }
    }

    /// The one "due" rule: when the alarm should fire next, or `None` when nothing waits.
    /// A full batch or a forced flush is due now, a partial one when its oldest item has
    /// waited `flush_ms`; never earlier than `not_before`.
    pub fn next_alarm(&self, now: u64, batch_size: usize, flush_ms: u64) -> Option<u64> {
        if self.pending == 0 {
            return None;
        }
        let due = if self.force || self.pending >= batch_size as u64 {
            now
        } else {
            self.due_at.unwrap_or(now + flush_ms)
        };
        Some(due.max(self.not_before).max(now))
    }

    /// Whether a request may go to Amazon at `now`.
    pub fn may_send(&self, now: u64) -> bool {
        now >= self.not_before
    }

    /// Whether a batch of `len` items whose oldest arrived at `oldest_at` goes now.
    pub fn batch_due(
        &self,
        len: usize,
        oldest_at: u64,
        now: u64,
        batch_size: usize,
        flush_ms: u64,
    ) -> bool {
        self.force || len >= batch_size || now >= oldest_at + flush_ms
    }

    /// Nothing goes to Amazon before `at` (a later hold wins over an earlier one).
    pub fn hold_until(&mut self, at: u64) {
        self.not_before = self.not_before.max(at);
    }
}

impl Queue {
    /// Whether `n` more events fit under the backlog cap.
    ///
    /// # Errors
    /// [`BacklogFull`] with a Retry-After for the caller.
    pub fn admit(&self, n: u64, now: u64, limits: &Limits) -> Result<(), BacklogFull> {
        if self.acc.pending.saturating_add(n) <= limits.max_backlog {
            return Ok(());
        }
        let wait_ms = self.acc.not_before.saturating_sub(now).max(60_000);
        Err(BacklogFull {
            retry_after_secs: wait_ms.div_ceil(1000),
        })
    }

    /// Takes `n` events at `now`: the sequence numbers of their storage keys.
    pub fn enqueue(&mut self, n: u64, now: u64, limits: &Limits) -> std::ops::Range<u64> {
        let first = self.seq + 1;
        self.seq += n;
        self.acc.add(n, now, limits.flush_ms);
        self.counters.accepted += n;
        first..self.seq + 1
    }

    /// Dead letters accepted again: counted as accepted and as replayed.
    pub fn replayed(&mut self, n: u64) {
        self.counters.replayed += n;
    }

    /// What the window of accepted ids said of a request: `repeats` answered as accepted
    /// without being queued, `unchecked` queued without its vouching.
    pub fn deduped(&mut self, repeats: u64, unchecked: u64) {
        self.counters.repeats += repeats;
        self.counters.unchecked += unchecked;
    }

    /// `/v1/flush`: partial batches go on the next run (which still waits for `not_before`).
    pub fn flush(&mut self) {
        self.acc.force = true;
    }

    /// When the alarm should fire next ([`Accumulator::next_alarm`]).
    pub fn next_alarm(&self, now: u64, limits: &Limits) -> Option<u64> {
        self.acc.next_alarm(now, limits.batch_size, limits.flush_ms)
    }

    /// Whether the alarm at `now` may send: not before a stored retry time.
    pub fn may_send(&self, now: u64) -> bool {
        self.acc.may_send(now)
    }

    /// Whether a batch of `len` events whose oldest was enqueued at `oldest_at` goes now.
    pub fn batch_due(&self, len: usize, oldest_at: u64, now: u64, limits: &Limits) -> bool {
        self.acc
            .batch_due(len, oldest_at, now, limits.batch_size, limits.flush_ms)
    }

    /// The run ended with events left that are not yet due: the oldest waits until
    /// `oldest_at + flush_ms`.
    pub fn wait_for(&mut self, oldest_at: u64, limits: &Limits) {
        self.acc.due_at = Some(oldest_at + limits.flush_ms);
    }

    /// The run ended: partial batches are no longer forced.
    pub fn run_done(&mut self) {
        self.acc.force = false;
    }

    /// Events waiting.
    pub fn pending(&self) -> u64 {
        self.acc.pending
    }

    /// No access token: wait, without using the retry budget.
    pub fn token_failed(&mut self, failure: TokenFailure, now: u64, limits: &Limits, jitter: f64) {
        let wait = match failure {
            TokenFailure::Reauthorize => {
                self.reauthorize = true;
                REAUTHORIZE_PAUSE_MS
            }
            TokenFailure::Unavailable => limits.backoff(self.token_failures, jitter),
        };
        self.token_failures = self.token_failures.saturating_add(1);
        self.acc.hold_until(now + wait);
    }

    /// An operator replays (after re-authorizing, say): the pause for re-authorization
    /// ends and what waits goes, but a retry time Amazon asked for still holds.
    pub fn resume(&mut self) {
        if self.reauthorize {
            self.acc.not_before = 0;
            self.reauthorize = false;
        }
        self.token_failures = 0;
        self.acc.force = true;
    }

    /// Amazon's answer to a batch of `len` events, read by `parse` (the configured API's
    /// 207 reader); `refreshed` says whether the token was already refreshed for it.
    #[allow(clippy::too_many_arguments)] // One answer, as it came.
    pub fn answered(
        &mut self,
        len: usize,
        status: u16,
        retry_after: Option<&str>,
        body: &str,
        parse: fn(&str) -> Option<MultiStatus>,
        refreshed: bool,
        now: u64,
        limits: &Limits,
        jitter: f64,
    ) -> Decision {
        self.token_failures = 0;
        self.reauthorize = false;
        match retry::next_with(status, retry_after, body, self.failures, jitter, parse) {
            Next::Delivered(ms) => self.delivered(len, ms, now, limits, jitter),
            Next::Refresh if !refreshed => Decision {
                refresh: true,
                outcome: "retry",
                code: Some("UNAUTHORIZED".into()),
                ..Decision::default()
            },
            Next::Refresh => {
                let after = limits.backoff(self.failures, jitter);
                self.failed(len, "UNAUTHORIZED".into(), after, now, limits)
            }
            Next::Retry { after_ms, code } => {
                // Amazon's Retry-After as given; otherwise our own backoff.
                let after = if status == 429 && retry_after.is_some() {
                    after_ms
                } else {
                    limits.backoff(self.failures, jitter)
                };
                self.failed(len, code, after, now, limits)
            }
            Next::Fail { code } => {
                // Amazon refused the whole request: no retry can change that.
                let dead: Vec<usize> = (0..len).collect();
                self.settle(0, 0, dead.len());
                Decision {
                    dead,
                    code: Some(code),
                    outcome: "dead_lettered",
                    ..Decision::default()
                }
            }
        }
    }

    fn delivered(
        &mut self,
        len: usize,
        ms: MultiStatus,
        now: u64,
        limits: &Limits,
        jitter: f64,
    ) -> Decision {
        let mut answered = vec![false; len];
        let delivered: Vec<usize> = ms
            .success
            .into_iter()
            .filter(|&i| i < len && !std::mem::replace(&mut answered[i], true))
            .collect();
        let mut rejected = Vec::new();
        let mut transient = 0;
        for error in ms.errors {
            if error.index >= len || answered[error.index] {
                continue;
            }
            if TRANSIENT_EVENT_CODES.contains(&error.code.as_str()) {
                transient += 1;
                continue;
            }
            answered[error.index] = true;
            rejected.push(error);
        }
        // Indexes the answer does not account for, and passing per-event errors, stay
        // pending and go again.
        let left: Vec<usize> = (0..len).filter(|&i| !answered[i]).collect();
        self.settle(delivered.len(), rejected.len(), 0);
        if left.is_empty() {
            self.failing_since = None;
            self.failures = 0;
            return Decision {
                delivered,
                rejected,
                outcome: "delivered",
                ..Decision::default()
            };
        }
        let code = if transient > 0 {
            "TRANSIENT_EVENT_ERRORS"
        } else {
            "UNACCOUNTED_EVENTS"
        };
        let after = limits.backoff(self.failures, jitter);
        let mut decision = self.failed(left.len(), code.into(), after, now, limits);
        if !decision.dead.is_empty() {
            decision.dead = left;
        }
        decision.delivered = delivered;
        decision.rejected = rejected;
        decision
    }

    /// A passing failure of `len` events: wait and try again, unless delivery has been
    /// failing for longer than the budget, then dead-letter them.
    fn failed(
        &mut self,
        len: usize,
        code: String,
        after_ms: u64,
        now: u64,
        limits: &Limits,
    ) -> Decision {
        let since = *self.failing_since.get_or_insert(now);
        self.failures = self.failures.saturating_add(1);
        if now.saturating_sub(since) >= limits.retry_budget_ms {
            self.settle(0, 0, len);
            self.failing_since = None;
            self.failures = 0;
            return Decision {
                dead: (0..len).collect(),
                code: Some(code),
                outcome: "dead_lettered",
                ..Decision::default()
            };
        }
        self.acc.hold_until(now + after_ms);
        Decision {
            code: Some(code),
            outcome: "retry",
            stop: true,
            ..Decision::default()
        }
    }

    /// A batch of `len` events that must not be sent (its integration now points to
    /// another account: `crate::target`): every one is dead-lettered with `code`, at once.
    pub fn refuse(&mut self, len: usize, code: &str) -> Decision {
        let dead: Vec<usize> = (0..len).collect();
        self.settle(0, 0, len);
        Decision {
            dead,
            code: Some(code.to_owned()),
            outcome: "dead_lettered",
            ..Decision::default()
        }
    }

    fn settle(&mut self, delivered: usize, rejected: usize, dead: usize) {
        self.acc.remove((delivered + rejected + dead) as u64);
        self.counters.delivered += delivered as u64;
        self.counters.rejected += rejected as u64;
        self.counters.dead_lettered += dead as u64;
    }

    /// accepted = delivered + rejected + dead-lettered + pending.
    pub fn balanced(&self) -> bool {
        let c = &self.counters;
        c.accepted == c.delivered + c.rejected + c.dead_lettered + self.acc.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchkey::amazon::events::parse_multi_status;

    const LIMITS: Limits = Limits {
        batch_size: 500,
        flush_ms: 60_000,
        retry_budget_ms: 6 * 3_600_000,
        max_backlog: 10_000,
        backoff_unit_ms: 1000,
    };
    const HOUR: u64 = 3_600_000;

    fn answer(
        q: &mut Queue,
        len: usize,
        status: u16,
        ra: Option<&str>,
        body: &str,
        now: u64,
    ) -> Decision {
        q.answered(
            len,
            status,
            ra,
            body,
            parse_multi_status,
            false,
            now,
            &LIMITS,
            0.5,
        )
    }

    fn ok_body(n: usize) -> String {
        let success: Vec<String> = (0..n).map(|i| format!(r#"{{"index":{i}}}"#)).collect();
        format!(r#"{{"success":[{}],"error":[]}}"#, success.join(","))
    }

    #[test]
    fn a_partial_batch_waits_for_its_oldest_event_and_a_full_one_goes_at_once() {
        let mut q = Queue::default();
        q.enqueue(1, 1_000, &LIMITS);
        assert_eq!(q.next_alarm(1_000, &LIMITS), Some(61_000));
        q.enqueue(10, 30_000, &LIMITS);
        assert_eq!(q.next_alarm(30_000, &LIMITS), Some(61_000));
        q.enqueue(489, 40_000, &LIMITS);
        assert_eq!(q.next_alarm(40_000, &LIMITS), Some(40_000));
        assert!(q.balanced());
    }

    #[test]
    fn a_refused_batch_is_dead_lettered_whole_and_the_accounting_balances() {
        let mut q = Queue::default();
        q.enqueue(3, 1_000, &LIMITS);
        let d = q.refuse(3, "target_changed");
        assert_eq!(d.dead, vec![0, 1, 2]);
        assert_eq!(d.code.as_deref(), Some("target_changed"));
        assert_eq!(d.outcome, "dead_lettered");
        assert!(d.delivered.is_empty() && !d.refresh);
        assert_eq!((q.pending(), q.counters.dead_lettered), (0, 3));
        assert!(q.balanced());
    }

    #[test]
    fn nothing_moves_the_alarm_before_a_retry_after_not_even_a_flush() {
        let mut q = Queue::default();
        q.enqueue(500, 0, &LIMITS);
        let d = answer(&mut q, 500, 429, Some("3600"), "{}", 0);
        assert!(d.stop && d.dead.is_empty() && d.outcome == "retry");
        assert_eq!(q.acc.not_before, HOUR);
        q.enqueue(500, 1_000, &LIMITS);
        assert_eq!(q.next_alarm(1_000, &LIMITS), Some(HOUR));
        q.flush();
        assert_eq!(q.next_alarm(2_000, &LIMITS), Some(HOUR));
        assert!(!q.may_send(HOUR - 1) && q.may_send(HOUR));
        assert!(q.balanced());
    }

    #[test]
    fn a_long_outage_keeps_everything_until_the_budget_and_success_resets_it() {
        let mut q = Queue::default();
        q.enqueue(3, 0, &LIMITS);
        let mut now = 0;
        // Forty 5xx answers in a row, each sent when allowed: far more than the old six
        // attempts, and still inside the 6-hour budget (backoff is capped at 5 minutes).
        for _ in 0..40 {
            now = now.max(q.acc.not_before);
            let d = answer(&mut q, 3, 503, None, "{}", now);
            assert!(d.dead.is_empty() && d.stop);
            assert_eq!(q.acc.pending, 3);
            assert!(q.balanced());
        }
        assert!(now < LIMITS.retry_budget_ms);
        let later = q.acc.not_before;
        let d = answer(&mut q, 3, 200, None, &ok_body(3), later);
        assert_eq!(d.delivered, [0, 1, 2]);
        assert_eq!((q.failing_since, q.failures), (None, 0));
        assert!(q.balanced());

        // The same outage lasting past the budget: the batch is dead-lettered, once.
        let mut q = Queue::default();
        q.enqueue(3, 0, &LIMITS);
        answer(&mut q, 3, 503, None, "{}", 0);
        let d = answer(&mut q, 3, 503, None, "{}", LIMITS.retry_budget_ms - 1);
        assert!(d.dead.is_empty());
        let d = answer(&mut q, 3, 503, None, "{}", LIMITS.retry_budget_ms);
        assert_eq!(d.dead, [0, 1, 2]);
        assert_eq!(d.outcome, "dead_lettered");
        assert_eq!((q.acc.pending, q.counters.dead_lettered), (0, 3));
        assert!(q.balanced());
    }

    #[test]
    fn token_failures_wait_without_using_the_budget() {
        let mut q = Queue::default();
        q.enqueue(1, 0, &LIMITS);
        q.token_failed(TokenFailure::Unavailable, 0, &LIMITS, 0.5);
        assert_eq!(q.failing_since, None);
        assert!(q.acc.not_before > 0);
        q.token_failed(TokenFailure::Reauthorize, 10, &LIMITS, 0.5);
        assert_eq!(q.acc.not_before, 10 + REAUTHORIZE_PAUSE_MS);
        assert_eq!(q.next_alarm(20, &LIMITS), Some(10 + REAUTHORIZE_PAUSE_MS));
        q.resume();
        assert_eq!(q.acc.not_before, 0);
        assert_eq!(q.acc.pending, 1);
        // A replay does not override Amazon's Retry-After.
        answer(&mut q, 1, 429, Some("120"), "{}", 0);
        q.resume();
        assert_eq!(q.acc.not_before, 120_000);
    }

    #[test]
    fn a_207_keeps_what_it_does_not_account_for_and_transient_errors() {
        let mut q = Queue::default();
        q.enqueue(5, 0, &LIMITS);
        let body = r#"{"success":[{"index":0},{"index":1}],"error":[
            {"index":2,"errors":[{"code":"FIELD_VALUE_IS_INVALID","fieldLocation":"value"}]},
            {"index":3,"errors":[{"code":"INTERNAL_ERROR"}]}]}"#;
        let d = answer(&mut q, 5, 207, None, body, 0);
        assert_eq!(d.delivered, [0, 1]);
        assert_eq!(d.rejected.len(), 1);
        assert_eq!(d.rejected[0].index, 2);
        assert!(d.dead.is_empty() && d.stop);
        assert_eq!(d.code.as_deref(), Some("TRANSIENT_EVENT_ERRORS"));
        assert_eq!(
            q.acc.pending, 2,
            "indexes 3 (transient) and 4 (missing) stay"
        );
        assert_eq!(q.counters.delivered, 2);
        assert_eq!(q.counters.rejected, 1);
        assert!(q.balanced());
        // Duplicated or out-of-range indexes count once.
        let mut q = Queue::default();
        q.enqueue(2, 0, &LIMITS);
        let d = answer(
            &mut q,
            2,
            207,
            None,
            r#"{"success":[{"index":0},{"index":0},{"index":9}],"error":[]}"#,
            0,
        );
        assert_eq!(d.delivered, [0]);
        assert_eq!(q.acc.pending, 1);
        assert!(q.balanced());
    }

    #[test]
    fn a_401_refreshes_once_then_backs_off_and_other_4xx_dead_letter() {
        let mut q = Queue::default();
        q.enqueue(2, 0, &LIMITS);
        let d = answer(&mut q, 2, 401, None, "{}", 0);
        assert!(d.refresh && !d.stop);
        let d = q.answered(
            2,
            401,
            None,
            "{}",
            parse_multi_status,
            true,
            0,
            &LIMITS,
            0.5,
        );
        assert!(d.stop && !d.refresh && d.dead.is_empty());
        let later = q.acc.not_before;
        let d = answer(&mut q, 2, 400, None, r#"{"code":"BAD_REQUEST"}"#, later);
        assert_eq!(d.dead, [0, 1]);
        assert_eq!(d.code.as_deref(), Some("BAD_REQUEST"));
        assert!(q.balanced() && q.acc.pending == 0);
    }

    #[test]
    fn the_backlog_is_capped() {
        let mut q = Queue::default();
        q.enqueue(9_999, 0, &LIMITS);
        assert!(q.admit(1, 0, &LIMITS).is_ok());
        let full = q.admit(2, 0, &LIMITS).unwrap_err();
        assert_eq!(full.retry_after_secs, 60);
        q.acc.not_before = 600_000;
        assert_eq!(q.admit(2, 0, &LIMITS).unwrap_err().retry_after_secs, 600);
    }

    #[test]
    fn repeats_are_counted_beside_the_balance_and_older_counters_read() {
        let mut q = Queue::default();
        q.enqueue(3, 0, &LIMITS);
        q.deduped(2, 1);
        assert_eq!(
            (
                q.counters.accepted,
                q.counters.repeats,
                q.counters.unchecked
            ),
            (3, 2, 1)
        );
        assert!(q.balanced());
        // A queue stored before the window existed has neither counter.
        let old = r#"{"seq":1,"pending":1,"dueAt":null,"notBefore":0,"force":false,"failingSince":null,"failures":0,"tokenFailures":0,"reauthorize":false,"counters":{"accepted":1,"delivered":0,"rejected":0,"deadLettered":0,"replayed":0}}"#;
        let q: Queue = serde_json::from_str(old).unwrap();
        assert_eq!((q.counters.repeats, q.counters.unchecked), (0, 0));
        assert!(q.balanced());
    }
}
