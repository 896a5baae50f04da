//! Simulates one integration's queue at 10 to 10,000 single-event requests a second,
//! with one object (`SHARDS=1`) and with `SHARDS=auto`, using the Worker's own pure
//! decisions (`matchkey_worker::shard`: the hash, the epochs, shard 0's observer) and
//! the queue's due rule (full batch at once, a partial one after the flush window).
//!
//! Each shard is a Durable Object: one request at a time, each enqueue taking
//! `--object-ms` of its time and each delivery `--deliver-ms`; a request that would
//! wait more than a second behind others is refused (Cloudflare answers "overloaded";
//! the Worker answers 503 and the tag sends again after `--retry-s`). Amazon answers
//! after `--amazon-ms`; a shard sends one batch at a time. The delay of an event is from
//! its first attempt to Amazon's answer. The rate climbs from 0 to its level over
//! `--ramp-s` (a shop's traffic grows over minutes, not in one step; with a step the
//! observer needs an epoch per ×4 and the tag's retries absorb the gap), then holds;
//! delays are of events first sent after `--warmup-s`. Printed: a Markdown table.
//!
//! `cargo run --release -p matchkey-worker --example shard_sim -- [--object-ms 1.0]
//!  [--deliver-ms 5] [--amazon-ms 300] [--flush-s 60] [--seconds 900] [--ramp-s 240]
//!  [--warmup-s 300] [--retry-s 10]`

use std::collections::VecDeque;

use matchkey_worker::shard::{Epochs, Observer, Tuning, WINDOW_MS, observe, shard_of};

const STEP_MS: f64 = 5.0;
const BATCH: usize = 500;
/// Most queued work a Durable Object accepts before answering "overloaded" (ms).
const OVERLOAD_MS: f64 = 1000.0;

#[derive(Clone, Copy)]
struct Params {
    object_ms: f64,
    deliver_ms: f64,
    amazon_ms: f64,
    flush_ms: u64,
    seconds: u64,
    ramp_ms: f64,
    warmup_ms: f64,
    retry_ms: f64,
}

#[derive(Default)]
struct Shard {
    busy_until: f64,
    /// (first attempt, enqueued at) of each waiting event.
    pending: VecDeque<(f64, f64)>,
    in_flight: Option<(f64, Vec<f64>)>,
}

struct Row {
    rate: u64,
    mode: &'static str,
    n_end: u32,
    delivered_per_s: f64,
    requests_per_1000: f64,
    all_requests_per_1000: f64,
    p50_s: f64,
    p99_s: f64,
    refused_pct: f64,
}

fn run(rate: u64, auto: bool, p: Params) -> Row {
    let mut epochs = Epochs::fixed(1);
    let mut observer = Observer::default();
    let mut shards: Vec<Shard> = (0..64).map(|_| Shard::default()).collect();
    let mut retries: VecDeque<(f64, f64, u64)> = VecDeque::new(); // (due, first attempt, id)
    let mut delays: Vec<f32> = Vec::new();
    let mut amazon_requests = 0u64;
    let mut steady_requests = 0u64;
    let mut steady_events = 0u64;
    let mut delivered = 0u64;
    let mut attempts = 0u64;
    let mut refused = 0u64;
    let mut next_id = 0u64;
    let mut owed = 0.0f64;
    let end_ms = p.seconds as f64 * 1000.0;
    let mut now = 0.0f64;
    let mut id_text = String::new();
    loop {
        let arriving = now < end_ms;
        if !arriving
            && retries.is_empty()
            && shards
                .iter()
                .all(|s| s.pending.is_empty() && s.in_flight.is_none())
        {
            break;
        }
        // New requests (one event each) and the tag's retries.
        let mut requests: Vec<(f64, u64)> = Vec::new();
        if arriving {
            owed += rate as f64 * (now / p.ramp_ms).min(1.0) * STEP_MS / 1000.0;
            while owed >= 1.0 {
                owed -= 1.0;
                requests.push((now, next_id));
                next_id += 1;
            }
        }
        while retries.front().is_some_and(|r| r.0 <= now) {
            let (_, first, id) = retries.pop_front().unwrap_or_default();
            requests.push((first, id));
        }
        let n = epochs.n_at(now as u64);
        for (first, id) in requests {
            attempts += 1;
            id_text.clear();
            use std::fmt::Write;
            let _ = write!(id_text, "order-{id}");
            let k = shard_of(&id_text, n) as usize;
            let s = &mut shards[k];
            let start = s.busy_until.max(now);
            if start - now > OVERLOAD_MS {
                refused += 1;
                retries.push_back((now + p.retry_ms, first, id));
                continue;
            }
            s.busy_until = start + p.object_ms;
            s.pending.push_back((first, s.busy_until));
            if k == 0
                && auto
                && let Some(totals) = observer.record(1, 1, s.busy_until as u64, n, WINDOW_MS)
            {
                observe(
                    &mut epochs,
                    totals,
                    now as u64,
                    p.flush_ms,
                    BATCH,
                    &Tuning::default(),
                );
            }
        }
        // Deliveries: one batch at a time per shard, by the queue's due rule.
        for s in shards.iter_mut() {
            if let Some((done, _)) = &s.in_flight
                && *done <= now
            {
                let (done, firsts) = s.in_flight.take().unwrap_or_default();
                for f in firsts {
                    if f >= p.warmup_ms && f < end_ms {
                        delays.push(((done - f) / 1000.0) as f32);
                    }
                    delivered += 1;
                }
            }
            if s.in_flight.is_some() {
                continue;
            }
            let ready = s.pending.iter().take_while(|e| e.1 <= now).count();
            let oldest = s.pending.front().map_or(f64::MAX, |e| e.1);
            let forced = !arriving && retries.is_empty();
            if ready >= BATCH || (ready > 0 && (now >= oldest + p.flush_ms as f64 || forced)) {
                let take = ready.min(BATCH);
                let firsts: Vec<f64> = s.pending.drain(..take).map(|e| e.0).collect();
                let start = s.busy_until.max(now);
                s.busy_until = start + p.deliver_ms;
                amazon_requests += 1;
                if now >= p.warmup_ms && now < end_ms {
                    steady_requests += 1;
                    steady_events += take as u64;
                }
                s.in_flight = Some((s.busy_until + p.amazon_ms, firsts));
            }
        }
        now += STEP_MS;
    }
    delays.sort_by(f32::total_cmp);
    let pct = |q: f64| {
        delays
            .get(((delays.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0.0) as f64
    };
    Row {
        rate,
        mode: if auto { "auto" } else { "1" },
        n_end: epochs.n_at(end_ms as u64),
        delivered_per_s: delivered as f64 / (p.seconds as f64 - p.ramp_ms / 2000.0),
        requests_per_1000: steady_requests as f64 * 1000.0 / steady_events.max(1) as f64,
        all_requests_per_1000: amazon_requests as f64 * 1000.0 / delivered.max(1) as f64,
        p50_s: pct(0.5),
        p99_s: pct(0.99),
        refused_pct: refused as f64 * 100.0 / attempts.max(1) as f64,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: f64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let p = Params {
        object_ms: arg("--object-ms", 1.0),
        deliver_ms: arg("--deliver-ms", 5.0),
        amazon_ms: arg("--amazon-ms", 300.0),
        flush_ms: (arg("--flush-s", 60.0) * 1000.0) as u64,
        seconds: arg("--seconds", 900.0) as u64,
        ramp_ms: arg("--ramp-s", 240.0).max(0.001) * 1000.0,
        warmup_ms: arg("--warmup-s", 300.0) * 1000.0,
        retry_ms: arg("--retry-s", 10.0) * 1000.0,
    };
    println!(
        "object {} ms a request, {} ms a delivery; Amazon {} ms; flush {} s; {} s of single-event requests (ramp {} s), delays of events sent after {} s",
        p.object_ms,
        p.deliver_ms,
        p.amazon_ms,
        p.flush_ms / 1000,
        p.seconds,
        p.ramp_ms / 1000.0,
        p.warmup_ms / 1000.0
    );
    println!();
    println!(
        "| events/s offered | SHARDS | shards at the end | delivered events/s | Amazon requests per 1,000 (steady) | (whole run: ramp, epoch changes, final flush) | p50 delay | p99 delay | requests refused (overload) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for rate in [10, 100, 1_000, 10_000] {
        for auto in [false, true] {
            if !auto && rate as f64 * p.object_ms / 1000.0 > 2.0 {
                // Twice what one object can take: not simulated (the tag's retries pile
                // up without end), the row says so.
                println!(
                    "| {rate} | 1 | 1 | at most {:.0} | — | — | — | — | most (one object takes {:.0} requests/s) |",
                    1000.0 / p.object_ms,
                    1000.0 / p.object_ms
                );
                continue;
            }
            let r = run(rate, auto, p);
            println!(
                "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} s | {:.1} s | {:.1} % |",
                r.rate,
                r.mode,
                r.n_end,
                r.delivered_per_s,
                r.requests_per_1000,
                r.all_requests_per_1000,
                r.p50_s,
                r.p99_s,
                r.refused_pct
            );
        }
    }
}
