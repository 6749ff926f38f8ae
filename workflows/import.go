package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// ImportInput names the runs of one import, oldest file first, each
// recorded with its file stored as its shard's raw output.
type ImportInput struct {
	Runs []ImportedRun `json:"runs"`
}

// ImportedRun is one run of an import.
type ImportedRun struct {
	RunID      int64  `json:"run_id"`
	WorkflowID string `json:"workflow_id"` // the run's, by which FinishRun finds it
}

// ImportResult is what each run of the import became.
type ImportResult struct {
	Runs []ReparseResult `json:"runs"`
}

// ImportWorkflowID names the workflow of one import by a random nonce: the
// same file may be imported into another site, or again after its run was
// deleted.
func ImportWorkflowID(nonce string) string {
	return "import-" + nonce
}

// ImportRunWorkflowID is the workflow ID recorded on the i-th run (from 0)
// of the import workflowID: the first run's is the workflow's own.
func ImportRunWorkflowID(workflowID string, i int) string {
	if i == 0 {
		return workflowID
	}
	return fmt.Sprintf("%s-%d", workflowID, i)
}

// RunWorkflow is the workflow that ends the run recorded with workflowID:
// the import's for every run of an import, else the run's own.
func RunWorkflow(workflowID string) string {
	rest, ok := strings.CutPrefix(workflowID, "import-")
	if !ok {
		return workflowID
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		return "import-" + rest[:i]
	}
	return workflowID
}

// ImportWorkflow records imported files as completed runs, one after the
// other so that each diff is worked out against settled neighbours: each
// file is parsed into its run's hosts and ports, then the run is exported,
// recounted and recorded as a parse again records it, diffs and assets
// included. A run takes its place among its scan's runs by the time inside
// its file, so the diff of the run after it (an older file imported after
// a newer one) is worked out again too. A run that cannot be recorded is
// marked failed, and the others are recorded still.
func ImportWorkflow(ctx workflow.Context, in ImportInput) (ImportResult, error) {
	var r *activities.Results
	serverCtx := workflow.WithActivityOptions(ctx, serverActivity)
	var out ImportResult
	for _, run := range in.Runs {
		res, err := importRun(ctx, serverCtx, run.RunID)
		if err != nil {
			res.Status = scan.RunFailed
			if temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled) {
				res.Status = scan.RunCancelled
			}
			// Disconnected, so that a cancelled import still closes its run.
			finishCtx, _ := workflow.NewDisconnectedContext(serverCtx)
			finish := activities.FinishRunInput{WorkflowID: run.WorkflowID, Status: res.Status, Error: describe(err)}
			if ferr := workflow.ExecuteActivity(finishCtx, r.FinishRun, finish).Get(finishCtx, nil); ferr != nil {
				return out, ferr
			}
		}
		out.Runs = append(out.Runs, res)
	}
	return out, nil
}

func importRun(ctx, serverCtx workflow.Context, runID int64) (ReparseResult, error) {
	var r *activities.Results
	var parsed activities.ReparseRunResult
	out := ReparseResult{RunID: runID}
	if err := workflow.ExecuteActivity(serverCtx, r.ImportRun, activities.ImportRunInput{RunID: runID}).Get(ctx, &parsed); err != nil {
		return out, err
	}
	out.Status, out.Shards, out.Hosts, out.Ports = scan.RunCompleted, parsed.Shards, parsed.Hosts, parsed.Ports
	err := recordParsedRun(ctx, serverCtx, runID, parsed, true, &out)
	return out, err
}
