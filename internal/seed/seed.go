// Package seed fills a migrated, empty Scantron database with many scans
// and runs, so that list pages and their queries can be measured at the
// size the issue names (1,000 scans, 100,000 runs) rather than at a
// test's handful of rows.
package seed

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sizes is how many rows of each kind Fill makes.
type Sizes struct {
	Sites, Profiles, Agents, Scans, Runs int
	// AssetHosts are spread over the sites, each with ports 22, 80 and 443.
	AssetHosts int
}

// Issue14 is the size the list pages must stay fast at.
var Issue14 = Sizes{Sites: 50, Profiles: 10, Agents: 20, Scans: 1000, Runs: 100_000, AssetHosts: 20_000}

// Fill inserts the rows in one transaction of set-based statements
// (generate_series in the server, no rows through the client), then
// vacuums and analyzes. Names are "seed-<kind>-<n>", so that a
// search by name has something to find; a third of the scans have a daily
// schedule; runs are spread over the past year, nearly all completed, one
// in a hundred failed and the newest few still running.
func Fill(ctx context.Context, db *pgxpool.Pool, n Sizes) error {
	if n.Sites < 1 || n.Profiles < 1 || n.Agents < 1 || (n.Runs > 0 && n.Scans < 1) {
		return fmt.Errorf("seed: scans need at least one site, profile and agent, and runs a scan: %+v", n)
	}
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"sites", `
INSERT INTO sites (name, description)
SELECT format('seed-site-%s', i), 'seeded' FROM generate_series(1, $1) i`, []any{n.Sites}},
		{"site targets", `
INSERT INTO site_targets (site_id, position, value)
SELECT id, 1, format('198.18.%s.0/24', id % 256) FROM sites WHERE name LIKE 'seed-site-%'`, nil},
		{"profiles", `
INSERT INTO profiles (name, scanner, options)
SELECT format('seed-profile-%s', i), 'nmap', '-sT -p 22,80,443' FROM generate_series(1, $1) i`, []any{n.Profiles}},
		{"agents", `
INSERT INTO agents (name, task_queue)
SELECT format('seed-agent-%s', i), format('agent.seed-agent-%s', i) FROM generate_series(1, $1) i`, []any{n.Agents}},
		{"scans", `
WITH s AS (SELECT array_agg(id ORDER BY id) a FROM sites WHERE name LIKE 'seed-site-%'),
     p AS (SELECT array_agg(id ORDER BY id) a FROM profiles WHERE name LIKE 'seed-profile-%'),
     g AS (SELECT array_agg(id ORDER BY id) a FROM agents WHERE name LIKE 'seed-agent-%')
INSERT INTO scans (name, site_id, profile_id, agent_id, start_at, rrule)
SELECT format('seed-scan-%s', lpad(i::text, 5, '0')),
       s.a[1 + i % cardinality(s.a)], p.a[1 + i % cardinality(p.a)], g.a[1 + i % cardinality(g.a)],
       CASE WHEN i % 3 = 0 THEN timestamptz '2026-01-01 02:00:00+00' END,
       CASE WHEN i % 3 = 0 THEN 'FREQ=DAILY' ELSE '' END
FROM generate_series(1, $1) i, s, p, g`, []any{n.Scans}},
		{"runs", `
WITH sc AS (SELECT array_agg(id ORDER BY id) a FROM scans WHERE name LIKE 'seed-scan-%')
INSERT INTO runs (scan_id, workflow_id, status, error, targets, addresses, hosts_up, open_ports,
                  created_at, started_at, finished_at)
SELECT sc.a[1 + i % cardinality(sc.a)], format('seed-run-%s', i),
       CASE WHEN i > $1 - 5 THEN 'running' WHEN i % 100 = 0 THEN 'failed' ELSE 'completed' END,
       CASE WHEN i % 100 = 0 AND i <= $1 - 5 THEN 'seeded failure' ELSE '' END,
       ARRAY['198.18.0.0/24'], 256, i % 50, i % 200,
       t, t + interval '1 minute',
       CASE WHEN i > $1 - 5 THEN NULL ELSE t + interval '10 minutes' END
FROM generate_series(1, $1) i, sc,
     LATERAL (SELECT now() - interval '365 days' * ($1 - i) / $1 AS t) tt`, []any{n.Runs}},
		{"asset hosts", `
WITH s AS (SELECT array_agg(id ORDER BY id) a FROM sites WHERE name LIKE 'seed-site-%')
INSERT INTO asset_hosts (site_id, address, hostnames, state, first_seen, last_seen, state_at)
SELECT s.a[1 + i % cardinality(s.a)], inet '198.18.0.0' + i, ARRAY[format('host-%s.seed.example', i)],
       CASE WHEN i % 10 = 0 THEN 'gone' ELSE 'up' END,
       now() - interval '300 days', now() - (i % 30) * interval '1 day', now() - (i % 30) * interval '1 day'
FROM generate_series(1, $1) i, s`, []any{n.AssetHosts}},
		{"asset ports", `
INSERT INTO asset_ports (site_id, address, protocol, port, state, service, product, version, first_seen, last_seen, state_at)
SELECT h.site_id, h.address, 'tcp', p.port,
       CASE WHEN p.port = 443 AND (h.address - inet '198.18.0.0') % 7 = 0 THEN 'closed' ELSE 'open' END,
       p.svc, p.prod, p.ver, h.first_seen, h.last_seen, h.state_at
FROM asset_hosts h
CROSS JOIN (VALUES (22, 'ssh', 'OpenSSH', '9.6'), (80, 'http', 'nginx', '1.24'), (443, 'https', '', '')) AS p(port, svc, prod, ver)
WHERE h.hostnames[1] LIKE 'host-%.seed.example'`, nil},
	}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for _, st := range steps {
			if st.what == "runs" && n.Runs == 0 || st.what == "scans" && n.Scans == 0 ||
				strings.HasPrefix(st.what, "asset ") && n.AssetHosts == 0 {
				continue
			}
			if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
				return fmt.Errorf("seed %s: %w", st.what, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The planner's statistics and the visibility map (which lets count(*)
	// read only an index) as autovacuum would leave them after a while.
	if _, err := db.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return fmt.Errorf("seed: vacuum analyze: %w", err)
	}
	return nil
}
