package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
)

// standIn answers the activities of a run's children without scanners,
// database or object storage: each stage of each shard fails its first
// fails attempts (as a dying agent would), then stores its output.
type standIn struct {
	fails    int
	mu       sync.Mutex
	attempts map[string]int
}

func (s *standIn) dispatch(_ context.Context, in activities.DispatchShardInput) (activities.DispatchShardResult, error) {
	spec := in.Spec
	if in.FromPlan {
		spec = scan.Spec{RunID: in.RunID, ShardID: int64(in.Index) + 1, Scanner: scan.Masscan, Targets: []string{fmt.Sprintf("198.18.%d.0/24", in.Index)}}
	}
	return activities.DispatchShardResult{Spec: spec, Nonce: fmt.Sprint(in.Attempt)}, nil
}

func (s *standIn) runScan(_ context.Context, in activities.RunScanInput) (activities.RunScanResult, error) {
	s.mu.Lock()
	key := fmt.Sprint(in.Spec.ShardID, in.Spec.Scanner)
	s.attempts[key]++
	n := s.attempts[key]
	s.mu.Unlock()
	if n <= s.fails {
		return activities.RunScanResult{}, errors.New("stand-in agent lost")
	}
	return activities.RunScanResult{Raw: scan.BlobRef{Bucket: "b", Key: scan.RawKey(in.Spec.RunID, in.Spec.ShardID, n, in.Spec.Scanner)}, Attempt: n}, nil
}

func (s *standIn) planFollow(_ context.Context, in activities.PlanFollowInput) (activities.PlanFollowResult, error) {
	spec := scan.Spec{RunID: in.Spec.RunID, ShardID: in.Spec.ShardID, Scanner: in.Follow.Scanner, Targets: []string{"198.18.0.1"}}
	return activities.PlanFollowResult{Spec: &spec, Hosts: 1, Pairs: 1}, nil
}

func (s *standIn) parse(context.Context, activities.ParseResultsInput) (activities.ParseResultsResult, error) {
	return activities.ParseResultsResult{}, nil
}

// TestShardHistoryEvents runs children of a run on a real Temporal server,
// with stand-in activities, and counts the events one shard costs its
// child's history, and one child its parent's: the figures that
// DefaultShardBatch and DefaultFanout rest on. Shards run one at a time,
// so that no workflow task serves two of them: the most events each.
func TestShardHistoryEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tmp, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{Headless: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tmp.Stop() })
	tc, err := tmp.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	defer func(w time.Duration) { firstRetryWait = w }(firstRetryWait)
	firstRetryWait = 10 * time.Millisecond

	const agentQueue = "agent.history"
	stand := &standIn{attempts: map[string]int{}}
	server := worker.New(tc, ServerTaskQueue, worker.Options{})
	server.RegisterWorkflow(ScanShardsWorkflow)
	server.RegisterActivityWithOptions(stand.dispatch, activity.RegisterOptions{Name: "DispatchShard"})
	server.RegisterActivityWithOptions(stand.planFollow, activity.RegisterOptions{Name: "PlanFollow"})
	server.RegisterActivityWithOptions(stand.parse, activity.RegisterOptions{Name: "ParseResults"})
	agent := worker.New(tc, agentQueue, worker.Options{})
	agent.RegisterActivityWithOptions(stand.runScan, activity.RegisterOptions{Name: "RunScan"})
	for _, w := range []worker.Worker{server, agent} {
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}

	run := func(t *testing.T, id string, in ScanShardsInput) int {
		t.Helper()
		in.RunWorkflowID = id
		r, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: ServerTaskQueue}, ScanShardsWorkflow, in)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Get(ctx, nil); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return historyEvents(ctx, t, tc, id)
	}
	const shards = 2
	start := activities.StartRunResult{RunID: 1, AgentName: "history", TaskQueue: agentQueue, Shards: shards,
		Timeouts: activities.Timeouts{ScheduleToStart: time.Minute, StartToClose: time.Minute, Heartbeat: time.Minute}}
	follow := &activities.FollowStage{Scanner: scan.Nmap, Options: []string{"-sV"}}

	perShard := map[string]float64{}
	for _, tc := range []struct {
		name   string
		follow *activities.FollowStage
		fails  int
	}{
		{"one stage, one attempt", nil, 0},
		{"one stage, every attempt", nil, scannerAttempts - 1},
		{"two stages, every attempt of each", follow, scannerAttempts - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stand.mu.Lock()
			stand.fails, stand.attempts = tc.fails, map[string]int{}
			stand.mu.Unlock()
			in := start
			in.Follow = tc.follow
			id := fmt.Sprintf("history-%d-%d", len(perShard), time.Now().UnixNano())
			events := run(t, id, ScanShardsInput{Start: in, From: 0, To: shards, Parallel: 1})
			perShard[tc.name] = float64(events) / shards
			t.Logf("%s: %d events for %d shards, %.1f a shard", tc.name, events, shards, perShard[tc.name])
		})
	}
	worst := perShard["two stages, every attempt of each"]
	if worst == 0 || perShard["one stage, one attempt"] >= worst {
		t.Fatalf("events a shard: %v", perShard)
	}
	// A child of DefaultShardBatch shards, every one the worst case,
	// stays under Temporal's 10,000-event warning.
	if got := worst * DefaultShardBatch; got >= 10_000 {
		t.Errorf("a child of %d worst-case shards holds %.0f events, from 10,000 Temporal warns", DefaultShardBatch, got)
	}

	// A parent of children of one shard each: the events a child costs.
	stand.mu.Lock()
	stand.fails, stand.attempts = 0, map[string]int{}
	stand.mu.Unlock()
	const children = 8
	in := start
	in.Batch, in.Fanout, in.Shards = 1, children, children
	events := run(t, fmt.Sprintf("history-parent-%d", time.Now().UnixNano()), ScanShardsInput{Start: in, From: 0, To: children, Parallel: 1})
	perChild := float64(events) / children
	t.Logf("a parent of %d children: %d events, %.1f a child", children, events, perChild)
	if got := perChild * DefaultFanout; got >= 5_000 {
		t.Errorf("a parent of %d children holds %.0f events, want room below 10,000 for forwarded pauses", DefaultFanout, got)
	}
}

// historyEvents counts the events in a workflow's history.
func historyEvents(ctx context.Context, t *testing.T, tc client.Client, id string) int {
	t.Helper()
	it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}
