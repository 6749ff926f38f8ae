package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// Ingest writes a shard in batches of at most these many hosts or ports,
// so memory stays flat however large the scanner output is.
const (
	ingestBatchHosts = 500
	ingestBatchPorts = 16384
)

// HostFilter pages ListHosts.
type HostFilter = scan.HostFilter

// PortFilter selects and pages ListPorts.
type PortFilter = scan.PortFilter

// errEmitAfterParse is returned by emit when called after parse returned.
var errEmitAfterParse = errors.New("emit called after parse returned")

// errIngestStopped is returned by emit once writing has failed: parsing
// further is wasted.
var errIngestStopped = errors.New("ingest stopped: writing failed")

// ReplaceShardResults replaces the stored hosts and ports of a shard with
// those parse emits for attempt, in one transaction: first the shard's rows
// are deleted, then parse is called and every host it passes to emit is
// written in batches (host ids drawn from the hosts sequence, hosts and
// ports written with binary COPY). Parse runs in a goroutine of its own and
// fills the next batch while the one before is written, so parsing and
// PostgreSQL work at the same time. Running it again for the same run,
// shard and attempt therefore never duplicates rows; a later attempt
// replaces an earlier one's rows, and an earlier attempt arriving late
// (a retried activity of a superseded attempt) changes nothing: parse is
// not called and the stats say Stale.
//
// Hosts without a valid IPv4 or IPv6 address are skipped and counted in
// scan.IngestStats.Skipped. If parse returns an error, nothing is stored and that
// error is returned (wrapped); a caller that wants to keep what a truncated
// file held should swallow report.ErrTruncated in parse. The shard must
// belong to the run (ErrNotFound otherwise). Concurrent calls for the same
// shard wait for each other.
func (s *Store) ReplaceShardResults(ctx context.Context, runID, shardID int64, attempt int, parse func(emit func(report.Host) error) error) (scan.IngestStats, error) {
	var stats scan.IngestStats
	if attempt < 0 {
		return stats, fmt.Errorf("replace results of shard %d: negative attempt %d", shardID, attempt)
	}
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var stored *int
		err := tx.QueryRow(ctx, `SELECT results_attempt FROM shards WHERE id = $1 AND run_id = $2 FOR UPDATE`, shardID, runID).Scan(&stored)
		if err != nil {
			return mapRead("lock shard", err, fmt.Sprintf("shard %d of run %d", shardID, runID))
		}
		if stored != nil && *stored > attempt {
			stats.Stale = true
			return nil
		}
		// Deleting the hosts deletes their ports (trigger hosts_delete_ports).
		// One round trip deletes, records the attempt and draws the
		// first batch's host ids.
		const (
			delHosts = `DELETE FROM hosts WHERE shard_id = $1`
			mark     = `UPDATE shards SET results_attempt = $2 WHERE id = $1`
		)
		batch := &pgx.Batch{}
		batch.Queue(delHosts, shardID)
		batch.Queue(mark, shardID, attempt)
		batch.Queue(nextHostIDs, ingestBatchHosts)
		res := tx.SendBatch(ctx, batch)
		ids := &hostIDs{tx: tx}
		if _, err := res.Exec(); err != nil {
			res.Close()
			return fmt.Errorf("delete old hosts: %w", err)
		}
		if _, err := res.Exec(); err != nil {
			res.Close()
			return fmt.Errorf("record attempt: %w", err)
		}
		if err := ids.collect(res.Query()); err != nil {
			res.Close()
			return err
		}
		if err := res.Close(); err != nil {
			return fmt.Errorf("delete old hosts: %w", err)
		}
		stats, err = ingest(ctx, tx, ids, runID, shardID, parse)
		return err
	})
	if err != nil {
		return scan.IngestStats{}, fmt.Errorf("replace results of shard %d: %w", shardID, err)
	}
	return stats, nil
}

// ingest runs parse in a goroutine that converts the hosts it emits into
// batches, and writes each batch here, in tx, as it comes. At most one
// batch waits while another is written and a third is filled.
func ingest(ctx context.Context, tx pgx.Tx, ids *hostIDs, runID, shardID int64, parse func(emit func(report.Host) error) error) (scan.IngestStats, error) {
	var (
		stats    scan.IngestStats
		parseErr error
		skipped  int
		after    atomic.Bool
	)
	batches := make(chan *ingestBatch, 1)
	stop := make(chan struct{})
	go func() {
		defer close(batches)
		defer func() {
			if p := recover(); p != nil {
				parseErr = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		b := &ingestBatch{}
		send := func() error {
			select {
			case batches <- b:
				b = &ingestBatch{}
				return nil
			case <-stop:
				return errIngestStopped
			}
		}
		parseErr = parse(func(h report.Host) error {
			if after.Load() {
				return errEmitAfterParse
			}
			addr, err := netip.ParseAddr(h.IP())
			if err != nil {
				skipped++
				return nil
			}
			// inet has no zones; a zoned link-local address is stored without one.
			b.add(addr.WithZone("").Unmap(), h)
			if len(b.hosts) >= ingestBatchHosts || b.ports >= ingestBatchPorts {
				return send()
			}
			return nil
		})
		after.Store(true)
		if parseErr == nil && len(b.hosts) > 0 {
			parseErr = send()
		}
	}()

	var writeErr error
	for b := range batches {
		if writeErr != nil {
			continue // the parser is stopping; let it finish
		}
		if writeErr = b.write(ctx, tx, ids, runID, shardID); writeErr != nil {
			close(stop)
			continue
		}
		stats.Hosts += len(b.hosts)
		stats.Ports += b.ports
	}
	// batches is closed: the parser goroutine is done with parseErr and
	// skipped.
	if writeErr != nil {
		return scan.IngestStats{}, writeErr
	}
	if parseErr != nil {
		return scan.IngestStats{}, fmt.Errorf("parse: %w", parseErr)
	}
	stats.Skipped = skipped
	return stats, nil
}

// ingestBatch is hosts converted for their columns, ports still in their
// hosts, waiting for their ids.
type ingestBatch struct {
	hosts []ingestHost
	ports int
}

type ingestHost struct {
	addr         netip.Addr
	mac, vendor  string
	names        []string
	os           []scan.OSMatch
	scripts      []scan.Script
	start, end   *time.Time
	h            report.Host
	portsScripts [][]scan.Script
	portsCPE     [][]string
}

func (b *ingestBatch) add(addr netip.Addr, h report.Host) {
	mac, vendor := h.MAC()
	names := make([]string, len(h.Hostnames))
	for i, n := range h.Hostnames {
		names[i] = n.Name
	}
	osm := make([]scan.OSMatch, len(h.OS))
	for j, m := range h.OS {
		osm[j] = scan.OSMatch{Name: m.Name, Accuracy: m.Accuracy}
	}
	ps := make([][]scan.Script, len(h.Ports))
	cpe := make([][]string, len(h.Ports))
	for i, p := range h.Ports {
		ps[i], cpe[i] = scripts(p.Scripts), strs(p.Service.CPE)
	}
	b.hosts = append(b.hosts, ingestHost{addr: addr, mac: mac, vendor: vendor, names: names, os: osm,
		scripts: scripts(h.Scripts), start: timeOrNil(h.Start), end: timeOrNil(h.End), h: h,
		portsScripts: ps, portsCPE: cpe})
	b.ports += len(h.Ports)
}

var (
	ingestHostCols = []string{"id", "run_id", "shard_id", "address", "mac", "vendor", "hostnames",
		"status", "reason", "started_at", "ended_at", "os", "scripts", "srtt", "rttvar", "rtt_timeout"}
	ingestPortCols = []string{"host_id", "run_id", "protocol", "port", "state", "reason",
		"service", "product", "version", "extra_info", "cpe", "tunnel", "method", "conf", "banner", "scripts"}
)

// nextHostIDs draws $1 ids from the hosts sequence.
const nextHostIDs = `SELECT nextval(pg_get_serial_sequence('hosts', 'id')) FROM generate_series(1, $1)`

// hostIDs hands out host ids drawn from the hosts sequence ahead, a batch's
// worth at a time; ids drawn and not used leave a gap in the sequence, as
// any rolled-back insert does.
type hostIDs struct {
	tx   pgx.Tx
	free []int64
}

func (h *hostIDs) collect(rows pgx.Rows, err error) error {
	if err == nil {
		var more []int64
		more, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		h.free = append(h.free, more...)
	}
	if err != nil {
		return fmt.Errorf("allocate host ids: %w", err)
	}
	return nil
}

// take returns n ids.
func (h *hostIDs) take(ctx context.Context, n int) ([]int64, error) {
	if short := n - len(h.free); short > 0 {
		if err := h.collect(h.tx.Query(ctx, nextHostIDs, max(short, ingestBatchHosts))); err != nil {
			return nil, err
		}
	}
	out := h.free[:n:n]
	h.free = h.free[n:]
	return out, nil
}

// write takes the batch's host ids and copies its hosts, then its ports,
// each row made as COPY asks for it.
func (b *ingestBatch) write(ctx context.Context, tx pgx.Tx, ids *hostIDs, runID, shardID int64) error {
	batchIDs, err := ids.take(ctx, len(b.hosts))
	if err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"hosts"}, ingestHostCols, &hostSource{b: b, ids: batchIDs, runID: runID, shardID: shardID}); err != nil {
		return mapWrite("copy hosts", err, "")
	}
	if b.ports == 0 {
		return nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ports"}, ingestPortCols, &portSource{b: b, ids: batchIDs, runID: runID}); err != nil {
		return mapWrite("copy ports", err, "")
	}
	return nil
}

// hostSource gives COPY a batch's hosts, one row at a time in one reused
// slice (COPY encodes a row before it asks for the next).
type hostSource struct {
	b              *ingestBatch
	ids            []int64
	runID, shardID int64
	i              int
	row            [16]any
}

func (s *hostSource) Next() bool { s.i++; return s.i <= len(s.b.hosts) }
func (s *hostSource) Err() error { return nil }

func (s *hostSource) Values() ([]any, error) {
	ih := &s.b.hosts[s.i-1]
	h := &ih.h
	s.row = [16]any{s.ids[s.i-1], s.runID, s.shardID, ih.addr, ih.mac, ih.vendor, ih.names,
		h.Status, h.Reason, ih.start, ih.end, ih.os, ih.scripts,
		clampInt32(h.Times.SRTT), clampInt32(h.Times.RTTVar), clampInt32(h.Times.Timeout)}
	return s.row[:], nil
}

// portSource gives COPY a batch's ports, host by host.
type portSource struct {
	b     *ingestBatch
	ids   []int64
	runID int64
	host  int // index of the current host
	port  int // index of the next port in it, plus one
	row   [16]any
}

func (s *portSource) Next() bool {
	for s.host < len(s.b.hosts) {
		if s.port < len(s.b.hosts[s.host].h.Ports) {
			s.port++
			return true
		}
		s.host, s.port = s.host+1, 0
	}
	return false
}

func (s *portSource) Err() error { return nil }

func (s *portSource) Values() ([]any, error) {
	ih := &s.b.hosts[s.host]
	p := &ih.h.Ports[s.port-1]
	sv := &p.Service
	s.row = [16]any{s.ids[s.host], s.runID, p.Protocol, p.Number, p.State,
		p.Reason, sv.Name, sv.Product, sv.Version, sv.ExtraInfo, ih.portsCPE[s.port-1],
		sv.Tunnel, sv.Method, sv.Conf, sv.Banner, ih.portsScripts[s.port-1]}
	return s.row[:], nil
}

// clampInt32 fits a scanner-reported number into an integer column.
func clampInt32(n int) int32 {
	return int32(max(math.MinInt32, min(n, math.MaxInt32)))
}

// scripts converts script results for a jsonb column (never null).
func scripts(in []report.Script) []scan.Script {
	out := make([]scan.Script, len(in))
	for i, s := range in {
		out[i] = scan.Script{ID: s.ID, Output: s.Output}
	}
	return out
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

const hostCols = `h.id, h.run_id, h.shard_id, host(h.address), h.mac, h.vendor, h.hostnames,
h.status, h.reason, h.started_at, h.ended_at, h.os, h.scripts, h.srtt, h.rttvar, h.rtt_timeout`

func scanHost(row pgx.Row) (scan.HostRow, error) {
	var h scan.HostRow
	err := row.Scan(&h.ID, &h.RunID, &h.ShardID, &h.Address, &h.MAC, &h.Vendor, &h.Hostnames,
		&h.Status, &h.Reason, &h.StartedAt, &h.EndedAt, &h.OS, &h.Scripts, &h.SRTT, &h.RTTVar, &h.RTTTimeout)
	h.Hostnames = strs(h.Hostnames)
	return h, err
}

const portCols = `p.host_id, host(h.address), p.protocol, p.port, p.state, p.reason,
p.service, p.product, p.version, p.extra_info, p.cpe, p.tunnel, p.method, p.conf, p.banner, p.scripts`

func scanPort(row pgx.Row) (scan.PortRow, error) {
	var p scan.PortRow
	err := row.Scan(&p.HostID, &p.Address, &p.Protocol, &p.Port, &p.State, &p.Reason,
		&p.Service, &p.Product, &p.Version, &p.ExtraInfo, &p.CPE, &p.Tunnel, &p.Method, &p.Conf, &p.Banner, &p.Scripts)
	p.CPE = strs(p.CPE)
	return p, err
}

// hostWhere selects a run's hosts for ListHosts and CountHosts, with the
// arguments hostArgs gives.
const hostWhere = ` FROM hosts h WHERE h.run_id = $1
AND ($2::cidr IS NULL OR h.address <<= $2)
AND (($3 = 0 AND $4 = '' AND $5 = '') OR EXISTS (SELECT 1 FROM ports p WHERE p.host_id = h.id
    AND ($3 = 0 OR p.port = $3) AND ($4 = '' OR p.protocol = $4) AND ($5 = '' OR lower(p.service) = lower($5))))`

func hostArgs(runID int64, f HostFilter) []any {
	return []any{runID, maskedNetwork(f.Network), f.Port, f.Protocol, f.Service}
}

// maskedNetwork is a filter's network as cidr wants it: no host bits.
func maskedNetwork(p *netip.Prefix) *netip.Prefix {
	if p == nil {
		return nil
	}
	n := p.Masked()
	return &n
}

// CountHosts returns how many hosts ListHosts would return without its
// limit and offset.
func (s *Store) CountHosts(ctx context.Context, runID int64, f HostFilter) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+hostWhere, hostArgs(runID, f)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count hosts: %w", err)
	}
	return n, nil
}

// ListHosts returns a run's hosts ordered by address (IPv4 before IPv6).
// With f.WithPorts each host carries its ports, read in the same snapshot.
func (s *Store) ListHosts(ctx context.Context, runID int64, f HostFilter) ([]scan.HostRow, error) {
	var hosts []scan.HostRow
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := s.inTx(ctx, snapshot, func(tx pgx.Tx) error {
		const q = `SELECT ` + hostCols + hostWhere + ` ORDER BY h.address, h.id LIMIT $6 OFFSET $7`
		rows, err := tx.Query(ctx, q, append(hostArgs(runID, f), limitArg(f.Limit), offsetArg(f.Offset))...)
		if err != nil {
			return err
		}
		hosts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.HostRow, error) { return scanHost(r) })
		if err != nil || !f.WithPorts || len(hosts) == 0 {
			return err
		}
		return attachPorts(ctx, tx, hosts)
	})
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return hosts, nil
}

// attachPorts fills the Ports of hosts, ordered by protocol and port.
func attachPorts(ctx context.Context, q querier, hosts []scan.HostRow) error {
	ids := make([]int64, len(hosts))
	byID := make(map[int64]*scan.HostRow, len(hosts))
	for i := range hosts {
		ids[i] = hosts[i].ID
		byID[hosts[i].ID] = &hosts[i]
	}
	// The address is the host's: no join with hosts, whose planner
	// estimate (ports have no foreign key to lean on) could scan them all.
	const pq = `SELECT p.host_id, p.protocol, p.port, p.state, p.reason,
p.service, p.product, p.version, p.extra_info, p.cpe, p.tunnel, p.method, p.conf, p.banner, p.scripts
FROM ports p WHERE p.host_id = ANY($1) ORDER BY p.host_id, p.protocol, p.port, p.id`
	rows, err := q.Query(ctx, pq, ids)
	if err != nil {
		return fmt.Errorf("ports: %w", err)
	}
	var p scan.PortRow
	_, err = pgx.ForEachRow(rows, []any{&p.HostID, &p.Protocol, &p.Port, &p.State, &p.Reason,
		&p.Service, &p.Product, &p.Version, &p.ExtraInfo, &p.CPE, &p.Tunnel, &p.Method, &p.Conf, &p.Banner, &p.Scripts}, func() error {
		h := byID[p.HostID]
		p.Address, p.CPE = h.Address, strs(p.CPE)
		h.Ports = append(h.Ports, p)
		p.CPE, p.Scripts = nil, nil
		return nil
	})
	if err != nil {
		return fmt.Errorf("ports: %w", err)
	}
	return nil
}

// portWhere selects a run's ports for ListPorts and CountPorts, with the
// arguments portArgs gives.
const portWhere = ` FROM ports p JOIN hosts h ON h.id = p.host_id
WHERE p.run_id = $1 AND ($2 = '' OR p.state = $2)
AND ($3::cidr IS NULL OR h.address <<= $3) AND ($4 = 0 OR p.port = $4)
AND ($5 = '' OR p.protocol = $5) AND ($6 = '' OR lower(p.service) = lower($6))`

func portArgs(runID int64, f PortFilter) []any {
	return []any{runID, f.State, maskedNetwork(f.Network), f.Port, f.Protocol, f.Service}
}

// CountPorts returns how many ports ListPorts would return without its
// limit and offset.
func (s *Store) CountPorts(ctx context.Context, runID int64, f PortFilter) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+portWhere, portArgs(runID, f)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count ports: %w", err)
	}
	return n, nil
}

// ListPorts returns a run's ports ordered by address, protocol and port,
// optionally only those in one state ("open", say).
func (s *Store) ListPorts(ctx context.Context, runID int64, f PortFilter) ([]scan.PortRow, error) {
	const q = `SELECT ` + portCols + portWhere + ` ORDER BY h.address, p.protocol, p.port, p.id LIMIT $7 OFFSET $8`
	rows, err := s.pool.Query(ctx, q, append(portArgs(runID, f), limitArg(f.Limit), offsetArg(f.Offset))...)
	if err != nil {
		return nil, fmt.Errorf("list ports: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.PortRow, error) { return scanPort(r) })
	if err != nil {
		return nil, fmt.Errorf("list ports: %w", err)
	}
	return out, nil
}
