package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan/query"
)

// SearchOptions pages Search and fixes its clock.
type SearchOptions = query.Options

// SearchResult is a page of hits and how many match in all.
type SearchResult = query.Result

// Search returns the ports matching q, over the current assets of every
// site or, with q.Run, over that run's results (ErrNotFound when there is
// no such run). Asset ports are ordered by site, address, protocol and
// port; a run's by address, protocol and port.
//
// The query becomes one parameterised WHERE clause: values are always
// arguments, and wildcards become LIKE patterns with the rest escaped.
func (s *Store) Search(ctx context.Context, q query.Query, o SearchOptions) (SearchResult, error) {
	var res SearchResult
	b := &searchSQL{run: q.Run != 0, clock: o.Now}
	src := assetSource
	if b.run {
		src = runSource
		b.arg(q.Run) // $1
	}
	where, err := b.node(q.Root)
	if err != nil {
		return res, fmt.Errorf("search: %w", err)
	}
	countFrom := src.from
	if b.run {
		where = "p.run_id = $1 AND " + where
	} else {
		countFrom = b.assetCountFrom()
	}
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err = s.inTx(ctx, snapshot, func(tx pgx.Tx) error {
		if b.run {
			if err := tx.QueryRow(ctx, `SELECT 1 FROM runs WHERE id = $1`, q.Run).Scan(new(int)); err != nil {
				return mapRead("run", err, fmt.Sprintf("run %d", q.Run))
			}
		}
		n := len(b.args)
		count := `SELECT count(*) FROM ` + countFrom + ` WHERE ` + where
		countArgs := b.args
		if o.MaxCount > 0 {
			count = fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT $%d) AS c`, countFrom, where, n+1)
			countArgs = append(countArgs[:n:n], o.MaxCount+1)
		}
		if err := tx.QueryRow(ctx, count, countArgs...).Scan(&res.Total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if o.MaxCount > 0 && res.Total > o.MaxCount {
			res.Total, res.Capped = o.MaxCount, true
		}
		sql := fmt.Sprintf(`SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d`,
			src.cols, src.from, where, src.order, n+1, n+2)
		rows, err := tx.Query(ctx, sql, append(b.args[:n:n], limitArg(o.Limit), offsetArg(o.Offset))...)
		if err != nil {
			return err
		}
		res.Hits, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (query.Hit, error) {
			var h query.Hit
			err := r.Scan(&h.SiteID, &h.Site, &h.Scan, &h.RunID, &h.Address, &h.Hostnames, &h.Protocol, &h.Port,
				&h.State, &h.Service, &h.Product, &h.Version, &h.FirstSeen, &h.LastSeen)
			h.Hostnames = strs(h.Hostnames)
			return h, err
		})
		return err
	})
	if err != nil {
		return SearchResult{}, fmt.Errorf("search: %w", err)
	}
	return res, nil
}

// assetCountFrom joins to asset ports only the tables the WHERE clause
// reads, so that counting a broad query reads one table's index.
func (b *searchSQL) assetCountFrom() string {
	from := "asset_ports p"
	if b.needs["h"] {
		from += " JOIN asset_hosts h ON h.site_id = p.site_id AND h.address = p.address"
	}
	if b.needs["s"] {
		from += " JOIN sites s ON s.id = p.site_id"
	}
	if b.needs["sc"] {
		from += " LEFT JOIN runs r ON r.id = p.last_run_id LEFT JOIN scans sc ON sc.id = r.scan_id"
	}
	return from
}

// searchSource is what a search reads: p is the port row and h its host,
// whichever the tables.
type searchSource struct {
	from, cols, order string
	seen, first       string // expressions
}

var assetSource = searchSource{
	from: `asset_ports p JOIN asset_hosts h ON h.site_id = p.site_id AND h.address = p.address
JOIN sites s ON s.id = p.site_id LEFT JOIN runs r ON r.id = p.last_run_id LEFT JOIN scans sc ON sc.id = r.scan_id`,
	cols: `p.site_id, s.name, coalesce(sc.name, ''), p.last_run_id, host(p.address), h.hostnames, p.protocol, p.port,
p.state, p.service, p.product, p.version, p.first_seen, p.last_seen`,
	order: `p.site_id, p.address, p.protocol, p.port`,
	seen:  `p.last_seen`,
	first: `p.first_seen`,
}

var runSource = searchSource{
	from: `ports p JOIN hosts h ON h.id = p.host_id JOIN runs r ON r.id = p.run_id
JOIN scans sc ON sc.id = r.scan_id JOIN sites s ON s.id = sc.site_id`,
	cols: `sc.site_id, s.name, sc.name, p.run_id, host(h.address), h.hostnames, p.protocol, p.port,
p.state, p.service, p.product, p.version, coalesce(r.started_at, r.created_at), coalesce(r.started_at, r.created_at)`,
	order: `h.address, p.protocol, p.port, p.id`,
	seen:  `coalesce(r.started_at, r.created_at)`,
}

// searchSQL builds a WHERE clause and its arguments.
type searchSQL struct {
	run   bool
	needs map[string]bool // tables beyond p that the clause reads: h, s, sc
	clock time.Time       // zero: now()
	now   string          // the clock's placeholder, once used
	args  []any
}

func (b *searchSQL) need(table string) {
	if b.needs == nil {
		b.needs = map[string]bool{}
	}
	b.needs[table] = true
}

func (b *searchSQL) arg(v any) string {
	b.args = append(b.args, v)
	return fmt.Sprintf("$%d", len(b.args))
}

func (b *searchSQL) node(n query.Node) (string, error) {
	switch v := n.(type) {
	case nil:
		return "true", nil
	case query.And:
		return b.join(v.Nodes, " AND ")
	case query.Or:
		return b.join(v.Nodes, " OR ")
	case query.Not:
		inner, err := b.node(v.Node)
		if err != nil {
			return "", err
		}
		return "NOT " + inner, nil
	case query.Term:
		return b.term(v)
	}
	return "", fmt.Errorf("unknown query node %T", n)
}

func (b *searchSQL) join(nodes []query.Node, op string) (string, error) {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		s, err := b.node(n)
		if err != nil {
			return "", err
		}
		parts[i] = s
	}
	return "(" + strings.Join(parts, op) + ")", nil
}

// likePattern is a LIKE pattern for p: its parts with \ % _ escaped,
// joined by %.
func likePattern(p query.Pattern) string {
	parts := make([]string, len(p.Parts))
	for i, s := range p.Parts {
		parts[i] = escapeLike(s)
	}
	return strings.Join(parts, "%")
}

// term is one condition, always parenthesised.
func (b *searchSQL) term(t query.Term) (string, error) {
	src := assetSource
	if b.run {
		src = runSource
	}
	like := func() string { return b.arg(likePattern(t.Text)) }
	switch t.Field {
	case query.IP, query.Net:
		return fmt.Sprintf("(%s <<= %s::cidr)", b.addr(), b.arg(t.Net)), nil
	case query.Port:
		var ors []string
		for _, r := range t.Ports {
			if r.Lo == r.Hi {
				ors = append(ors, "p.port = "+b.arg(r.Lo)+"::int")
			} else {
				ors = append(ors, fmt.Sprintf("p.port BETWEEN %s::int AND %s::int", b.arg(r.Lo), b.arg(r.Hi)))
			}
		}
		return "(" + strings.Join(ors, " OR ") + ")", nil
	case query.Proto:
		return "(p.protocol = " + b.arg(t.Text.Parts[0]) + ")", nil
	case query.State:
		return "(p.state = " + b.arg(t.Text.Parts[0]) + ")", nil
	case query.Service, query.Product, query.Version:
		return fmt.Sprintf("(p.%s ILIKE %s)", t.Field, like()), nil
	case query.Site:
		b.need("s")
		return "(s.name ILIKE " + like() + ")", nil
	case query.Scan:
		b.need("sc")
		return "(coalesce(sc.name, '') ILIKE " + like() + ")", nil
	case query.Host:
		// The joined names narrow through their trigram index first: a
		// name matching the pattern means they contain its parts in order.
		b.need("h")
		loose := b.arg("%" + likePattern(t.Text) + "%")
		return "(scantron_hostnames(h.hostnames) ILIKE " + loose +
			" AND EXISTS (SELECT 1 FROM unnest(h.hostnames) AS n(name) WHERE n.name ILIKE " + like() + "))", nil
	case query.CPE:
		return b.portDetail("EXISTS (SELECT 1 FROM unnest(rp.cpe) AS c(cpe) WHERE c.cpe ILIKE " + like() + ")"), nil
	case query.Script:
		id := like()
		out := id
		if !t.Text.Wildcard() {
			out = b.arg("%" + likePattern(t.Text) + "%")
		}
		return b.portDetail(fmt.Sprintf(`EXISTS (SELECT 1 FROM jsonb_array_elements(rp.scripts || rh.scripts) AS e(s)
WHERE e.s->>'id' ILIKE %s OR e.s->>'output' ILIKE %s)`, id, out)), nil
	case query.Agent:
		return b.hostDetail("EXISTS (SELECT 1 FROM shards sh JOIN agents ag ON ag.id = sh.agent_id WHERE sh.id = rh.shard_id AND ag.name ILIKE " + like() + ")"), nil
	case query.Seen:
		return b.age(src.seen, t.Age), nil
	case query.First:
		if src.first == "" {
			return "", fmt.Errorf("first: is only over current assets")
		}
		return b.age(src.first, t.Age), nil
	case query.Changed:
		return b.changed(t.Age), nil
	}
	return "", fmt.Errorf("field %s cannot be searched", t.Field)
}

// addr is the port's address: asset ports carry it, a run's ports have it
// on their host.
func (b *searchSQL) addr() string {
	if b.run {
		return "h.address"
	}
	return "p.address"
}

// since is the instant a counts back to.
func (b *searchSQL) since(a query.Age) string {
	if b.now == "" {
		b.now = "now()"
		if !b.clock.IsZero() {
			b.now = b.arg(b.clock) + "::timestamptz"
		}
	}
	return fmt.Sprintf("(%s - %s::bigint * interval '1 second')", b.now, b.arg(int64(a.D/time.Second)))
}

// age compares how long ago col was with a: within it, or longer ago.
func (b *searchSQL) age(col string, a query.Age) string {
	since := b.since(a)
	if a.Within {
		return fmt.Sprintf("(%s >= %s)", col, since)
	}
	return fmt.Sprintf("(%s < %s)", col, since)
}

// changed says whether the port appeared on its site's assets, or a run's
// diff recorded a change of it or of its host on its site, within a.D (or,
// for >, not). The changes form one uncorrelated set, so that PostgreSQL
// reads it once (and, ANDed at the top, drives the search from it).
func (b *searchSQL) changed(a query.Age) string {
	since := b.since(a)
	site := "p.site_id"
	if b.run {
		site = "sc.site_id"
	}
	when := "coalesce(cr.started_at, cr.created_at) >= " + since
	cond := fmt.Sprintf(`((%s, %s, p.protocol, p.port) IN (
SELECT ap.site_id, ap.address, ap.protocol, ap.port FROM asset_ports ap WHERE ap.first_seen >= %s
UNION ALL
SELECT cs.site_id, dc.address, dc.protocol, dc.port FROM diff_changes dc JOIN runs cr ON cr.id = dc.run_id
JOIN scans cs ON cs.id = cr.scan_id WHERE dc.port IS NOT NULL AND %s
UNION ALL
SELECT ap.site_id, ap.address, ap.protocol, ap.port FROM diff_changes dc JOIN runs cr ON cr.id = dc.run_id
JOIN scans cs ON cs.id = cr.scan_id JOIN asset_ports ap ON ap.site_id = cs.site_id AND ap.address = dc.address
WHERE dc.port IS NULL AND %s))`, site, b.addr(), since, when, when)
	if a.Within {
		return cond
	}
	return "(NOT " + cond + ")"
}

// portDetail applies cond, over rp (the port row) and rh (its host row),
// to what a run reported: the run's own rows, or for an asset port the
// rows of the run that last saw it.
func (b *searchSQL) portDetail(cond string) string {
	if b.run {
		return "(EXISTS (SELECT 1 FROM ports rp JOIN hosts rh ON rh.id = rp.host_id WHERE rp.id = p.id AND " + cond + "))"
	}
	return `(EXISTS (SELECT 1 FROM hosts rh JOIN ports rp ON rp.host_id = rh.id
WHERE rh.run_id = p.last_run_id AND rh.address = p.address AND rp.protocol = p.protocol AND rp.port = p.port AND ` + cond + "))"
}

// hostDetail is portDetail for a condition on the host row rh alone.
func (b *searchSQL) hostDetail(cond string) string {
	if b.run {
		return "(EXISTS (SELECT 1 FROM hosts rh WHERE rh.id = h.id AND " + cond + "))"
	}
	return "(EXISTS (SELECT 1 FROM hosts rh WHERE rh.run_id = p.last_run_id AND rh.address = p.address AND " + cond + "))"
}
