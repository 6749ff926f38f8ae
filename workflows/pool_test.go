package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// poolHarness plans a pool run of n one-address shards with the given
// capacity polling the pool's queue, and records which shards are in
// flight at once.
type poolHarness struct {
	testsuite.WorkflowTestSuite
	env   *testsuite.TestWorkflowEnvironment
	specs []scan.Spec

	parallel    int // the pool's capacity
	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	started     int // RunScan attempts begun
	attempts    map[int64]int
	queues      []string
	finishes    []activities.FinishRunInput
	start       activities.StartRunResult // what StartRun answers
	dispatched  []activities.DispatchShardInput
}

func newPoolHarness(t *testing.T, n, parallel int) *poolHarness {
	h := &poolHarness{attempts: map[int64]int{}, parallel: min(n, parallel)}
	h.env = h.NewTestWorkflowEnvironment()
	var r *activities.Results
	var a *activities.Agent
	h.env.RegisterActivity(r)
	h.env.RegisterActivity(a)
	h.env.RegisterWorkflow(ScanShardsWorkflow)
	for i := range n {
		s := testSpec
		s.ShardID, s.Targets = int64(100+i), []string{fmt.Sprintf("198.18.0.%d", 10+i)}
		h.specs = append(h.specs, s)
	}
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "RunScan" {
			h.mu.Lock()
			h.queues = append(h.queues, info.TaskQueue)
			h.mu.Unlock()
		}
	})
	h.env.OnActivity(r.DispatchShard, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DispatchShardInput) (activities.DispatchShardResult, error) {
			if in.Pool != "edge" || in.Agent != "" || in.TaskQueue != PoolTaskQueue("edge") {
				return activities.DispatchShardResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("dispatch %+v", in), "Test", nil)
			}
			h.mu.Lock()
			h.dispatched = append(h.dispatched, in)
			h.mu.Unlock()
			spec, err := plannedSpec(h.specs, in)
			if err != nil {
				return activities.DispatchShardResult{}, err
			}
			return activities.DispatchShardResult{Spec: spec, Nonce: testNonce(spec.ShardID, in.Attempt)}, nil
		}).Maybe()
	h.start = activities.StartRunResult{
		RunID: 41, Specs: h.specs, PoolName: "edge", TaskQueue: PoolTaskQueue("edge"), Parallel: parallel,
		Timeouts: activities.Timeouts{ScheduleToStart: time.Minute, StartToClose: time.Hour, Heartbeat: 20 * time.Second},
	}
	h.env.OnActivity(r.StartRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StartRunInput) (activities.StartRunResult, error) {
			if in.Plan {
				return planned(h.start), nil
			}
			return h.start, nil
		})
	h.env.OnActivity(r.ExportResults, mock.Anything, mock.Anything).Return(activities.ExportResultsResult{CSV: testCSV}, nil).Maybe()
	h.env.OnActivity(r.FinishRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishRunInput) (scan.Run, error) {
			h.mu.Lock()
			h.finishes = append(h.finishes, in)
			h.mu.Unlock()
			return scan.Run{ID: 41, Status: in.Status, Error: in.Error}, nil
		})
	h.env.SetTestTimeout(30 * time.Second)
	return h
}

// scanner answers RunScan: fail decides, per shard and attempt, how the
// attempt ends (nil = it stores its output).
func (h *poolHarness) scanner(fail func(shard int64, attempt int) error) {
	var a *activities.Agent
	var r *activities.Results
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.RunScanInput) (activities.RunScanResult, error) {
			h.mu.Lock()
			h.inFlight++
			h.maxInFlight = max(h.maxInFlight, h.inFlight)
			h.attempts[in.Spec.ShardID]++
			attempt := h.attempts[in.Spec.ShardID]
			h.started++
			firstWave := h.started <= h.parallel
			h.mu.Unlock()
			if firstWave {
				// The first shards are dispatched together: hold each until
				// all of them are in flight, however the goroutines happen
				// to be scheduled, so that the capacity is seen in use.
				h.waitInFlight(h.parallel)
			}
			time.Sleep(30 * time.Millisecond) // let the other shards in flight show
			h.mu.Lock()
			h.inFlight--
			h.mu.Unlock()
			if err := fail(in.Spec.ShardID, attempt); err != nil {
				return activities.RunScanResult{}, err
			}
			agent := fmt.Sprintf("member-%d", attempt)
			raw := testRaw
			raw.Key = scan.RawKey(41, in.Spec.ShardID, attempt, scan.Nmap)
			return activities.RunScanResult{Raw: raw, Agent: agent, Attempt: attempt}, nil
		})
	h.env.OnActivity(r.ParseResults, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ParseResultsInput) (activities.ParseResultsResult, error) {
			if in.Agent == "" || in.Raw.Key != scan.RawKey(41, in.ShardID, in.Attempt, scan.Nmap) {
				return activities.ParseResultsResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("parse of %+v", in), "Test", nil)
			}
			return activities.ParseResultsResult{Hosts: 1}, nil
		})
}

// waitInFlight waits until n shards are in flight at once, or a while.
func (h *poolHarness) waitInFlight(n int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		reached := h.inFlight >= n
		h.mu.Unlock()
		if reached {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *poolHarness) run(t *testing.T) (ScanResult, error) {
	t.Helper()
	h.env.ExecuteWorkflow(ScanWorkflow, ScanInput{ScanID: 3})
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res ScanResult
	err := h.env.GetWorkflowError()
	if err == nil {
		err = h.env.GetWorkflowResult(&res)
	}
	return res, err
}

// Shards go to the pool's queue, never more at once than the pool's
// capacity, and every one is parsed.
func TestPoolRunKeepsShardsWithinCapacity(t *testing.T) {
	eachShape(t, func(t *testing.T, batch, fanout int) {
		h := newPoolHarness(t, 7, 3)
		h.shape(batch, fanout)
		h.scanner(func(int64, int) error { return nil })
		res, err := h.run(t)
		if err != nil || res.Status != scan.RunCompleted {
			t.Fatalf("result %+v, error %v", res, err)
		}
		if h.maxInFlight != 3 {
			t.Errorf("at most %d shards in flight, want the pool's capacity 3", h.maxInFlight)
		}
		if len(h.attempts) != 7 {
			t.Errorf("%d shards scanned, want 7", len(h.attempts))
		}
		for _, q := range h.queues {
			if q != "pool.edge" {
				t.Fatalf("a shard ran on %s, want pool.edge", q)
			}
		}
	})
}

// A member killed mid-shard stops heartbeating: the shard is tried again on
// the pool's queue, where another member pulls it, and the run completes
// with every shard parsed once from the attempt that finished.
func TestPoolRunRetriesALostMembersShard(t *testing.T) {
	eachShape(t, func(t *testing.T, batch, fanout int) {
		h := newPoolHarness(t, 4, 2)
		h.shape(batch, fanout)
		h.scanner(func(shard int64, attempt int) error {
			if shard == 101 && attempt == 1 {
				return temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil)
			}
			return nil
		})
		res, err := h.run(t)
		if err != nil || res.Status != scan.RunCompleted {
			t.Fatalf("result %+v, error %v", res, err)
		}
		if h.attempts[101] != 2 || h.attempts[100] != 1 {
			t.Errorf("attempts = %v, want shard 101 twice and the others once", h.attempts)
		}
		if len(h.queues) != 5 || h.queues[4] != "pool.edge" {
			t.Errorf("scanner dispatches %v", h.queues)
		}
	})
}

// No member of the pool takes the shard: the run fails naming the pool.
func TestPoolRunFailsWhenThePoolIsOffline(t *testing.T) {
	h := newPoolHarness(t, 3, 0)
	h.scanner(func(int64, int) error { return temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil) })
	_, err := h.run(t)
	if err == nil {
		t.Fatal("workflow succeeded")
	}
	if len(h.finishes) != 1 || h.finishes[0].Status != scan.RunFailed || !strings.Contains(h.finishes[0].Error, `pool "edge" is offline`) {
		t.Errorf("FinishRun = %+v", h.finishes)
	}
}

// Members that die on every attempt fail the run with the pool's name.
func TestPoolRunFailsWhenMembersKeepDying(t *testing.T) {
	eachShape(t, func(t *testing.T, batch, fanout int) {
		h := newPoolHarness(t, 1, 1)
		h.shape(batch, fanout)
		h.scanner(func(int64, int) error { return temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil) })
		_, err := h.run(t)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != "AgentLost" {
			t.Fatalf("error = %v, want AgentLost", err)
		}
		if h.attempts[100] != scannerAttempts || !strings.Contains(h.finishes[0].Error, `pool "edge"`) {
			t.Errorf("attempts %v, finish %+v", h.attempts, h.finishes)
		}
	})
}

func TestAgentIdentityRoundTrip(t *testing.T) {
	id := AgentIdentity("edge-1", "scan-host", "v1.4.0", 4)
	got, ok := ParseAgentIdentity(id)
	if !ok || got != (AgentPoller{Name: "edge-1", Host: "scan-host", Version: "v1.4.0", Capacity: 4}) {
		t.Errorf("ParseAgentIdentity(%q) = %+v, %v", id, got, ok)
	}
	capped := AgentPoller{Name: "edge-2", Host: "h", Version: "v2", Capacity: 3, MaxRate: 1500.5}
	if got, ok := ParseAgentIdentity(capped.Identity()); !ok || got != capped {
		t.Errorf("ParseAgentIdentity(%q) = %+v, %v", capped.Identity(), got, ok)
	}
	for _, announced := range []AgentPoller{
		{Name: "edge-3", Host: "h", Version: "v2", Capacity: 1, MaxRate: 100, RawSockets: "nmap,masscan"},
		{Name: "edge-4", Host: "h", Version: "v2", Capacity: 2, RawSockets: "none"},
	} {
		got, ok := ParseAgentIdentity(announced.Identity())
		if !ok || got != announced {
			t.Errorf("ParseAgentIdentity(%q) = %+v, %v", announced.Identity(), got, ok)
		}
		if !got.RawSocketsKnown() || got.HasRawSockets("nmap") != (announced.RawSockets != "none") {
			t.Errorf("%q: raw sockets read as %q", announced.Identity(), got.RawSockets)
		}
	}
	for _, other := range []string{"scantron-server@host", "scantron-agent-a@h version=x capacity=1 raw=", "scantron-agent-a@h version=x capacity=1 raw=nmap max-rate=5",
		"scantron-agent-a@h version=x capacity=1 raw=nmap raw=nmap", "scantron-agent-a@h", "scantron-agent-a@h version=x capacity=0", "12345@host",
		"scantron-agent-a@h version=x capacity=1 max-rate=0", "scantron-agent-a@h version=x capacity=1 max-rate=NaN", "scantron-agent-a@h version=x capacity=1 rate=5"} {
		if _, ok := ParseAgentIdentity(other); ok {
			t.Errorf("ParseAgentIdentity(%q) accepted", other)
		}
	}
}

// Pause stops the shard in flight and dispatches nothing more; the run
// shows paused. Resume runs the stopped shard again, then the rest, and the
// run completes with every shard parsed once.
func TestPauseAndResume(t *testing.T) {
	eachShape(t, func(t *testing.T, batch, fanout int) {
		h := newPoolHarness(t, 3, 1)
		h.shape(batch, fanout)
		var a *activities.Agent
		var r *activities.Results
		var mu sync.Mutex
		var events []string
		log := func(e string) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
		calls := map[int64]int{}
		h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(
			func(ctx context.Context, in activities.RunScanInput) (activities.RunScanResult, error) {
				mu.Lock()
				calls[in.Spec.ShardID]++
				first := calls[in.Spec.ShardID] == 1
				mu.Unlock()
				log(fmt.Sprintf("scan %d", in.Spec.ShardID))
				if in.Spec.ShardID == 100 && first {
					// Long enough for the pause to stop it.
					return stoppedScan(ctx, nil, 2*time.Second)
				}
				return scannedShard(in.Spec.ShardID), nil
			})
		h.env.OnActivity(r.ParseResults, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.ParseResultsInput) (activities.ParseResultsResult, error) {
				log(fmt.Sprintf("parse %d", in.ShardID))
				return activities.ParseResultsResult{}, nil
			})
		h.env.OnActivity(r.SetRunStatus, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.SetRunStatusInput) error {
				log("status " + string(in.Status))
				return nil
			})
		h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalPause, nil) }, 500*time.Millisecond)
		h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalResume, nil) }, time.Hour)

		res, err := h.run(t)
		if err != nil || res.Status != scan.RunCompleted {
			t.Fatalf("result %+v, error %v", res, err)
		}
		want := "scan 100|status paused|status running|scan 100|parse 100|scan 101|parse 101|scan 102|parse 102"
		if got := strings.Join(events, "|"); got != want {
			t.Errorf("events:\n%s\nwant\n%s", got, want)
		}
	})
}

// stoppedScan is a long scan that the workflow stops: it heartbeats until
// stop is closed or limit has passed (the test environment does not cancel
// an activity's context), and ends cancelled.
func stoppedScan(ctx context.Context, stop <-chan struct{}, limit time.Duration) (activities.RunScanResult, error) {
	deadline := time.Now().Add(limit)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		select {
		case <-stop:
			return activities.RunScanResult{}, temporal.NewCanceledError()
		default:
		}
		activity.RecordHeartbeat(ctx, scan.Progress{Phase: "scanning"})
		time.Sleep(20 * time.Millisecond)
	}
	return activities.RunScanResult{}, temporal.NewCanceledError()
}

// scannedShard is a shard's first attempt that stored its output.
func scannedShard(shardID int64) activities.RunScanResult {
	raw := testRaw
	raw.Key = scan.RawKey(41, shardID, 1, scan.Nmap)
	return activities.RunScanResult{Raw: raw, Agent: "member-1", Attempt: 1}
}

// A run cancelled while paused, with nothing in flight, ends cancelled.
func TestCancelWhilePaused(t *testing.T) {
	eachShape(t, func(t *testing.T, batch, fanout int) {
		h := newPoolHarness(t, 2, 1)
		h.shape(batch, fanout)
		var a *activities.Agent
		var r *activities.Results
		h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(
			func(ctx context.Context, _ activities.RunScanInput) (activities.RunScanResult, error) {
				for i := 0; i < 100 && ctx.Err() == nil; i++ {
					activity.RecordHeartbeat(ctx, scan.Progress{Phase: "scanning"})
					time.Sleep(20 * time.Millisecond)
				}
				return activities.RunScanResult{}, temporal.NewCanceledError()
			})
		h.env.OnActivity(r.SetRunStatus, mock.Anything, mock.Anything).Return(nil)
		h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalPause, nil) }, 500*time.Millisecond)
		h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Hour)
		_, err := h.run(t)
		if !temporal.IsCanceledError(err) {
			t.Fatalf("workflow error = %v, want cancelled", err)
		}
		if len(h.finishes) != 1 || h.finishes[0].Status != scan.RunCancelled {
			t.Errorf("FinishRun = %+v", h.finishes)
		}
	})
}

// A shard running past StartToClose in a pool is named by the pool.
func TestPoolRunTooLong(t *testing.T) {
	h := newPoolHarness(t, 1, 1)
	h.scanner(func(int64, int) error { return temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil) })
	if _, err := h.run(t); err == nil {
		t.Fatal("workflow succeeded")
	}
	if len(h.finishes) != 1 || !strings.Contains(h.finishes[0].Error, `a shard on pool "edge" ran longer than 1h0m0s`) {
		t.Errorf("FinishRun = %+v", h.finishes)
	}
}
