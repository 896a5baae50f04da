//! The live events ring of a `Batcher` (`crate::live`): kept in memory by the object,
//! read from its storage once, and written entry by entry (one key per slot) in the
//! object's own storage transaction with the change that moved it.

use std::cell::RefCell;

use serde_json::Value;
use worker::*;

use super::entries;
use crate::live::{CAPACITY, Entry, Ring, Settled, slot_key};
use crate::queue::Decision;

const PREFIX: &str = "live:";

/// The object's ring (loaded on first use).
#[derive(Default)]
pub(super) struct LiveRing(RefCell<Option<Ring>>);

impl LiveRing {
    async fn load(&self, storage: &Storage) -> Result<()> {
        if self.0.borrow().is_none() {
            let stored: Vec<Entry> = entries(storage, PREFIX, CAPACITY)
                .await?
                .iter()
                .filter_map(|(_, v)| serde_json::from_str(v).ok())
                .collect();
            let ring = Ring::from_entries(stored);
            self.0.borrow_mut().get_or_insert(ring);
        }
        Ok(())
    }

    /// Changes the ring; answers the keys and values to write with the change (only
    /// the entries it touched).
    pub(super) async fn note(
        &self,
        storage: &Storage,
        f: impl FnOnce(&mut Ring) -> Vec<&Entry>,
    ) -> Result<Vec<(String, String)>> {
        self.load(storage).await?;
        let mut slot = self.0.borrow_mut();
        let ring = slot.get_or_insert_with(Ring::default);
        f(ring)
            .into_iter()
            .map(|e| Ok((slot_key(e.seq), serde_json::to_string(e)?)))
            .collect()
    }

    /// Records what one attempt did with `batch`.
    pub(super) async fn settle(
        &self,
        storage: &Storage,
        batch: &[(String, String)],
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
        self.note(storage, |r| r.settle(&ids, &settled, now)).await
    }

    /// The newest entries, newest first.
    pub(super) async fn read(&self, storage: &Storage, limit: usize) -> Result<Value> {
        self.load(storage).await?;
        let slot = self.0.borrow();
        let recent = slot.as_ref().map(|r| r.recent(limit)).unwrap_or_default();
        Ok(serde_json::to_value(recent)?)
    }
}
