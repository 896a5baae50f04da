-- Roles and scopes: each person is an admin, an operator or a viewer of the integrations
-- listed (a JSON array of ids). People invited before roles existed: those the admin key
-- invited stay admins (as everyone was), those another person invited become viewers of
-- nothing until an admin invites them again with a role. Sessions opened with the admin
-- key keep a fingerprint of it (`crate::console::admin_fingerprint`): when the key is
-- rotated they end; those opened before this migration have none and end now.
ALTER TABLE console_users ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer';
ALTER TABLE console_users ADD COLUMN integrations TEXT NOT NULL DEFAULT '[]';
UPDATE console_users SET role = 'admin' WHERE invited_by = 'admin';
ALTER TABLE console_sessions ADD COLUMN admin_fp TEXT;
-- Dead letters keep the target (advertiser, region, grant, profiles: `crate::target`)
-- they were accepted for, and replay takes only those of the integration's target now;
-- rows written before have none and are matched by advertiser and region.
ALTER TABLE dead_letters ADD COLUMN target TEXT;
