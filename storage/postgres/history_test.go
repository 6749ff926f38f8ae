package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// recordRun completes a run with hosts and records what the activities
// record after it: its diff against prev (nil for the scan's first run)
// and its assets.
func recordRun(t *testing.T, st *Store, f fixture, wf string, prev []scan.HostRow, prevRun *scan.Run, hosts ...report.Host) (scan.Run, []scan.HostRow) {
	t.Helper()
	ctx := context.Background()
	r, rows := completedRun(t, st, f, wf, []string{"198.18.0.0/24"}, hosts...)
	cov := scan.CoverageOf([][]string{{"198.18.0.0/24"}}, []string{"-p", "1-1024"})
	d := scan.Diff{DiffSummary: scan.DiffSummary{RunID: r.ID, ScanID: f.scan.ID}}
	if prevRun != nil {
		d.PreviousRunID = &prevRun.ID
		d.Changes = scan.ComputeDiff(prev, rows, cov)
	}
	_, err := st.SaveDiff(ctx, d)
	must(t, err)
	must(t, st.ApplyRunToAssets(ctx, f.site.ID, r, rows, cov))
	return r, rows
}

// TestHostHistory: over three runs a port opens, changes version and
// closes (the third run does not list it: its diff closes it), and the
// history says when, in which run, by which agent; the exposure series
// has the three runs with their diff counts and services.
func TestHostHistory(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "hist")
	r1, h1 := recordRun(t, st, f, "wf-h1", nil, nil,
		host("198.18.0.10", "up", svcPort("tcp", 22, "open", "ssh", "OpenSSH", "8.9"), svcPort("tcp", 80, "open", "http", "nginx", "")),
		host("198.18.0.11", "up", svcPort("tcp", 443, "open", "https", "", "")))
	r2, h2 := recordRun(t, st, f, "wf-h2", h1, &r1,
		host("198.18.0.10", "up", svcPort("tcp", 22, "open", "ssh", "OpenSSH", "9.6"), svcPort("tcp", 80, "open", "http", "nginx", "")),
		host("198.18.0.11", "up", svcPort("tcp", 443, "open", "https", "", "")))
	r3, _ := recordRun(t, st, f, "wf-h3", h2, &r2,
		host("198.18.0.10", "up", svcPort("tcp", 80, "open", "http", "nginx", "")))

	h, err := st.HostHistory(ctx, netip.MustParseAddr("198.18.0.10"), 0, 100)
	must(t, err)
	var got []string
	for _, e := range h.Events {
		got = append(got, fmt.Sprintf("%d %s %d %s>%s %s %s", e.RunID, e.Kind, e.Port, e.Before.Version, e.After.Version, e.Agent, e.Site))
	}
	agent, site := f.agent.Name, f.site.Name
	want := []string{
		fmt.Sprintf("%d host_up 0 > %s %s", r1.ID, agent, site),
		fmt.Sprintf("%d port_opened 22 >8.9 %s %s", r1.ID, agent, site),
		fmt.Sprintf("%d port_opened 80 > %s %s", r1.ID, agent, site),
		fmt.Sprintf("%d service_changed 22 8.9>9.6 %s %s", r2.ID, agent, site),
		fmt.Sprintf("%d port_closed 22 9.6> %s %s", r3.ID, agent, site),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if h.Runs != 3 || h.Partial || !h.Events[0].At.Equal(*r1.StartedAt) || h.Events[4].At != *r3.StartedAt {
		t.Errorf("history runs %d partial %v, first at %v (want %v)", h.Runs, h.Partial, h.Events[0].At, r1.StartedAt)
	}
	// .11 is gone in run 3: the diff says so, though run 3 has no row of it.
	h11, err := st.HostHistory(ctx, netip.MustParseAddr("198.18.0.11"), f.site.ID, 100)
	must(t, err)
	if last := h11.Events[len(h11.Events)-1]; last.Kind != scan.HostGone || last.RunID != r3.ID || last.Agent != agent {
		t.Errorf(".11's last event %+v, want gone in run %d", last, r3.ID)
	}
	// Only the newest runs, when asked for fewer.
	p, err := st.HostHistory(ctx, netip.MustParseAddr("198.18.0.10"), 0, 2)
	must(t, err)
	if !p.Partial || p.Runs != 2 || p.Events[0].RunID != r2.ID || p.Events[0].Kind != scan.HostUp {
		t.Errorf("partial history %+v", p)
	}
	for _, tt := range []struct {
		addr string
		site int64
	}{{"198.18.0.99", 0}, {"198.18.0.10", f.site.ID + 1000}} {
		_, err = st.HostHistory(ctx, netip.MustParseAddr(tt.addr), tt.site, 100)
		wantErr(t, err, ErrNotFound)
	}

	for _, siteID := range []int64{0, f.site.ID} {
		series, err := st.ExposureSeries(ctx, siteID, 10)
		must(t, err)
		var rows []string
		for _, e := range series {
			rows = append(rows, fmt.Sprintf("%d up=%d open=%d new=%d gone=%d opened=%d closed=%d svc=%v", e.RunID, e.HostsUp, e.OpenPorts,
				e.NewHosts, e.GoneHosts, e.OpenedPorts, e.ClosedPorts, e.Services))
		}
		want := []string{
			fmt.Sprintf("%d up=2 open=3 new=0 gone=0 opened=0 closed=0 svc=map[http:1 https:1 ssh:1]", r1.ID),
			fmt.Sprintf("%d up=2 open=3 new=0 gone=0 opened=0 closed=0 svc=map[http:1 https:1 ssh:1]", r2.ID),
			fmt.Sprintf("%d up=1 open=1 new=0 gone=1 opened=0 closed=1 svc=map[http:1]", r3.ID),
		}
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			t.Errorf("site %d: exposure\n%s\nwant\n%s", siteID, strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
	newest, err := st.ExposureSeries(ctx, f.site.ID, 1)
	must(t, err)
	if len(newest) != 1 || newest[0].RunID != r3.ID {
		t.Errorf("the newest run: %+v", newest)
	}
}
