-- Dead letters of more than events: the audience membership changes and the erasures
-- Amazon refused for good are kept too, never deleted. `kind` says which a row is
-- ('event', 'audience', 'erasure'; replay re-sends only events), `http_status` is
-- Amazon's status, `audience` the audience's name (audience changes only). For these
-- kinds `event` holds the change as it was queued (hashes and pseudonymous ids only) and
-- `event_id` a random id of the dead letter, never a person's id.
ALTER TABLE dead_letters ADD COLUMN kind TEXT NOT NULL DEFAULT 'event';
ALTER TABLE dead_letters ADD COLUMN http_status INTEGER;
ALTER TABLE dead_letters ADD COLUMN audience TEXT;
CREATE INDEX IF NOT EXISTS dead_letters_kind ON dead_letters (integration, kind, id);
