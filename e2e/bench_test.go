package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"

	"github.com/scantron/scantron/internal/runtree"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// TestPoolScaling is the harness `make bench` runs (it is skipped unless
// SCANTRON_BENCH_POOL=1): the same pool scan of eight namespace hosts, one
// shard each, each host 30 ms away (tc netem), with 1, 2 and 4 agents of
// capacity 1. Where the kernel has no netem, nmap's --scan-delay stands in
// for the distance, and the harness says so. It prints each run's time, the speed-up against one agent,
// how many shards each agent pulled, and the spread of the shards' start
// times (when an agent picked each up, from the workflow's history).
func TestPoolScaling(t *testing.T) {
	if os.Getenv("SCANTRON_BENCH_POOL") != "1" {
		t.Skip("benchmark harness: set SCANTRON_BENCH_POOL=1 (make bench)")
	}
	const hostCount = 8
	profile := "-n -Pn -sT -p 1-300,2121,2222,8080"
	var hosts []*targetHost
	netem := true
	for i := range hostCount {
		h := newTargetHostN(t, i)
		if err := h.Delay(30 * time.Millisecond); err != nil && netem {
			fmt.Printf("no network delay (%v): using nmap --scan-delay 10ms instead\n", err)
			netem = false
			profile += " --scan-delay 10ms"
		}
		hosts = append(hosts, h)
	}
	ctx := context.Background()
	tc, err := stack.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)

	var base time.Duration
	for _, agents := range []int{1, 2, 4} {
		e := newPoolEnv(t, agents)
		scanID := e.makeScan(hosts, profile)
		start := time.Now()
		runID := e.startRun(scanID)
		v := e.waitFinal(runID, 10*time.Minute)
		took := time.Since(start)
		if v.Status != scan.RunCompleted || len(v.Shards) != hostCount {
			t.Fatalf("%d agents: run ended %s with %d shards: %s", agents, v.Status, len(v.Shards), v.Error)
		}
		if agents == 1 {
			base = took
		}

		// When each shard was picked up, and by which agent, from the
		// history: the scanner activities are the ones an agent started.
		var starts []time.Time
		perAgent := map[string]int{}
		// (in the child workflows the run fans out to).
		err := runtree.Walk(ctx, tc, v.WorkflowID, func(_ string, ev *historypb.HistoryEvent) error {
			a := ev.GetActivityTaskStartedEventAttributes()
			if p, ok := workflows.ParseAgentIdentity(a.GetIdentity()); a != nil && ok {
				starts = append(starts, ev.GetEventTime().AsTime())
				perAgent[p.Name]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(starts) != hostCount {
			t.Fatalf("%d agents: %d scanner starts in the history, want %d", agents, len(starts), hostCount)
		}
		counts := slices.Sorted(maps.Values(perAgent))
		slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
		var gaps []string
		for _, s := range starts {
			gaps = append(gaps, s.Sub(starts[0]).Round(10*time.Millisecond).String())
		}
		fmt.Printf("agents=%d run=%s speed-up=%.2fx shards-per-agent=%v shard-start-spread=%s starts=%v\n",
			agents, took.Round(10*time.Millisecond), float64(base)/float64(took), counts,
			starts[len(starts)-1].Sub(starts[0]).Round(10*time.Millisecond), gaps)
	}
}
