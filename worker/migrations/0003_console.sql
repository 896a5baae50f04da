-- The console: people who may sign in (each with a personal sign-in key, stored only as
-- its SHA-256), their sessions (the cookie's token only as its SHA-256), and the audit
-- log of every change (who, how: 'key' or 'session', what, when, the target's id; never
-- a value).
CREATE TABLE IF NOT EXISTS console_users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_sha256 TEXT NOT NULL UNIQUE,
  invited_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS console_sessions (
  id TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  user_name TEXT NOT NULL,
  csrf TEXT NOT NULL,
  created_ms REAL NOT NULL,
  last_ms REAL NOT NULL,
  revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS console_sessions_user ON console_sessions (user_id);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  status INTEGER NOT NULL,
  via TEXT NOT NULL DEFAULT 'key'
);
