package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// Retry and timeout settings for the server-side activities. They touch only
// PostgreSQL and object storage, so they retry for a while through an outage
// of either before the run is failed.
var serverActivity = workflow.ActivityOptions{
	TaskQueue:              ServerTaskQueue,
	StartToCloseTimeout:    10 * time.Minute,
	ScheduleToCloseTimeout: 30 * time.Minute,
	HeartbeatTimeout:       2 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        30 * time.Second,
		NonRetryableErrorTypes: []string{activities.ErrTypeInvalidSpec, activities.ErrTypeBadOutput},
	},
}

// NotifyActivityOptions govern webhook and email deliveries: retried with
// backoff for 15 minutes through a receiver's outage, never failing the run.
// The bound is short because the workflow waits for them, and a scheduled
// scan's next run may wait for the workflow. A receiver that refuses a
// delivery for good (ErrTypeNotificationRefused) is not asked again.
var NotifyActivityOptions = workflow.ActivityOptions{
	TaskQueue:              ServerTaskQueue,
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 15 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        5 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        2 * time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrTypeNotificationRefused},
	},
}

// afterRunChange guards the steps after a run ends (diff, assets,
// notifications), which histories recorded before them lack.
const afterRunChange = "after-run-changes-and-notifications"

// scannerAttempts bounds how often one shard is tried: a dead agent (heartbeat
// timeout) or a failing scanner gets this many attempts in all.
const scannerAttempts = 3

// ScanWorkflow runs one scan once: resolve targets, run the scanner on the
// scan's agent for each shard, parse each shard's output into PostgreSQL,
// export a CSV, and record how the run ended. Cancelling the workflow kills
// the scanners and marks the run cancelled.
func ScanWorkflow(ctx workflow.Context, in ScanInput) (ScanResult, error) {
	var r *activities.Results
	wid := workflow.GetInfo(ctx).WorkflowExecution.ID
	serverCtx := workflow.WithActivityOptions(ctx, serverActivity)

	res, err := func() (ScanResult, error) {
		var start activities.StartRunResult
		if err := workflow.ExecuteActivity(serverCtx, r.StartRun, activities.StartRunInput{ScanID: in.ScanID, WorkflowID: wid}).Get(ctx, &start); err != nil {
			return ScanResult{}, err
		}
		res := ScanResult{RunID: start.RunID}

		agentCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:              start.TaskQueue,
			ScheduleToStartTimeout: start.Timeouts.ScheduleToStart,
			StartToCloseTimeout:    start.Timeouts.StartToClose,
			HeartbeatTimeout:       start.Timeouts.Heartbeat,
			WaitForCancellation:    true,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval:        5 * time.Second,
				BackoffCoefficient:     2,
				MaximumInterval:        time.Minute,
				MaximumAttempts:        scannerAttempts,
				NonRetryableErrorTypes: []string{activities.ErrTypeInvalidSpec, "ScannerMissing"},
			},
		})
		if err := scanShards(ctx, agentCtx, serverCtx, start); err != nil {
			return res, err
		}

		var exported activities.ExportResultsResult
		if err := workflow.ExecuteActivity(serverCtx, r.ExportResults, activities.ExportResultsInput{RunID: start.RunID}).Get(ctx, &exported); err != nil {
			return res, err
		}

		var run scan.Run
		finish := activities.FinishRunInput{WorkflowID: wid, Status: scan.RunCompleted, CSV: &exported.CSV}
		if err := workflow.ExecuteActivity(serverCtx, r.FinishRun, finish).Get(ctx, &run); err != nil {
			return res, err
		}
		res.Status, res.HostsUp, res.OpenPorts, res.CSV = run.Status, run.HostsUp, run.OpenPorts, exported.CSV
		if workflow.GetVersion(ctx, afterRunChange, workflow.DefaultVersion, 1) == 1 {
			var options []string
			if len(start.Specs) > 0 {
				options = start.Specs[0].Options
			}
			// The run has ended: a cancel now must not stop its follow-up.
			afterCtx, _ := workflow.NewDisconnectedContext(ctx)
			afterRun(afterCtx, run, options)
		}
		return res, nil
	}()
	if err == nil {
		return res, nil
	}

	// Record the end on a context that survives cancellation of the run.
	status := scan.RunFailed
	if temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled) {
		status = scan.RunCancelled
	}
	finishCtx, _ := workflow.NewDisconnectedContext(serverCtx)
	finish := activities.FinishRunInput{WorkflowID: wid, Status: status, Error: describe(err)}
	var ended scan.Run
	if ferr := workflow.ExecuteActivity(finishCtx, r.FinishRun, finish).Get(finishCtx, &ended); ferr != nil {
		workflow.GetLogger(ctx).Error("could not record the end of the run", "error", ferr)
	} else if workflow.GetVersion(ctx, afterRunChange, workflow.DefaultVersion, 1) == 1 {
		afterRun(finishCtx, ended, nil)
	}
	res.Status = status
	return res, err
}

// afterRun follows up a run that has ended: for a completed run, its diff
// against the previous run and its site's assets; for a completed or failed
// one, the scan's notifications. Nothing here can fail the run: errors are
// logged (and visible in the workflow's history).
func afterRun(ctx workflow.Context, run scan.Run, options []string) {
	var c *activities.Changes
	var n *activities.Notifier
	log := workflow.GetLogger(ctx)
	if run.Status == scan.RunCompleted {
		changesCtx := workflow.WithActivityOptions(ctx, serverActivity)
		in := activities.RecordChangesInput{RunID: run.ID, Options: options}
		if err := workflow.ExecuteActivity(changesCtx, c.RecordChanges, in).Get(ctx, nil); err != nil {
			log.Error("could not record the run's changes", "run", run.ID, "error", err)
		}
	}
	if run.Status != scan.RunCompleted && run.Status != scan.RunFailed {
		return
	}
	notifyCtx := workflow.WithActivityOptions(ctx, NotifyActivityOptions)
	in := activities.NotifyInput{RunID: run.ID}
	hook := workflow.ExecuteActivity(notifyCtx, n.SendWebhook, in)
	mail := workflow.ExecuteActivity(notifyCtx, n.SendEmail, in)
	if err := hook.Get(ctx, nil); err != nil {
		log.Warn("webhook notification not delivered", "run", run.ID, "error", err)
	}
	if err := mail.Get(ctx, nil); err != nil {
		log.Warn("email notification not delivered", "run", run.ID, "error", err)
	}
}

// explainAgentError turns Temporal's timeouts into what an operator needs to
// read: which agent, and what went wrong with it.
func explainAgentError(agent string, t activities.Timeouts, err error) error {
	var timeout *temporal.TimeoutError
	if !errors.As(err, &timeout) {
		return err
	}
	switch timeout.TimeoutType() {
	case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("agent %q is offline: it did not pick up the scan within %s", agent, t.ScheduleToStart), "AgentOffline", err)
	case enumspb.TIMEOUT_TYPE_HEARTBEAT:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("agent %q stopped responding during the scan (no heartbeat for %s, %d attempts)", agent, t.Heartbeat, scannerAttempts), "AgentLost", err)
	case enumspb.TIMEOUT_TYPE_START_TO_CLOSE:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the scan on agent %q ran longer than %s", agent, t.StartToClose), "ScanTooLong", err)
	}
	return err
}

// describe renders the innermost useful message of a Temporal error chain.
func describe(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	if temporal.IsCanceledError(err) {
		return "cancelled"
	}
	return err.Error()
}

// scanShards runs every shard's scanner at once and parses each shard's
// output as soon as it is stored. If one shard fails, the others are
// cancelled (and waited for) before the first error is returned.
func scanShards(ctx, agentCtx, serverCtx workflow.Context, start activities.StartRunResult) error {
	var r *activities.Results
	var a *activities.Agent
	scanCtx, cancelScans := workflow.WithCancel(agentCtx)
	defer cancelScans()

	specOf := map[workflow.Future]scan.Spec{} // looked up, never ranged over
	var finished workflow.Future
	sel := workflow.NewSelector(ctx)
	for _, spec := range start.Specs {
		f := workflow.ExecuteActivity(scanCtx, a.RunScan, activities.RunScanInput{Spec: spec})
		specOf[f] = spec
		sel.AddFuture(f, func(f workflow.Future) { finished = f })
	}
	var firstErr error
	for range start.Specs {
		sel.Select(ctx)
		spec := specOf[finished]
		var scanned activities.RunScanResult
		err := finished.Get(ctx, &scanned)
		if err == nil && firstErr == nil {
			in := activities.ParseResultsInput{RunID: start.RunID, ShardID: spec.ShardID, Attempt: scanned.Attempt, Raw: scanned.Raw}
			err = workflow.ExecuteActivity(serverCtx, r.ParseResults, in).Get(ctx, nil)
		} else if err != nil {
			err = explainAgentError(start.AgentName, start.Timeouts, err)
		}
		if err != nil && firstErr == nil {
			firstErr = err
			cancelScans()
		}
	}
	return firstErr
}
