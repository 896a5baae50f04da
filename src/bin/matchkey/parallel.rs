//! Both (all) cores for files: `hash-csv`, `amc prepare` and `audience push` read rows on
//! one thread, normalize and hash chunks of them on a pool of threads, and take the
//! chunks back in the order they were read.
//!
//! The calling thread reads (`fill`) and consumes (`drain`); only the work in between runs
//! on the pool, each thread with its own state (its `Normalizer`). At most two chunks per
//! thread are in flight, and their buffers are reused: memory does not grow with the
//! file. Chunks are drained in sequence whatever the order they finish in, so the output,
//! the counts and every decision taken while draining are the same as with one thread.

use std::collections::BTreeMap;
use std::num::NonZero;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, mpsc};

/// Rows read into one chunk.
pub(crate) const CHUNK_ROWS: usize = 4096;

/// `--threads`.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub(crate) struct Threads {
    /// Threads that normalize and hash (the rows are read on one more) [default: the
    /// machine's available parallelism]. The output is the same bytes for any count; 1
    /// does everything on one thread.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) threads: Option<u16>,
}

impl Threads {
    /// The number of threads to use.
    pub(crate) fn count(self) -> usize {
        match self.threads {
            Some(n) => usize::from(n),
            None => std::thread::available_parallelism().map_or(1, NonZero::get),
        }
    }
}

/// Runs `fill` → `work` → `drain` over chunks (`J`, made by `new_job` and reused).
///
/// `fill` puts the next rows into a chunk and returns false when there were none left;
/// `work` runs on `threads` threads, each with the state `state` made for it; `drain`
/// sees the chunks in the order `fill` filled them. With one thread, no thread is
/// started. An error from `fill` or `drain` stops the run and is returned.
pub(crate) fn ordered<J: Send, S>(
    threads: usize,
    new_job: impl Fn() -> J,
    mut fill: impl FnMut(&mut J) -> anyhow::Result<bool>,
    state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &mut J) + Sync,
    mut drain: impl FnMut(&mut J) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if threads <= 1 {
        let mut state = state();
        let mut job = new_job();
        while fill(&mut job)? {
            work(&mut state, &mut job);
            drain(&mut job)?;
        }
        return Ok(());
    }
    let in_flight = 2 * threads as u64;
    let (jobs, queue) = mpsc::channel::<(u64, J)>();
    let queue = Mutex::new(queue);
    std::thread::scope(|scope| {
        // Dropped on any return, which stops the threads.
        let jobs = jobs;
        let (done, finished) = mpsc::channel::<(u64, std::thread::Result<J>)>();
        for _ in 0..threads {
            let (queue, done, state, work) = (&queue, done.clone(), &state, &work);
            scope.spawn(move || {
                let mut state = state();
                loop {
                    // The lock is held only while waiting for the next chunk.
                    let next = queue
                        .lock()
                        .map_err(drop)
                        .and_then(|q| q.recv().map_err(drop));
                    let Ok((seq, mut job)) = next else {
                        return;
                    };
                    let result = panic::catch_unwind(AssertUnwindSafe(|| {
                        work(&mut state, &mut job);
                        job
                    }));
                    let failed = result.is_err();
                    if done.send((seq, result)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(done);
        let mut spare: Vec<J> = Vec::new();
        let mut early: BTreeMap<u64, J> = BTreeMap::new();
        let (mut sent, mut drained, mut ended) = (0u64, 0u64, false);
        loop {
            while !ended && sent - drained < in_flight {
                let mut job = spare.pop().unwrap_or_else(&new_job);
                if fill(&mut job)? {
                    jobs.send((sent, job))
                        .map_err(|_| anyhow::anyhow!("the hashing threads stopped"))?;
                    sent += 1;
                } else {
                    ended = true;
                }
            }
            if drained == sent {
                return Ok(());
            }
            let mut job = loop {
                if let Some(job) = early.remove(&drained) {
                    break job;
                }
                let (seq, result) = finished
                    .recv()
                    .map_err(|_| anyhow::anyhow!("the hashing threads stopped"))?;
                match result {
                    Ok(job) => early.insert(seq, job),
                    Err(payload) => panic::resume_unwind(payload),
                };
            };
            drain(&mut job)?;
            drained += 1;
            spare.push(job);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks come back in order whatever the thread count, with each thread's state.
    #[test]
    fn chunks_are_drained_in_order() {
        for threads in [1, 2, 3, 8] {
            let mut next = 0u64;
            let mut seen = Vec::new();
            ordered(
                threads,
                Vec::<u64>::new,
                |job| {
                    job.clear();
                    if next >= 1000 {
                        return Ok(false);
                    }
                    job.extend(next..next + 7);
                    next += 7;
                    Ok(true)
                },
                || 0u64,
                |calls, job| {
                    *calls += 1;
                    // Uneven work, so chunks finish out of order.
                    if job[0] % 3 == 0 {
                        std::thread::yield_now();
                    }
                    for v in job.iter_mut() {
                        *v *= 2;
                    }
                },
                |job| {
                    seen.extend_from_slice(job);
                    Ok(())
                },
            )
            .unwrap();
            let want: Vec<u64> = (0..1001).map(|v| v * 2).collect();
            assert_eq!(seen, want, "{threads} threads");
        }
    }

    #[test]
    fn an_error_while_draining_stops_the_run() {
        let mut n = 0;
        let err = ordered(
            2,
            || 0u32,
            |_| {
                n += 1;
                Ok(true)
            },
            || (),
            |_, _| {},
            |_| anyhow::bail!("stop"),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "stop");
    }
}
