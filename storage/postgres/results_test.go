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
	"github.com/scantron/scantron/scan/report"
)

// resultsFixture is a run with two shards.
func resultsFixture(t testing.TB, st *Store) (fixture, scan.Run, scan.Shard, scan.Shard) {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, st, "a")
	r, err := st.CreateRun(ctx, f.scan.ID, "wf")
	must(t, err)
	s0, err := st.CreateShard(ctx, r.ID, 0, f.agent.ID, []string{"198.18.0.0/25"})
	must(t, err)
	s1, err := st.CreateShard(ctx, r.ID, 1, f.agent.ID, []string{"198.18.0.128/25"})
	must(t, err)
	return f, r, s0, s1
}

func host(addr, status string, ports ...report.Port) report.Host {
	typ := "ipv4"
	if slices.Contains([]byte(addr), ':') {
		typ = "ipv6"
	}
	return report.Host{
		Addresses: []report.Address{{Addr: addr, Type: typ}},
		Status:    status, Reason: "syn-ack",
		Ports: ports,
	}
}

func port(proto string, n int, state string) report.Port {
	return report.Port{Protocol: proto, Number: n, State: state, Reason: "syn-ack",
		Service: report.Service{Name: fmt.Sprintf("svc%d", n), Product: "prod", Version: "1.0", ExtraInfo: "x", CPE: []string{"cpe:/a:x"}}}
}

func feed(hosts ...report.Host) func(func(report.Host) error) error {
	return func(emit func(report.Host) error) error {
		for _, h := range hosts {
			if err := emit(h); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestReplaceShardResultsIdempotent(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	_, r, s0, s1 := resultsFixture(t, st)

	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h1 := host("198.18.0.10", "up", port("tcp", 443, "open"), port("tcp", 22, "open"), port("udp", 53, "closed"))
	h1.Addresses = append(h1.Addresses, report.Address{Addr: "00:11:22:33:44:55", Type: "mac", Vendor: "Acme"})
	h1.Hostnames = []report.Hostname{{Name: "www.example", Type: "user"}, {Name: "ptr.example", Type: "PTR"}}
	h1.Start, h1.End = start, start.Add(time.Minute)
	noIP := report.Host{Addresses: []report.Address{{Addr: "00:11:22:33:44:66", Type: "mac"}}, Status: "up"}
	badIP := report.Host{Addresses: []report.Address{{Addr: "not-an-ip", Type: "ipv4"}}, Status: "up"}
	input := feed(h1, host("198.18.0.2", "down"), noIP, badIP, host("fe80::1%eth0", "up", port("tcp", 80, "filtered")))

	want := scan.IngestStats{Hosts: 3, Ports: 4, Skipped: 2}
	for round := range 2 {
		got, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, input)
		must(t, err)
		if got != want {
			t.Fatalf("round %d: stats = %+v, want %+v", round, got, want)
		}
		if n := count(t, st, `SELECT count(*) FROM hosts WHERE shard_id = $1`, s0.ID); n != 3 {
			t.Fatalf("round %d: %d host rows, want 3", round, n)
		}
		if n := count(t, st, `SELECT count(*) FROM ports WHERE run_id = $1`, r.ID); n != 4 {
			t.Fatalf("round %d: %d port rows, want 4", round, n)
		}
	}

	// Another shard's rows are untouched by a replace.
	_, err := st.ReplaceShardResults(ctx, r.ID, s1.ID, 0, feed(host("198.18.0.200", "up", port("tcp", 80, "open"))))
	must(t, err)
	got, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, feed(host("198.18.0.10", "up")))
	must(t, err)
	if got != (scan.IngestStats{Hosts: 1}) {
		t.Fatalf("stats = %+v", got)
	}
	if n := count(t, st, `SELECT count(*) FROM hosts WHERE run_id = $1`, r.ID); n != 2 {
		t.Fatalf("%d hosts in the run, want 2", n)
	}
	if n := count(t, st, `SELECT count(*) FROM ports WHERE run_id = $1`, r.ID); n != 1 {
		t.Fatalf("%d ports in the run, want 1", n)
	}

	// The shard must belong to the run.
	_, err = st.ReplaceShardResults(ctx, r.ID+1, s0.ID, 0, feed())
	wantErr(t, err, ErrNotFound)
}

// TestReplaceShardResultsAttempts: rows belong to one attempt of a shard. The
// same attempt twice replaces, a later attempt replaces, and a late ingest of
// an earlier attempt neither overwrites nor adds to the later attempt's rows.
func TestReplaceShardResultsAttempts(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	_, r, s0, _ := resultsFixture(t, st)
	addrs := func() []string {
		hosts, err := st.ListHosts(ctx, r.ID, HostFilter{})
		must(t, err)
		var out []string
		for _, h := range hosts {
			out = append(out, h.Address)
		}
		return out
	}
	first := feed(host("198.18.0.1", "up", port("tcp", 22, "open")), host("198.18.0.2", "up"))
	second := feed(host("198.18.0.3", "up", port("tcp", 80, "open")))

	for range 2 {
		stats, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 1, first)
		must(t, err)
		if stats != (scan.IngestStats{Hosts: 2, Ports: 1}) {
			t.Fatalf("attempt 1: stats = %+v", stats)
		}
	}
	if got := addrs(); !slices.Equal(got, []string{"198.18.0.1", "198.18.0.2"}) {
		t.Fatalf("after attempt 1 twice: hosts %v", got)
	}
	for range 2 {
		stats, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 2, second)
		must(t, err)
		if stats != (scan.IngestStats{Hosts: 1, Ports: 1}) {
			t.Fatalf("attempt 2: stats = %+v", stats)
		}
	}
	// Attempt 1 (and 0) arriving late: parse is not even called.
	for _, old := range []int{1, 0} {
		called := false
		stats, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, old, func(emit func(report.Host) error) error {
			called = true
			return first(emit)
		})
		must(t, err)
		if !stats.Stale || stats.Hosts != 0 || called {
			t.Fatalf("late attempt %d: stats = %+v, parse called %v", old, stats, called)
		}
	}
	if got := addrs(); !slices.Equal(got, []string{"198.18.0.3"}) {
		t.Fatalf("after a late attempt 1: hosts %v, want attempt 2's", got)
	}
	if n := count(t, st, `SELECT count(*) FROM ports WHERE run_id = $1`, r.ID); n != 1 {
		t.Fatalf("%d ports, want 1", n)
	}
	if n := count(t, st, `SELECT results_attempt FROM shards WHERE id = $1`, s0.ID); n != 2 {
		t.Fatalf("results_attempt = %d, want 2", n)
	}
	_, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, -1, second)
	if err == nil {
		t.Fatal("a negative attempt was accepted")
	}

	// The shard's raw output reference follows the newest attempt too.
	ref := func(n int) *scan.BlobRef {
		return &scan.BlobRef{Bucket: "b", Key: fmt.Sprintf("runs/1/1/%d/nmap.xml", n), Size: 1, SHA256: strings.Repeat("0", 64)}
	}
	must(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: s0.ID, Status: scan.ShardCompleted, Attempt: 2, Raw: ref(2)}))
	must(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: s0.ID, Status: scan.ShardScanned, Attempt: 1, Raw: ref(1)}))
	sh, err := st.GetShard(ctx, s0.ID)
	must(t, err)
	if sh.Attempt != 2 || sh.Raw == nil || sh.Raw.Key != ref(2).Key {
		t.Fatalf("after a late attempt 1: shard = %+v", sh)
	}
}

// TestHostDetailRoundTrip: OS matches, host and port scripts and the service
// details beyond name/product/version come back as they went in.
func TestHostDetailRoundTrip(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	_, r, s0, _ := resultsFixture(t, st)
	p := port("tcp", 443, "open")
	p.Service.Tunnel, p.Service.Method, p.Service.Conf, p.Service.Banner = "ssl", "probed", 10, "HTTP/1.1 200"
	p.Scripts = []report.Script{{ID: "ssl-cert", Output: "Subject: commonName=x"}, {ID: "http-title", Output: "It <works> & \"quotes\""}}
	h := host("198.18.0.7", "up", p, port("tcp", 22, "open"))
	h.OS = []report.OSMatch{{Name: "Linux 5.0 - 5.14", Accuracy: 100}, {Name: "Linux 4.15", Accuracy: 95}}
	h.Scripts = []report.Script{{ID: "smb-os-discovery", Output: "OS: Windows"}}
	h.Times = report.Times{SRTT: 816, RTTVar: 2325, Timeout: 100000}
	_, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, feed(h))
	must(t, err)

	hosts, err := st.ListHosts(ctx, r.ID, HostFilter{WithPorts: true})
	must(t, err)
	if len(hosts) != 1 || len(hosts[0].Ports) != 2 {
		t.Fatalf("hosts = %+v", hosts)
	}
	got := hosts[0]
	wantOS := []scan.OSMatch{{Name: "Linux 5.0 - 5.14", Accuracy: 100}, {Name: "Linux 4.15", Accuracy: 95}}
	if !slices.Equal(got.OS, wantOS) {
		t.Errorf("OS = %+v, want %+v", got.OS, wantOS)
	}
	if got.SRTT != 816 || got.RTTVar != 2325 || got.RTTTimeout != 100000 {
		t.Errorf("times = %d %d %d", got.SRTT, got.RTTVar, got.RTTTimeout)
	}
	if !slices.Equal(got.Scripts, []scan.Script{{ID: "smb-os-discovery", Output: "OS: Windows"}}) {
		t.Errorf("host scripts = %+v", got.Scripts)
	}
	ssh, https := got.Ports[0], got.Ports[1]
	if ssh.Port != 22 || ssh.Scripts == nil || len(ssh.Scripts) != 0 || ssh.Tunnel != "" {
		t.Errorf("port 22 = %+v", ssh)
	}
	wantScripts := []scan.Script{{ID: "ssl-cert", Output: "Subject: commonName=x"}, {ID: "http-title", Output: "It <works> & \"quotes\""}}
	if https.Tunnel != "ssl" || https.Method != "probed" || https.Conf != 10 || https.Banner != "HTTP/1.1 200" ||
		!slices.Equal(https.Scripts, wantScripts) {
		t.Errorf("port 443 = %+v", https)
	}
	ports, err := st.ListPorts(ctx, r.ID, PortFilter{})
	must(t, err)
	if len(ports) != 2 || !slices.Equal(ports[1].Scripts, wantScripts) {
		t.Errorf("ListPorts = %+v", ports)
	}
}

func TestReplaceShardResultsRollsBack(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	_, r, s0, _ := resultsFixture(t, st)
	_, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, feed(host("198.18.0.1", "up", port("tcp", 22, "open"))))
	must(t, err)

	boom := errors.New("boom")
	_, err = st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, func(emit func(report.Host) error) error {
		for i := range 1200 { // past a flush
			if err := emit(host(fmt.Sprintf("198.18.%d.%d", i/256, i%256), "up")); err != nil {
				return err
			}
		}
		return boom
	})
	wantErr(t, err, boom)
	if n := count(t, st, `SELECT count(*) FROM hosts WHERE shard_id = $1`, s0.ID); n != 1 {
		t.Fatalf("%d hosts after a failed replace, want the 1 from before", n)
	}

	// emit refuses calls after parse returned.
	var late func(report.Host) error
	_, err = st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, func(emit func(report.Host) error) error {
		late = emit
		return nil
	})
	must(t, err)
	if err := late(host("198.18.0.1", "up")); err == nil {
		t.Fatal("emit after parse returned succeeded")
	}
}

func TestReplaceShardResultsLarge(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	_, r, s0, _ := resultsFixture(t, st)
	const hosts, portsPer = 2600, 10 // several batches, by hosts and by ports
	parse := func(emit func(report.Host) error) error {
		for i := range hosts {
			h := host(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "up")
			for p := range portsPer {
				h.Ports = append(h.Ports, port("tcp", 1000+p, "open"))
			}
			if err := emit(h); err != nil {
				return err
			}
		}
		return nil
	}
	for range 2 {
		stats, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, parse)
		must(t, err)
		if stats != (scan.IngestStats{Hosts: hosts, Ports: hosts * portsPer}) {
			t.Fatalf("stats = %+v", stats)
		}
	}
	if n := count(t, st, `SELECT count(*) FROM hosts`); n != hosts {
		t.Fatalf("%d hosts, want %d", n, hosts)
	}
	if n := count(t, st, `SELECT count(*) FROM ports`); n != hosts*portsPer {
		t.Fatalf("%d ports, want %d", n, hosts*portsPer)
	}
	// Every port belongs to a host of the same run.
	if n := count(t, st, `SELECT count(*) FROM ports p JOIN hosts h ON h.id = p.host_id WHERE h.run_id = p.run_id`); n != hosts*portsPer {
		t.Fatalf("%d ports joined to their host, want %d", n, hosts*portsPer)
	}
}

func TestListHostsAndPorts(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	_, r, s0, s1 := resultsFixture(t, st)
	_, err := st.ReplaceShardResults(ctx, r.ID, s1.ID, 0, feed(
		host("2001:db8::1", "up", port("tcp", 22, "open")),
		host("198.18.0.10", "up", port("udp", 53, "open"), port("tcp", 80, "closed"), port("tcp", 22, "open")),
	))
	must(t, err)
	_, err = st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, feed(
		host("198.18.0.9", "down"),
		host("198.18.0.100", "up", port("tcp", 443, "open")),
	))
	must(t, err)

	hosts, err := st.ListHosts(ctx, r.ID, HostFilter{})
	must(t, err)
	var addrs []string
	for _, h := range hosts {
		addrs = append(addrs, h.Address)
		if h.Ports != nil || h.Hostnames == nil || h.RunID != r.ID {
			t.Fatalf("host = %+v", h)
		}
	}
	if want := []string{"198.18.0.9", "198.18.0.10", "198.18.0.100", "2001:db8::1"}; !slices.Equal(addrs, want) {
		t.Fatalf("addresses = %v, want %v", addrs, want)
	}

	page, err := st.ListHosts(ctx, r.ID, HostFilter{Limit: 2, Offset: 1, WithPorts: true})
	must(t, err)
	if len(page) != 2 || page[0].Address != "198.18.0.10" || page[1].Address != "198.18.0.100" {
		t.Fatalf("page = %+v", page)
	}
	var ports []string
	for _, p := range page[0].Ports {
		ports = append(ports, fmt.Sprintf("%s/%d", p.Protocol, p.Port))
		if p.Address != "198.18.0.10" || p.HostID != page[0].ID || p.Service != fmt.Sprintf("svc%d", p.Port) || !slices.Equal(p.CPE, []string{"cpe:/a:x"}) {
			t.Fatalf("port = %+v", p)
		}
	}
	if want := []string{"tcp/22", "tcp/80", "udp/53"}; !slices.Equal(ports, want) {
		t.Fatalf("ports = %v, want %v", ports, want)
	}

	tests := []struct {
		f    PortFilter
		want []string
	}{
		{PortFilter{}, []string{"198.18.0.10 tcp/22", "198.18.0.10 tcp/80", "198.18.0.10 udp/53", "198.18.0.100 tcp/443", "2001:db8::1 tcp/22"}},
		{PortFilter{State: "open"}, []string{"198.18.0.10 tcp/22", "198.18.0.10 udp/53", "198.18.0.100 tcp/443", "2001:db8::1 tcp/22"}},
		{PortFilter{State: "open", Limit: 2, Offset: 2}, []string{"198.18.0.100 tcp/443", "2001:db8::1 tcp/22"}},
		{PortFilter{State: "filtered"}, nil},
	}
	for _, tt := range tests {
		list, err := st.ListPorts(ctx, r.ID, tt.f)
		must(t, err)
		var got []string
		for _, p := range list {
			got = append(got, fmt.Sprintf("%s %s/%d", p.Address, p.Protocol, p.Port))
		}
		if !slices.Equal(got, tt.want) {
			t.Fatalf("ListPorts(%+v) = %v, want %v", tt.f, got, tt.want)
		}
	}
}

func TestCompleteRun(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f, r, s0, s1 := resultsFixture(t, st)
	_, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, feed(
		host("198.18.0.1", "up", port("tcp", 22, "open"), port("tcp", 23, "closed")),
		host("198.18.0.2", "down"),
	))
	must(t, err)
	_, err = st.ReplaceShardResults(ctx, r.ID, s1.ID, 0, feed(
		host("198.18.0.130", "up", port("tcp", 80, "open"), port("tcp", 443, "open"), port("udp", 161, "open|filtered")),
	))
	must(t, err)
	must(t, st.SetRunStatus(ctx, r.ID, scan.RunParsing, ""))

	csv := testBlob("runs/1/export/results.csv")
	done, err := st.CompleteRun(ctx, r.ID, csv)
	must(t, err)
	if done.Status != scan.RunCompleted || done.HostsUp != 2 || done.OpenPorts != 3 ||
		done.CSV == nil || *done.CSV != csv || done.FinishedAt == nil {
		t.Fatalf("completed run = %+v", done)
	}
	again, err := st.CompleteRun(ctx, r.ID, csv)
	must(t, err)
	if !again.FinishedAt.Equal(*done.FinishedAt) || again.HostsUp != 2 {
		t.Fatalf("CompleteRun again = %+v", again)
	}
	must(t, st.SetRunStatus(ctx, r.ID, scan.RunCompleted, ""))
	wantErr(t, st.SetRunStatus(ctx, r.ID, scan.RunFailed, "late"), ErrConflict)

	_, err = st.CompleteRun(ctx, r.ID, scan.BlobRef{Key: "x"})
	wantErr(t, err, ErrInvalid)

	cancelled, err := st.CreateRun(ctx, f.scan.ID, "wf-cancelled")
	must(t, err)
	must(t, st.SetRunStatus(ctx, cancelled.ID, scan.RunCancelled, ""))
	_, err = st.CompleteRun(ctx, cancelled.ID, csv)
	wantErr(t, err, ErrConflict)

	// Deleting the run deletes its shards, hosts and ports.
	must(t, st.DeleteRun(ctx, r.ID))
	for _, table := range []string{"shards", "hosts", "ports"} {
		if n := count(t, st, `SELECT count(*) FROM `+table+` WHERE run_id = $1`, r.ID); n != 0 {
			t.Fatalf("%d %s rows remain", n, table)
		}
	}
}

func TestExportRows(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f, r, s0, s1 := resultsFixture(t, st)
	must(t, st.SetRunStatus(ctx, r.ID, scan.RunRunning, ""))
	h := host("198.18.0.10", "up", port("udp", 53, "open"), port("tcp", 80, "closed"), port("tcp", 22, "open"))
	h.Hostnames = []report.Hostname{{Name: "www.example"}, {Name: "ptr.example"}}
	_, err := st.ReplaceShardResults(ctx, r.ID, s1.ID, 0, feed(host("2001:db8::1", "up", port("tcp", 22, "open")), h))
	must(t, err)
	_, err = st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, feed(host("198.18.0.9", "up")))
	must(t, err)

	var rows []scan.ExportRow
	must(t, st.ExportRows(ctx, r.ID, func(row scan.ExportRow) error {
		rows = append(rows, row)
		return nil
	}))
	var got []string
	for _, row := range rows {
		got = append(got, fmt.Sprintf("%s %s %d/%s %s", row.Host, row.Hostname, row.Port, row.Protocol, row.State))
		if row.Scan != f.scan.Name || row.Site != f.site.Name || row.ScanStart.IsZero() || row.ScanEnd.Before(row.ScanStart) {
			t.Fatalf("row = %+v", row)
		}
	}
	want := []string{
		"198.18.0.9  0/ ",
		"198.18.0.10 www.example 22/tcp open",
		"198.18.0.10 www.example 80/tcp closed",
		"198.18.0.10 www.example 53/udp open",
		"2001:db8::1  22/tcp open",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("rows:\n%q\nwant:\n%q", got, want)
	}
	if r := rows[1]; r.Service != "svc22" || r.Product != "prod" || r.Version != "1.0" || r.ExtraInfo != "x" || r.Reason != "syn-ack" {
		t.Fatalf("port fields = %+v", r)
	}
	if r := rows[0]; r.Service != "" || r.Reason != "" {
		t.Fatalf("a host without ports has port fields: %+v", r)
	}

	stop := errors.New("stop")
	n := 0
	err = st.ExportRows(ctx, r.ID, func(scan.ExportRow) error {
		n++
		return stop
	})
	wantErr(t, err, stop)
	if n != 1 {
		t.Fatalf("fn called %d times after failing", n)
	}
}

func TestReplaceShardResultsConcurrently(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	_, r, s0, _ := resultsFixture(t, st)
	input := feed(host("198.18.0.1", "up", port("tcp", 22, "open")), host("198.18.0.2", "up", port("tcp", 80, "open")))
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, input)
			errs <- err
		}()
	}
	for range 4 {
		must(t, <-errs)
	}
	if n := count(t, st, `SELECT count(*) FROM hosts WHERE shard_id = $1`, s0.ID); n != 2 {
		t.Fatalf("%d hosts after concurrent replaces, want 2", n)
	}
	if n := count(t, st, `SELECT count(*) FROM ports WHERE run_id = $1`, r.ID); n != 2 {
		t.Fatalf("%d ports after concurrent replaces, want 2", n)
	}
}

// TestExportHosts crosses page boundaries: every host once, in address
// order, each with its own ports.
func TestExportHosts(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f, r, s0, s1 := resultsFixture(t, st)
	var v4 []report.Host
	for i := range 1203 {
		v4 = append(v4, host(fmt.Sprintf("198.18.%d.%d", i/256, i%256), "up", port("tcp", 1+i%7, "open")))
	}
	_, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, feed(v4...))
	must(t, err)
	_, err = st.ReplaceShardResults(ctx, r.ID, s1.ID, 0, feed(host("2001:db8::1", "up"), host("198.18.0.5", "down")))
	must(t, err)

	var got []scan.HostRow
	must(t, st.ExportHosts(ctx, r.ID, func(run scan.ExportRow, h scan.HostRow) error {
		if run.Scan != f.scan.Name || run.Site != f.site.Name || run.ScanStart.IsZero() {
			t.Fatalf("run = %+v", run)
		}
		got = append(got, h)
		return nil
	}))
	if len(got) != 1205 {
		t.Fatalf("%d hosts, want 1205", len(got))
	}
	if got[5].Address != "198.18.0.5" || got[6].Address != "198.18.0.5" || got[1204].Address != "2001:db8::1" {
		t.Errorf("order: %s %s %s", got[5].Address, got[6].Address, got[1204].Address)
	}
	for _, h := range got {
		if h.Address != "2001:db8::1" && h.Status == "up" && (len(h.Ports) != 1 || h.Ports[0].HostID != h.ID) {
			t.Fatalf("host %s: ports %+v", h.Address, h.Ports)
		}
	}
	wantErr(t, st.ExportHosts(ctx, r.ID+100, func(scan.ExportRow, scan.HostRow) error { return nil }), ErrNotFound)
}
