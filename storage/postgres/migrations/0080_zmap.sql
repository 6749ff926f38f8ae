-- Profiles may name zmap, for single-port sweeps.
ALTER TABLE profiles DROP CONSTRAINT profiles_scanner_check;
ALTER TABLE profiles ADD CONSTRAINT profiles_scanner_check CHECK (scanner IN ('nmap', 'masscan', 'zmap'));
