-- Profiles that run intrusive nmap scripts (exploit, dos, brute, intrusive,
-- malware, fuzzer, vuln, external, broadcast categories) carry an explicit
-- flag that only an admin may set; the server refuses such options on a
-- profile without it.
ALTER TABLE profiles ADD COLUMN intrusive boolean NOT NULL DEFAULT false;
