//! Live events: the last few hundred events of one integration, as the console shows
//! them, kept by its batching object in a bounded ring (never a D1 row per event). An entry keeps what an
//! operator needs to see whether a conversion arrived: its name, conversion type,
//! country, which match-key *types* it carried, its consent, and its state. Never a
//! match-key value, a user agent or an IP address. The ring lives in the object's memory
//! and is written as one value at most every [`SAVE_EVERY_MS`] (see [`save_due`]).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Entries kept per integration.
pub const CAPACITY: usize = 300;

/// Where an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Taken by the Worker, waiting for its batch.
    Accepted,
    /// Sent in a batch Amazon has not taken yet (it will go again).
    Batched,
    /// Amazon took it.
    Delivered,
    /// Amazon refused it, with a code and the field.
    Rejected,
    /// Kept for replay after delivery failed for good.
    DeadLettered,
}

/// One event as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Its place in the ring's history (its slot is this modulo [`CAPACITY`]).
    #[serde(default)]
    pub seq: u64,
    /// When it was accepted (ms since the epoch).
    pub at: u64,
    /// When its state last changed (ms).
    pub changed: u64,
    /// The event's id.
    pub event_id: String,
    /// Its name (the site's).
    pub name: String,
    /// Amazon's conversion type it was mapped to.
    pub conversion_type: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The match-key types it carried (`EMAIL`, `PHONE`, …), never their values.
    pub match_keys: Vec<String>,
    /// `granted`, `denied`, `tcf`, `gpp` or `none` (what the consent said, in one word).
    pub consent: String,
    /// Where it is.
    pub state: State,
    /// Amazon's code for a refusal or a failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Amazon's field location for a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Queued again from the dead letters.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

fn text(v: &Value, max: usize) -> String {
    v.as_str()
        .map(|s| s.chars().take(max).collect())
        .unwrap_or_default()
}

/// The consent of an Events API event, in one word.
fn consent_word(consent: &Value) -> String {
    let user_data = &consent["amazonConsent"]["amznUserData"];
    let word = match user_data.as_str() {
        Some("GRANTED") => "granted",
        Some("DENIED") => "denied",
        _ if consent["tcf"].is_string() => "tcf",
        _ if consent["gpp"].is_string() => "gpp",
        _ => "none",
    };
    word.to_owned()
}

/// The entry for an event as the Worker queued it (the Events API shape, or the legacy
/// DSP import's): what it says, never a match-key value.
pub fn entry(event: &Value, at: u64, replayed: bool) -> Entry {
    let description = &event["eventDescription"];
    let name = if description.is_object() {
        text(&description["name"], 64)
    } else {
        text(&event["name"], 64)
    };
    let match_keys = match &event["matchKeys"] {
        Value::Array(keys) => keys
            .iter()
            .filter_map(|k| k["type"].as_str())
            .filter(|t| t.len() <= 16 && t.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Entry {
        seq: 0,
        at,
        changed: at,
        event_id: text(
            if event["eventId"].is_string() {
                &event["eventId"]
            } else {
                &event["clientDedupeId"]
            },
            128,
        ),
        name,
        conversion_type: text(&description["conversionType"], 40),
        country: text(&event["countryCode"], 2),
        match_keys,
        consent: consent_word(&event["consent"]),
        state: State::Accepted,
        code: None,
        field: None,
        replayed,
    }
}

/// The ring: newest last, at most [`CAPACITY`] entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ring {
    entries: VecDeque<Entry>,
    next: u64,
}

/// How often at most the ring is written to the object's storage (one value): the live
/// view is for looking, not accounting, so an ingest never pays a write for it, and an
/// object evicted within this time loses only its newest entries from the view.
pub const SAVE_EVERY_MS: u64 = 5_000;

/// Whether a ring last written at `saved_at` (ms) is written with a change at `now`.
pub fn save_due(saved_at: u64, now: u64) -> bool {
    now.saturating_sub(saved_at) >= SAVE_EVERY_MS
}

/// What one delivery attempt decided, by index in its batch.
#[derive(Debug, Default)]
pub struct Settled<'a> {
    /// Indexes Amazon took.
    pub delivered: &'a [usize],
    /// `(index, code, field location)`.
    pub rejected: Vec<(usize, &'a str, Option<&'a str>)>,
    /// Indexes dead-lettered.
    pub dead: &'a [usize],
    /// The attempt's code (kept on events that will go again, and dead letters).
    pub code: Option<&'a str>,
}

impl Ring {
    /// The ring of stored entries (in any order; the newest [`CAPACITY`] are kept).
    pub fn from_entries(mut entries: Vec<Entry>) -> Ring {
        entries.sort_by_key(|e| e.seq);
        let skip = entries.len().saturating_sub(CAPACITY);
        let entries: VecDeque<Entry> = entries.into_iter().skip(skip).collect();
        let next = entries.back().map_or(0, |e| e.seq + 1);
        Ring { entries, next }
    }

    /// Adds events as they were queued (JSON text, as the object stores them); answers
    /// the entries written.
    pub fn accepted<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a str>,
        at: u64,
        replayed: bool,
    ) -> Vec<&Entry> {
        let before = self.next;
        for event in events {
            let value: Value = serde_json::from_str(event).unwrap_or(Value::Null);
            let mut e = entry(&value, at, replayed);
            e.seq = self.next;
            self.next += 1;
            self.entries.push_back(e);
            while self.entries.len() > CAPACITY {
                self.entries.pop_front();
            }
        }
        self.entries.iter().filter(|e| e.seq >= before).collect()
    }

    /// Records what an attempt did with a batch (`ids`: the batch's event ids in
    /// order); events neither taken nor refused are `batched` (they go again).
    pub fn settle(&mut self, ids: &[String], s: &Settled<'_>, at: u64) -> Vec<&Entry> {
        let mut changed = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let (state, code, field) = if s.delivered.contains(&i) {
                (State::Delivered, None, None)
            } else if let Some((_, code, field)) = s.rejected.iter().find(|r| r.0 == i) {
                (State::Rejected, Some(*code), *field)
            } else if s.dead.contains(&i) {
                (State::DeadLettered, s.code, None)
            } else {
                (State::Batched, s.code, None)
            };
            // The newest entry of that id (a replayed event appears again).
            if let Some(e) = self.entries.iter_mut().rev().find(|e| &e.event_id == id) {
                e.state = state;
                e.changed = at;
                e.code = code.map(|c| c.chars().take(64).collect());
                e.field = field.map(|f| f.chars().take(128).collect());
                changed.push(e.seq);
            }
        }
        self.entries
            .iter()
            .filter(|e| changed.contains(&e.seq))
            .collect()
    }

    /// The newest `limit` entries, newest first.
    pub fn recent(&self, limit: usize) -> Vec<&Entry> {
        self.entries.iter().rev().take(limit).collect()
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HASH: &str = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";

    fn event(id: &str) -> String {
        json!({
            "eventDescription": {"name": "purchase", "conversionType": "OFF_AMAZON_PURCHASES",
                                 "eventSource": "WEBSITE", "eventIngestionMethod": "SERVER_TO_SERVER"},
            "countryCode": "DE",
            "eventTime": "2026-11-27T12:00:00Z",
            "eventId": id,
            "matchKeys": [{"type": "EMAIL", "values": [HASH]}, {"type": "PHONE", "values": [HASH]}],
            "consent": {"amazonConsent": {"amznUserData": "GRANTED", "amznAdStorage": "GRANTED"},
                        "geo": {"ipAddress": "192.0.2.1"}},
            "userAgent": "Mozilla/5.0",
        })
        .to_string()
    }

    #[test]
    fn an_entry_names_types_never_values() {
        let e = entry(&serde_json::from_str(&event("e1")).unwrap(), 5, false);
        assert_eq!(e.name, "purchase");
        assert_eq!(e.conversion_type, "OFF_AMAZON_PURCHASES");
        assert_eq!(e.country, "DE");
        assert_eq!(e.match_keys, ["EMAIL", "PHONE"]);
        assert_eq!(e.consent, "granted");
        assert_eq!(e.state, State::Accepted);
        let text = serde_json::to_string(&e).unwrap();
        for secret in [HASH, "192.0.2.1", "Mozilla"] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[test]
    fn consent_in_one_word_and_odd_events_do_not_fail() {
        assert_eq!(consent_word(&json!({"tcf": "CP"})), "tcf");
        assert_eq!(consent_word(&json!({"gpp": "DB"})), "gpp");
        assert_eq!(
            consent_word(&json!({"amazonConsent": {"amznUserData": "DENIED"}})),
            "denied"
        );
        assert_eq!(consent_word(&Value::Null), "none");
        let e = entry(&json!([1, 2]), 1, false);
        assert_eq!((e.name.as_str(), e.match_keys.len()), ("", 0));
        // A made-up type that is not an identifier is not shown.
        let e = entry(
            &json!({"matchKeys": [{"type": "a@b.c"}, {"type": "EMAIL"}]}),
            1,
            false,
        );
        assert_eq!(e.match_keys, ["EMAIL"]);
        // The legacy DSP import names its id clientDedupeId.
        assert_eq!(
            entry(&json!({"clientDedupeId": "d1", "name": "x"}), 1, false).event_id,
            "d1"
        );
    }

    #[test]
    fn the_ring_is_bounded_and_newest_first() {
        let mut ring = Ring::default();
        let events: Vec<String> = (0..CAPACITY + 20)
            .map(|i| event(&format!("e{i}")))
            .collect();
        ring.accepted(events.iter().map(String::as_str), 1, false);
        assert_eq!(ring.len(), CAPACITY);
        let recent = ring.recent(3);
        assert_eq!(recent[0].event_id, format!("e{}", CAPACITY + 19));
        assert_eq!(ring.recent(10_000).last().unwrap().event_id, "e20");
        // Stored as one value (newest first, as read), the ring read back is the same.
        let stored = serde_json::to_string(&ring.recent(CAPACITY)).unwrap();
        let back = Ring::from_entries(serde_json::from_str(&stored).unwrap());
        assert_eq!(back, ring);
        let written = back.clone().accepted([events[0].as_str()], 2, false).len();
        assert_eq!(written, 1);
    }

    #[test]
    fn written_at_most_every_few_seconds() {
        assert!(save_due(0, SAVE_EVERY_MS));
        assert!(!save_due(10_000, 10_000 + SAVE_EVERY_MS - 1));
        assert!(save_due(10_000, 10_000 + SAVE_EVERY_MS));
    }

    #[test]
    fn settle_marks_each_state() {
        let mut ring = Ring::default();
        let ids: Vec<String> = (0..4).map(|i| format!("e{i}")).collect();
        let events: Vec<String> = ids.iter().map(|i| event(i)).collect();
        ring.accepted(events.iter().map(String::as_str), 1, false);
        let changed = ring.settle(
            &ids,
            &Settled {
                delivered: &[0],
                rejected: vec![(1, "INVALID_MATCH_KEY", Some("matchKeys[0]"))],
                dead: &[2],
                code: Some("HTTP_400"),
            },
            9,
        );
        assert_eq!(changed.len(), 4);
        let by_id = |id: &str| {
            ring.recent(10)
                .into_iter()
                .find(|e| e.event_id == id)
                .unwrap()
                .clone()
        };
        assert_eq!(by_id("e0").state, State::Delivered);
        let r = by_id("e1");
        assert_eq!(
            (r.state, r.code.as_deref(), r.field.as_deref()),
            (
                State::Rejected,
                Some("INVALID_MATCH_KEY"),
                Some("matchKeys[0]")
            )
        );
        assert_eq!(by_id("e2").state, State::DeadLettered);
        assert_eq!(
            (by_id("e3").state, by_id("e3").changed),
            (State::Batched, 9)
        );
        // A replay adds the event again; settling marks the newest copy.
        ring.accepted([events[2].as_str()], 10, true);
        ring.settle(
            &ids[2..3],
            &Settled {
                delivered: &[0],
                ..Settled::default()
            },
            11,
        );
        let copies: Vec<State> = ring
            .recent(10)
            .iter()
            .filter(|e| e.event_id == "e2")
            .map(|e| e.state)
            .collect();
        assert_eq!(copies, [State::Delivered, State::DeadLettered]);
    }
}
