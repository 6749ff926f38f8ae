package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/query"
)

// ApplyRunToAssets folds a completed run's hosts (every host of the run,
// with every port) into its site's assets, in one transaction:
//
//   - hosts up in the run are up, with the run's open ports open;
//   - up hosts the run covered (cov) and did not find up are gone;
//   - open ports of hosts the run found up are closed when the run did not
//     find them open and covered them: it listed them in another state, or
//     it scanned their protocol and they are in its port list. A run
//     without a known port list (nmap's default) covers only what it
//     listed, or ports last seen by a run of the same scan (same profile,
//     same list): another scan of the site may scan other ports.
//
// The run's time is when it started. first_seen and last_seen only ever
// widen, and a state is only set by a run at least as new as the one that
// set it before, so applying a run twice changes nothing and applying an
// older run after a newer one does not turn anything back.
func (s *Store) ApplyRunToAssets(ctx context.Context, siteID int64, run scan.Run, hosts []scan.HostRow, cov scan.Coverage) error {
	seen := run.CreatedAt
	if run.StartedAt != nil {
		seen = *run.StartedAt
	}
	up := upHosts(hosts)
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// Serialise with other applications to the same site.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM sites WHERE id = $1 FOR UPDATE`, siteID); err != nil {
			return fmt.Errorf("lock site: %w", err)
		}
		// The run stays until the assets that name it as their last run
		// are committed: its deletion forgets them (trigger
		// runs_forget_asset_ports), which it could not do for rows it
		// cannot see yet.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM runs WHERE id = $1 FOR KEY SHARE`, run.ID); err != nil {
			return fmt.Errorf("lock run: %w", err)
		}
		if err := upsertAssetHosts(ctx, tx, siteID, run.ID, seen, up); err != nil {
			return err
		}
		if err := markGoneHosts(ctx, tx, siteID, seen, up, cov); err != nil {
			return err
		}
		if err := upsertAssetPorts(ctx, tx, siteID, run.ID, seen, up); err != nil {
			return err
		}
		return markClosedPorts(ctx, tx, siteID, run.ScanID, seen, up, cov)
	})
	if err != nil {
		return fmt.Errorf("apply run %d to the assets of site %d: %w", run.ID, siteID, err)
	}
	return nil
}

// upHost is one address a run found up, merged over its host rows.
type upHost struct {
	addr  netip.Addr
	names []string
	ports map[string]scan.PortRow // "proto/port" -> the port, open wins
}

func portID(proto string, port int) string { return fmt.Sprintf("%s/%d", proto, port) }

func upHosts(hosts []scan.HostRow) map[netip.Addr]*upHost {
	out := map[netip.Addr]*upHost{}
	for _, h := range hosts {
		addr, err := netip.ParseAddr(h.Address)
		if err != nil || h.Status != "up" {
			continue
		}
		u := out[addr]
		if u == nil {
			u = &upHost{addr: addr, ports: map[string]scan.PortRow{}}
			out[addr] = u
		}
		for _, n := range h.Hostnames {
			if !contains(u.names, n) {
				u.names = append(u.names, n)
			}
		}
		for _, p := range h.Ports {
			k := portID(p.Protocol, p.Port)
			if q, ok := u.ports[k]; !ok || q.State != "open" {
				u.ports[k] = p
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func upsertAssetHosts(ctx context.Context, tx pgx.Tx, siteID, runID int64, seen time.Time, up map[netip.Addr]*upHost) error {
	addrs := make([]netip.Addr, 0, len(up))
	names := make([]string, 0, len(up))
	for _, u := range up {
		addrs = append(addrs, u.addr)
		names = append(names, strings.Join(u.names, "\n"))
	}
	const q = `
INSERT INTO asset_hosts AS a (site_id, address, hostnames, state, first_seen, last_seen, state_at, last_run_id)
SELECT $1, u.addr, coalesce(string_to_array(nullif(u.names, ''), E'\n'), '{}'), 'up', $2, $2, $2, $3
FROM unnest($4::inet[], $5::text[]) AS u(addr, names)
ON CONFLICT (site_id, address) DO UPDATE SET
    first_seen  = least(a.first_seen, EXCLUDED.first_seen),
    last_seen   = greatest(a.last_seen, EXCLUDED.last_seen),
    hostnames   = CASE WHEN EXCLUDED.last_seen >= a.last_seen THEN EXCLUDED.hostnames ELSE a.hostnames END,
    last_run_id = CASE WHEN EXCLUDED.last_seen >= a.last_seen THEN EXCLUDED.last_run_id ELSE a.last_run_id END,
    state       = CASE WHEN EXCLUDED.state_at >= a.state_at THEN 'up' ELSE a.state END,
    state_at    = greatest(a.state_at, EXCLUDED.state_at)`
	if _, err := tx.Exec(ctx, q, siteID, seen, runID, addrs, names); err != nil {
		return mapWrite("upsert asset hosts", err, "")
	}
	return nil
}

func markGoneHosts(ctx context.Context, tx pgx.Tx, siteID int64, seen time.Time, up map[netip.Addr]*upHost, cov scan.Coverage) error {
	rows, err := tx.Query(ctx, `SELECT address, hostnames FROM asset_hosts WHERE site_id = $1 AND state = 'up' AND state_at < $2`, siteID, seen)
	if err != nil {
		return fmt.Errorf("asset hosts: %w", err)
	}
	var gone []netip.Addr
	var (
		addr  netip.Addr
		names []string
	)
	_, err = pgx.ForEachRow(rows, []any{&addr, &names}, func() error {
		if _, ok := up[addr]; !ok && cov.CoversHost(addr.String(), names) {
			gone = append(gone, addr)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("asset hosts: %w", err)
	}
	if len(gone) == 0 {
		return nil
	}
	const q = `UPDATE asset_hosts SET state = 'gone', state_at = $2
WHERE site_id = $1 AND address = ANY($3::inet[]) AND state_at < $2`
	if _, err := tx.Exec(ctx, q, siteID, seen, gone); err != nil {
		return fmt.Errorf("mark gone hosts: %w", err)
	}
	return nil
}

func upsertAssetPorts(ctx context.Context, tx pgx.Tx, siteID, runID int64, seen time.Time, up map[netip.Addr]*upHost) error {
	var (
		addrs                      []netip.Addr
		protos, svcs, prods, versP []string
		ports                      []int32
	)
	for _, u := range up {
		for _, p := range u.ports {
			if p.State != "open" {
				continue
			}
			addrs = append(addrs, u.addr)
			protos = append(protos, p.Protocol)
			ports = append(ports, int32(p.Port))
			svcs = append(svcs, p.Service)
			prods = append(prods, p.Product)
			versP = append(versP, p.Version)
		}
	}
	const q = `
INSERT INTO asset_ports AS a (site_id, address, protocol, port, state, service, product, version,
    first_seen, last_seen, state_at, last_run_id)
SELECT $1, u.addr, u.proto, u.port, 'open', u.svc, u.prod, u.ver, $2, $2, $2, $3
FROM unnest($4::inet[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[]) AS u(addr, proto, port, svc, prod, ver)
ON CONFLICT (site_id, address, protocol, port) DO UPDATE SET
    first_seen  = least(a.first_seen, EXCLUDED.first_seen),
    last_seen   = greatest(a.last_seen, EXCLUDED.last_seen),
    service     = CASE WHEN EXCLUDED.last_seen >= a.last_seen THEN EXCLUDED.service ELSE a.service END,
    product     = CASE WHEN EXCLUDED.last_seen >= a.last_seen THEN EXCLUDED.product ELSE a.product END,
    version     = CASE WHEN EXCLUDED.last_seen >= a.last_seen THEN EXCLUDED.version ELSE a.version END,
    last_run_id = CASE WHEN EXCLUDED.last_seen >= a.last_seen THEN EXCLUDED.last_run_id ELSE a.last_run_id END,
    state       = CASE WHEN EXCLUDED.state_at >= a.state_at THEN 'open' ELSE a.state END,
    state_at    = greatest(a.state_at, EXCLUDED.state_at)`
	if _, err := tx.Exec(ctx, q, siteID, seen, runID, addrs, protos, ports, svcs, prods, versP); err != nil {
		return mapWrite("upsert asset ports", err, "")
	}
	return nil
}

func markClosedPorts(ctx context.Context, tx pgx.Tx, siteID, scanID int64, seen time.Time, up map[netip.Addr]*upHost, cov scan.Coverage) error {
	addrs := make([]netip.Addr, 0, len(up))
	for a := range up {
		addrs = append(addrs, a)
	}
	const sel = `SELECT a.address, a.protocol, a.port, coalesce(r.scan_id, 0) FROM asset_ports a
LEFT JOIN runs r ON r.id = a.last_run_id
WHERE a.site_id = $1 AND a.state = 'open' AND a.state_at < $2 AND a.address = ANY($3::inet[])`
	rows, err := tx.Query(ctx, sel, siteID, seen, addrs)
	if err != nil {
		return fmt.Errorf("asset ports: %w", err)
	}
	var (
		addr       netip.Addr
		proto      string
		port       int32
		lastScan   int64
		closeAddrs []netip.Addr
		closeProto []string
		closePorts []int32
	)
	_, err = pgx.ForEachRow(rows, []any{&addr, &proto, &port, &lastScan}, func() error {
		p, listed := up[addr].ports[portID(proto, int(port))]
		if listed && p.State == "open" {
			return nil
		}
		ps := cov.Ports
		scanned := ps.Scans(proto) && ((ps.Known && ps.InList(proto, int(port))) || (!ps.Known && lastScan == scanID))
		if listed || scanned {
			closeAddrs, closeProto, closePorts = append(closeAddrs, addr), append(closeProto, proto), append(closePorts, port)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("asset ports: %w", err)
	}
	if len(closeAddrs) == 0 {
		return nil
	}
	const q = `UPDATE asset_ports a SET state = 'closed', state_at = $2
FROM unnest($3::inet[], $4::text[], $5::int[]) AS u(addr, proto, port)
WHERE a.site_id = $1 AND a.address = u.addr AND a.protocol = u.proto AND a.port = u.port AND a.state_at < $2`
	if _, err := tx.Exec(ctx, q, siteID, seen, closeAddrs, closeProto, closePorts); err != nil {
		return fmt.Errorf("mark closed ports: %w", err)
	}
	return nil
}

// AssetFilter selects and pages ListAssets. Zero values select everything.
type AssetFilter = query.AssetFilter

// ListAssets returns the hosts f selects, ordered by site and address,
// with how many it selects in all. The query is the search language's, as
// Search runs it over asset ports: one translation to SQL for both.
func (s *Store) ListAssets(ctx context.Context, f AssetFilter) ([]scan.AssetHost, int, error) {
	if f.Query.Run != 0 {
		return nil, 0, fmt.Errorf("list assets: %w: run: searches one run's ports, not the assets", ErrInvalid)
	}
	b := &searchSQL{clock: f.Now}
	site := b.arg(f.SiteID)
	portCond, err := b.node(f.Query.Root)
	if err != nil {
		return nil, 0, fmt.Errorf("list assets: %w", err)
	}
	hostWhere := fmt.Sprintf("(%s::bigint = 0 OR h.site_id = %s)", site, site)
	if f.Query.Root != nil {
		// h is the outer host, which a host: term reads where it stands;
		// only the other tables the terms read are joined.
		from := "asset_ports p"
		if b.needs["s"] {
			from += " JOIN sites s ON s.id = p.site_id"
		}
		if b.needs["sc"] {
			from += " LEFT JOIN runs r ON r.id = p.last_run_id LEFT JOIN scans sc ON sc.id = r.scan_id"
		}
		hostWhere += ` AND EXISTS (SELECT 1 FROM ` + from + `
WHERE p.site_id = h.site_id AND p.address = h.address AND ` + portCond + `)`
	}
	n := len(b.args)
	var (
		hosts []scan.AssetHost
		total int
	)
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err = s.inTx(ctx, snapshot, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM asset_hosts h WHERE `+hostWhere, b.args...).Scan(&total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		// The page is chosen over the keys alone: a deep page sorts
		// narrow rows, and only its own hosts are read whole.
		q := fmt.Sprintf(`SELECT h.site_id, host(h.address), h.hostnames, h.state, h.first_seen, h.last_seen, h.last_run_id
FROM (SELECT h.site_id, h.address FROM asset_hosts h WHERE %s ORDER BY h.site_id, h.address LIMIT $%d OFFSET $%d) AS k
JOIN asset_hosts h ON h.site_id = k.site_id AND h.address = k.address ORDER BY h.site_id, h.address`, hostWhere, n+1, n+2)
		rows, err := tx.Query(ctx, q, append(b.args[:n:n], limitArg(f.Limit), offsetArg(f.Offset))...)
		if err != nil {
			return err
		}
		hosts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.AssetHost, error) {
			var h scan.AssetHost
			err := r.Scan(&h.SiteID, &h.Address, &h.Hostnames, &h.State, &h.FirstSeen, &h.LastSeen, &h.LastRunID)
			h.Hostnames, h.Ports = strs(h.Hostnames), []scan.AssetPort{}
			return h, err
		})
		if err != nil || len(hosts) == 0 {
			return err
		}
		sites := make([]int64, len(hosts))
		addrs := make([]string, len(hosts))
		index := make(map[string]*scan.AssetHost, len(hosts))
		for i := range hosts {
			sites[i], addrs[i] = hosts[i].SiteID, hosts[i].Address
			index[fmt.Sprintf("%d %s", hosts[i].SiteID, hosts[i].Address)] = &hosts[i]
		}
		pq := fmt.Sprintf(`SELECT p.site_id, host(p.address), p.protocol, p.port, p.state, p.service, p.product, p.version,
p.first_seen, p.last_seen, p.last_run_id
FROM %s JOIN unnest($%d::bigint[], $%d::inet[]) AS k(site_id, address) ON p.site_id = k.site_id AND p.address = k.address
WHERE (%s::bigint = 0 OR p.site_id = %s) AND %s ORDER BY p.site_id, p.address, p.protocol, p.port`,
			assetSource.from, n+1, n+2, site, site, portCond)
		prow, err := tx.Query(ctx, pq, append(b.args[:n:n], sites, addrs)...)
		if err != nil {
			return fmt.Errorf("ports: %w", err)
		}
		var (
			site int64
			addr string
			p    scan.AssetPort
		)
		_, err = pgx.ForEachRow(prow, []any{&site, &addr, &p.Protocol, &p.Port, &p.State, &p.Service, &p.Product,
			&p.Version, &p.FirstSeen, &p.LastSeen, &p.LastRunID}, func() error {
			h := index[fmt.Sprintf("%d %s", site, addr)]
			h.Ports = append(h.Ports, p)
			return nil
		})
		if err != nil {
			return fmt.Errorf("ports: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list assets: %w", err)
	}
	return hosts, total, nil
}
