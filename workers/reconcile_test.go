package workers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// TestReconcilerEndsRunsWhoseWorkflowIsGone uses a real Temporal dev server
// and PostgreSQL: a run whose workflow was terminated, and one whose
// workflow never existed, are marked failed with the reason; a run whose
// workflow is still running is left alone.
func TestReconcilerEndsRunsWhoseWorkflowIsGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, store, _, tc := startStack(t, ctx)

	site, _ := store.CreateSite(ctx, scan.Site{Name: "s", Targets: []string{"127.0.0.1"}})
	prof, _ := store.CreateProfile(ctx, scan.Profile{Name: "p", Scanner: scan.Nmap, Options: "-n"})
	agent, _ := store.CreateAgent(ctx, scan.Agent{Name: "a", TaskQueue: workflows.AgentTaskQueue("a")})
	sc, err := store.CreateScan(ctx, scan.Scan{Name: "sc", SiteID: site.ID, ProfileID: prof.ID, AgentID: agent.ID})
	if err != nil {
		t.Fatal(err)
	}
	// No worker polls the server's queue here, so started workflows stay
	// running until something ends them.
	start := func(name string) scan.Run {
		t.Helper()
		wid := fmt.Sprintf("reconcile-%s-%d", name, time.Now().UnixNano())
		run, err := store.CreateRun(ctx, sc.ID, wid)
		if err != nil {
			t.Fatal(err)
		}
		if name == "never-started" {
			return run
		}
		_, err = tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: workflows.ServerTaskQueue}, workflows.ScanWorkflow, workflows.ScanInput{ScanID: sc.ID})
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	terminated, missing, running := start("terminated"), start("never-started"), start("running")
	if err := tc.TerminateWorkflow(ctx, terminated.WorkflowID, "", "operator pressed terminate"); err != nil {
		t.Fatal(err)
	}

	r := &Reconciler{Store: store, Temporal: tc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Grace: time.Nanosecond}
	n, err := r.Once(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Once = %d, %v; want 2 runs ended", n, err)
	}
	for _, tt := range []struct {
		run    scan.Run
		status scan.RunStatus
		reason string
	}{
		{terminated, scan.RunFailed, "terminated"},
		{missing, scan.RunFailed, "no longer exists"},
		{running, scan.RunPending, ""},
	} {
		got, err := store.GetRun(ctx, tt.run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tt.status || !strings.Contains(got.Error, tt.reason) {
			t.Errorf("run %s: %s %q, want %s with %q", tt.run.WorkflowID, got.Status, got.Error, tt.status, tt.reason)
		}
	}
	// A second pass finds nothing more to do.
	if n, err := r.Once(ctx); err != nil || n != 0 {
		t.Errorf("second Once = %d, %v", n, err)
	}
}
