package activities_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
)

// completeRun runs every step of a run as the workflow does, against real
// nmap, S3 and PostgreSQL, and returns the run with the options it used.
func completeRun(t *testing.T, f *fixture, env *testsuite.TestActivityEnvironment, wf string) (scan.Run, []string) {
	t.Helper()
	start := f.startRun(t, env, wf)
	for _, spec := range start.Specs {
		d := f.dispatch(t, env, start, spec, 1)
		scanned, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: d.Spec})
		if err != nil {
			t.Fatalf("RunScan: %v", err)
		}
		in := activities.ParseResultsInput{RunID: start.RunID, ShardID: spec.ShardID, Attempt: scanned.Attempt, Raw: scanned.Raw, Agent: scanned.Agent, Signature: scanned.Signature, Nonce: d.Nonce}
		if _, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, in); err != nil {
			t.Fatalf("ParseResults: %v", err)
		}
	}
	exported, err := execute[activities.ExportResultsResult](t, env, f.results.ExportResults, activities.ExportResultsInput{RunID: start.RunID})
	if err != nil {
		t.Fatalf("ExportResults: %v", err)
	}
	run, err := execute[scan.Run](t, env, f.results.FinishRun, activities.FinishRunInput{WorkflowID: wf, Status: scan.RunCompleted, CSV: &exported.CSV})
	if err != nil || run.Status != scan.RunCompleted {
		t.Fatalf("FinishRun: %+v, %v", run, err)
	}
	return run, start.Specs[0].Options
}

// TestRecordChangesAcrossRuns scans the loopback twice, closing one of two
// listening ports in between: the second run's diff has that port closed,
// and the site's assets show it closed with the other still open.
func TestRecordChangesAcrossRuns(t *testing.T) {
	var ports []int
	var closer net.Listener
	for i := range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		if i == 1 {
			closer = ln
		}
	}
	f := newFixture(t, fmt.Sprintf("-n -Pn -sT -p %d,%d", ports[0], ports[1]))
	env := newEnv(f)
	changes := &activities.Changes{Store: f.store}
	env.RegisterActivity(changes)
	ctx := context.Background()

	run1, opts := completeRun(t, f, env, "wf-changes-1")
	first, err := execute[activities.RecordChangesResult](t, env, changes.RecordChanges, activities.RecordChangesInput{RunID: run1.ID, Options: opts})
	if err != nil {
		t.Fatalf("RecordChanges of the first run: %v", err)
	}
	if first.PreviousRunID != nil || first.Counts.Total() != 0 {
		t.Errorf("first run's diff = %+v, want nothing to compare with", first)
	}

	closer.Close()
	run2, opts := completeRun(t, f, env, "wf-changes-2")
	for range 2 { // a retry stores the same
		got, err := execute[activities.RecordChangesResult](t, env, changes.RecordChanges, activities.RecordChangesInput{RunID: run2.ID, Options: opts})
		if err != nil {
			t.Fatalf("RecordChanges: %v", err)
		}
		if got.PreviousRunID == nil || *got.PreviousRunID != run1.ID || got.Counts != (scan.DiffCounts{ClosedPorts: 1}) {
			t.Errorf("second run's diff = %+v, want one closed port against run %d", got, run1.ID)
		}
	}
	d, err := f.store.GetDiff(ctx, run2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Changes) != 1 || d.Changes[0].Kind != scan.ClosedPort || d.Changes[0].Address != "127.0.0.1" || d.Changes[0].Port != ports[1] {
		t.Errorf("changes = %+v, want 127.0.0.1 tcp/%d closed", d.Changes, ports[1])
	}

	plan, err := f.store.LoadPlan(ctx, f.scanID)
	if err != nil {
		t.Fatal(err)
	}
	hosts, total, err := f.store.ListAssets(ctx, postgres.AssetFilter{SiteID: plan.Site.ID})
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(hosts) != 2 || hosts[0].Address != "127.0.0.1" || hosts[1].Address != "::1" {
		t.Fatalf("assets = %+v, want 127.0.0.1 and ::1", hosts)
	}
	lo := hosts[0]
	if lo.State != "up" || len(lo.Ports) != 2 || *lo.LastRunID != run2.ID {
		t.Fatalf("127.0.0.1 = %+v", lo)
	}
	for _, p := range lo.Ports {
		switch {
		case p.Port == ports[0] && (p.State != "open" || !p.LastSeen.Equal(*run2.StartedAt)):
			t.Errorf("port %d = %+v, want open, last seen by run 2", ports[0], p)
		case p.Port == ports[1] && (p.State != "closed" || !p.LastSeen.Equal(*run1.StartedAt)):
			t.Errorf("port %d = %+v, want closed, last seen by run 1", ports[1], p)
		case p.Port != ports[0] && p.Port != ports[1]:
			t.Errorf("unexpected asset port %+v", p)
		}
	}

	// A run that did not complete has no diff.
	failed, err := f.store.CreateRun(ctx, f.scanID, "wf-changes-failed")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetRunStatus(ctx, failed.ID, scan.RunFailed, "boom"); err != nil {
		t.Fatal(err)
	}
	_, err = execute[activities.RecordChangesResult](t, env, changes.RecordChanges, activities.RecordChangesInput{RunID: failed.ID})
	if !isNonRetryable(err, activities.ErrTypeRunNotCompleted) {
		t.Errorf("RecordChanges of a failed run: %v, want non-retryable %s", err, activities.ErrTypeRunNotCompleted)
	}
}
