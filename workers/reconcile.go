package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/metrics"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// UnfinishedRuns is the part of the store the reconciler reads and writes.
type UnfinishedRuns interface {
	activities.RunStore
	ListUnfinishedRuns(ctx context.Context, createdBefore time.Time) ([]scan.Run, error)
}

// WorkflowDescriber asks Temporal about one workflow; client.Client
// satisfies it.
type WorkflowDescriber interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// Reconciler makes sure no run stays "running" after its workflow is gone.
// A workflow records its own end, even when it fails or is cancelled; but a
// workflow terminated from Temporal Web or the CLI, or deleted, or one whose
// start was lost, runs no more code. The reconciler finds such runs and
// marks them failed, saying why.
type Reconciler struct {
	Store    UnfinishedRuns
	Temporal WorkflowDescriber
	Logger   *slog.Logger
	// Every is how often to look (default one minute).
	Every time.Duration
	// Grace leaves young runs alone, whose workflow may still be starting
	// (default one minute).
	Grace time.Duration
	// Metrics, when set, times each pass.
	Metrics *metrics.Registry
}

// Run reconciles at once and then every r.Every until ctx is done.
func (r *Reconciler) Run(ctx context.Context) error {
	every := r.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		began := time.Now()
		n, err := r.Once(ctx)
		r.Metrics.ObserveReconcile("runs", time.Since(began), err)
		if err != nil {
			r.Logger.Warn("reconcile runs", "error", err)
		} else if n > 0 {
			r.Logger.Info("reconciled runs whose workflow had ended", "runs", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once ends every unfinished run whose workflow is no longer running and
// returns how many it ended.
func (r *Reconciler) Once(ctx context.Context) (int, error) {
	grace := r.Grace
	if grace <= 0 {
		grace = time.Minute
	}
	runs, err := r.Store.ListUnfinishedRuns(ctx, time.Now().Add(-grace))
	if err != nil {
		return 0, err
	}
	ended := 0
	var errs []error
	for _, run := range runs {
		why, err := r.gone(ctx, workflows.RunWorkflow(run.WorkflowID))
		if err != nil {
			errs = append(errs, fmt.Errorf("run %d: %w", run.ID, err))
			continue
		}
		if why == "" {
			continue
		}
		in := activities.FinishRunInput{WorkflowID: run.WorkflowID, Status: scan.RunFailed, Error: why}
		if _, err := activities.EndRun(ctx, r.Store, in); err != nil {
			errs = append(errs, fmt.Errorf("run %d: %w", run.ID, err))
			continue
		}
		r.Logger.Warn("run failed: its workflow is gone", "run", run.ID, "workflow_id", run.WorkflowID, "reason", why)
		ended++
	}
	return ended, errors.Join(errs...)
}

// gone says why a workflow can no longer end its run, or "" if it can.
func (r *Reconciler) gone(ctx context.Context, workflowID string) (string, error) {
	resp, err := r.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return "its workflow no longer exists in Temporal", nil
	}
	if err != nil {
		return "", err
	}
	switch status := resp.GetWorkflowExecutionInfo().GetStatus(); status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "", nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "its workflow was terminated in Temporal", nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "its workflow timed out in Temporal", nil
	default:
		return fmt.Sprintf("its workflow ended (%s) without recording the end of the run", status), nil
	}
}
