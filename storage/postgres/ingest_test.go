package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// orphanPorts counts ports whose host is gone: hosts and ports have no
// foreign keys (migration 0190), so the triggers must leave none.
func orphanPorts(t *testing.T, st *Store) int {
	t.Helper()
	return count(t, st, `SELECT count(*) FROM ports p WHERE NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = p.host_id)`)
}

// TestPortsGoWithTheirHosts deletes results every way they are deleted: a
// shard's re-ingest, a shard, a run, and hosts by hand. Ports go with their
// hosts every time, and only theirs.
func TestPortsGoWithTheirHosts(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f, r, s0, s1 := resultsFixture(t, st)
	other, err := st.CreateRun(ctx, f.scan.ID, "wf-other")
	must(t, err)
	o0, err := st.CreateShard(ctx, other.ID, 0, f.agent.ID, []string{"198.18.0.0/24"})
	must(t, err)
	fill := func(runID, shardID int64, attempt int, first int) {
		t.Helper()
		var hosts []report.Host
		for i := range 3 {
			hosts = append(hosts, host(fmt.Sprintf("198.18.0.%d", first+i), "up", port("tcp", 22, "open"), port("tcp", 80, "open")))
		}
		_, err := st.ReplaceShardResults(ctx, runID, shardID, attempt, feed(hosts...))
		must(t, err)
	}
	fill(r.ID, s0.ID, 0, 1)
	fill(r.ID, s1.ID, 0, 129)
	fill(other.ID, o0.ID, 0, 1)
	wantPorts := func(step string, run, want int64) {
		t.Helper()
		if n := count(t, st, `SELECT count(*) FROM ports WHERE run_id = $1`, run); int64(n) != want {
			t.Fatalf("%s: run %d has %d ports, want %d", step, run, n, want)
		}
		if n := orphanPorts(t, st); n != 0 {
			t.Fatalf("%s: %d ports without their host", step, n)
		}
		if n := count(t, st, `SELECT count(*) FROM hosts h WHERE NOT EXISTS (SELECT 1 FROM shards s WHERE s.id = h.shard_id AND s.run_id = h.run_id)`); n != 0 {
			t.Fatalf("%s: %d hosts without their shard", step, n)
		}
	}
	wantPorts("stored", r.ID, 12)

	fill(r.ID, s0.ID, 1, 1) // a retry replaces the shard's rows
	wantPorts("re-ingested", r.ID, 12)

	_, err = st.Pool().Exec(ctx, `DELETE FROM hosts WHERE address = '198.18.0.129' AND run_id = $1`, r.ID)
	must(t, err)
	wantPorts("one host deleted", r.ID, 10)

	_, err = st.Pool().Exec(ctx, `DELETE FROM shards WHERE id = $1`, s1.ID)
	must(t, err)
	wantPorts("shard deleted", r.ID, 6)

	must(t, st.DeleteRun(ctx, r.ID))
	wantPorts("run deleted", r.ID, 0)
	wantPorts("other run kept", other.ID, 6)
}

// TestDeletedRunLeavesNoAssetReference applies a run to the assets and
// deletes it: the assets stay and no longer name it.
func TestDeletedRunLeavesNoAssetReference(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "fr")
	r, hosts := completedRun(t, st, f, "wf-1", []string{"198.18.0.0/24"},
		host("198.18.0.10", "up", port("tcp", 22, "open"), port("tcp", 80, "open")))
	must(t, st.ApplyRunToAssets(ctx, f.site.ID, r, hosts, scan.CoverageOf([][]string{{"198.18.0.0/24"}}, nil)))
	if n := count(t, st, `SELECT count(*) FROM asset_ports WHERE last_run_id = $1`, r.ID); n != 2 {
		t.Fatalf("%d asset ports name the run, want 2", n)
	}
	must(t, st.DeleteRun(ctx, r.ID))
	if n := count(t, st, `SELECT count(*) FROM asset_ports WHERE last_run_id IS NOT NULL`); n != 0 {
		t.Fatalf("%d asset ports still name the deleted run", n)
	}
	if n := count(t, st, `SELECT count(*) FROM asset_ports`); n != 2 {
		t.Fatalf("%d asset ports after the run was deleted, want 2", n)
	}
}

// TestReplaceShardResultsWriteFailure: once a batch cannot be written, emit
// fails, so the parser stops early instead of reading the rest, and the
// shard keeps what it had.
func TestReplaceShardResultsWriteFailure(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	_, r, s0, _ := resultsFixture(t, st)
	_, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, feed(host("198.18.0.1", "up", port("tcp", 22, "open"))))
	must(t, err)

	const total = 20 * ingestBatchHosts
	emitted := 0
	var emitErr error
	_, err = st.ReplaceShardResults(ctx, r.ID, s0.ID, 1, func(emit func(report.Host) error) error {
		for i := range total {
			h := host(fmt.Sprintf("10.0.%d.%d", i/256, i%256), "up", port("tcp", 22, "open"))
			if i == 0 {
				h.Ports[0].Protocol = "" // violates ports_protocol_check
			}
			emitted++
			if emitErr = emit(h); emitErr != nil {
				return emitErr
			}
		}
		return nil
	})
	if err == nil {
		t.Fatal("a port without a protocol was stored")
	}
	if !errors.Is(emitErr, errIngestStopped) || emitted >= total {
		t.Fatalf("emit went on after the write failed: %d of %d emitted, last error %v", emitted, total, emitErr)
	}
	if n := count(t, st, `SELECT count(*) FROM ports p JOIN hosts h ON h.id = p.host_id WHERE h.shard_id = $1 AND h.address = '198.18.0.1'`, s0.ID); n != 1 {
		t.Fatalf("the shard's earlier port: %d rows, want 1", n)
	}
	if n := count(t, st, `SELECT count(*) FROM hosts WHERE shard_id = $1`, s0.ID); n != 1 {
		t.Fatalf("%d hosts after a failed replace, want the 1 from before", n)
	}
}

// TestReplaceShardResultsParsePanics: the parser runs in a goroutine of its
// own; a panic in it is an error of this call, not the end of the process.
func TestReplaceShardResultsParsePanics(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	_, r, s0, _ := resultsFixture(t, st)
	_, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, func(emit func(report.Host) error) error {
		if err := emit(host("198.18.0.1", "up", port("tcp", 22, "open"))); err != nil {
			return err
		}
		panic("parser bug")
	})
	if err == nil {
		t.Fatal("a panicking parse succeeded")
	}
	if n := count(t, st, `SELECT count(*) FROM hosts WHERE shard_id = $1`, s0.ID); n != 0 {
		t.Fatalf("%d hosts stored by a panicking parse", n)
	}
}

// TestDiffHostsMatchesRunHosts: DiffHosts gives the hosts RunHosts gives,
// in the same order, with the same fields a diff reads, and nothing of
// another run.
func TestDiffHostsMatchesRunHosts(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f, r, s0, s1 := resultsFixture(t, st)
	named := host("198.18.0.9", "up", port("tcp", 443, "open"), port("udp", 53, "closed"))
	named.Hostnames = []report.Hostname{{Name: "a.example"}, {Name: "b.example"}}
	_, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, feed(
		host("198.18.0.20", "up", port("tcp", 22, "open"), port("tcp", 80, "filtered")),
		named,
		host("198.18.0.3", "down")))
	must(t, err)
	// The same address again, from another shard (scanned by name).
	_, err = st.ReplaceShardResults(ctx, r.ID, s1.ID, 0, feed(host("198.18.0.9", "up", port("tcp", 8080, "open"))))
	must(t, err)
	other, err := st.CreateRun(ctx, f.scan.ID, "wf-other")
	must(t, err)
	o0, err := st.CreateShard(ctx, other.ID, 0, f.agent.ID, []string{"198.18.0.0/24"})
	must(t, err)
	_, err = st.ReplaceShardResults(ctx, other.ID, o0.ID, 0, feed(host("198.18.0.20", "up", port("tcp", 25, "open"))))
	must(t, err)

	full, err := st.RunHosts(ctx, r.ID)
	must(t, err)
	brief, err := st.DiffHosts(ctx, r.ID)
	must(t, err)
	// What a diff reads, ports sorted: DiffHosts gives them in no order.
	render := func(hosts []scan.HostRow) []string {
		var out []string
		for _, h := range hosts {
			var ports []string
			for _, p := range h.Ports {
				ports = append(ports, fmt.Sprintf("%s/%d %s %s|%s|%s @%s #%d", p.Protocol, p.Port, p.State, p.Service, p.Product, p.Version, p.Address, p.HostID))
			}
			slices.Sort(ports)
			out = append(out, fmt.Sprintf("%d %s %s %q %q", h.ID, h.Address, h.Status, h.Hostnames, ports))
		}
		return out
	}
	got, want := render(brief), render(full)
	if !slices.Equal(got, want) {
		t.Fatalf("DiffHosts:\n%s\nRunHosts:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(got) != 4 {
		t.Fatalf("%d hosts, want 4", len(got))
	}
}
