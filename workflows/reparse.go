package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// ReparseInput names a completed run to parse again.
type ReparseInput struct {
	RunID int64 `json:"run_id"`
}

// ReparseResult is what the new parse stored.
type ReparseResult struct {
	RunID     int64 `json:"run_id"`
	Shards    int   `json:"shards"`
	Hosts     int   `json:"hosts"`
	Ports     int   `json:"ports"`
	HostsUp   int   `json:"hosts_up"`
	OpenPorts int   `json:"open_ports"`
}

// ReparseWorkflowID names the workflow that parses run runID again; one at a
// time per run.
func ReparseWorkflowID(runID int64) string {
	return fmt.Sprintf("reparse-run-%d", runID)
}

// ReparseWorkflow parses a completed run again from its shards' stored
// scanner output, replacing its hosts and ports, then writes its exports
// again and recounts it. Every step replaces what it writes, so the
// workflow can be run again at will.
func ReparseWorkflow(ctx workflow.Context, in ReparseInput) (ReparseResult, error) {
	var r *activities.Results
	serverCtx := workflow.WithActivityOptions(ctx, serverActivity)
	var parsed activities.ReparseRunResult
	if err := workflow.ExecuteActivity(serverCtx, r.ReparseRun, activities.ReparseRunInput{RunID: in.RunID}).Get(ctx, &parsed); err != nil {
		return ReparseResult{}, err
	}
	var exported activities.ExportResultsResult
	if err := workflow.ExecuteActivity(serverCtx, r.ExportResults, activities.ExportResultsInput{RunID: in.RunID}).Get(ctx, &exported); err != nil {
		return ReparseResult{}, err
	}
	var run scan.Run
	finish := activities.FinishRunInput{WorkflowID: parsed.WorkflowID, Status: scan.RunCompleted, CSV: &exported.CSV}
	if err := workflow.ExecuteActivity(serverCtx, r.FinishRun, finish).Get(ctx, &run); err != nil {
		return ReparseResult{}, err
	}
	return ReparseResult{RunID: in.RunID, Shards: parsed.Shards, Hosts: parsed.Hosts, Ports: parsed.Ports,
		HostsUp: run.HostsUp, OpenPorts: run.OpenPorts}, nil
}
