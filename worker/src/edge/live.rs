//! The live events ring of a `Batcher` (`crate::live`): kept in memory by the object,
//! read from its storage once, and written as one value with a change at most every
//! [`crate::live::SAVE_EVERY_MS`] (in the object's own transaction), so an ingest request still
//! costs one write and the view survives the object's restarts but for its newest
//! entries.

use std::cell::{Cell, RefCell};

use serde_json::Value;
use worker::*;

use crate::live::{CAPACITY, Entry, Ring, Settled, save_due};
use crate::queue::Decision;

const KEY: &str = "live:ring";

/// The object's ring (loaded on first use) and when it was last written.
#[derive(Default)]
pub(super) struct LiveRing {
    ring: RefCell<Option<Ring>>,
    saved_at: Cell<u64>,
}

impl LiveRing {
    async fn load(&self, storage: &Storage) -> Result<()> {
        if self.ring.borrow().is_none() {
            let stored: Vec<Entry> = storage
                .get::<String>(KEY)
                .await
                .ok()
                .flatten()
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or_default();
            self.ring
                .borrow_mut()
                .get_or_insert(Ring::from_entries(stored));
        }
        Ok(())
    }

    /// Changes the ring; answers what to write with the change: the whole ring when a
    /// write is due, else nothing.
    pub(super) async fn note(
        &self,
        storage: &Storage,
        now: u64,
        f: impl FnOnce(&mut Ring),
    ) -> Result<Vec<(String, String)>> {
        self.load(storage).await?;
        let mut slot = self.ring.borrow_mut();
        let ring = slot.get_or_insert_with(Ring::default);
        f(ring);
        if !save_due(self.saved_at.get(), now) {
            return Ok(Vec::new());
        }
        self.saved_at.set(now);
        Ok(vec![(
            KEY.to_owned(),
            serde_json::to_string(&ring.recent(CAPACITY))?,
        )])
    }

    /// Records what one attempt did with `batch`.
    pub(super) async fn settle<K>(
        &self,
        storage: &Storage,
        batch: &[(K, String)],
        d: &Decision,
        now: u64,
    ) -> Result<Vec<(String, String)>> {
        let ids: Vec<String> = batch
            .iter()
            .map(|(_, e)| {
                let v: Value = serde_json::from_str(e).unwrap_or(Value::Null);
                v["eventId"]
                    .as_str()
                    .or_else(|| v["clientDedupeId"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        let settled = Settled {
            delivered: &d.delivered,
            rejected: d
                .rejected
                .iter()
                .map(|e| (e.index, e.code.as_str(), e.field_location.as_deref()))
                .collect(),
            dead: &d.dead,
            code: d.code.as_deref(),
        };
        self.note(storage, now, |r| {
            r.settle(&ids, &settled, now);
        })
        .await
    }

    /// The newest entries, newest first.
    pub(super) async fn read(&self, storage: &Storage, limit: usize) -> Result<Value> {
        self.load(storage).await?;
        let slot = self.ring.borrow();
        let recent = slot.as_ref().map(|r| r.recent(limit)).unwrap_or_default();
        Ok(serde_json::to_value(recent)?)
    }
}
