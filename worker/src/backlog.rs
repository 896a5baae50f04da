//! What waits in a `Batcher`'s storage, as pure data: the events of one ingest request
//! are ONE storage value (a chunk, `ck:{stamp}:{first seq}` holding a JSON array of the
//! events), so that an enqueue is one write, not one awaited put per event. Objects
//! written by earlier versions hold one event per `ev:{stamp}:{seq}` key; both forms are
//! read, oldest first, and each legacy key is a chunk of one.
//!
//! Delivery takes events out of chunks one by one: [`Backlog::settle`] marks what a
//! decision settled and says what to write: a chunk whose every event is settled is
//! deleted, a chunk settled in part is rewritten under the same key with exactly its
//! unsettled events (a legacy key is only ever deleted). Positions stay stable in memory
//! for the whole run, so a chunk spread over several batches settles correctly. The
//! queue's counters are per event and do not change.

/// Prefix of the per-event keys of earlier versions.
pub const EVENT_PREFIX: &str = "ev:";
/// Prefix of the chunks: one ingest request's events in one value.
pub const CHUNK_PREFIX: &str = "ck:";

/// A chunk's storage key: its enqueue time first, so that a listing starts with the
/// oldest, then its first event's sequence number (unique).
pub fn chunk_key(stamp: u64, first_seq: u64) -> String {
    format!("{CHUNK_PREFIX}{stamp:013}:{first_seq:012}")
}

/// The enqueue time (ms) written into a chunk's or a legacy event's key (both prefixes
/// are three bytes long).
pub fn stamp_of(key: &str) -> u64 {
    key.get(3..16).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A chunk's stored value: the events (each an Events API event as JSON text) as a JSON
/// array of strings.
pub fn encode_chunk(events: &[String]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".to_owned())
}

/// Where an event sits: its entry and its position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    entry: usize,
    pos: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    chunk: bool,
    events: Vec<Option<String>>,
}

/// What to write after a decision (in the same transaction as the queue).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Writes {
    /// Chunks settled in part, rewritten with what is left.
    pub put: Vec<(String, String)>,
    /// Keys settled entirely.
    pub delete: Vec<String>,
}

/// The events read for one delivery run.
#[derive(Debug, Clone, Default)]
pub struct Backlog {
    entries: Vec<Entry>,
}

impl Backlog {
    /// The listings of both forms (each in key order), merged oldest first. A chunk whose
    /// value is not a JSON array of strings (never written so) is left alone and read as
    /// empty, so it can never be sent or deleted by mistake.
    pub fn from_listing(legacy: Vec<(String, String)>, chunks: Vec<(String, String)>) -> Self {
        let mut entries: Vec<Entry> = legacy
            .into_iter()
            .map(|(key, event)| Entry {
                key,
                chunk: false,
                events: vec![Some(event)],
            })
            .collect();
        entries.extend(chunks.into_iter().map(|(key, value)| {
            let events: Vec<String> = serde_json::from_str(&value).unwrap_or_default();
            Entry {
                key,
                chunk: true,
                events: events.into_iter().map(Some).collect(),
            }
        }));
        // Stable: equal stamps keep legacy keys (older versions) first, each listing in order.
        entries.sort_by_key(|e| (stamp_of(&e.key), e.chunk));
        Backlog { entries }
    }

    /// Events not yet settled, in total.
    pub fn len(&self) -> usize {
        self.entries
            .iter()
            .map(|e| e.events.iter().flatten().count())
            .sum()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `limit` unsettled events, oldest first, each with its slot.
    pub fn items(&self, limit: usize) -> Vec<(Slot, String)> {
        let mut out = Vec::new();
        for (entry, e) in self.entries.iter().enumerate() {
            for (pos, event) in e.events.iter().enumerate() {
                if out.len() >= limit {
                    return out;
                }
                if let Some(event) = event {
                    out.push((Slot { entry, pos }, event.clone()));
                }
            }
        }
        out
    }

    /// The enqueue time of the entry holding `slot`.
    pub fn stamp(&self, slot: Slot) -> u64 {
        self.entries.get(slot.entry).map_or(0, |e| stamp_of(&e.key))
    }

    /// Marks `slots` settled (delivered, rejected or dead-lettered; a slot settled twice
    /// counts once) and returns the writes that make storage hold exactly what is left of
    /// the entries concerned.
    pub fn settle(&mut self, slots: impl IntoIterator<Item = Slot>) -> Writes {
        let mut touched: Vec<usize> = Vec::new();
        for slot in slots {
            if let Some(event) = self
                .entries
                .get_mut(slot.entry)
                .and_then(|e| e.events.get_mut(slot.pos))
                && event.take().is_some()
            {
                touched.push(slot.entry);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        let mut writes = Writes::default();
        for i in touched {
            let e = &self.entries[i];
            let left: Vec<String> = e.events.iter().flatten().cloned().collect();
            if left.is_empty() || !e.chunk {
                writes.delete.push(e.key.clone());
            } else {
                writes.put.push((e.key.clone(), encode_chunk(&left)));
            }
        }
        writes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchkey::amazon::events::batches;

    fn ev(id: &str) -> String {
        format!(r#"{{"eventId":"{id}"}}"#)
    }

    fn chunk(stamp: u64, seq: u64, ids: &[&str]) -> (String, String) {
        let events: Vec<String> = ids.iter().map(|i| ev(i)).collect();
        (chunk_key(stamp, seq), encode_chunk(&events))
    }

    /// Storage as a map, with the writes applied.
    fn apply(
        store: &mut std::collections::BTreeMap<String, String>,
        w: &Writes,
    ) -> std::collections::BTreeMap<String, String> {
        for k in &w.delete {
            store.remove(k);
        }
        for (k, v) in &w.put {
            store.insert(k.clone(), v.clone());
        }
        store.clone()
    }

    fn ids(value: &str) -> Vec<String> {
        let events: Vec<String> = serde_json::from_str(value).unwrap();
        events
            .iter()
            .map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap()["eventId"].to_string())
            .collect()
    }

    #[test]
    fn keys_sort_by_time_and_carry_their_stamp() {
        let a = chunk_key(1_700_000_000_000, 7);
        assert_eq!(a, "ck:1700000000000:000000000007");
        assert_eq!(stamp_of(&a), 1_700_000_000_000);
        assert_eq!(stamp_of("ev:1700000000001:000000000001"), 1_700_000_000_001);
        assert!(chunk_key(999, 10) < chunk_key(1000, 1));
    }

    #[test]
    fn both_forms_are_read_oldest_first() {
        let legacy = vec![
            ("ev:0000000000005:000000000001".to_owned(), ev("old-1")),
            ("ev:0000000000020:000000000002".to_owned(), ev("old-2")),
        ];
        let chunks = vec![chunk(10, 3, &["new-1", "new-2"]), chunk(30, 5, &["new-3"])];
        let b = Backlog::from_listing(legacy, chunks);
        let order: Vec<String> = b.items(100).into_iter().map(|(_, e)| e).collect();
        assert_eq!(
            order,
            [
                ev("old-1"),
                ev("new-1"),
                ev("new-2"),
                ev("old-2"),
                ev("new-3")
            ]
        );
        assert_eq!(b.len(), 5);
        assert_eq!(b.items(2).len(), 2);
    }

    #[test]
    fn a_chunk_settled_in_part_keeps_exactly_its_unsettled_events() {
        let (key, value) = chunk(1, 1, &["a", "b", "c", "d"]);
        let mut store = std::collections::BTreeMap::from([(key.clone(), value.clone())]);
        let mut b = Backlog::from_listing(Vec::new(), vec![(key.clone(), value)]);
        let items = b.items(10);
        // A 207: a and c settled (delivered, rejected), b and d stay.
        let w = b.settle([items[0].0, items[2].0]);
        assert_eq!(w.delete, Vec::<String>::new());
        let after = apply(&mut store, &w);
        assert_eq!(ids(&after[&key]), [r#""b""#, r#""d""#]);
        // The next batch of the same run: the positions still hold.
        let left = b.items(10);
        assert_eq!(left.len(), 2);
        let w = b.settle([left[1].0]);
        assert_eq!(ids(&apply(&mut store, &w)[&key]), [r#""b""#]);
        // Settling twice changes nothing; the last event deletes the chunk.
        assert_eq!(b.settle([left[1].0]), Writes::default());
        let w = b.settle([left[0].0]);
        assert_eq!(w.delete, std::slice::from_ref(&key));
        assert!(apply(&mut store, &w).is_empty());
        assert!(b.is_empty());
    }

    #[test]
    fn legacy_keys_are_deleted_never_rewritten() {
        let legacy = vec![("ev:0000000000001:000000000001".to_owned(), ev("x"))];
        let mut b = Backlog::from_listing(legacy, Vec::new());
        let items = b.items(1);
        let w = b.settle([items[0].0]);
        assert_eq!(w.delete, ["ev:0000000000001:000000000001"]);
        assert!(w.put.is_empty());
    }

    #[test]
    fn a_broken_chunk_is_never_sent_or_deleted() {
        let mut b = Backlog::from_listing(
            Vec::new(),
            vec![("ck:0000000000001:000000000001".to_owned(), "{".to_owned())],
        );
        assert!(b.items(10).is_empty());
        assert_eq!(b.settle([]), Writes::default());
    }

    /// Many chunks of many sizes through 500-event batches with partial answers: every
    /// event leaves storage exactly once, when it is settled, and what storage holds is
    /// always exactly the unsettled events.
    #[test]
    fn batches_over_chunks_settle_every_event_once() {
        let mut store = std::collections::BTreeMap::new();
        let mut all = Vec::new();
        let mut seq = 0;
        for (n, size) in [1usize, 500, 37, 499, 2, 500, 120].iter().enumerate() {
            let ids: Vec<String> = (0..*size).map(|i| format!("e{n}-{i}")).collect();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let (k, v) = chunk(n as u64, seq, &refs);
            seq += *size as u64;
            store.insert(k, v);
            all.extend(ids);
        }
        let mut settled = std::collections::BTreeSet::new();
        let mut round = 0;
        while settled.len() < all.len() {
            let mut b = Backlog::from_listing(
                Vec::new(),
                store.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            );
            for batch in batches(b.items(5000), 500) {
                // Every third event of a batch stays (a transient 207 error), in the first rounds.
                let take: Vec<(Slot, String)> = batch
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| round > 2 || i % 3 != 0)
                    .map(|(_, x)| x)
                    .collect();
                for (_, e) in &take {
                    let id = serde_json::from_str::<serde_json::Value>(e).unwrap()["eventId"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    assert!(settled.insert(id), "settled twice");
                }
                let w = b.settle(take.iter().map(|(s, _)| *s));
                apply(&mut store, &w);
            }
            let stored: usize = store.values().map(|v| ids(v).len()).sum();
            assert_eq!(stored, all.len() - settled.len());
            round += 1;
        }
        assert!(store.is_empty());
    }
}
