package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// ImportInput names an imported run, recorded with its file stored as its
// shard's raw output.
type ImportInput struct {
	RunID int64 `json:"run_id"`
}

// ImportWorkflowID names the workflow, and the run, of one imported file:
// by its content and a random nonce, since the same file may be imported
// into another site, or again after its run was deleted.
func ImportWorkflowID(sha256, nonce string) string {
	return "import-" + sha256[:min(16, len(sha256))] + "-" + nonce
}

// ImportWorkflow records an imported file as a completed run: it parses the
// file into the run's hosts and ports, then exports, recounts and records
// it as a parse again does, diffs and assets included. The run takes its
// place among its scan's runs by the time inside the file, so the diff of
// the run after it (an older file imported after a newer one) is worked out
// again too.
func ImportWorkflow(ctx workflow.Context, in ImportInput) (ReparseResult, error) {
	var r *activities.Results
	serverCtx := workflow.WithActivityOptions(ctx, serverActivity)
	var parsed activities.ReparseRunResult
	if err := workflow.ExecuteActivity(serverCtx, r.ImportRun, activities.ImportRunInput{RunID: in.RunID}).Get(ctx, &parsed); err != nil {
		return ReparseResult{}, err
	}
	out := ReparseResult{RunID: in.RunID, Status: scan.RunCompleted, Shards: parsed.Shards, Hosts: parsed.Hosts, Ports: parsed.Ports}
	err := recordParsedRun(ctx, serverCtx, in.RunID, parsed, true, &out)
	return out, err
}
