package postgres

import (
	"context"
	"maps"
	"testing"

	"github.com/scantron/scantron/scan"
)

func TestCountRunsByStatus(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	counts, err := st.CountRunsByStatus(ctx)
	must(t, err)
	if len(counts) != 0 {
		t.Fatalf("no runs yet, counts %v", counts)
	}
	for i, status := range []scan.RunStatus{scan.RunPending, scan.RunRunning, scan.RunRunning, scan.RunFailed} {
		r, err := st.CreateRun(ctx, f.scan.ID, "wf-count-"+string(rune('a'+i)))
		must(t, err)
		if status != scan.RunPending {
			must(t, st.SetRunStatus(ctx, r.ID, status, ""))
		}
	}
	counts, err = st.CountRunsByStatus(ctx)
	must(t, err)
	if want := map[string]int{"pending": 1, "running": 2, "failed": 1}; !maps.Equal(counts, want) {
		t.Fatalf("counts %v, want %v", counts, want)
	}
}
