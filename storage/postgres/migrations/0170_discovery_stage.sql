-- A profile may run a fast discovery scanner first; its own scanner then
-- looks only at the host:port pairs the discovery found. '' = one stage.
ALTER TABLE profiles ADD COLUMN discovery_scanner TEXT NOT NULL DEFAULT ''
  CHECK (discovery_scanner IN ('', 'masscan', 'zmap'));
ALTER TABLE profiles ADD COLUMN discovery_options TEXT NOT NULL DEFAULT '';
