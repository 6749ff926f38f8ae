package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/query"
	"github.com/scantron/scantron/scan/report"
)

// searchSeed stores two sites' assets and runs:
//
//	alpha: run 1 finds .10 (22 ssh, 80 http Apache, 53/udp) and .11 (443
//	       nginx, 8080 Squid_proxy); run 2 finds .10 with 22 on a newer
//	       OpenSSH and 80 closed, and .11 as before.
//	beta:  one run finds [2001:db8::5] (22 ssh) and 198.18.1.20 (3306).
func searchSeed(t *testing.T, st *Store) (alpha1, alpha2, beta1 scan.Run) {
	t.Helper()
	ctx := context.Background()
	a := newFixture(t, st, "alpha")
	b := newFixture(t, st, "beta")
	opts := []string{"-p", "1-1024"}
	named := func(h report.Host, names ...string) report.Host {
		for _, n := range names {
			h.Hostnames = append(h.Hostnames, report.Hostname{Name: n, Type: "PTR"})
		}
		return h
	}
	ssh := svcPort("tcp", 22, "open", "ssh", "OpenSSH", "8.9")
	ssh.Service.CPE = []string{"cpe:/a:openbsd:openssh:8.9"}
	ssh.Scripts = []report.Script{{ID: "ssh-hostkey", Output: "2048 aa:bb:cc (RSA)"}}
	http := svcPort("tcp", 80, "open", "http", "Apache httpd", "2.4.57")
	http.Service.CPE = []string{"cpe:/a:apache:http_server:2.4.57"}
	http.Scripts = []report.Script{{ID: "http-title", Output: "Welcome to 100% pure_test"}}
	dns := svcPort("udp", 53, "open", "domain", "", "")
	h11 := named(host("198.18.0.11", "up", svcPort("tcp", 443, "open", "https", "nginx", "1.24.0"),
		svcPort("tcp", 8080, "open", "http-proxy", "Squid_proxy", "5.7")), "web.alpha.example")

	var h1, h2 []scan.HostRow
	alpha1, h1 = completedRun(t, st, a, "wf-a1", []string{"198.18.0.0/24"},
		named(host("198.18.0.10", "up", ssh, http, dns), "gw.alpha.example", "gw"), h11)
	must(t, st.ApplyRunToAssets(ctx, a.site.ID, alpha1, h1, scan.CoverageOf([][]string{{"198.18.0.0/24"}}, opts)))
	ssh2 := svcPort("tcp", 22, "open", "ssh", "OpenSSH", "9.6")
	alpha2, h2 = completedRun(t, st, a, "wf-a2", []string{"198.18.0.0/24"},
		named(host("198.18.0.10", "up", ssh2, svcPort("tcp", 80, "closed", "http", "", "")), "gw.alpha.example"), h11)
	cov := scan.CoverageOf([][]string{{"198.18.0.0/24"}}, opts)
	must(t, st.ApplyRunToAssets(ctx, a.site.ID, alpha2, h2, cov))
	d := scan.Diff{DiffSummary: scan.DiffSummary{RunID: alpha2.ID, ScanID: a.scan.ID, PreviousRunID: &alpha1.ID},
		Changes: scan.ComputeDiff(h1, h2, cov)}
	_, err := st.SaveDiff(ctx, d)
	must(t, err)

	var hb []scan.HostRow
	beta1, hb = completedRun(t, st, b, "wf-b1", []string{"198.18.1.0/24", "2001:db8::/64"},
		host("2001:db8::5", "up", svcPort("tcp", 22, "open", "ssh", "OpenSSH", "9.6")),
		host("198.18.1.20", "up", svcPort("tcp", 3306, "open", "mysql", "MySQL", "8.0.36")))
	must(t, st.ApplyRunToAssets(ctx, b.site.ID, beta1, hb, scan.CoverageOf([][]string{{"198.18.1.0/24", "2001:db8::/64"}}, opts)))
	return alpha1, alpha2, beta1
}

func hitKeys(hits []query.Hit) string {
	keys := make([]string, len(hits))
	for i, h := range hits {
		keys[i] = fmt.Sprintf("%s/%d/%s", h.Address, h.Port, h.Protocol)
	}
	return strings.Join(keys, " ")
}

func TestSearchAssets(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	alpha1, _, _ := searchSeed(t, st)
	now := time.Now()

	cases := []struct{ q, want string }{
		{"", "198.18.0.10/22/tcp 198.18.0.10/80/tcp 198.18.0.10/53/udp 198.18.0.11/443/tcp 198.18.0.11/8080/tcp 198.18.1.20/3306/tcp 2001:db8::5/22/tcp"},
		{"port:22", "198.18.0.10/22/tcp 2001:db8::5/22/tcp"},
		{"port:22 state:open", "198.18.0.10/22/tcp 2001:db8::5/22/tcp"},
		{"state:closed", "198.18.0.10/80/tcp"},
		{"port:1-100,8080", "198.18.0.10/22/tcp 198.18.0.10/80/tcp 198.18.0.10/53/udp 198.18.0.11/8080/tcp 2001:db8::5/22/tcp"},
		{"proto:udp", "198.18.0.10/53/udp"},
		{"net:198.18.0.0/24 -proto:udp -state:closed", "198.18.0.10/22/tcp 198.18.0.11/443/tcp 198.18.0.11/8080/tcp"},
		{"ip:198.18.1.20", "198.18.1.20/3306/tcp"},
		{"net:2001:db8::/32", "2001:db8::5/22/tcp"},
		{"service:SSH", "198.18.0.10/22/tcp 2001:db8::5/22/tcp"},
		{"service:http*", "198.18.0.10/80/tcp 198.18.0.11/443/tcp 198.18.0.11/8080/tcp"},
		// The newest run's version wins; 8.9 is history.
		{"product:openssh version:9.*", "198.18.0.10/22/tcp 2001:db8::5/22/tcp"},
		{"version:8.9", ""},
		// _ and % are literal, not LIKE wildcards.
		{"product:squid_proxy", "198.18.0.11/8080/tcp"},
		{"product:squid%proxy", ""},
		{"product:s_uid*", ""},
		{`product:"apache httpd"`, "198.18.0.10/80/tcp"},
		{"port:80 OR port:443 service:https", "198.18.0.10/80/tcp 198.18.0.11/443/tcp"},
		{"(port:80 OR port:443) service:https", "198.18.0.11/443/tcp"},
		{"site:alpha* port:22", "198.18.0.10/22/tcp"},
		{"-site:alpha-site", "198.18.1.20/3306/tcp 2001:db8::5/22/tcp"},
		{"scan:beta-scan", "198.18.1.20/3306/tcp 2001:db8::5/22/tcp"},
		{"agent:beta-agent port:22", "2001:db8::5/22/tcp"},
		{"host:*.alpha.example", "198.18.0.10/22/tcp 198.18.0.10/80/tcp 198.18.0.10/53/udp 198.18.0.11/443/tcp 198.18.0.11/8080/tcp"},
		{"host:gw", ""}, // the newest run named it gw.alpha.example only
		// cpe and scripts come from the run that last saw the port: run 2
		// reported 22 without them, 53/udp still carries run 1's.
		{"cpe:cpe:/a:openbsd:*", ""},
		{"cpe:cpe:/a:apache:*", "198.18.0.10/80/tcp"},
		{"script:ssh-hostkey", ""},
		{"script:100%", "198.18.0.10/80/tcp"},
		{"script:http-*", "198.18.0.10/80/tcp"},
		{"script:pure_test", "198.18.0.10/80/tcp"},
		{"seen:<1d", "198.18.0.10/22/tcp 198.18.0.10/80/tcp 198.18.0.10/53/udp 198.18.0.11/443/tcp 198.18.0.11/8080/tcp 198.18.1.20/3306/tcp 2001:db8::5/22/tcp"},
		{"seen:>1d", ""},
		{"first:>1h", ""},
		// Run 2 changed 22 (service) and closed 80 on .10; everything is
		// new within the day.
		{"changed:<1d", "198.18.0.10/22/tcp 198.18.0.10/80/tcp 198.18.0.10/53/udp 198.18.0.11/443/tcp 198.18.0.11/8080/tcp 198.18.1.20/3306/tcp 2001:db8::5/22/tcp"},
		{"changed:>1d", ""},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			q, err := query.Parse(c.q)
			must(t, err)
			res, err := st.Search(ctx, q, SearchOptions{Now: now})
			must(t, err)
			hits, total := res.Hits, res.Total
			if got := hitKeys(hits); got != c.want || total != len(hits) {
				t.Fatalf("Search(%q) = %q (total %d)\nwant %q", c.q, got, total, c.want)
			}
		})
	}

	// Ages against a clock two days on: ports seen only by the first runs
	// are older than the last sighting of the rest only by minutes, so
	// move .10's 53/udp back instead and look for it.
	_, err := st.Pool().Exec(ctx, `UPDATE asset_ports SET last_seen = last_seen - interval '10 days', first_seen = first_seen - interval '40 days' WHERE port = 53`)
	must(t, err)
	for q, want := range map[string]string{
		"seen:>7d":                "198.18.0.10/53/udp",
		"first:>30d":              "198.18.0.10/53/udp",
		"seen:<7d proto:udp":      "",
		"changed:>1d":             "198.18.0.10/53/udp",
		"changed:>1d OR port:443": "198.18.0.10/53/udp 198.18.0.11/443/tcp",
	} {
		pq, err := query.Parse(q)
		must(t, err)
		res, err := st.Search(ctx, pq, SearchOptions{Now: now})
		must(t, err)
		hits := res.Hits
		if got := hitKeys(hits); got != want {
			t.Errorf("Search(%q) = %q, want %q", q, got, want)
		}
	}

	// Pages, and the detail of one hit.
	q, _ := query.Parse("site:alpha-site")
	res, err := st.Search(ctx, q, SearchOptions{Limit: 2, Offset: 1, Now: now})
	must(t, err)
	hits, total := res.Hits, res.Total
	if total != 5 || hitKeys(hits) != "198.18.0.10/80/tcp 198.18.0.10/53/udp" {
		t.Fatalf("page = %q of %d", hitKeys(hits), total)
	}
	// A capped count says so.
	for max, want := range map[int]bool{3: true, 5: false, 6: false} {
		res, err := st.Search(ctx, q, SearchOptions{Limit: 1, MaxCount: max, Now: now})
		must(t, err)
		if res.Capped != want || res.Total != min(max, 5) || len(res.Hits) != 1 {
			t.Fatalf("MaxCount %d: total %d capped %v", max, res.Total, res.Capped)
		}
	}
	// 80 closed in run 2; the run that last saw it open is run 1.
	h := hits[0]
	if h.Site != "alpha-site" || h.Scan != "alpha-scan" || h.State != "closed" || h.RunID == nil || *h.RunID != alpha1.ID ||
		!slices.Equal(h.Hostnames, []string{"gw.alpha.example"}) || h.FirstSeen.IsZero() || h.LastSeen.IsZero() {
		t.Fatalf("hit = %+v", h)
	}
}

func TestSearchRun(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	alpha1, alpha2, beta1 := searchSeed(t, st)
	cases := []struct {
		q    string
		want string
	}{
		{fmt.Sprintf("run:%d", alpha1.ID), "198.18.0.10/22/tcp 198.18.0.10/80/tcp 198.18.0.10/53/udp 198.18.0.11/443/tcp 198.18.0.11/8080/tcp"},
		// The run's own versions, not the assets' newest.
		{fmt.Sprintf("run:%d version:8.9 cpe:cpe:/a:openbsd:*", alpha1.ID), "198.18.0.10/22/tcp"},
		{fmt.Sprintf("run:%d script:ssh-hostkey", alpha1.ID), "198.18.0.10/22/tcp"},
		{fmt.Sprintf("run:%d host:gw", alpha1.ID), "198.18.0.10/22/tcp 198.18.0.10/80/tcp 198.18.0.10/53/udp"},
		{fmt.Sprintf("run:%d state:closed", alpha2.ID), "198.18.0.10/80/tcp"},
		{fmt.Sprintf("port:22 run:%d", alpha2.ID), "198.18.0.10/22/tcp"},
		{fmt.Sprintf("run:%d -net:198.18.0.0/16 agent:beta*", beta1.ID), "2001:db8::5/22/tcp"},
		{fmt.Sprintf("run:%d site:alpha*", beta1.ID), ""},
		{fmt.Sprintf("run:%d seen:<1h changed:<1d", alpha2.ID), "198.18.0.10/22/tcp 198.18.0.10/80/tcp 198.18.0.11/443/tcp 198.18.0.11/8080/tcp"},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			q, err := query.Parse(c.q)
			must(t, err)
			res, err := st.Search(ctx, q, SearchOptions{Now: time.Now()})
			must(t, err)
			hits, total := res.Hits, res.Total
			if got := hitKeys(hits); got != c.want || total != len(hits) {
				t.Fatalf("Search(%q) = %q (total %d)\nwant %q", c.q, got, total, c.want)
			}
		})
	}
	q, _ := query.Parse("run:999999")
	if _, err := st.Search(ctx, q, SearchOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("search of a missing run: %v", err)
	}
}
