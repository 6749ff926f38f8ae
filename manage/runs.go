package manage

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// RunStore keeps the runs that operations start and stop.
type RunStore interface {
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
	CreateRun(ctx context.Context, scanID int64, workflowID string) (scan.Run, error)
	GetRun(ctx context.Context, id int64) (scan.Run, error)
	DeleteRun(ctx context.Context, id int64) error
	ListShards(ctx context.Context, runID int64) ([]scan.Shard, error)
}

// RunWorkflows is the part of Temporal's client.Client that starts,
// cancels and signals runs' workflows.
type RunWorkflows interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow interface{}, args ...interface{}) (client.WorkflowRun, error)
	CancelWorkflow(ctx context.Context, workflowID string, runID string) error
	SignalWorkflow(ctx context.Context, workflowID string, runID string, signalName string, arg interface{}) error
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// Runs starts runs by hand, retries, parses again, pauses, resumes and
// cancels them, through their workflows.
type Runs struct {
	Store    RunStore
	Temporal RunWorkflows
	Now      func() time.Time
	Log      *slog.Logger
}

// StartTimeout bounds the whole start sequence. It is detached from the
// caller's context so that a client hanging up halfway cannot leave a run
// row without its workflow.
const StartTimeout = 15 * time.Second

// Get returns the run id names.
func (x *Runs) Get(ctx context.Context, id int64) (scan.Run, error) {
	r, err := x.Store.GetRun(ctx, id)
	return r, notFound(err, "run", id)
}

// Start begins a new run of a scan now. The run keeps to the scan's
// windows unless in.IgnoreWindows, an operator's explicit override.
func (x *Runs) Start(ctx context.Context, in workflows.ScanInput) (scan.Run, error) {
	scanID := in.ScanID
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StartTimeout)
	defer cancel()
	sc, err := x.Store.GetScan(ctx, scanID)
	if err != nil {
		return scan.Run{}, notFound(err, "scan", scanID)
	}
	if sc.Imports != "" {
		return scan.Run{}, refuse(Conflict, "", "scan %d holds the site's imported runs and never runs; import the file again instead", scanID)
	}
	wid := workflows.ScanRunWorkflowID(scanID, x.Now())
	run, err := x.Store.CreateRun(ctx, scanID, wid)
	if err != nil {
		return scan.Run{}, notFound(err, "scan", scanID)
	}
	opts := client.StartWorkflowOptions{
		ID:        wid,
		TaskQueue: workflows.ServerTaskQueue,
		// Each manual start has its own ID; meeting an existing workflow
		// under it means something else started it, and that one owns the
		// run row, so fail loudly rather than attach to it.
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
	if _, err := x.Temporal.ExecuteWorkflow(ctx, opts, workflows.ScanWorkflow, in); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return scan.Run{}, refuse(Conflict, "", "a workflow with ID %q already exists", wid)
		}
		// A start that timed out may still have happened: then the run is
		// real and its workflow owns it.
		if _, derr := x.Temporal.DescribeWorkflowExecution(ctx, wid, ""); derr == nil {
			x.Log.WarnContext(ctx, "workflow start reported an error but the workflow exists", "workflow_id", wid, "err", err)
			return run, nil
		}
		x.Log.ErrorContext(ctx, "starting scan workflow failed", "scan_id", scanID, "workflow_id", wid, "err", err)
		if derr := x.Store.DeleteRun(ctx, run.ID); derr != nil {
			x.Log.ErrorContext(ctx, "removing the run of a workflow that did not start failed",
				"run_id", run.ID, "workflow_id", wid, "err", derr)
			return scan.Run{}, refuse(Unavailable, "", "could not start the scan's workflow (is Temporal reachable?), nor remove its pending run %d", run.ID)
		}
		return scan.Run{}, refuse(Unavailable, "", "could not start the scan's workflow (is Temporal reachable?); no run was created")
	}
	return run, nil
}

// Retry runs a failed or cancelled run's scan again, as a new run. A new
// run rather than the failed shards inside the old one: the old run keeps
// the record of how it ended (its error, its partial rows), a run's end is
// final, and the new run scans with the site, exclusions and profile as
// they are now, which is what the retry is usually for.
func (x *Runs) Retry(ctx context.Context, runID int64) (scan.Run, error) {
	r, err := x.Get(ctx, runID)
	if err != nil {
		return scan.Run{}, err
	}
	if r.Status != scan.RunFailed && r.Status != scan.RunCancelled {
		return scan.Run{}, refuse(Conflict, "", "run %d is %s; only failed or cancelled runs are retried", r.ID, r.Status)
	}
	return x.Start(ctx, workflows.ScanInput{ScanID: r.ScanID})
}

// HasStoredOutput says whether any of a run's shards stored scanner
// output, which a parse again reads.
func HasStoredOutput(shards []scan.Shard) bool {
	return slices.ContainsFunc(shards, func(s scan.Shard) bool { return s.Raw != nil })
}

// Reparse parses a finished run (completed, or failed with stored output)
// again from its shards' stored scanner output, replacing its hosts and
// ports; a completed run's exports, diffs and assets are worked out again
// too. One reparse of a run at a time; it returns the workflow's ID once
// it started.
func (x *Runs) Reparse(ctx context.Context, runID int64) (scan.Run, string, error) {
	r, err := x.Get(ctx, runID)
	if err != nil {
		return scan.Run{}, "", err
	}
	if r.Status != scan.RunCompleted && r.Status != scan.RunFailed {
		return scan.Run{}, "", refuse(Conflict, "", "run %d is %s; only completed or failed runs can be parsed again", r.ID, r.Status)
	}
	shards, err := x.Store.ListShards(ctx, r.ID)
	if err != nil {
		return scan.Run{}, "", err
	}
	if !HasStoredOutput(shards) {
		return scan.Run{}, "", refuse(Conflict, "", "run %d has no stored scanner output to parse again", r.ID)
	}
	wid := workflows.ReparseWorkflowID(r.ID)
	opts := client.StartWorkflowOptions{
		ID:                                       wid,
		TaskQueue:                                workflows.ServerTaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
	if _, err := x.Temporal.ExecuteWorkflow(ctx, opts, workflows.ReparseWorkflow, workflows.ReparseInput{RunID: r.ID}); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return scan.Run{}, "", refuse(Conflict, "", "run %d is already being parsed again", r.ID)
		}
		x.Log.ErrorContext(ctx, "starting reparse workflow failed", "run_id", r.ID, "workflow_id", wid, "err", err)
		return scan.Run{}, "", refuse(Unavailable, "", "could not start parsing run %d again (is Temporal reachable?)", r.ID)
	}
	return r, wid, nil
}

// Cancel asks an unfinished run's workflow to stop; the workflow records
// the cancellation itself.
func (x *Runs) Cancel(ctx context.Context, runID int64) (scan.Run, error) {
	r, err := x.unfinished(ctx, runID)
	if err != nil {
		return scan.Run{}, err
	}
	// An imported run's workflow is its import's.
	if err := x.Temporal.CancelWorkflow(ctx, workflows.RunWorkflow(r.WorkflowID), ""); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return scan.Run{}, refuse(Conflict, "", "the workflow of run %d is not running", r.ID)
		}
		x.Log.ErrorContext(ctx, "cancelling scan workflow failed", "run_id", r.ID, "workflow_id", r.WorkflowID, "err", err)
		return scan.Run{}, refuse(Unavailable, "", "could not ask Temporal to cancel run %d (is Temporal reachable?)", r.ID)
	}
	return r, nil
}

// Signal asks an unfinished run's workflow to pause or resume
// (workflows.SignalPause, SignalResume); the workflow records it itself.
func (x *Runs) Signal(ctx context.Context, runID int64, name string) (scan.Run, error) {
	r, err := x.unfinished(ctx, runID)
	if err != nil {
		return scan.Run{}, err
	}
	if err := x.Temporal.SignalWorkflow(ctx, r.WorkflowID, "", name, nil); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return scan.Run{}, refuse(Conflict, "", "the workflow of run %d is not running", r.ID)
		}
		x.Log.ErrorContext(ctx, "signalling scan workflow failed", "run_id", r.ID, "signal", name, "err", err)
		return scan.Run{}, refuse(Unavailable, "", "could not ask Temporal to %s run %d (is Temporal reachable?)", name, r.ID)
	}
	return r, nil
}

// unfinished returns the run id names, refusing one that has ended.
func (x *Runs) unfinished(ctx context.Context, id int64) (scan.Run, error) {
	r, err := x.Get(ctx, id)
	if err != nil {
		return scan.Run{}, err
	}
	if r.Status.Final() {
		return scan.Run{}, refuse(Conflict, "", "run %d is already %s", r.ID, r.Status)
	}
	return r, nil
}
