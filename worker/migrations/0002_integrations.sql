-- One Worker, many advertisers: Amazon connections (refresh tokens only sealed with
-- AES-256-GCM, see worker/src/seal.rs), the single-use state of connections being made,
-- and integrations (one advertiser's delivery for one site). The delivery log names
-- the integration of each row.
CREATE TABLE IF NOT EXISTS connections (
  id TEXT PRIMARY KEY,
  region TEXT NOT NULL,
  label TEXT,
  refresh_token TEXT NOT NULL,
  granted_at TEXT NOT NULL,
  created_at TEXT NOT NULL,
  token_state TEXT NOT NULL DEFAULT 'unchecked',
  token_checked_at TEXT,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS connect_states (
  state TEXT PRIMARY KEY,
  verifier TEXT NOT NULL,
  region TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  label TEXT,
  created_ms REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS integrations (
  id TEXT PRIMARY KEY,
  site_key TEXT NOT NULL UNIQUE,
  connection_id TEXT,
  disabled INTEGER NOT NULL DEFAULT 0,
  ingest_secret_sha256 TEXT UNIQUE,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
ALTER TABLE deliveries ADD COLUMN integration TEXT NOT NULL DEFAULT 'default';
ALTER TABLE failed_events ADD COLUMN integration TEXT NOT NULL DEFAULT 'default';
ALTER TABLE dead_letters ADD COLUMN integration TEXT NOT NULL DEFAULT 'default';
CREATE INDEX IF NOT EXISTS deliveries_integration ON deliveries (integration, id);
CREATE INDEX IF NOT EXISTS dead_letters_integration ON dead_letters (integration, replayed_at, id);
