package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/query"
)

// searchGoal is the answer time the search language promises over a
// million asset ports; BenchmarkSearch prints every query against it.
const searchGoal = 200 * time.Millisecond

// seedSearchBench writes sites × hosts × ports asset ports with COPY:
// addresses in 10.0.0.0/8 (data only: nothing is scanned), services and
// products from a small mix, sightings spread over 90 days.
func seedSearchBench(b *testing.B, st *Store, sites, hosts, ports int) {
	b.Helper()
	ctx := context.Background()
	services := []struct{ svc, prod, ver string }{
		{"ssh", "OpenSSH", "9.6p1"}, {"http", "nginx", "1.24.0"}, {"http", "Apache httpd", "2.4.57"},
		{"https", "nginx", "1.25.3"}, {"mysql", "MySQL", "8.0.36"}, {"smtp", "Postfix smtpd", ""},
		{"domain", "ISC BIND", "9.18.19"}, {"http-proxy", "Squid http proxy", "5.7"}, {"rdp", "", ""}, {"unknown", "", ""},
	}
	portNums := []int{22, 80, 443, 8443, 3306, 25, 53, 8080, 3389, 9999}
	now := time.Now()
	// Building the indexes once after the COPY is far quicker than keeping
	// them (three trigram GIN among them) current row by row.
	rows, err := st.Pool().Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
WHERE tablename = 'asset_ports' AND indexname NOT LIKE '%_pkey'`)
	if err != nil {
		b.Fatal(err)
	}
	var names, defs []string
	var name, def string
	if _, err := pgx.ForEachRow(rows, []any{&name, &def}, func() error {
		names, defs = append(names, name), append(defs, def)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for _, n := range names {
		if _, err := st.Pool().Exec(ctx, "DROP INDEX "+pgx.Identifier{n}.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
	for s := range sites {
		site, err := st.CreateSite(ctx, scan.Site{Name: fmt.Sprintf("bench-%d", s), Targets: []string{fmt.Sprintf("10.%d.0.0/16", s)}})
		if err != nil {
			b.Fatal(err)
		}
		addr := func(h int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(s), byte(h >> 8), byte(h)}) }
		i := 0
		_, err = st.Pool().CopyFrom(ctx, pgx.Identifier{"asset_hosts"},
			[]string{"site_id", "address", "hostnames", "state", "first_seen", "last_seen", "state_at"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == hosts {
					return nil, nil
				}
				seen := now.Add(-time.Duration(i%90) * 24 * time.Hour)
				row := []any{site.ID, addr(i), []string{fmt.Sprintf("h%d.s%d.bench.example", i, s)}, "up", seen.Add(-30 * 24 * time.Hour), seen, seen}
				i++
				return row, nil
			}))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		_, err = st.Pool().CopyFrom(ctx, pgx.Identifier{"asset_ports"},
			[]string{"site_id", "address", "protocol", "port", "state", "service", "product", "version", "first_seen", "last_seen", "state_at"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if n == hosts*ports {
					return nil, nil
				}
				h, k := n/ports, (n+n/ports)%len(portNums)
				sv := services[k]
				seen := now.Add(-time.Duration(n%97) * 24 * time.Hour)
				state := "open"
				if n%11 == 0 {
					state = "closed"
				}
				row := []any{site.ID, addr(h), "tcp", int32(portNums[k]), state, sv.svc, sv.prod, sv.ver, seen.Add(-40 * 24 * time.Hour), seen, seen}
				n++
				return row, nil
			}))
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, d := range defs {
		if _, err := st.Pool().Exec(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.Pool().Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSearch seeds a million asset ports (10 sites × 20,000 hosts × 5
// ports) and times a first page (50 hits and the total, counted up to
// query.MaxCount as the API and UI do) of representative queries, printing
// each against searchGoal.
func BenchmarkSearch(b *testing.B) {
	st := newStore(b)
	start := time.Now()
	seedSearchBench(b, st, 10, 20000, 5)
	fmt.Printf("search bench: seeded 1,000,000 asset ports in %s\n", time.Since(start).Round(time.Second))
	ctx := context.Background()
	for _, qs := range []string{
		"port:443",
		"port:22 state:open net:10.3.0.0/16",
		"ip:10.7.1.2",
		"service:http*",
		"product:*nginx*",
		`product:"Apache httpd" version:2.4*`,
		"seen:<1d",
		"first:>120d port:3306",
		"net:10.1.0.0/16 -port:80 -port:443",
		"(port:80 OR port:443 OR port:8080) site:bench-3",
		"changed:<1d proto:tcp",
		"host:h42.s5.*",
		"port:1-1024 state:closed",
	} {
		q, err := query.Parse(qs)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(qs, func(b *testing.B) {
			var res SearchResult
			for b.Loop() {
				if res, err = st.Search(ctx, q, SearchOptions{Limit: 50, MaxCount: query.MaxCount}); err != nil {
					b.Fatal(err)
				}
			}
			total := fmt.Sprint(res.Total)
			if res.Capped {
				total = ">" + total
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(per.Microseconds())/1000, "ms/query")
			verdict := "within"
			if per > searchGoal {
				verdict = "OVER"
			}
			fmt.Printf("search %-48q %7s hits %8.1f ms  (%s the %s goal)\n", qs, total, float64(per.Microseconds())/1000, verdict, searchGoal)
		})
	}
}
