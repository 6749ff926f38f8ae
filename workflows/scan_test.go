package workflows

import (
	"context"
	"errors"
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

var (
	testSpec = scan.Spec{RunID: 41, ShardID: 7, Scanner: scan.Nmap, Options: []string{"-n", "-Pn"}, Targets: []string{"198.18.0.2"}}
	testRaw  = scan.BlobRef{Bucket: "scantron", Key: "runs/41/7/1/nmap.xml", Size: 1234, SHA256: strings.Repeat("a", 64)}
	testCSV  = scan.BlobRef{Bucket: "scantron", Key: "runs/41/export/results.csv", Size: 99, SHA256: strings.Repeat("b", 64)}
)

// harness runs ScanWorkflow with every activity mocked, recording the task
// queue each activity was dispatched to and every FinishRun call.
type harness struct {
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	queues   map[string][]string
	finishes []activities.FinishRunInput
}

func newHarness(t *testing.T) *harness {
	h := &harness{queues: map[string][]string{}}
	h.env = h.NewTestWorkflowEnvironment()
	var r *activities.Results
	var a *activities.Agent
	h.env.RegisterActivity(r)
	h.env.RegisterActivity(a)
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		h.mu.Lock()
		h.queues[info.ActivityType.Name] = append(h.queues[info.ActivityType.Name], info.TaskQueue)
		h.mu.Unlock()
	})
	h.env.OnActivity(r.StartRun, mock.Anything, activities.StartRunInput{ScanID: 3, WorkflowID: "default-test-workflow-id"}).Return(activities.StartRunResult{
		RunID: 41, Specs: []scan.Spec{testSpec}, AgentName: "edge-1", TaskQueue: AgentTaskQueue("edge-1"),
		Timeouts: activities.Timeouts{ScheduleToStart: time.Minute, StartToClose: time.Hour, Heartbeat: 20 * time.Second},
	}, nil)
	h.env.OnActivity(r.FinishRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishRunInput) (scan.Run, error) {
			h.mu.Lock()
			h.finishes = append(h.finishes, in)
			h.mu.Unlock()
			run := scan.Run{ID: 41, Status: in.Status, Error: in.Error}
			if in.Status == scan.RunCompleted {
				run.HostsUp, run.OpenPorts = 1, 3
			}
			return run, nil
		})
	t.Cleanup(func() { h.env.AssertExpectations(t) })
	return h
}

func (h *harness) expectParseAndExport() {
	var r *activities.Results
	h.env.OnActivity(r.ParseResults, mock.Anything, activities.ParseResultsInput{RunID: 41, ShardID: 7, Attempt: 1, Raw: testRaw, Agent: "edge-1"}).
		Return(activities.ParseResultsResult{Hosts: 1, Ports: 3}, nil).Once()
	h.env.OnActivity(r.ExportResults, mock.Anything, activities.ExportResultsInput{RunID: 41}).
		Return(activities.ExportResultsResult{CSV: testCSV, Rows: 3}, nil).Once()
}

func (h *harness) run() (ScanResult, error) {
	h.env.ExecuteWorkflow(ScanWorkflow, ScanInput{ScanID: 3})
	if !h.env.IsWorkflowCompleted() {
		return ScanResult{}, errors.New("workflow did not complete")
	}
	var res ScanResult
	err := h.env.GetWorkflowError()
	if err == nil {
		err = h.env.GetWorkflowResult(&res)
	}
	return res, err
}

func (h *harness) lastFinish(t *testing.T) activities.FinishRunInput {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.finishes) != 1 {
		t.Fatalf("FinishRun called %d times, want once: %+v", len(h.finishes), h.finishes)
	}
	return h.finishes[0]
}

func TestScanWorkflowCompletes(t *testing.T) {
	h := newHarness(t)
	var a *activities.Agent
	h.env.OnActivity(a.RunScan, mock.Anything, activities.RunScanInput{Spec: testSpec}).
		Return(activities.RunScanResult{Raw: testRaw, Agent: "edge-1", Attempt: 1}, nil).Once()
	h.expectParseAndExport()

	res, err := h.run()
	if err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	want := ScanResult{RunID: 41, Status: scan.RunCompleted, HostsUp: 1, OpenPorts: 3, CSV: testCSV}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if f := h.lastFinish(t); f.Status != scan.RunCompleted || f.CSV == nil || *f.CSV != testCSV {
		t.Errorf("FinishRun = %+v", f)
	}
	// The scanner runs on the agent's own queue; everything else on the server's.
	for name, want := range map[string]string{"RunScan": "agent.edge-1", "StartRun": ServerTaskQueue, "ParseResults": ServerTaskQueue, "ExportResults": ServerTaskQueue, "FinishRun": ServerTaskQueue} {
		if got := h.queues[name]; len(got) != 1 || got[0] != want {
			t.Errorf("%s ran on %v, want [%s]", name, got, want)
		}
	}
}

func TestScanWorkflowRetriesATransientScannerFailure(t *testing.T) {
	h := newHarness(t)
	var a *activities.Agent
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(activities.RunScanResult{}, errors.New("nmap exited with status 1")).Once()
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(activities.RunScanResult{Raw: testRaw, Agent: "edge-1", Attempt: 1}, nil).Once()
	h.expectParseAndExport()

	res, err := h.run()
	if err != nil || res.Status != scan.RunCompleted {
		t.Fatalf("result %+v, error %v; want completed after a retry", res, err)
	}
	if n := len(h.queues["RunScan"]); n != 2 {
		t.Errorf("RunScan attempts = %d, want 2", n)
	}
}

func TestScanWorkflowFails(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		attempts int
		message  string
	}{
		{
			name:     "invalid spec is not retried",
			err:      temporal.NewNonRetryableApplicationError("invalid scan spec: option -iL is not allowed", activities.ErrTypeInvalidSpec, nil),
			attempts: 1,
			message:  "option -iL is not allowed",
		},
		{
			name:     "agent offline",
			err:      temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil),
			attempts: 1,
			message:  `agent "edge-1" is offline`,
		},
		{
			name:     "agent lost mid-scan on every attempt",
			err:      temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil),
			attempts: scannerAttempts,
			message:  `agent "edge-1" stopped responding`,
		},
		{
			name:     "scanner keeps failing",
			err:      errors.New("nmap exited with status 1: Failed to open device"),
			attempts: scannerAttempts,
			message:  "Failed to open device",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			var a *activities.Agent
			h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(activities.RunScanResult{}, tt.err)

			res, err := h.run()
			if err == nil {
				t.Fatalf("workflow succeeded with %+v", res)
			}
			if res.Status != "" && res.Status != scan.RunFailed {
				t.Errorf("status = %s", res.Status)
			}
			f := h.lastFinish(t)
			if f.Status != scan.RunFailed || !strings.Contains(f.Error, tt.message) {
				t.Errorf("FinishRun = %+v, want failed with %q", f, tt.message)
			}
			if n := len(h.queues["RunScan"]); n != tt.attempts {
				t.Errorf("RunScan attempts = %d, want %d", n, tt.attempts)
			}
		})
	}
}

func TestScanWorkflowStartFailureIsRecorded(t *testing.T) {
	h := &harness{queues: map[string][]string{}}
	h.env = h.NewTestWorkflowEnvironment()
	var r *activities.Results
	h.env.RegisterActivity(r)
	h.env.OnActivity(r.StartRun, mock.Anything, mock.Anything).Return(activities.StartRunResult{},
		temporal.NewNonRetryableApplicationError(`site "lab": no targets left after exclusions`, activities.ErrTypeInvalidSpec, nil)).Once()
	h.env.OnActivity(r.FinishRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishRunInput) (scan.Run, error) {
			h.finishes = append(h.finishes, in)
			return scan.Run{Status: in.Status}, nil
		})
	if _, err := h.run(); err == nil {
		t.Fatal("workflow succeeded")
	}
	if f := h.lastFinish(t); f.Status != scan.RunFailed || !strings.Contains(f.Error, "no targets left") || f.WorkflowID == "" {
		t.Errorf("FinishRun = %+v", f)
	}
}

func TestScanWorkflowCancel(t *testing.T) {
	h := newHarness(t)
	var a *activities.Agent
	cancelled := make(chan string, 1)
	h.env.SetOnActivityCanceledListener(func(info *activity.Info) { cancelled <- info.ActivityType.Name })
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, _ activities.RunScanInput) (activities.RunScanResult, error) {
			// A long scan, heartbeating as the agent does. The test
			// environment reports the cancel to the workflow without
			// cancelling this context (the agent's own tests and the
			// end-to-end tests prove the scanner is killed), so it stops
			// when the cancel has been seen.
			for len(cancelled) == 0 && ctx.Err() == nil {
				activity.RecordHeartbeat(ctx, scan.Progress{Phase: "scanning"})
				time.Sleep(20 * time.Millisecond)
			}
			return activities.RunScanResult{}, temporal.NewCanceledError()
		})
	// The test clock does not skip ahead while an activity runs, so the
	// cancel comes after a short real wait.
	h.env.SetTestTimeout(30 * time.Second)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Second)

	res, err := h.run()
	if !temporal.IsCanceledError(err) {
		t.Fatalf("workflow error = %v, want cancelled", err)
	}
	select {
	case name := <-cancelled:
		if name != "RunScan" {
			t.Errorf("cancelled activity %s, want RunScan", name)
		}
	default:
		t.Error("the workflow did not cancel the scanner activity")
	}
	if f := h.lastFinish(t); f.Status != scan.RunCancelled {
		t.Errorf("FinishRun = %+v, want cancelled", f)
	}
	if res.Status != "" && res.Status != scan.RunCancelled {
		t.Errorf("status = %s", res.Status)
	}
}

// newTwoShardHarness plans a run of two shards, IPv4 and IPv6, leaving the
// other activities to each test.
func newTwoShardHarness() (h *harness, v4, v6 scan.Spec) {
	h = &harness{queues: map[string][]string{}}
	h.env = h.NewTestWorkflowEnvironment()
	var r *activities.Results
	var a *activities.Agent
	h.env.RegisterActivity(r)
	h.env.RegisterActivity(a)
	v4, v6 = testSpec, testSpec
	v6.ShardID, v6.Targets = 8, []string{"2001:db8::2"}
	h.env.OnActivity(r.StartRun, mock.Anything, mock.Anything).Return(activities.StartRunResult{
		RunID: 41, Specs: []scan.Spec{v4, v6}, AgentName: "edge-1", TaskQueue: "agent.edge-1",
		Timeouts: activities.Timeouts{ScheduleToStart: time.Minute, StartToClose: time.Hour, Heartbeat: 20 * time.Second},
	}, nil)
	return h, v4, v6
}

func TestScanWorkflowRunsEveryShard(t *testing.T) {
	h, v4, v6 := newTwoShardHarness()
	var r *activities.Results
	var a *activities.Agent
	for _, s := range []scan.Spec{v4, v6} {
		raw := testRaw
		raw.Key = scan.RawKey(41, s.ShardID, 1, scan.Nmap)
		h.env.OnActivity(a.RunScan, mock.Anything, activities.RunScanInput{Spec: s}).Return(activities.RunScanResult{Raw: raw, Attempt: 1}, nil).Once()
		h.env.OnActivity(r.ParseResults, mock.Anything, activities.ParseResultsInput{RunID: 41, ShardID: s.ShardID, Attempt: 1, Raw: raw}).
			Return(activities.ParseResultsResult{Hosts: 1, Ports: 1}, nil).Once()
	}
	h.env.OnActivity(r.ExportResults, mock.Anything, mock.Anything).Return(activities.ExportResultsResult{CSV: testCSV}, nil).Once()
	h.env.OnActivity(r.FinishRun, mock.Anything, mock.Anything).Return(scan.Run{Status: scan.RunCompleted}, nil).Once()

	if res, err := h.run(); err != nil || res.Status != scan.RunCompleted {
		t.Fatalf("result %+v, error %v", res, err)
	}
	h.env.AssertExpectations(t)
}

func TestScanWorkflowOneShardFailingFailsTheRun(t *testing.T) {
	h, v4, v6 := newTwoShardHarness()
	var r *activities.Results
	var a *activities.Agent
	h.env.OnActivity(a.RunScan, mock.Anything, activities.RunScanInput{Spec: v4}).Return(activities.RunScanResult{Raw: testRaw, Attempt: 1}, nil)
	h.env.OnActivity(a.RunScan, mock.Anything, activities.RunScanInput{Spec: v6}).Return(activities.RunScanResult{},
		temporal.NewNonRetryableApplicationError("invalid scan spec: bad", activities.ErrTypeInvalidSpec, nil))
	h.env.OnActivity(r.ParseResults, mock.Anything, mock.Anything).Return(activities.ParseResultsResult{}, nil).Maybe()
	h.env.OnActivity(r.FinishRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishRunInput) (scan.Run, error) {
			h.finishes = append(h.finishes, in)
			return scan.Run{Status: in.Status}, nil
		})
	if _, err := h.run(); err == nil {
		t.Fatal("workflow succeeded")
	}
	if f := h.lastFinish(t); f.Status != scan.RunFailed || !strings.Contains(f.Error, "bad") {
		t.Errorf("FinishRun = %+v", f)
	}
}
