package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
)

// ImportRunInput names an imported run whose file is stored as its shard's
// raw output.
type ImportRunInput struct {
	RunID int64 `json:"run_id"`
}

// ImportRun parses an imported run's stored file into its hosts and ports,
// through the same parse, limits and ingest as a scanned shard's output
// (ParseResults) and a parse again (ReparseRun): the file was checked when
// it was uploaded, so a file that fails here fails for good. The result
// carries the options the run's diff reads, as ReparseRun's does, and the
// run is then exported and recorded like a scanned one.
func (r *Results) ImportRun(ctx context.Context, in ImportRunInput) (ReparseRunResult, error) {
	run, err := r.Store.GetRun(ctx, in.RunID)
	if err != nil {
		return ReparseRunResult{}, wrap("find run", err)
	}
	if run.Status != scan.RunRunning {
		err := fmt.Errorf("run %d is %s; only an import being recorded is parsed as one", run.ID, run.Status)
		return ReparseRunResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidSpec, err)
	}
	out, err := r.parseStoredShards(ctx, run)
	if err != nil {
		return ReparseRunResult{}, err
	}
	if out.Options, err = r.runOptions(ctx, run); err != nil {
		return ReparseRunResult{}, err
	}
	return out, nil
}
