-- The delivery log: per batch, per failed event, and the dead letters kept for replay.
-- Never a match-key value, never a token.
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  advertiser TEXT NOT NULL,
  region TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  events INTEGER NOT NULL,
  accepted INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  http_status INTEGER,
  status TEXT NOT NULL,
  amazon_code TEXT
);
CREATE TABLE IF NOT EXISTS failed_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  advertiser TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  event_id TEXT,
  status TEXT NOT NULL,
  amazon_code TEXT,
  field_location TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  advertiser TEXT NOT NULL,
  region TEXT NOT NULL,
  event_id TEXT,
  event_time TEXT NOT NULL,
  event_time_ms REAL NOT NULL,
  event TEXT NOT NULL,
  reason TEXT NOT NULL,
  replayed_at TEXT
);
