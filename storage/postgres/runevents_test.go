package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// TestRunEvents: every writer's change of a run's status or counts, of a
// shard's status or attempt, and the recording of a run's changes, is
// announced once, in commit order, with
// the run's change number; changes to other columns are not; RunState
// holds the number of the last change announced.
func TestRunEvents(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	f := newFixture(t, st, "ev")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events := make(chan RunEvent, 100)
	ready := make(chan uint32, 1)
	stopped := make(chan error, 1)
	go func() {
		stopped <- st.ListenRunEvents(ctx, func(pid uint32) { ready <- pid }, func(ev RunEvent) { events <- ev })
	}()
	if pid := <-ready; pid == 0 {
		t.Fatal("no backend process")
	}

	r, err := st.CreateRun(ctx, f.scan.ID, "wf-events")
	must(t, err)
	must(t, st.SetRunStatus(ctx, r.ID, scan.RunRunning, ""))
	must(t, st.SetRunTargets(ctx, r.ID, scan.Resolved{Targets: []string{"198.18.0.0/24"}, Addresses: 256})) // not announced
	must(t, st.SetRunStatus(ctx, r.ID, scan.RunRunning, ""))                                                // no change
	sh, err := st.CreateShard(ctx, r.ID, 0, f.agent.ID, []string{"198.18.0.0/24"})
	must(t, err)
	must(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: sh.ID, Status: scan.ShardRunning, Attempt: 1}))
	must(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: sh.ID, Status: scan.ShardScanned, Attempt: 1}))
	must(t, st.SetRunStatus(ctx, r.ID, scan.RunParsing, ""))
	_, err = st.CompleteRun(ctx, r.ID, testBlob("ev.csv"))
	must(t, err)
	_, err = st.SaveDiff(ctx, scan.Diff{DiffSummary: scan.DiffSummary{RunID: r.ID, ScanID: f.scan.ID}})
	must(t, err)

	want := []string{
		"run 0 pending", "run 1 running", "shard 0 pending 0", "shard 0 running 1", "shard 0 scanned 1",
		"run 2 parsing", "run 3 completed", "changes",
	}
	var got []string
	for len(got) < len(want) {
		select {
		case ev := <-events:
			if ev.RunID != r.ID {
				t.Fatalf("event of run %d, want %d: %+v", ev.RunID, r.ID, ev)
			}
			if ev.Kind == "run" {
				if ev.ScanID != f.scan.ID {
					t.Errorf("event names scan %d, want %d", ev.ScanID, f.scan.ID)
				}
				got = append(got, fmt.Sprintf("run %d %s", ev.Seq, ev.Status))
			} else if ev.Kind == "shard" {
				got = append(got, fmt.Sprintf("shard %d %s %d", ev.Index, ev.Status, ev.Attempt))
			} else {
				got = append(got, ev.Kind)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("events so far %q, want %q", got, want)
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events\n%q, want\n%q", got, want)
	}
	state, err := st.RunState(ctx, r.ID)
	must(t, err)
	if state.Seq != 3 || state.Status != "completed" {
		t.Errorf("state = %+v, want change 3, completed", state)
	}
	recent, err := st.RecentRunStates(ctx, 5)
	must(t, err)
	if len(recent) != 1 || recent[0] != state {
		t.Errorf("recent run states = %+v, want just %+v", recent, state)
	}
	_, err = st.RunState(ctx, 1<<40)
	wantErr(t, err, ErrNotFound)

	cancel()
	if err := <-stopped; err != nil {
		t.Errorf("listener ended with %v, want nil when its context ends", err)
	}
	select {
	case ev := <-events:
		t.Errorf("an unexpected event: %+v", ev)
	default:
	}
}
