//! Sharding an integration's queue over several `Batcher` objects, as pure decisions.
//!
//! One Durable Object handles roughly a thousand requests a second; a shop sending ten
//! thousand single-event requests a second needs more. With `SHARDS=N` (or `auto`) an
//! integration's events are spread by event id over N objects:
//! `shard = fnv1a64(eventId) mod N`. Shard 0 keeps the object name of the unsharded queue
//! (nothing is orphaned when sharding is switched on), shard K > 0 is `…:shard:K`.
//!
//! N changes only at epoch boundaries: an [`Epochs`] record says from when which N holds,
//! and an epoch is always announced at least [`LEAD_MS`] ahead, longer than any Worker
//! isolate caches the record ([`CACHE_MS`]), so every isolate routes an event id of one
//! epoch to the same shard. Under `auto`, the stated observer is shard 0: over
//! [`WINDOW_MS`] it counts its own events (times the current N: the hash spreads ids
//! evenly) and its enqueue requests, each weighed by the size of the request it came
//! from ([`Observer::record`]), which gives the requests each shard would receive for any
//! N ([`Traffic`]). It then [`decide`]s the next N: the fewest shards that bring each under
//! [`TARGET_REQUESTS_PER_SHARD`], but never so many that a shard would no longer fill a
//! 500-event batch inside the flush window (which keeps Amazon requests at 2 per 1,000
//! events). Each shard then batches and delivers on its own, exactly as one object did.
//!
//! Why requests are weighed by the size of the request they came from: a request of `e`
//! events reaches a given one of `n` shards with chance `1 − (1 − 1/n)^e`, so a single
//! event loads one shard in `n` and a 500-event body nearly all of them, whatever their
//! number. From what shard 0 saw, that estimates the requests each shard would get for
//! every `n` (counting shard 0's requests times N instead overestimated large bodies
//! N-fold and added shards that did not help). When no N brings each shard under the
//! target (large bodies reach every shard), the fewest within a tenth of the best is
//! taken. N shrinks only once half would do, weighed against the last N announced (in
//! force or still waiting), so windows jittering around a boundary do not announce 3, 4,
//! 3, 4… The simulation `cargo run --release -p matchkey-worker --example shard_sim --
//! --seconds 600` drives these functions through a simulated load; its results, from 10
//! to 10,000 events a second, are in `docs/performance.md` ("Sharding, simulated").
//!
//! These times and the target are the defaults of a [`Tuning`]: `SHARD_TIMING_SCALE`
//! divides the four times alike (so their ratios, on which the rule above rests, hold)
//! and `SHARD_TARGET_REQUESTS` sets the target, for tests that must see an epoch change
//! in seconds rather than minutes, and for tuning.

use serde::{Deserialize, Serialize};

/// Most shards per integration.
pub const MAX_SHARDS: u32 = 64;
/// Enqueue requests a second a shard is sized for (a quarter of a Durable Object's
/// roughly 1,000 a second: headroom for delivery, bursts and a slow isolate).
pub const TARGET_REQUESTS_PER_SHARD: u32 = 250;
/// The observer's window.
pub const WINDOW_MS: u64 = 10_000;
/// A new epoch starts at least this long after it is decided.
pub const LEAD_MS: u64 = 45_000;
/// Epochs start on multiples of this.
pub const GRID_MS: u64 = 15_000;
/// How long a Worker isolate may use its copy of the epoch record (< [`LEAD_MS`]).
pub const CACHE_MS: u64 = 30_000;
// An isolate's copy of the record is never older than the lead of an announced epoch.
const _: () = assert!(LEAD_MS > CACHE_MS && GRID_MS <= LEAD_MS);

/// Most that `SHARD_TIMING_SCALE` may divide the times by: at 30 an isolate still keeps
/// its copy of the record for a second (shard 0 answers each isolate at most once a
/// second) and an epoch is announced 1.5 s ahead.
pub const MAX_TIMING_SCALE: u64 = 30;
/// Most requests a second `SHARD_TARGET_REQUESTS` may size a shard for (about what one
/// Durable Object takes at all).
pub const MAX_TARGET_REQUESTS: u32 = 1_000;

/// The observer's window, the epochs' lead and grid, how long an isolate keeps the
/// record, and the requests a second a shard is sized for. The default is the constants
/// above; [`Tuning::parse`] reads the two settings that change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// The observer's window ([`WINDOW_MS`]).
    pub window_ms: u64,
    /// A new epoch starts at least this long after it is decided ([`LEAD_MS`]).
    pub lead_ms: u64,
    /// Epochs start on multiples of this ([`GRID_MS`]).
    pub grid_ms: u64,
    /// How long an isolate may use its copy of the record ([`CACHE_MS`]).
    pub cache_ms: u64,
    /// Enqueue requests a second a shard is sized for ([`TARGET_REQUESTS_PER_SHARD`]).
    pub target_requests_per_shard: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            window_ms: WINDOW_MS,
            lead_ms: LEAD_MS,
            grid_ms: GRID_MS,
            cache_ms: CACHE_MS,
            target_requests_per_shard: TARGET_REQUESTS_PER_SHARD,
        }
    }
}

impl Tuning {
    /// Reads `SHARD_TIMING_SCALE` (a whole number from 1, the default, to
    /// [`MAX_TIMING_SCALE`]: the window, lead, grid and cache are the defaults divided by
    /// it) and `SHARD_TARGET_REQUESTS` (1 to [`MAX_TARGET_REQUESTS`], default
    /// [`TARGET_REQUESTS_PER_SHARD`]).
    ///
    /// # Errors
    /// A message naming the setting.
    pub fn parse(scale: Option<&str>, target: Option<&str>) -> Result<Self, String> {
        fn whole(value: Option<&str>, max: u64, message: &str) -> Result<Option<u64>, String> {
            match value.map(str::trim) {
                None | Some("") => Ok(None),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(message.to_owned()),
                },
            }
        }
        let scale = whole(
            scale,
            MAX_TIMING_SCALE,
            &format!("SHARD_TIMING_SCALE must be a whole number from 1 to {MAX_TIMING_SCALE}"),
        )?
        .unwrap_or(1);
        let target = whole(
            target,
            u64::from(MAX_TARGET_REQUESTS),
            &format!(
                "SHARD_TARGET_REQUESTS must be a whole number from 1 to {MAX_TARGET_REQUESTS}"
            ),
        )?
        .map_or(TARGET_REQUESTS_PER_SHARD, |t| t as u32);
        Tuning {
            window_ms: WINDOW_MS / scale,
            lead_ms: LEAD_MS / scale,
            grid_ms: GRID_MS / scale,
            cache_ms: CACHE_MS / scale,
            target_requests_per_shard: target,
        }
        .checked()
    }

    /// The rules the epochs rest on: an isolate's copy of the record expires before an
    /// announced epoch starts (cache < lead), rounding up to the grid adds at most one
    /// lead (grid ≤ lead), and no time is zero.
    ///
    /// # Errors
    /// Which rule a tuning breaks, naming `SHARD_TIMING_SCALE`.
    pub fn checked(self) -> Result<Self, String> {
        if self.window_ms == 0 || self.grid_ms == 0 || self.cache_ms == 0 {
            return Err("SHARD_TIMING_SCALE leaves a shard time at zero".into());
        }
        if self.cache_ms >= self.lead_ms {
            return Err(
                "SHARD_TIMING_SCALE: the epoch record's cache must be shorter than the lead".into(),
            );
        }
        if self.grid_ms > self.lead_ms {
            return Err("SHARD_TIMING_SCALE: the epoch grid must not exceed the lead".into());
        }
        if self.target_requests_per_shard == 0 {
            return Err("SHARD_TARGET_REQUESTS must be at least 1".into());
        }
        Ok(self)
    }
}

/// Epochs kept in the record (the oldest still name shards that may hold events).
pub const KEEP_EPOCHS: usize = 16;

/// The `SHARDS` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shards {
    /// A fixed number of shards (1, the default, is one object per integration).
    Fixed(u32),
    /// Shard 0 observes the rate and decides each epoch's number.
    Auto,
}

impl Default for Shards {
    fn default() -> Self {
        Shards::Fixed(1)
    }
}

impl Shards {
    /// Reads `SHARDS`: `auto`, or a whole number from 1 to [`MAX_SHARDS`]; absent is 1.
    ///
    /// # Errors
    /// A message naming the setting.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("") => Ok(Shards::Fixed(1)),
            Some(v) if v.eq_ignore_ascii_case("auto") => Ok(Shards::Auto),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=MAX_SHARDS).contains(&n) => Ok(Shards::Fixed(n)),
                _ => Err(format!("SHARDS must be auto or 1 to {MAX_SHARDS}")),
            },
        }
    }
}

/// FNV-1a, 64 bits: stable across versions and platforms (never `std`'s hasher).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The shard of an event id among `n`.
pub fn shard_of(event_id: &str, n: u32) -> u32 {
    (fnv1a64(event_id.as_bytes()) % u64::from(n.max(1))) as u32
}

/// One epoch: from `from_ms` on (until the next one), `n` shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Epoch {
    /// When it starts (ms since the Unix epoch).
    pub from_ms: u64,
    /// Shards during it.
    pub n: u32,
}

/// The epoch record, kept by shard 0 and cached by Worker isolates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epochs {
    /// In order of `from_ms`; the first starts at 0.
    pub epochs: Vec<Epoch>,
    /// The most shards of the epochs no longer kept (their shards may still hold events).
    #[serde(default)]
    pub widest_dropped: u32,
}

impl Default for Epochs {
    fn default() -> Self {
        Epochs::fixed(1)
    }
}

impl Epochs {
    /// One epoch of `n` shards, forever.
    pub fn fixed(n: u32) -> Self {
        Epochs {
            epochs: vec![Epoch {
                from_ms: 0,
                n: n.clamp(1, MAX_SHARDS),
            }],
            widest_dropped: 0,
        }
    }

    /// The shards at time `t`.
    pub fn n_at(&self, t: u64) -> u32 {
        self.epochs
            .iter()
            .rev()
            .find(|e| e.from_ms <= t)
            .or(self.epochs.first())
            .map_or(1, |e| e.n)
    }

    /// The most shards any kept epoch used: the shards that may hold events, which the
    /// admin routes read and flush.
    pub fn max_n(&self) -> u32 {
        self.epochs
            .iter()
            .map(|e| e.n)
            .max()
            .unwrap_or(1)
            .max(self.widest_dropped)
    }

    /// Records that `n` shards hold from `from_ms` on (replacing any epoch announced for
    /// that time or later). Returns whether the record changed.
    pub fn announce(&mut self, from_ms: u64, n: u32) -> bool {
        let last = self.epochs.last().copied();
        if last.is_some_and(|l| l.n == n) {
            return false;
        }
        self.epochs.retain(|e| e.from_ms < from_ms);
        if self.epochs.last().is_some_and(|l| l.n == n) {
            return true;
        }
        self.epochs.push(Epoch { from_ms, n });
        // Forget the oldest (long past), but remember how many shards it used so that
        // they stay visible; no kept epoch's N changes.
        while self.epochs.len() > KEEP_EPOCHS {
            let dropped = self.epochs.remove(0);
            self.widest_dropped = self.widest_dropped.max(dropped.n);
            if let Some(first) = self.epochs.first_mut() {
                first.from_ms = 0;
            }
        }
        true
    }
}

/// When an epoch decided at `now` may start: at least the lead later, on the grid.
pub fn next_epoch_start(now: u64, tuning: &Tuning) -> u64 {
    (now + tuning.lead_ms).div_ceil(tuning.grid_ms) * tuning.grid_ms
}

/// What shard 0 estimates of the integration's traffic over a window: events a second,
/// and the enqueue requests a second each shard would receive with any number of shards.
///
/// A request's events are split by id, so a request of `e` events reaches a given one of
/// `n` shards with probability `1 - (1 - 1/n)^e`: a single event one shard in `n`, a
/// 500-event body nearly every shard. More shards relieve each one of single events, not
/// of large bodies; counting shard 0's requests times N (as if every request were one
/// event) overestimated the load of large bodies N times and added shards that did not help.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    /// Events a second, all shards together.
    pub events_per_s: f64,
    /// Index `n - 1`: requests a second each of `n` shards would receive.
    per_shard: [f64; MAX_SHARDS as usize],
}

/// The chance that a request of `events` events reaches a given one of `n` shards.
fn reach(n: u32, events: u64) -> f64 {
    let miss = 1.0 - 1.0 / f64::from(n.max(1));
    1.0 - miss.powi(i32::try_from(events.max(1)).unwrap_or(i32::MAX))
}

impl Traffic {
    /// `requests_per_s` requests of `events_per_request` events each (the simulation's
    /// and the tests' traffic).
    pub fn uniform(requests_per_s: f64, events_per_request: u64) -> Self {
        let mut per_shard = [0.0; MAX_SHARDS as usize];
        for (i, load) in per_shard.iter_mut().enumerate() {
            *load = requests_per_s * reach(i as u32 + 1, events_per_request);
        }
        Traffic {
            events_per_s: requests_per_s * events_per_request as f64,
            per_shard,
        }
    }

    /// Enqueue requests a second each of `n` shards would receive (1 to [`MAX_SHARDS`]).
    pub fn per_shard(&self, n: u32) -> f64 {
        self.per_shard[(n.clamp(1, MAX_SHARDS) - 1) as usize]
    }
}

/// The shards wanted for `traffic` with a flush window of `flush_ms`, given `current`
/// shards: the fewest that bring each one's requests under `target` a second
/// ([`TARGET_REQUESTS_PER_SHARD`] by default), or, when no number does (large bodies
/// reach every shard whatever their number), the fewest within a tenth of the best; at
/// most as many as still fill a 500-event batch well inside the window (a fifth to
/// spare); and fewer only once half as many would do (no flapping around a boundary).
pub fn decide(
    traffic: &Traffic,
    flush_ms: u64,
    batch_size: usize,
    current: u32,
    target: u32,
) -> u32 {
    let full_batches =
        (traffic.events_per_s * flush_ms as f64 / 1000.0 / (batch_size as f64 * 1.2)).floor();
    let cap = full_batches.clamp(1.0, f64::from(MAX_SHARDS)) as u32;
    let target = f64::from(target.max(1));
    // A hair over the target is rounding (1 - (1 - 1/n) is not exactly 1/n).
    let target = target * (1.0 + 1e-9);
    let want = (1..=cap)
        .find(|&n| traffic.per_shard(n) <= target)
        .unwrap_or_else(|| {
            let best = traffic.per_shard(cap) * 1.1;
            (1..=cap)
                .find(|&n| traffic.per_shard(n) <= best)
                .unwrap_or(cap)
        });
    if want >= current || want * 2 <= current {
        want.max(1)
    } else {
        current
    }
}

/// Shard 0's view of the traffic: its own enqueue requests and events in the current
/// window (of [`Tuning::window_ms`]), all under one N (a window that would span an epoch
/// boundary starts again: its share of the traffic changed). Each request counts with the
/// size of the whole request it came from, so the load any N would give can be estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observer {
    window_start: u64,
    n: u32,
    events: u64,
    /// Index `n - 1`: the requests each of `n` shards would have received so far.
    per_shard: [f64; MAX_SHARDS as usize],
}

impl Default for Observer {
    fn default() -> Self {
        Observer {
            window_start: 0,
            n: 0,
            events: 0,
            per_shard: [0.0; MAX_SHARDS as usize],
        }
    }
}

impl Observer {
    /// One enqueue of `events` at `now`, part of a request of `of` events (split over
    /// the shards), when `n` shards are in force. Returns the estimated traffic of the
    /// integration over the window that just closed, when one did.
    ///
    /// Each shard gets an event with chance 1/n, so shard 0's events times `n` estimate
    /// all events; shard 0 sees a request of `of` events with chance `reach(n, of)`, so
    /// each one it sees stands for `1 / reach(n, of)` requests, each of which would reach
    /// a given one of `m` shards with chance `reach(m, of)`.
    pub fn record(
        &mut self,
        events: u64,
        of: u64,
        now: u64,
        n: u32,
        window_ms: u64,
    ) -> Option<Traffic> {
        // A new N starts a new window (shard 0's share of the traffic changed), and so
        // does a window's end, which closes it.
        let fresh = self.window_start == 0 || self.n != n;
        let ended = !fresh && now >= self.window_start + window_ms;
        let closed = ended.then(|| {
            let secs = (now - self.window_start) as f64 / 1000.0;
            let mut per_shard = self.per_shard;
            per_shard.iter_mut().for_each(|load| *load /= secs);
            Traffic {
                events_per_s: self.events as f64 / secs * f64::from(n.max(1)),
                per_shard,
            }
        });
        if fresh || ended {
            *self = Observer {
                window_start: now,
                n,
                ..Observer::default()
            };
        }
        let of = of.max(events).max(1);
        let stands_for = 1.0 / reach(n, of);
        for (i, load) in self.per_shard.iter_mut().enumerate() {
            *load += stands_for * reach(i as u32 + 1, of);
        }
        self.events += events;
        closed
    }
}

/// What shard 0 does with a closed window under `auto`: from the estimated traffic it
/// decides N and announces it for the next grid boundary at least the lead ahead and
/// after every epoch already announced (an announced epoch is never replaced: an isolate
/// may already route by it). Returns whether the record changed.
///
/// The N it weighs against is the last one announced, in force or not yet: while an
/// epoch waits for its start, a window a little above or below its N (the rate a hash
/// share gives shard 0 varies) leaves it alone, and fewer shards still need half to do.
/// Weighing against the N in force instead let such windows announce 3, 4, 3, 4… one
/// grid step apart, each a change of routing.
pub fn observe(
    epochs: &mut Epochs,
    traffic: Traffic,
    now: u64,
    flush_ms: u64,
    batch_size: usize,
    tuning: &Tuning,
) -> bool {
    let last = epochs.epochs.last().copied();
    let announced = last.map_or(1, |e| e.n);
    let next = decide(
        &traffic,
        flush_ms,
        batch_size,
        announced,
        tuning.target_requests_per_shard,
    );
    if next == announced {
        return false;
    }
    let after_last = last.map_or(0, |e| e.from_ms + tuning.grid_ms);
    epochs.announce(next_epoch_start(now, tuning).max(after_last), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting() {
        assert_eq!(Shards::parse(None), Ok(Shards::Fixed(1)));
        assert_eq!(Shards::parse(Some("8")), Ok(Shards::Fixed(8)));
        assert_eq!(Shards::parse(Some("AUTO")), Ok(Shards::Auto));
        assert!(Shards::parse(Some("0")).is_err());
        assert!(Shards::parse(Some("65")).is_err());
        assert!(Shards::parse(Some("many")).is_err());
    }

    #[test]
    fn the_tuning_defaults_to_the_constants_and_scales_every_time_alike() {
        let d = Tuning::parse(None, None).unwrap();
        assert_eq!(d, Tuning::default());
        assert_eq!(
            (d.window_ms, d.lead_ms, d.grid_ms, d.cache_ms),
            (WINDOW_MS, LEAD_MS, GRID_MS, CACHE_MS)
        );
        assert_eq!(d.target_requests_per_shard, 250);
        assert_eq!(Tuning::parse(Some(" "), Some("")), Ok(d));
        let t = Tuning::parse(Some("10"), Some("8")).unwrap();
        assert_eq!(
            (t.window_ms, t.lead_ms, t.grid_ms, t.cache_ms),
            (1_000, 4_500, 1_500, 3_000)
        );
        assert_eq!(t.target_requests_per_shard, 8);
        // Every scale allowed keeps the rules the epochs rest on.
        for scale in 1..=MAX_TIMING_SCALE {
            let t = Tuning::parse(Some(&scale.to_string()), None).unwrap();
            assert!(t.cache_ms < t.lead_ms && t.grid_ms <= t.lead_ms && t.cache_ms >= 1_000);
        }
    }

    #[test]
    fn a_tuning_out_of_bounds_or_breaking_a_rule_is_refused_by_name() {
        for bad in ["0", "31", "-1", "2.5", "fast"] {
            let e = Tuning::parse(Some(bad), None).unwrap_err();
            assert_eq!(
                e, "SHARD_TIMING_SCALE must be a whole number from 1 to 30",
                "{bad}"
            );
        }
        for bad in ["0", "1001", "many"] {
            let e = Tuning::parse(None, Some(bad)).unwrap_err();
            assert_eq!(
                e, "SHARD_TARGET_REQUESTS must be a whole number from 1 to 1000",
                "{bad}"
            );
        }
        let d = Tuning::default();
        let cache_too_long = Tuning {
            cache_ms: d.lead_ms,
            ..d
        };
        assert!(cache_too_long.checked().unwrap_err().contains("cache"));
        let grid_too_wide = Tuning {
            grid_ms: d.lead_ms + 1,
            ..d
        };
        assert!(grid_too_wide.checked().unwrap_err().contains("grid"));
        assert!(Tuning { window_ms: 0, ..d }.checked().is_err());
    }

    #[test]
    fn a_scaled_tuning_announces_on_its_own_grid_and_lead_and_sizes_for_its_target() {
        let t = Tuning::parse(Some("10"), Some("10")).unwrap();
        let now = 1_000_000_123;
        let from = next_epoch_start(now, &t);
        assert!(from >= now + t.lead_ms && from < now + t.lead_ms + t.grid_ms);
        assert!(from.is_multiple_of(t.grid_ms));
        // 25 single-event requests a second: three shards of 10 each.
        assert_eq!(decide(&Traffic::uniform(25.0, 1), 600_000, 500, 1, 10), 3);
        // The observer's window is the tuning's: 25 requests a second over 1 s.
        let mut o = Observer::default();
        let mut e = Epochs::default();
        let mut closed = None;
        for i in 0..=26u64 {
            closed = closed.or(o.record(1, 1, now + i * 40, 1, t.window_ms));
        }
        let totals = closed.unwrap();
        assert!((24.0..26.0).contains(&totals.per_shard(1)), "{totals:?}");
        let at = now + 26 * 40;
        assert!(observe(&mut e, totals, at, 600_000, 500, &t));
        let up = *e.epochs.last().unwrap();
        assert_eq!(up.n, 3);
        assert!(up.from_ms >= at + t.lead_ms && up.from_ms.is_multiple_of(t.grid_ms));
        // Then 2 a second: down to one shard, one grid step after the last epoch at least.
        assert!(observe(
            &mut e,
            Traffic::uniform(2.0, 1),
            at + 1,
            600_000,
            500,
            &t
        ));
        let down = *e.epochs.last().unwrap();
        assert_eq!(down.n, 1);
        assert!(down.from_ms >= up.from_ms + t.grid_ms);
        // The shards that may still hold events stay visible: the widest kept epoch.
        assert_eq!(e.n_at(down.from_ms), 1);
        assert_eq!(e.max_n(), 3);
    }

    #[test]
    fn the_hash_is_stable_and_spreads_ids_evenly() {
        // Fixed vectors: a change of hash would move ids between shards mid-epoch.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(shard_of("anything", 1), 0);
        let mut counts = [0u32; 16];
        for i in 0..160_000 {
            counts[shard_of(&format!("order-{i}"), 16) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn an_epoch_holds_from_its_start_and_is_announced_ahead() {
        let mut e = Epochs::default();
        assert_eq!(e.n_at(123), 1);
        let now = 1_000_000_123;
        let from = next_epoch_start(now, &Tuning::default());
        assert!(from >= now + LEAD_MS && from.is_multiple_of(GRID_MS));
        assert!(e.announce(from, 8));
        assert_eq!(
            (e.n_at(from - 1), e.n_at(from), e.n_at(from + 1)),
            (1, 8, 8)
        );
        assert!(
            !e.announce(from + GRID_MS, 8),
            "the same N again changes nothing"
        );
        // A different N announced later replaces nothing before its own start.
        assert!(e.announce(from + 5 * GRID_MS, 2));
        assert_eq!(e.n_at(from + 4 * GRID_MS), 8);
        assert_eq!(e.n_at(from + 5 * GRID_MS), 2);
        assert_eq!(e.max_n(), 8);
    }

    #[test]
    fn the_record_stays_short_and_keeps_the_widest_shards_visible() {
        let mut e = Epochs::default();
        for i in 0..40u64 {
            e.announce(
                (i + 1) * GRID_MS,
                if i == 3 { 40 } else { 2 + (i % 2) as u32 },
            );
        }
        assert!(e.epochs.len() <= KEEP_EPOCHS);
        assert_eq!(e.max_n(), 40);
        assert_eq!(e.epochs[0].from_ms, 0);
        // The epochs kept, the current one above all, keep their N.
        assert!(e.epochs.iter().all(|x| x.n == 2 || x.n == 3));
        assert_eq!(e.n_at(40 * GRID_MS), 2 + (39 % 2));
    }

    #[test]
    fn decide_sizes_for_load_and_keeps_batches_full() {
        // 10 events/s, one event a request: one shard.
        assert_eq!(decide(&Traffic::uniform(10.0, 1), 60_000, 500, 1, 250), 1);
        assert_eq!(
            decide(&Traffic::uniform(1_000.0, 1), 60_000, 500, 1, 250),
            4
        );
        assert_eq!(
            decide(&Traffic::uniform(10_000.0, 1), 60_000, 500, 1, 250),
            40
        );
        // Servers: 20 requests of 500 a second need one shard.
        assert_eq!(decide(&Traffic::uniform(20.0, 500), 60_000, 500, 1, 250), 1);
        // A short flush window caps N so that each shard still fills its batches.
        assert_eq!(decide(&Traffic::uniform(1_000.0, 1), 1_000, 500, 1, 250), 1);
        // Hysteresis: down only when half would do.
        assert_eq!(decide(&Traffic::uniform(700.0, 1), 60_000, 500, 4, 250), 4);
        assert_eq!(decide(&Traffic::uniform(400.0, 1), 60_000, 500, 4, 250), 2);
        assert_eq!(decide(&Traffic::uniform(0.0, 1), 60_000, 500, 4, 250), 1);
    }

    #[test]
    fn large_bodies_that_reach_every_shard_add_none() {
        // 300 bodies of 500 events a second: every shard would get nearly every body,
        // whatever N, so no N brings a shard under 250 and none is added. (Counting
        // shard 0's requests times N asked for 2, then 3 under 2, and so on up to the cap.)
        for current in [1, 2, 8] {
            assert_eq!(
                decide(&Traffic::uniform(300.0, 500), 600_000, 500, current, 250),
                1
            );
        }
        // 1,000 single events and 20 bodies a second: 1,000/n + 20 under 250 at n = 5.
        let mut o = Observer::default();
        let mut closed = None;
        // Shard 0 under N = 4 sees a quarter of the single events and every body.
        for ms in 0..=10_000u64 {
            if ms % 4 == 0 {
                closed = closed.or(o.record(1, 1, ms + 1, 4, WINDOW_MS));
            }
            if ms % 50 == 0 {
                closed = closed.or(o.record(125, 500, ms + 1, 4, WINDOW_MS));
            }
        }
        let traffic = closed.unwrap();
        assert!(
            (1_000.0..1_040.0).contains(&traffic.per_shard(1)),
            "{traffic:?}"
        );
        assert!(
            (215.0..225.0).contains(&traffic.per_shard(5)),
            "{traffic:?}"
        );
        assert!(
            (10_900.0..11_100.0).contains(&traffic.events_per_s),
            "{traffic:?}"
        );
        assert_eq!(decide(&traffic, 600_000, 500, 4, 250), 5);
    }

    #[test]
    fn a_window_spanning_an_epoch_boundary_is_not_used() {
        let mut o = Observer::default();
        for t in 1..=5_000u64 {
            assert_eq!(o.record(1, 1, t, 1, WINDOW_MS), None);
        }
        // N went from 1 to 4: shard 0 now sees a quarter; the old window is dropped.
        assert_eq!(o.record(1, 1, 5_001, 4, WINDOW_MS), None);
        let mut closed = None;
        for t in 5_002..=30_000u64 {
            if t % 4 == 0 {
                closed = closed.or(o.record(1, 1, t, 4, WINDOW_MS));
            }
        }
        let requests = closed.unwrap().per_shard(1);
        assert!((900.0..1100.0).contains(&requests), "{requests}");
    }

    #[test]
    fn an_announced_epoch_is_never_replaced() {
        let d = Tuning::default();
        let mut e = Epochs::default();
        let now = 1_000_000;
        assert!(observe(
            &mut e,
            Traffic::uniform(1_000.0, 1),
            now,
            60_000,
            500,
            &d
        ));
        let first = *e.epochs.last().unwrap();
        // A second window closes before the first epoch began and wants more shards.
        assert!(observe(
            &mut e,
            Traffic::uniform(4_000.0, 1),
            now + 1,
            60_000,
            500,
            &d
        ));
        let second = *e.epochs.last().unwrap();
        assert_eq!(e.epochs[e.epochs.len() - 2], first);
        assert!(second.from_ms > first.from_ms);
        assert_eq!((first.n, second.n), (4, 16));
    }

    #[test]
    fn a_rate_near_a_pending_epochs_n_does_not_flap() {
        let t = Tuning::parse(Some("10"), Some("10")).unwrap();
        let mut e = Epochs::default();
        let now = 1_000_000;
        // 30 requests a second: 3 shards, announced; N in force is still 1.
        assert!(observe(
            &mut e,
            Traffic::uniform(30.0, 1),
            now,
            600_000,
            500,
            &t
        ));
        let pending = *e.epochs.last().unwrap();
        assert_eq!((e.n_at(now + 1_000), pending.n), (1, 3));
        // The next windows, measured under N = 1, jitter around it: one a little below
        // (2 shards would do) changes nothing; one above goes up.
        assert!(!observe(
            &mut e,
            Traffic::uniform(19.0, 1),
            now + 1_000,
            600_000,
            500,
            &t
        ));
        assert!(!observe(
            &mut e,
            Traffic::uniform(29.0, 1),
            now + 2_000,
            600_000,
            500,
            &t
        ));
        assert_eq!(e.epochs.len(), 2);
        assert!(observe(
            &mut e,
            Traffic::uniform(31.0, 1),
            now + 3_000,
            600_000,
            500,
            &t
        ));
        assert_eq!(e.epochs.last().unwrap().n, 4);
        // Down only once half of the last announced would do.
        assert!(!observe(
            &mut e,
            Traffic::uniform(21.0, 1),
            now + 4_000,
            600_000,
            500,
            &t
        ));
        assert!(observe(
            &mut e,
            Traffic::uniform(20.0, 1),
            now + 5_000,
            600_000,
            500,
            &t
        ));
        assert_eq!(
            e.epochs.iter().map(|x| x.n).collect::<Vec<_>>(),
            [1, 3, 4, 2]
        );
    }

    #[test]
    fn shard_zero_observes_and_announces() {
        let mut e = Epochs::default();
        let mut o = Observer::default();
        let mut now = 10_000;
        let mut announced = false;
        // 2,000 single-event requests a second in all; shard 0 sees all of them at N=1.
        for _ in 0..130_000 {
            now += 1;
            if let Some(totals) = o.record(1, 1, now, e.n_at(now), WINDOW_MS)
                && observe(&mut e, totals, now, 60_000, 500, &Tuning::default())
            {
                announced = true;
            }
            if announced {
                break;
            }
        }
        assert!(announced);
        assert_eq!(e.epochs.last().unwrap().n, 4);
        assert!(e.epochs.last().unwrap().from_ms >= now + LEAD_MS);
        // Nothing changes until then.
        assert_eq!(e.n_at(now), 1);
    }
}
