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

	mu         sync.Mutex
	queues     map[string][]string
	finishes   []activities.FinishRunInput
	dispatches []activities.DispatchShardInput
	// What the follow-up activities were asked, and how they answer.
	changes     []activities.RecordChangesInput
	notified    map[string][]activities.NotifyInput
	changesErr  error
	webhookErrs []error // returned by successive SendWebhook attempts
	// specs are the run's shards' specs, which StartRun stores and
	// DispatchShard builds by index.
	specs []scan.Spec
}

// planned is what StartRun returns for a run that fans out: start without
// its specs, which it stores instead, counted.
func planned(start activities.StartRunResult) activities.StartRunResult {
	start.Shards = len(start.Specs)
	if len(start.Specs) > 0 {
		start.Options = start.Specs[0].Options
	}
	start.Specs = nil
	return start
}

// plannedSpec is the spec a dispatch signs: the one given, or from the
// run's stored specs by index (what the store builds from the run's plan).
func plannedSpec(specs []scan.Spec, in activities.DispatchShardInput) (scan.Spec, error) {
	if !in.FromPlan {
		return in.Spec, nil
	}
	if in.Index < 0 || in.Index >= len(specs) || in.Spec.ShardID != 0 {
		return scan.Spec{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("dispatch of shard %d of %d, with spec %+v", in.Index, len(specs), in.Spec), "Test", nil)
	}
	return specs[in.Index], nil
}

func newHarness(t *testing.T) *harness {
	return newHarnessWith(t, activities.StartRunResult{
		RunID: 41, Specs: []scan.Spec{testSpec}, AgentName: "edge-1", TaskQueue: AgentTaskQueue("edge-1"),
		Timeouts: activities.Timeouts{ScheduleToStart: time.Minute, StartToClose: time.Hour, Heartbeat: 20 * time.Second},
	})
}

// newHarnessWith is newHarness whose StartRun plans start.
func newHarnessWith(t *testing.T, start activities.StartRunResult) *harness {
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
	h.env.RegisterWorkflow(ScanShardsWorkflow)
	h.specs = start.Specs
	h.mockDispatch()
	h.env.OnActivity(r.StartRun, mock.Anything, activities.StartRunInput{ScanID: 3, WorkflowID: "default-test-workflow-id", Plan: true}).Return(planned(start), nil)
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
	h.mockAfterRun()
	t.Cleanup(func() { h.env.AssertExpectations(t) })
	return h
}

// mockAfterRun registers the follow-up activities, recording their calls.
func (h *harness) mockAfterRun() {
	var c *activities.Changes
	var n *activities.Notifier
	h.env.RegisterActivity(c)
	h.env.RegisterActivity(n)
	h.notified = map[string][]activities.NotifyInput{}
	h.env.OnActivity(c.RecordChanges, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordChangesInput) (activities.RecordChangesResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.changes = append(h.changes, in)
			return activities.RecordChangesResult{}, h.changesErr
		}).Maybe()
	h.env.OnActivity(n.SendWebhook, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyInput) (activities.NotifyResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.notified["SendWebhook"] = append(h.notified["SendWebhook"], in)
			if len(h.webhookErrs) > 0 {
				err := h.webhookErrs[0]
				h.webhookErrs = h.webhookErrs[1:]
				return activities.NotifyResult{}, err
			}
			return activities.NotifyResult{Events: []string{activities.EventRunCompleted}}, nil
		}).Maybe()
	h.env.OnActivity(n.SendEmail, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyInput) (activities.NotifyResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.notified["SendEmail"] = append(h.notified["SendEmail"], in)
			return activities.NotifyResult{}, nil
		}).Maybe()
}

// mockDispatch answers DispatchShard with the spec as given (unsigned) and
// testNonce, and records each dispatch.
func (h *harness) mockDispatch() {
	var r *activities.Results
	h.env.OnActivity(r.DispatchShard, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DispatchShardInput) (activities.DispatchShardResult, error) {
			spec, err := plannedSpec(h.specs, in)
			if err != nil {
				return activities.DispatchShardResult{}, err
			}
			in.Spec = spec
			h.mu.Lock()
			h.dispatches = append(h.dispatches, in)
			h.mu.Unlock()
			return activities.DispatchShardResult{Spec: spec, Nonce: testNonce(spec.ShardID, in.Attempt)}, nil
		}).Maybe()
}

// testNonce is the nonce mockDispatch gives an attempt of a shard.
func testNonce(shard int64, attempt int) string {
	return fmt.Sprintf("nonce-%d-%d", shard, attempt)
}

// expectParseAndExport expects shard 7's result, scanned by the given
// dispatch, to be parsed, and the run exported.
func (h *harness) expectParseAndExport(attempt int) {
	var r *activities.Results
	h.env.OnActivity(r.ParseResults, mock.Anything, activities.ParseResultsInput{RunID: 41, ShardID: 7, Attempt: 1, Raw: testRaw, Agent: "edge-1", Nonce: testNonce(7, attempt)}).
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
	h.expectParseAndExport(1)

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
	for name, want := range map[string]string{"RunScan": "agent.edge-1", "DispatchShard": ServerTaskQueue, "StartRun": ServerTaskQueue, "ParseResults": ServerTaskQueue, "ExportResults": ServerTaskQueue, "FinishRun": ServerTaskQueue} {
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
	h.expectParseAndExport(2)

	res, err := h.run()
	if err != nil || res.Status != scan.RunCompleted {
		t.Fatalf("result %+v, error %v; want completed after a retry", res, err)
	}
	if n := len(h.queues["RunScan"]); n != 2 {
		t.Errorf("RunScan attempts = %d, want 2", n)
	}
}

// TestScanWorkflowDispatchesEachAttempt: every attempt of a shard gets a
// dispatch of its own, on the server's queue, numbered on; a failed
// attempt's last progress goes to the next dispatch and attempt, so that it
// resumes from what was saved; the result is parsed against the last
// dispatch's nonce.
func TestScanWorkflowDispatchesEachAttempt(t *testing.T) {
	h := newHarness(t)
	var a *activities.Agent
	saved := scan.Progress{ShardID: 7, Phase: "scanning", Partial: &scan.BlobRef{Bucket: "scantron", Key: scan.PartialKey(41, 7, 1), Size: 1, SHA256: strings.Repeat("c", 64)}, HostsDone: 1}
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(activities.RunScanResult{},
		temporal.NewApplicationError("nmap exited with status 1", activities.ErrTypeAttemptFailed, saved)).Once()
	var retried activities.RunScanInput
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RunScanInput) (activities.RunScanResult, error) {
		retried = in
		return activities.RunScanResult{Raw: testRaw, Agent: "edge-1", Attempt: 1}, nil
	}).Once()
	h.expectParseAndExport(2)

	if res, err := h.run(); err != nil || res.Status != scan.RunCompleted {
		t.Fatalf("result %+v, error %v; want completed after a retry", res, err)
	}
	if len(h.dispatches) != 2 {
		t.Fatalf("dispatches = %+v, want two", h.dispatches)
	}
	for i, d := range h.dispatches {
		if d.Attempt != i+1 || d.RunID != 41 || d.TaskQueue != "agent.edge-1" || d.Agent != "edge-1" || d.Pool != "" || d.Spec.ShardID != 7 {
			t.Errorf("dispatch %d = %+v", i+1, d)
		}
	}
	if h.dispatches[0].Resume != nil || h.dispatches[1].Resume == nil || *h.dispatches[1].Resume.Partial != *saved.Partial {
		t.Errorf("resume progress handed to the dispatches: %+v, %+v", h.dispatches[0].Resume, h.dispatches[1].Resume)
	}
	if retried.Resume == nil || retried.Resume.HostsDone != 1 || *retried.Resume.Partial != *saved.Partial {
		t.Errorf("the retry was not given the failed attempt's progress: %+v", retried.Resume)
	}
	if q := h.queues["DispatchShard"]; len(q) != 2 || q[0] != ServerTaskQueue {
		t.Errorf("DispatchShard ran on %v", q)
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
	h.mockAfterRun()
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
	h.env.RegisterWorkflow(ScanShardsWorkflow)
	h.mockAfterRun()
	h.mockDispatch()
	v4, v6 = testSpec, testSpec
	v6.ShardID, v6.Targets = 8, []string{"2001:db8::2"}
	h.specs = []scan.Spec{v4, v6}
	h.env.OnActivity(r.StartRun, mock.Anything, mock.Anything).Return(planned(activities.StartRunResult{
		RunID: 41, Specs: h.specs, AgentName: "edge-1", TaskQueue: "agent.edge-1",
		Timeouts: activities.Timeouts{ScheduleToStart: time.Minute, StartToClose: time.Hour, Heartbeat: 20 * time.Second},
	}), nil)
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
		h.env.OnActivity(r.ParseResults, mock.Anything, activities.ParseResultsInput{RunID: 41, ShardID: s.ShardID, Attempt: 1, Raw: raw, Nonce: testNonce(s.ShardID, 1)}).
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

func TestScanWorkflowFollowsUpACompletedRun(t *testing.T) {
	tests := []struct {
		name        string
		changesErr  error
		webhookErrs []error
		hookCalls   int
	}{
		{name: "all well", hookCalls: 1},
		{name: "webhook retried until it is delivered", webhookErrs: []error{errors.New("webhook answered 500"), errors.New("webhook answered 500")}, hookCalls: 3},
		{name: "refused webhook is not retried", webhookErrs: []error{temporal.NewNonRetryableApplicationError("refused: 403", activities.ErrTypeNotificationRefused, nil)}, hookCalls: 1},
		{name: "diff failing does not fail the run", changesErr: temporal.NewNonRetryableApplicationError("no", activities.ErrTypeRunNotCompleted, nil), hookCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.changesErr, h.webhookErrs = tt.changesErr, tt.webhookErrs
			var a *activities.Agent
			h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(activities.RunScanResult{Raw: testRaw, Agent: "edge-1", Attempt: 1}, nil).Once()
			h.expectParseAndExport(1)

			res, err := h.run()
			if err != nil || res.Status != scan.RunCompleted {
				t.Fatalf("result %+v, error %v; want completed", res, err)
			}
			if len(h.changes) != 1 || h.changes[0].RunID != 41 || strings.Join(h.changes[0].Options, " ") != "-n -Pn" {
				t.Errorf("RecordChanges calls = %+v, want one for run 41 with the spec's options", h.changes)
			}
			if got := h.notified["SendWebhook"]; len(got) != tt.hookCalls || got[0].RunID != 41 {
				t.Errorf("SendWebhook calls = %+v, want %d for run 41", got, tt.hookCalls)
			}
			if got := h.notified["SendEmail"]; len(got) != 1 || got[0].RunID != 41 {
				t.Errorf("SendEmail calls = %+v, want one for run 41", got)
			}
			// Diff before notifications, so that they can tell of it.
			if q := h.queues["RecordChanges"]; len(q) != 1 || q[0] != ServerTaskQueue {
				t.Errorf("RecordChanges ran on %v", q)
			}
		})
	}
}

func TestScanWorkflowNotifiesAFailedRunWithoutADiff(t *testing.T) {
	h := newHarness(t)
	var a *activities.Agent
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(activities.RunScanResult{},
		temporal.NewNonRetryableApplicationError("invalid scan spec: bad", activities.ErrTypeInvalidSpec, nil))
	if _, err := h.run(); err == nil {
		t.Fatal("workflow succeeded")
	}
	if len(h.changes) != 0 {
		t.Errorf("a failed run got a diff: %+v", h.changes)
	}
	if len(h.notified["SendWebhook"]) != 1 || len(h.notified["SendEmail"]) != 1 || h.notified["SendEmail"][0].RunID != 41 {
		t.Errorf("notifications = %+v, want one of each for run 41", h.notified)
	}
}

func TestScanWorkflowDoesNotNotifyACancelledRun(t *testing.T) {
	h := newHarness(t)
	var a *activities.Agent
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(activities.RunScanResult{}, temporal.NewCanceledError())
	if _, err := h.run(); err == nil {
		t.Fatal("workflow succeeded")
	}
	if f := h.lastFinish(t); f.Status != scan.RunCancelled {
		t.Fatalf("FinishRun = %+v", f)
	}
	if len(h.changes) != 0 || len(h.notified) != 0 {
		t.Errorf("follow-ups of a cancelled run: changes %+v, notifications %+v", h.changes, h.notified)
	}
}
