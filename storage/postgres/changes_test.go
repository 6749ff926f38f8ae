package postgres

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/query"
	"github.com/scantron/scantron/scan/report"
)

// completedRun records a completed run of f's scan with one shard covering
// targets and holding hosts.
func completedRun(t *testing.T, st *Store, f fixture, wf string, targets []string, hosts ...report.Host) (scan.Run, []scan.HostRow) {
	t.Helper()
	ctx := context.Background()
	r, err := st.CreateRun(ctx, f.scan.ID, wf)
	must(t, err)
	must(t, st.SetRunStatus(ctx, r.ID, scan.RunRunning, ""))
	sh, err := st.CreateShard(ctx, r.ID, 0, f.agent.ID, targets)
	must(t, err)
	_, err = st.ReplaceShardResults(ctx, r.ID, sh.ID, 1, feed(hosts...))
	must(t, err)
	must(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: sh.ID, Status: scan.ShardCompleted}))
	r, err = st.CompleteRun(ctx, r.ID, scan.BlobRef{Bucket: "b", Key: "k", SHA256: strings.Repeat("c", 64)})
	must(t, err)
	rows, err := st.ListHosts(ctx, r.ID, HostFilter{WithPorts: true})
	must(t, err)
	return r, rows
}

func svcPort(proto string, n int, state, svc, product, version string) report.Port {
	return report.Port{Protocol: proto, Number: n, State: state, Service: report.Service{Name: svc, Product: product, Version: version}}
}

func TestDiffsStoredAndListed(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "d")
	targets := []string{"198.18.0.0/24"}
	r1, h1 := completedRun(t, st, f, "wf-1", targets,
		host("198.18.0.10", "up", svcPort("tcp", 22, "open", "ssh", "OpenSSH", "8.9"), svcPort("tcp", 80, "open", "http", "", "")),
		host("198.18.0.11", "up"))
	// A failed run between the two is skipped as "previous".
	failed, err := st.CreateRun(ctx, f.scan.ID, "wf-failed")
	must(t, err)
	must(t, st.SetRunStatus(ctx, failed.ID, scan.RunFailed, "boom"))
	r2, h2 := completedRun(t, st, f, "wf-2", targets,
		host("198.18.0.10", "up", svcPort("tcp", 22, "open", "ssh", "OpenSSH", "9.6"), svcPort("tcp", 80, "closed", "http", "", "")),
		host("198.18.0.12", "up", svcPort("tcp", 443, "open", "https", "", "")))

	if _, found, err := st.PreviousCompletedRun(ctx, r1); found || err != nil {
		t.Fatalf("previous of the first run: found %v, %v", found, err)
	}
	prev, found, err := st.PreviousCompletedRun(ctx, r2)
	must(t, err)
	if !found || prev.ID != r1.ID {
		t.Fatalf("previous of run %d = %d, want %d", r2.ID, prev.ID, r1.ID)
	}

	changes := scan.ComputeDiff(h1, h2, scan.CoverageOf([][]string{targets}, []string{"-p", "1-1024"}))
	d := scan.Diff{DiffSummary: scan.DiffSummary{RunID: r2.ID, ScanID: f.scan.ID, PreviousRunID: &r1.ID}, Changes: changes}
	for range 2 { // saving again replaces
		sum, err := st.SaveDiff(ctx, d)
		must(t, err)
		want := scan.DiffCounts{NewHosts: 1, GoneHosts: 1, OpenedPorts: 1, ClosedPorts: 1, ChangedServices: 1}
		if sum.Counts != want {
			t.Fatalf("counts = %+v, want %+v", sum.Counts, want)
		}
	}
	first := scan.Diff{DiffSummary: scan.DiffSummary{RunID: r1.ID, ScanID: f.scan.ID}}
	_, err = st.SaveDiff(ctx, first)
	must(t, err)

	got, err := st.GetDiff(ctx, r2.ID)
	must(t, err)
	if len(got.Changes) != 5 || *got.PreviousRunID != r1.ID {
		t.Fatalf("diff = %+v", got)
	}
	// Ordered by address, then protocol and port, host changes first.
	kinds := []scan.ChangeKind{}
	for _, c := range got.Changes {
		kinds = append(kinds, c.Kind)
	}
	wantKinds := []scan.ChangeKind{scan.ChangedService, scan.ClosedPort, scan.GoneHost, scan.NewHost, scan.OpenedPort}
	if strings.Join(toStrings(kinds), ",") != strings.Join(toStrings(wantKinds), ",") {
		t.Errorf("kinds = %v, want %v", kinds, wantKinds)
	}
	if c := got.Changes[0]; c.Before.Version != "8.9" || c.After.Version != "9.6" || c.Port != 22 || c.Address != "198.18.0.10" {
		t.Errorf("changed service = %+v", c)
	}
	if n := count(t, st, `SELECT count(*) FROM diff_changes WHERE run_id = $1`, r2.ID); n != 5 {
		t.Errorf("%d stored changes, want 5", n)
	}

	list, err := st.ListDiffs(ctx, f.scan.ID, 10, 0)
	must(t, err)
	if len(list) != 2 || list[0].RunID != r2.ID || list[1].RunID != r1.ID || list[1].PreviousRunID != nil {
		t.Fatalf("list = %+v", list)
	}
	// Across scans, only diffs with changes are listed, newest first.
	changed, err := st.ListChangedDiffs(ctx, 1000)
	must(t, err)
	seen := map[int64]bool{}
	for i, d := range changed {
		seen[d.RunID] = true
		if d.Counts.Total() == 0 || (i > 0 && d.RunID > changed[i-1].RunID) {
			t.Errorf("changed diffs out of order or empty: %+v", changed)
		}
	}
	if !seen[r2.ID] || seen[r1.ID] {
		t.Errorf("changed diffs %+v: want run %d and not run %d", changed, r2.ID, r1.ID)
	}
	_, err = st.GetDiff(ctx, failed.ID)
	wantErr(t, err, ErrNotFound)
}

func toStrings(k []scan.ChangeKind) []string {
	out := make([]string, len(k))
	for i, s := range k {
		out[i] = string(s)
	}
	return out
}

func assetState(t *testing.T, st *Store, f AssetFilter) map[string]scan.AssetHost {
	t.Helper()
	hosts, total, err := st.ListAssets(context.Background(), f)
	must(t, err)
	if total < len(hosts) {
		t.Fatalf("total %d < %d hosts", total, len(hosts))
	}
	out := map[string]scan.AssetHost{}
	for _, h := range hosts {
		out[h.Address] = h
	}
	return out
}

func portsOf(h scan.AssetHost) string {
	var parts []string
	for _, p := range h.Ports {
		parts = append(parts, p.Protocol+"/"+strconv.Itoa(p.Port)+"="+p.State+":"+p.Version)
	}
	return strings.Join(parts, " ")
}

func TestApplyRunToAssets(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "as")
	opts := []string{"-p", "1-1024"}
	r1, h1 := completedRun(t, st, f, "wf-1", []string{"198.18.0.0/24"},
		host("198.18.0.10", "up", svcPort("tcp", 22, "open", "ssh", "OpenSSH", "8.9"), svcPort("tcp", 80, "open", "http", "nginx", ""),
			svcPort("tcp", 8080, "open", "http-proxy", "", "")),
		host("198.18.0.11", "up", svcPort("tcp", 22, "open", "ssh", "", "")),
		host("198.18.0.20", "up"),
		host("198.18.0.30", "down"))
	// The second run covers only the lower half of the /24: .200 is outside.
	r2, h2 := completedRun(t, st, f, "wf-2", []string{"198.18.0.0/27"},
		host("198.18.0.10", "up", svcPort("tcp", 22, "open", "ssh", "OpenSSH", "9.6"), svcPort("tcp", 80, "filtered", "http", "", "")),
		host("198.18.0.12", "up", svcPort("udp", 53, "open", "domain", "", "")))
	cov1 := scan.CoverageOf([][]string{{"198.18.0.0/24"}}, opts)
	cov2 := scan.CoverageOf([][]string{{"198.18.0.0/27"}}, opts)

	must(t, st.ApplyRunToAssets(ctx, f.site.ID, r1, h1, cov1))
	after1 := assetState(t, st, AssetFilter{SiteID: f.site.ID})
	if len(after1) != 3 || after1["198.18.0.10"].State != "up" || after1["198.18.0.30"].Address != "" {
		t.Fatalf("after run 1: %+v", after1)
	}

	check := func(stage string) {
		t.Helper()
		got := assetState(t, st, AssetFilter{SiteID: f.site.ID})
		want := map[string]string{
			// 22 changed version, 80 listed filtered: closed, 8080 outside -p 1-1024: kept open.
			"198.18.0.10": "up tcp/22=open:9.6 tcp/80=closed: tcp/8080=open:",
			"198.18.0.11": "gone tcp/22=open:",
			"198.18.0.12": "up udp/53=open:",
			"198.18.0.20": "gone ",
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d hosts, want %d: %+v", stage, len(got), len(want), got)
		}
		for addr, w := range want {
			h := got[addr]
			if s := h.State + " " + portsOf(h); s != w {
				t.Errorf("%s: %s = %q, want %q", stage, addr, s, w)
			}
		}
		h := got["198.18.0.10"]
		if h.LastRunID == nil || *h.LastRunID != r2.ID || !h.FirstSeen.Equal(*r1.StartedAt) || !h.LastSeen.Equal(*r2.StartedAt) {
			t.Errorf("%s: .10 first/last = %v/%v run %v, want %v/%v run %d", stage, h.FirstSeen, h.LastSeen, h.LastRunID, r1.StartedAt, r2.StartedAt, r2.ID)
		}
		if g := got["198.18.0.11"]; !g.LastSeen.Equal(*r1.StartedAt) {
			t.Errorf("%s: gone host's last seen = %v, want run 1's %v", stage, g.LastSeen, r1.StartedAt)
		}
	}
	must(t, st.ApplyRunToAssets(ctx, f.site.ID, r2, h2, cov2))
	check("after run 2")
	must(t, st.ApplyRunToAssets(ctx, f.site.ID, r2, h2, cov2))
	check("run 2 again")
	must(t, st.ApplyRunToAssets(ctx, f.site.ID, r1, h1, cov1))
	check("run 1 after run 2")

	// Search.
	for _, tt := range []struct {
		name string
		f    AssetFilter
		want string // addresses
	}{
		{"cidr", AssetFilter{Query: q(t, "net:198.18.0.8/29")}, "198.18.0.10 198.18.0.11 198.18.0.12"},
		{"single address", AssetFilter{Query: q(t, "ip:198.18.0.12")}, "198.18.0.12"},
		{"port", AssetFilter{Query: q(t, "port:22")}, "198.18.0.10 198.18.0.11"},
		{"protocol", AssetFilter{Query: q(t, "proto:udp")}, "198.18.0.12"},
		{"service, any case", AssetFilter{Query: q(t, "service:SSH")}, "198.18.0.10 198.18.0.11"},
		{"product", AssetFilter{Query: q(t, "product:openss*")}, "198.18.0.10"},
		{"closed port", AssetFilter{Query: q(t, "state:closed")}, "198.18.0.10"},
		{"or, not", AssetFilter{Query: q(t, "port:53 OR (port:22 -ip:198.18.0.11)")}, "198.18.0.10 198.18.0.12"},
		{"everything, hosts without ports too", AssetFilter{}, "198.18.0.10 198.18.0.11 198.18.0.12 198.18.0.20"},
		{"page", AssetFilter{Limit: 2, Offset: 1}, "198.18.0.11 198.18.0.12"},
		{"other site", AssetFilter{SiteID: f.site.ID + 1000}, ""},
	} {
		tt.f.SiteID = max(tt.f.SiteID, f.site.ID)
		hosts, total, err := st.ListAssets(ctx, tt.f)
		must(t, err)
		var addrs []string
		for _, h := range hosts {
			addrs = append(addrs, h.Address)
		}
		if got := strings.Join(addrs, " "); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
		if tt.f.Limit == 0 && total != len(hosts) {
			t.Errorf("%s: total %d, want %d", tt.name, total, len(hosts))
		}
		if tt.name == "page" && total != 4 {
			t.Errorf("page: total %d, want 4", total)
		}
		if tt.name == "port" && len(hosts) > 0 && portsOf(hosts[0]) != "tcp/22=open:9.6" {
			t.Errorf("a query keeps only the ports it matches: %q", portsOf(hosts[0]))
		}
		if tt.name == "closed port" && len(hosts) > 0 && portsOf(hosts[0]) != "tcp/80=closed:" {
			t.Errorf("state:closed: %q", portsOf(hosts[0]))
		}
	}
}

// q parses a query of the search language.
func q(t *testing.T, s string) query.Query {
	t.Helper()
	qq, err := query.Parse(s)
	must(t, err)
	return qq
}

func TestNotificationsCRUD(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "n")
	_, err := st.GetNotifications(ctx, f.scan.ID)
	wantErr(t, err, ErrNotFound)

	n := scan.Notifications{ScanID: f.scan.ID, WebhookURL: "http://127.0.0.1:9/hook", WebhookSecret: "s3cret",
		EmailTo: []string{"ops@example.test"}, OnCompleted: true, OnDiff: true}
	got, err := st.PutNotifications(ctx, n)
	must(t, err)
	if got.WebhookSecret != "s3cret" || got.OnFailed || !got.OnDiff || len(got.EmailTo) != 1 {
		t.Fatalf("put = %+v", got)
	}
	n.EmailTo, n.OnFailed, n.WebhookURL, n.WebhookSecret = nil, true, "", ""
	_, err = st.PutNotifications(ctx, n)
	must(t, err)
	got, err = st.GetNotifications(ctx, f.scan.ID)
	must(t, err)
	if got.WebhookURL != "" || len(got.EmailTo) != 0 || !got.OnFailed {
		t.Fatalf("replaced = %+v", got)
	}
	// A webhook needs a secret to sign with.
	_, err = st.PutNotifications(ctx, scan.Notifications{ScanID: f.scan.ID, WebhookURL: "http://127.0.0.1:9/"})
	wantErr(t, err, ErrInvalid)
	_, err = st.PutNotifications(ctx, scan.Notifications{ScanID: f.scan.ID + 999})
	wantErr(t, err, ErrNotFound)

	must(t, st.DeleteNotifications(ctx, f.scan.ID))
	wantErr(t, st.DeleteNotifications(ctx, f.scan.ID), ErrNotFound)
}

// TestAssetsAcrossScans: two scans of one site with different port lists
// and protocols close only what each of them scanned.
func TestAssetsAcrossScans(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	a := newFixture(t, st, "x")
	b := a
	var err error
	b.scan, err = st.CreateScan(ctx, scan.Scan{Name: "x-scan-b", SiteID: a.site.ID, ProfileID: a.profile.ID, AgentID: a.agent.ID})
	must(t, err)
	targets := []string{"198.18.0.0/24"}
	apply := func(f fixture, wf string, opts []string, hosts ...report.Host) {
		t.Helper()
		r, rows := completedRun(t, st, f, wf, targets, hosts...)
		must(t, st.ApplyRunToAssets(ctx, f.site.ID, r, rows, scan.CoverageOf([][]string{targets}, opts)))
	}
	ports := func() string {
		t.Helper()
		return portsOf(assetState(t, st, AssetFilter{SiteID: a.site.ID})["198.18.0.10"])
	}

	all := []string{"-sS", "-p", "1-65535"}
	apply(a, "a1", all, host("198.18.0.10", "up", svcPort("tcp", 22, "open", "ssh", "", ""), svcPort("tcp", 31337, "open", "", "", "")))
	// Scan b scans nmap's default list: 31337 may not be in it, and scan a
	// saw it last, so it stays open; 22 is listed closed.
	apply(b, "b1", []string{"-sS"}, host("198.18.0.10", "up", svcPort("tcp", 22, "closed", "ssh", "", "")))
	if got, want := ports(), "tcp/22=closed: tcp/31337=open:"; got != want {
		t.Fatalf("after scan b's TCP run: %q, want %q", got, want)
	}
	// Scan b's UDP run closes no TCP port.
	apply(b, "b2", []string{"-sU", "-p", "53"}, host("198.18.0.10", "up", svcPort("udp", 53, "open", "domain", "", "")))
	if got, want := ports(), "tcp/22=closed: tcp/31337=open: udp/53=open:"; got != want {
		t.Fatalf("after scan b's UDP run: %q, want %q", got, want)
	}
	// Scan a's full TCP list covers 31337, but not UDP.
	apply(a, "a2", all, host("198.18.0.10", "up", svcPort("tcp", 22, "open", "ssh", "", "")))
	if got, want := ports(), "tcp/22=open: tcp/31337=closed: udp/53=open:"; got != want {
		t.Fatalf("after scan a's second run: %q, want %q", got, want)
	}
	// Scan b's default list again: 22 was last seen by scan a, so b only
	// closes it if it lists it.
	apply(b, "b3", []string{"-sS"}, host("198.18.0.10", "up"))
	if got, want := ports(), "tcp/22=open: tcp/31337=closed: udp/53=open:"; got != want {
		t.Fatalf("after scan b's run listing nothing: %q, want %q", got, want)
	}
}
