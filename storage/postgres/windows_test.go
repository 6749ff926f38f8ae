package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

func TestScanWindowsStored(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	if f.scan.Windows == nil || len(f.scan.Windows) != 0 {
		t.Fatalf("a scan without windows reads back %#v, want an empty list", f.scan.Windows)
	}
	ws, err := scan.ParseWindows([]string{"mon-fri 22:00-06:00", "sun 00:00-24:00"})
	must(t, err)
	sc := f.scan
	sc.Windows = ws
	updated, err := st.UpdateScan(ctx, sc)
	must(t, err)
	got, err := st.GetScan(ctx, sc.ID)
	must(t, err)
	for _, s := range []scan.Scan{updated, got} {
		if len(s.Windows) != 2 || s.Windows[0] != ws[0] || s.Windows[1] != ws[1] {
			t.Fatalf("windows read back as %v, want %v", s.Windows, ws)
		}
	}
	plan, err := st.LoadPlan(ctx, sc.ID)
	must(t, err)
	if len(plan.Scan.Windows) != 2 {
		t.Fatalf("plan's scan has windows %v", plan.Scan.Windows)
	}
}

func TestRunWaitingForWindow(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	r, err := st.CreateRun(ctx, f.scan.ID, "wf-window")
	must(t, err)
	must(t, st.SetRunStatus(ctx, r.ID, scan.RunRunning, ""))
	opens := time.Date(2030, 1, 2, 22, 0, 0, 0, time.UTC)
	must(t, st.SetRunWaiting(ctx, r.ID, opens))
	got, err := st.GetRun(ctx, r.ID)
	must(t, err)
	if got.Status != scan.RunPaused || got.WindowOpensAt == nil || !got.WindowOpensAt.Equal(opens) {
		t.Fatalf("waiting run = %s, opens %v; want paused, opening %s", got.Status, got.WindowOpensAt, opens)
	}
	// Running again clears it; so does the run's end.
	must(t, st.SetRunStatus(ctx, r.ID, scan.RunRunning, ""))
	if got, _ = st.GetRun(ctx, r.ID); got.WindowOpensAt != nil || got.Status != scan.RunRunning {
		t.Fatalf("resumed run = %s, opens %v", got.Status, got.WindowOpensAt)
	}
	must(t, st.SetRunWaiting(ctx, r.ID, opens))
	must(t, st.SetRunStatus(ctx, r.ID, scan.RunCancelled, "cancelled"))
	if got, _ = st.GetRun(ctx, r.ID); got.WindowOpensAt != nil {
		t.Fatalf("cancelled run still waits until %v", got.WindowOpensAt)
	}
	wantErr(t, st.SetRunWaiting(ctx, r.ID, opens), ErrConflict)
}
