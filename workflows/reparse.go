package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// ReparseInput names a finished run to parse again.
type ReparseInput struct {
	RunID int64 `json:"run_id"`
}

// ReparseResult is what the new parse stored.
type ReparseResult struct {
	RunID     int64          `json:"run_id"`
	Status    scan.RunStatus `json:"status,omitempty"`
	Shards    int            `json:"shards"`
	Hosts     int            `json:"hosts"`
	Ports     int            `json:"ports"`
	HostsUp   int            `json:"hosts_up"`
	OpenPorts int            `json:"open_ports"`
	// NextRunID is the completed run after this one, whose diff was
	// worked out again.
	NextRunID *int64 `json:"next_run_id,omitempty"`
}

// ReparseWorkflowID names the workflow that parses run runID again; one at a
// time per run.
func ReparseWorkflowID(runID int64) string {
	return fmt.Sprintf("reparse-run-%d", runID)
}

// ReparseWorkflow parses a finished run again from its shards' stored
// scanner output, replacing its hosts and ports. A failed run is recounted
// and stays failed. A completed run's exports are written again and it is
// recounted; then its diff against the run before it, the diff of the run
// after it, and what both contributed to their site's assets are worked out
// again, since each was computed from the hosts as they were parsed
// before. Every step replaces what it writes, so the workflow can be run
// again at will.
func ReparseWorkflow(ctx workflow.Context, in ReparseInput) (ReparseResult, error) {
	var r *activities.Results
	serverCtx := workflow.WithActivityOptions(ctx, serverActivity)
	var parsed activities.ReparseRunResult
	if err := workflow.ExecuteActivity(serverCtx, r.ReparseRun, activities.ReparseRunInput{RunID: in.RunID}).Get(ctx, &parsed); err != nil {
		return ReparseResult{}, err
	}
	out := ReparseResult{RunID: in.RunID, Status: scan.RunCompleted, Shards: parsed.Shards, Hosts: parsed.Hosts, Ports: parsed.Ports}
	recompute := workflow.GetVersion(ctx, versionReparseAny, workflow.DefaultVersion, 1) >= 1
	if recompute && parsed.Status == scan.RunFailed {
		out.Status, out.HostsUp, out.OpenPorts = parsed.Status, parsed.HostsUp, parsed.OpenPorts
		return out, nil
	}
	if err := recordParsedRun(ctx, serverCtx, in.RunID, parsed, recompute, &out); err != nil {
		return out, err
	}
	return out, nil
}

// recordParsedRun records a run whose hosts were just parsed from its
// stored output as completed: its exports are written (again), it is
// recounted, and, when recompute, its diff against the run before it, the
// diff of the run after it, and what both contributed to their site's
// assets are worked out (again): the run may have taken its place between
// two others, or its hosts changed under the next run's diff.
func recordParsedRun(ctx, serverCtx workflow.Context, runID int64, parsed activities.ReparseRunResult, recompute bool, out *ReparseResult) error {
	var r *activities.Results
	var exported activities.ExportResultsResult
	if err := workflow.ExecuteActivity(serverCtx, r.ExportResults, activities.ExportResultsInput{RunID: runID}).Get(ctx, &exported); err != nil {
		return err
	}
	var run scan.Run
	finish := activities.FinishRunInput{WorkflowID: parsed.WorkflowID, Status: scan.RunCompleted, CSV: &exported.CSV}
	if err := workflow.ExecuteActivity(serverCtx, r.FinishRun, finish).Get(ctx, &run); err != nil {
		return err
	}
	out.HostsUp, out.OpenPorts = run.HostsUp, run.OpenPorts
	if !recompute {
		return nil
	}
	var c *activities.Changes
	changes := activities.RecordChangesInput{RunID: runID, Options: parsed.Options}
	if err := workflow.ExecuteActivity(serverCtx, c.RecordChanges, changes).Get(ctx, nil); err != nil {
		return err
	}
	var next activities.RecordNextChangesResult
	if err := workflow.ExecuteActivity(serverCtx, c.RecordNextChanges, changes).Get(ctx, &next); err != nil {
		return err
	}
	out.NextRunID = next.NextRunID
	return nil
}
