package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// fanShapes are the shapes pool runs are tested in: the defaults, where
// one child holds every shard of a small run, and a tree of children of
// one shard each, two to a parent.
var fanShapes = []struct {
	name          string
	batch, fanout int
}{{"one child", 0, 0}, {"tree of children", 1, 2}}

// eachShape runs test once per shape of fanShapes.
func eachShape(t *testing.T, test func(t *testing.T, batch, fanout int)) {
	for _, sh := range fanShapes {
		t.Run(sh.name, func(t *testing.T) { test(t, sh.batch, sh.fanout) })
	}
}

// shape makes the run fan out with batch shards to a child and fanout
// children to a parent (0: the defaults).
func (h *poolHarness) shape(batch, fanout int) {
	h.start.Batch, h.start.Fanout = batch, fanout
}

func TestSplitParts(t *testing.T) {
	for _, tc := range []struct {
		from, to, batch, fanout int
		want                    string
	}{
		{0, 1, 64, 128, "[{0 1}]"},
		{0, 64, 64, 128, "[{0 64}]"},
		{0, 65, 64, 128, "[{0 64} {64 65}]"},
		{0, 7, 2, 2, "[{0 4} {4 7}]"},
		{0, 4, 2, 2, "[{0 2} {2 4}]"},
		{4, 7, 2, 2, "[{4 6} {6 7}]"},
		{0, 3, 1, 2, "[{0 2} {2 3}]"},
		// A /8 of /24 shards: 8 parts of 128 batches of 64.
		{0, 65536, 64, 128, "[{0 8192} {8192 16384} {16384 24576} {24576 32768} {32768 40960} {40960 49152} {49152 57344} {57344 65536}]"},
	} {
		if got := fmt.Sprint(splitParts(tc.from, tc.to, tc.batch, tc.fanout)); got != tc.want {
			t.Errorf("splitParts(%d, %d, %d, %d) = %s, want %s", tc.from, tc.to, tc.batch, tc.fanout, got, tc.want)
		}
	}
}

// A run larger than a batch fans out: each child holds its range of
// shards, a larger part has children of its own, and every shard is
// dispatched once, by index, its spec built from the run's plan.
func TestFanOutStartsAChildPerBatch(t *testing.T) {
	h := newPoolHarness(t, 7, 0)
	h.shape(2, 2)
	h.scanner(func(int64, int) error { return nil })
	var mu sync.Mutex
	var children []string
	h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, args converter.EncodedValues) {
		var in ScanShardsInput
		if err := args.Get(&in); err != nil {
			t.Errorf("child input: %v", err)
		}
		if len(in.Start.Specs) != 0 || in.Start.Shards != 7 {
			t.Errorf("child %s carries %d specs of %d shards, want none of 7", info.WorkflowExecution.ID, len(in.Start.Specs), in.Start.Shards)
		}
		mu.Lock()
		children = append(children, fmt.Sprintf("%s=%d-%d", info.WorkflowExecution.ID, in.From, in.To))
		mu.Unlock()
	})
	res, err := h.run(t)
	if err != nil || res.Status != scan.RunCompleted {
		t.Fatalf("result %+v, error %v", res, err)
	}
	slices.Sort(children)
	id := "default-test-workflow-id-shards-"
	want := []string{id + "0-1=0-2", id + "0-3=0-4", id + "2-3=2-4", id + "4-5=4-6", id + "4-6=4-7", id + "6-6=6-7"}
	if !slices.Equal(children, want) {
		t.Errorf("children:\n%s\nwant\n%s", strings.Join(children, "\n"), strings.Join(want, "\n"))
	}
	var dispatched []int
	for _, in := range h.dispatched {
		if !in.FromPlan || in.Spec.ShardID != 0 {
			t.Errorf("dispatch %+v, want by index from the plan", in)
		}
		dispatched = append(dispatched, in.Index)
	}
	slices.Sort(dispatched)
	if !slices.Equal(dispatched, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Errorf("dispatched shards %v, want each of 0-6 once", dispatched)
	}
	if len(h.attempts) != 7 {
		t.Errorf("%d shards scanned, want 7", len(h.attempts))
	}
}

// A shard that fails for good fails its child, whose parents stop the
// other children, whose scanners are cancelled, before the run is closed
// failed with the failed shard's error. (What a stopped scanner had written
// is kept by its child: the test environment cancels an activity without
// waiting for it, so the end-to-end test TestFanOutMasscanSubnet and the
// agents' own tests prove that part.)
func TestFanOutFailureStopsTheOtherChildren(t *testing.T) {
	h := newPoolHarness(t, 3, 3)
	h.shape(1, 2)
	var a *activities.Agent
	cancelled := make(chan string, 8)
	h.env.SetOnActivityCanceledListener(func(info *activity.Info) { cancelled <- info.ActivityType.Name })
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.RunScanInput) (activities.RunScanResult, error) {
			if in.Spec.ShardID == 102 {
				time.Sleep(300 * time.Millisecond)
				return activities.RunScanResult{}, temporal.NewNonRetryableApplicationError("no scanner", "ScannerMissing", nil)
			}
			return stoppedScan(ctx, nil, 3*time.Second)
		})
	_, err := h.run(t)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != "ScannerMissing" {
		t.Fatalf("workflow error = %v, want the shard's ScannerMissing", err)
	}
	if len(h.finishes) != 1 || h.finishes[0].Status != scan.RunFailed || h.finishes[0].Error != "no scanner" {
		t.Errorf("FinishRun = %+v", h.finishes)
	}
	if len(cancelled) != 2 {
		t.Errorf("%d scanners cancelled, want the other two shards'", len(cancelled))
	}
}

// Two-stage shards in children of their own: each child runs its shard's
// discovery, plans the second stage from that shard's found pairs (the
// discovery spec as the plan built it, unsigned), and parses the second
// stage's output.
func TestFanOutTwoStages(t *testing.T) {
	var specs []scan.Spec
	for i := range 3 {
		s := discoverSpec
		s.ShardID, s.Targets = int64(7+i), []string{fmt.Sprintf("198.18.%d.0/24", i)}
		specs = append(specs, s)
	}
	h := newHarnessWith(t, activities.StartRunResult{
		RunID: 41, Specs: specs, AgentName: "edge-1", TaskQueue: AgentTaskQueue("edge-1"), Batch: 1, Fanout: 2,
		Timeouts: activities.Timeouts{ScheduleToStart: time.Minute, StartToClose: time.Hour, Heartbeat: 20 * time.Second},
		Follow:   &activities.FollowStage{Scanner: scan.Nmap, Options: []string{"-sV"}},
	})
	var a *activities.Agent
	var r *activities.Results
	raw := func(shard int64, attempt int, s scan.Scanner) scan.BlobRef {
		b := testRaw
		b.Key = scan.RawKey(41, shard, attempt, s)
		return b
	}
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RunScanInput) (activities.RunScanResult, error) {
			return activities.RunScanResult{Raw: raw(in.Spec.ShardID, len(in.Spec.Scanner), in.Spec.Scanner), Agent: "edge-1", Attempt: len(in.Spec.Scanner)}, nil
		})
	var mu sync.Mutex
	var plannedFor, parsed []string
	h.env.OnActivity(r.PlanFollow, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PlanFollowInput) (activities.PlanFollowResult, error) {
			want := specs[in.Spec.ShardID-7]
			if !slices.Equal(in.Spec.Targets, want.Targets) || in.Spec.Signature != nil || in.Spec.Dispatch != nil ||
				in.Found.ShardID != in.Spec.ShardID || in.Found.Scanner != scan.Masscan || in.Found.Raw != raw(in.Spec.ShardID, len(scan.Masscan), scan.Masscan) {
				return activities.PlanFollowResult{}, fmt.Errorf("PlanFollow %+v", in)
			}
			mu.Lock()
			plannedFor = append(plannedFor, fmt.Sprint(in.Spec.ShardID))
			mu.Unlock()
			spec := followSpec
			spec.ShardID = in.Spec.ShardID
			return activities.PlanFollowResult{Spec: &spec, Hosts: 2, Pairs: 3}, nil
		})
	h.env.OnActivity(r.ParseResults, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ParseResultsInput) (activities.ParseResultsResult, error) {
			if in.Scanner != "" || in.Raw != raw(in.ShardID, len(scan.Nmap), scan.Nmap) {
				return activities.ParseResultsResult{}, fmt.Errorf("parse %+v, want the second stage's nmap output", in)
			}
			mu.Lock()
			parsed = append(parsed, fmt.Sprint(in.ShardID))
			mu.Unlock()
			return activities.ParseResultsResult{}, nil
		})
	h.env.OnActivity(r.ExportResults, mock.Anything, activities.ExportResultsInput{RunID: 41}).
		Return(activities.ExportResultsResult{CSV: testCSV}, nil).Once()
	res, err := h.run()
	if err != nil || res.Status != scan.RunCompleted {
		t.Fatalf("result %+v, error %v; want completed", res, err)
	}
	slices.Sort(plannedFor)
	slices.Sort(parsed)
	if want := []string{"7", "8", "9"}; !slices.Equal(plannedFor, want) || !slices.Equal(parsed, want) {
		t.Errorf("second stages planned for %v, parsed %v; want each of %v", plannedFor, parsed, want)
	}
}
