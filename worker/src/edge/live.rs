//! The live events ring of a `Batcher` (`crate::live`): kept in memory by the object,
//! read from its storage once, and written as one value in the object's own storage
//! transaction with the change that moved it.

use std::cell::RefCell;

use serde_json::Value;
use worker::*;

use crate::live::{Ring, Settled};
use crate::queue::Decision;

const KEY: &str = "meta:live";

/// The object's ring (loaded on first use).
#[derive(Default)]
pub(super) struct LiveRing(RefCell<Option<Ring>>);

impl LiveRing {
    async fn load(&self, storage: &Storage) -> Result<()> {
        if self.0.borrow().is_none() {
            let stored: Option<String> = storage.get(KEY).await.ok().flatten();
            let ring = stored
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default();
            self.0.borrow_mut().get_or_insert(ring);
        }
        Ok(())
    }

    /// Changes the ring; answers the key and value to write with the change.
    pub(super) async fn note(
        &self,
        storage: &Storage,
        f: impl FnOnce(&mut Ring),
    ) -> Result<(String, String)> {
        self.load(storage).await?;
        let mut slot = self.0.borrow_mut();
        let ring = slot.get_or_insert_with(Ring::default);
        f(ring);
        Ok((KEY.to_owned(), serde_json::to_string(ring)?))
    }

    /// Records what one attempt did with `batch`.
    pub(super) async fn settle(
        &self,
        storage: &Storage,
        batch: &[(String, String)],
        d: &Decision,
        now: u64,
    ) -> Result<(String, String)> {
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
