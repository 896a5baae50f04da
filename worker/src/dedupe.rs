//! The window of recently accepted event ids: a repeat of an event a `Batcher` already
//! accepted is answered as accepted and not queued again, so that a browser that sends
//! an event once more because it never read the answer (the page was left, the
//! connection dropped) does not make it reach Amazon twice. A pure structure: the
//! Durable Object loads it from its storage, asks it, and writes what it says.
//!
//! Where repeats come from, and so what the window must cover. The site tag keeps an
//! event in its stored outbox until an answer lists it (`www/tag.js`); it sends again
//! (a) within the same page, after a dropped connection or a lost answer (seconds), (b)
//! on the next page of the visit, for the events sent by keepalive when a page was left,
//! whose answer no page could read (seconds to minutes), and (c) on a later visit, when
//! the visitor left the site before any page sent them again (days). The tag keeps an
//! event at most as long as the Worker takes it ([`LOOKBACK_DAYS`], the Events API's
//! 21-day window, the longest of the two conversions APIs), so a repeat can never be older than that. Sharding by event id keeps an id
//! on one object within an epoch, so each object's window sees every repeat of its ids.
//!
//! - **Length:** every id accepted in the last [`LOOKBACK_DAYS`] days (plus the five
//!   minutes of clock skew ingest tolerates): case (c) included, as long as the count
//!   bound allows.
//! - **Size:** at most [`MAX_IDS`] ids per object (64-bit digests, in pages of
//!   [`PAGE_IDS`], one storage value of under 4 KB each, ~4 MB in all and read once per
//!   object lifetime). That is a day of a shard taking three events a second, and still
//!   17 minutes at the 250 requests a second that auto sharding keeps a shard under:
//!   cases (a) and (b) always, (c) for the shops whose traffic fits.
//! - **When full,** the oldest page goes and the window's `floor` (the newest acceptance
//!   it no longer holds) moves up. An id not in the window is known to be new only if it
//!   could not have been accepted at or before the floor: ingest refuses an event whose
//!   `eventTime` is more than five minutes ahead of the Worker's clock, so an event was
//!   first accepted at or after `eventTime - 5 min`, and an event with `eventTime - 5 min`
//!   after the floor cannot hide in what the window let go. Any other miss (an older
//!   event, or one without an id or time to judge) is [`Verdict::Unchecked`]: accepted and
//!   queued, since refusing it would lose it if it is new, and counted as `unchecked`
//!   beside `repeats` so that the accounting shows what the window could not vouch for
//!   (Amazon's own `eventId` dedupe is then the last net). A window added to an object that
//!   has accepted events starts with its floor at its creation, so events accepted before
//!   it existed are `unchecked` too, never silently new (a new object's starts at 0).
//!
//! Known limit: under `SHARDS=auto`, an id may move to another shard at an epoch
//! boundary; a repeat that crosses one is judged by the new shard's window, which never
//! saw it (the tag's repeats come seconds after the first send, and epochs change at
//! most every few minutes).

use std::collections::{HashSet, VecDeque};

use matchkey::sha256_hex;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ingest::FUTURE_SKEW_SECS;
use matchkey::amazon::events::ConversionsApi;

/// Prefix of every key the window writes.
pub const PREFIX: &str = "dd:";
/// Prefix of the pages (`dd:p:{seq}`, in acceptance order).
const PAGE_PREFIX: &str = "dd:p:";
/// The window's floor (ms): no id accepted at or before it is known.
const FLOOR_KEY: &str = "dd:floor";
/// The longest window an event is taken in: the Events API's (the legacy import's is
/// shorter, so its repeats fall inside this one too).
pub const LOOKBACK_DAYS: i64 = ConversionsApi::Events.lookback_days();
/// How far an event's time may be ahead of its acceptance (ingest's tolerance).
pub const SKEW_MS: u64 = FUTURE_SKEW_SECS as u64 * 1000;
/// How long an id is kept: as long as the Worker takes an event, plus the skew.
pub const WINDOW_MS: u64 = LOOKBACK_DAYS as u64 * 86_400_000 + SKEW_MS;
/// Most ids one object keeps.
pub const MAX_IDS: usize = 262_080;
/// Ids per page: 240 digests of 16 hex digits stay under a 4 KB storage write.
pub const PAGE_IDS: usize = 240;

/// The window's bounds (the constants above in production; tests shrink them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// How long an accepted id is kept (ms).
    pub length_ms: u64,
    /// Most ids kept.
    pub max_ids: usize,
    /// Ids per stored page.
    pub page_ids: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            length_ms: WINDOW_MS,
            max_ids: MAX_IDS,
            page_ids: PAGE_IDS,
        }
    }
}

/// What the window says of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not seen, and it could not have been: queue it.
    New,
    /// Accepted before (or earlier in the same request): answer accepted, queue nothing.
    Repeat,
    /// Not seen, but it might have been before the floor: queue it and count it.
    Unchecked,
}

/// What the window needs of an event: its id's digest and its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The first 64 bits of the SHA-256 of the event id.
    pub id: u64,
    /// `eventTime` in ms since the Unix epoch, when the event has a readable one.
    pub at: Option<u64>,
}

/// The two fields of a queued Events API event the window reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields {
    event_id: Option<String>,
    event_time: Option<String>,
}

/// The 64-bit digest the window keeps of an event id.
pub fn digest(event_id: &str) -> u64 {
    u64::from_str_radix(&sha256_hex(event_id).as_str()[..16], 16).unwrap_or(0)
}

impl Seen {
    /// Reads a queued event (ingest's output, JSON text); `None` without an event id.
    pub fn of(event: &str) -> Option<Seen> {
        let f: Fields = serde_json::from_str(event).ok()?;
        let at = f
            .event_time
            .and_then(|t| OffsetDateTime::parse(&t, &Rfc3339).ok())
            .and_then(|t| u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok());
        Some(Seen {
            id: digest(&f.event_id?),
            at,
        })
    }
}

/// A page as stored: the latest acceptance in it, and its digests as hex.
#[derive(Debug, Serialize, Deserialize)]
struct StoredPage {
    last: u64,
    ids: String,
}

#[derive(Debug, Clone)]
struct Page {
    seq: u64,
    last: u64,
    ids: Vec<u64>,
}

impl Page {
    fn key(&self) -> String {
        format!("{PAGE_PREFIX}{:012}", self.seq)
    }

    fn encode(&self) -> String {
        let ids: String = self.ids.iter().map(|id| format!("{id:016x}")).collect();
        serde_json::to_string(&StoredPage {
            last: self.last,
            ids,
        })
        .unwrap_or_default()
    }
}

/// What to write after a change (in the same transaction as the queue).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Writes {
    /// Pages written (the one that grew, a new one) and the floor when it moved.
    pub put: Vec<(String, String)>,
    /// Pages let go.
    pub delete: Vec<String>,
}

/// The ids one `Batcher` accepted recently, oldest page first.
#[derive(Debug, Clone)]
pub struct Window {
    bounds: Bounds,
    pages: VecDeque<Page>,
    ids: HashSet<u64>,
    floor: u64,
    /// The floor is not stored yet (a new window's).
    floor_unsaved: bool,
}

impl Window {
    /// The window as stored: the entries under [`PREFIX`] (any order). Without a stored
    /// floor it starts at `start`: the time it is created for an object that has accepted
    /// events before (nothing accepted then is known), 0 for one that never accepted any.
    pub fn load(entries: Vec<(String, String)>, start: u64, bounds: Bounds) -> Self {
        let mut floor = None;
        let mut pages = Vec::new();
        for (key, value) in entries {
            if key == FLOOR_KEY {
                floor = serde_json::from_str::<u64>(&value).ok();
            } else if let Some(seq) = key.strip_prefix(PAGE_PREFIX)
                && let (Ok(seq), Ok(p)) = (seq.parse(), serde_json::from_str::<StoredPage>(&value))
            {
                let ids = (0..p.ids.len() / 16)
                    .filter_map(|i| p.ids.get(i * 16..i * 16 + 16))
                    .filter_map(|h| u64::from_str_radix(h, 16).ok())
                    .collect();
                pages.push(Page {
                    seq,
                    last: p.last,
                    ids,
                });
            }
        }
        pages.sort_by_key(|p| p.seq);
        let ids = pages.iter().flat_map(|p| p.ids.iter().copied()).collect();
        Window {
            bounds,
            pages: pages.into(),
            ids,
            floor: floor.unwrap_or(start),
            floor_unsaved: floor.is_none(),
        }
    }

    /// Ids kept.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no id is kept.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The newest acceptance the window no longer holds (ms).
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// The verdict on each event of one request, in order (`None`: no id to judge);
    /// a second copy of an id in the same request is a repeat. Changes nothing:
    /// [`Window::insert`] records what was queued.
    pub fn judge(&self, events: &[Option<Seen>]) -> Vec<Verdict> {
        let mut here = HashSet::new();
        events
            .iter()
            .map(|e| match e {
                None => Verdict::Unchecked,
                Some(s) if self.ids.contains(&s.id) || !here.insert(s.id) => Verdict::Repeat,
                Some(s)
                    if s.at
                        .is_some_and(|at| at > self.floor.saturating_add(SKEW_MS)) =>
                {
                    Verdict::New
                }
                Some(_) => Verdict::Unchecked,
            })
            .collect()
    }

    /// Records the ids queued at `now` (those [`Window::judge`] did not call repeats),
    /// lets go of what is past the window's length or over its size, and says what to
    /// write.
    pub fn insert(&mut self, queued: impl IntoIterator<Item = u64>, now: u64) -> Writes {
        let mut writes = Writes::default();
        let mut touched = Vec::new();
        for id in queued {
            if !self.ids.insert(id) {
                continue;
            }
            let page_ids = self.bounds.page_ids.max(1);
            let page = match self.pages.back_mut() {
                Some(p) if p.ids.len() < page_ids => p,
                last => {
                    let seq = last.map_or(0, |p| p.seq + 1);
                    self.pages.push_back(Page {
                        seq,
                        last: now,
                        ids: Vec::new(),
                    });
                    self.pages.back_mut().expect("just pushed")
                }
            };
            page.ids.push(id);
            page.last = page.last.max(now);
            if touched.last() != Some(&page.seq) {
                touched.push(page.seq);
            }
        }
        // Past the length, or over the size: the oldest pages go, and the floor follows.
        while let Some(first) = self.pages.front() {
            let expired = first.last.saturating_add(self.bounds.length_ms) < now;
            if !expired && self.ids.len() <= self.bounds.max_ids {
                break;
            }
            let page = self.pages.pop_front().expect("front exists");
            for id in &page.ids {
                self.ids.remove(id);
            }
            if page.last > self.floor {
                self.floor = page.last;
                self.floor_unsaved = true;
            }
            touched.retain(|&s| s != page.seq);
            writes.delete.push(page.key());
        }
        for p in &self.pages {
            if touched.contains(&p.seq) {
                writes.put.push((p.key(), p.encode()));
            }
        }
        if self.floor_unsaved {
            writes
                .put
                .push((FLOOR_KEY.to_owned(), self.floor.to_string()));
            self.floor_unsaved = false;
        }
        writes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    const DAY: u64 = 86_400_000;
    const T0: u64 = 1_800_000_000_000;

    fn small() -> Bounds {
        Bounds {
            length_ms: DAY,
            max_ids: 6,
            page_ids: 2,
        }
    }

    fn seen(id: &str, at: u64) -> Option<Seen> {
        Some(Seen {
            id: digest(id),
            at: Some(at),
        })
    }

    /// Storage as a map, with the writes applied.
    fn apply(store: &mut std::collections::BTreeMap<String, String>, w: &Writes) {
        for k in &w.delete {
            store.remove(k);
        }
        for (k, v) in &w.put {
            store.insert(k.clone(), v.clone());
        }
    }

    /// Judges a request at `now`, records what is queued, writes it; the verdicts.
    fn take(
        w: &mut Window,
        store: &mut std::collections::BTreeMap<String, String>,
        events: &[Option<Seen>],
        now: u64,
    ) -> Vec<Verdict> {
        let verdicts = w.judge(events);
        let queued = events
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| **v != Verdict::Repeat)
            .filter_map(|(e, _)| e.map(|s| s.id));
        let writes = w.insert(queued, now);
        apply(store, &writes);
        verdicts
    }

    fn reload(store: &std::collections::BTreeMap<String, String>, now: u64) -> Window {
        Window::load(
            store.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            now,
            small(),
        )
    }

    #[test]
    fn a_repeat_inside_the_window_is_caught_and_survives_a_reload() {
        let mut store = Default::default();
        let mut w = Window::load(Vec::new(), T0, small());
        let now = T0 + 10 * MIN;
        let v = take(&mut w, &mut store, &[seen("a", now), seen("b", now)], now);
        assert_eq!(v, [Verdict::New, Verdict::New]);
        // The answer was lost: the page sends both again a few seconds later, with a new one.
        let later = now + 5_000;
        let v = take(
            &mut w,
            &mut store,
            &[seen("a", now), seen("c", later), seen("b", now)],
            later,
        );
        assert_eq!(v, [Verdict::Repeat, Verdict::New, Verdict::Repeat]);
        // The object was evicted from memory meanwhile: the stored window says the same.
        let w = reload(&store, later + MIN);
        assert_eq!(w.len(), 3);
        assert_eq!(
            w.judge(&[seen("c", later), seen("d", later + MIN)]),
            [Verdict::Repeat, Verdict::New]
        );
    }

    #[test]
    fn a_second_copy_in_the_same_request_is_a_repeat() {
        let w = Window::load(Vec::new(), T0, small());
        let at = T0 + 10 * MIN;
        assert_eq!(
            w.judge(&[seen("x", at), seen("x", at), seen("y", at)]),
            [Verdict::New, Verdict::Repeat, Verdict::New]
        );
    }

    #[test]
    fn past_its_length_an_id_is_let_go_and_the_floor_says_so() {
        let mut store = Default::default();
        let mut w = Window::load(Vec::new(), T0, small());
        let at = T0 + 10 * MIN;
        // Two events fill a page (of two), so the next one starts another.
        take(&mut w, &mut store, &[seen("old", at), seen("old2", at)], at);
        // Just inside the length: still caught.
        let v = take(&mut w, &mut store, &[seen("old", at)], at + DAY);
        assert_eq!(v, [Verdict::Repeat]);
        // Past it (a new event makes the window look at its age): let go, and the floor
        // is the time of the last acceptance it held, so the old event is unchecked
        // rather than new, while one made after the floor is new.
        let now = at + DAY + 1;
        let v = take(&mut w, &mut store, &[seen("fresh", now)], now);
        assert_eq!(v, [Verdict::New]);
        assert_eq!(w.floor(), at);
        assert_eq!(
            w.judge(&[seen("old", at), seen("other", at + SKEW_MS + 1)]),
            [Verdict::Unchecked, Verdict::New]
        );
        assert_eq!(reload(&store, now).floor(), at);
    }

    #[test]
    fn a_full_window_lets_the_oldest_go_and_never_calls_them_new() {
        let mut store = Default::default();
        let mut w = Window::load(Vec::new(), T0, small());
        // Eight events, one a minute: the bound is six ids in pages of two.
        for i in 0..8u64 {
            let now = T0 + (i + 1) * MIN;
            take(&mut w, &mut store, &[seen(&format!("e{i}"), now)], now);
            assert!(w.len() <= 6);
        }
        assert_eq!(w.len(), 6);
        // e0 and e1 (one page) went; the floor is e1's acceptance.
        assert_eq!(w.floor(), T0 + 2 * MIN);
        let keys: Vec<&String> = store.keys().collect();
        assert_eq!(keys.len(), 4, "three pages and the floor: {keys:?}");
        // Their repeats are not called new (the safe side: queued, and counted as
        // unchecked); what the window holds is still a repeat; an event made after the
        // floor (beyond the skew) is new.
        let now = T0 + 9 * MIN;
        assert_eq!(
            w.judge(&[
                seen("e0", T0 + MIN),
                seen("e1", T0 + 2 * MIN),
                seen("e2", T0 + 3 * MIN),
                seen("e9", now),
            ]),
            [
                Verdict::Unchecked,
                Verdict::Unchecked,
                Verdict::Repeat,
                Verdict::New
            ]
        );
        // An event made before the floor but within the skew of it could have been
        // accepted before the floor (its time may run five minutes ahead): unchecked.
        assert_eq!(
            w.judge(&[seen("late", T0 + 2 * MIN + SKEW_MS)]),
            [Verdict::Unchecked]
        );
        let w = reload(&store, now);
        assert_eq!((w.len(), w.floor()), (6, T0 + 2 * MIN));
    }

    #[test]
    fn a_new_window_knows_nothing_from_before_it_existed() {
        let mut store = Default::default();
        let mut w = Window::load(Vec::new(), T0, small());
        // An event made before the window existed may have been accepted by an earlier
        // version: unchecked, and the floor is stored with the first write.
        let v = take(&mut w, &mut store, &[seen("before", T0 - MIN)], T0 + 1);
        assert_eq!(v, [Verdict::Unchecked]);
        assert_eq!(
            store.get("dd:floor").map(String::as_str),
            Some("1800000000000")
        );
        // An event without a time or an id cannot be judged.
        assert_eq!(
            w.judge(&[
                Some(Seen {
                    id: digest("t"),
                    at: None
                }),
                None
            ]),
            [Verdict::Unchecked, Verdict::Unchecked]
        );
        // An object that never accepted an event has nothing to hide: every miss is new.
        let w = Window::load(Vec::new(), 0, small());
        assert_eq!(w.judge(&[seen("first", T0)]), [Verdict::New]);
    }

    #[test]
    fn events_are_read_from_the_queued_form() {
        let s =
            Seen::of(r#"{"eventId":"abc","eventTime":"2027-01-15T08:00:00Z","name":"x"}"#).unwrap();
        assert_eq!(s.id, digest("abc"));
        assert_eq!(s.at, Some(T0));
        assert_eq!(Seen::of(r#"{"name":"x"}"#), None);
        assert_eq!(Seen::of("[").map(|s| s.id), None);
        assert_ne!(digest("abc"), digest("abd"));
    }

    #[test]
    fn every_page_write_stays_under_four_kilobytes_and_the_defaults_fit_the_lookback() {
        let mut w = Window::load(Vec::new(), T0, Bounds::default());
        let ids: Vec<u64> = (0..PAGE_IDS as u64 * 3)
            .map(|i| digest(&format!("id-{i}")))
            .collect();
        let writes = w.insert(ids, T0 + 1);
        assert_eq!(
            writes
                .put
                .iter()
                .filter(|(k, _)| k.starts_with(PAGE_PREFIX))
                .count(),
            3
        );
        for (_, v) in &writes.put {
            assert!(v.len() < 4096, "{}", v.len());
        }
        assert_eq!(WINDOW_MS, 21 * DAY + 300_000);
        assert_eq!(MAX_IDS % PAGE_IDS, 0);
    }
}
