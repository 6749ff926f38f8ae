package activities

// This file closes a run: its final status and its unfinished shards.

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
)

// FinishRunInput records how a run ended. The run is found by workflow ID, so
// a run that failed before its row was known can still be closed.
type FinishRunInput struct {
	WorkflowID string         `json:"workflow_id"`
	Status     scan.RunStatus `json:"status"`
	Error      string         `json:"error,omitempty"`
	CSV        *scan.BlobRef  `json:"csv,omitempty"`
}

// FinishRun sets the run's final status and closes its unfinished shards.
func (r *Results) FinishRun(ctx context.Context, in FinishRunInput) (scan.Run, error) {
	run, err := EndRun(ctx, r.Store, in)
	if err == nil && run.Status != in.Status {
		activity.GetLogger(ctx).Warn("run had already ended", "run", run.ID, "status", run.Status, "ignored", in.Status)
	}
	return run, err
}

// EndRun records how the run of a workflow ended and closes its unfinished
// shards. A run that has already ended stays as it ended (a cancel racing
// the last step): it is returned unchanged, since retrying cannot change it.
func EndRun(ctx context.Context, store RunStore, in FinishRunInput) (scan.Run, error) {
	run, err := store.GetRunByWorkflowID(ctx, in.WorkflowID)
	if err != nil {
		return scan.Run{}, wrap("find run", err)
	}
	if run.Status.Final() && run.Status != in.Status {
		return run, nil
	}
	if in.Status == scan.RunCompleted {
		if in.CSV == nil {
			return scan.Run{}, temporal.NewNonRetryableApplicationError("completed run without an export", ErrTypeBadOutput, nil)
		}
		return store.CompleteRun(ctx, run.ID, *in.CSV)
	}
	shardStatus := scan.ShardFailed
	if in.Status == scan.RunCancelled {
		shardStatus = scan.ShardCancelled
	}
	shards, err := store.ListShards(ctx, run.ID)
	if err != nil {
		return scan.Run{}, wrap("list shards", err)
	}
	for _, s := range shards {
		if s.Status == scan.ShardPending || s.Status == scan.ShardRunning || s.Status == scan.ShardScanned {
			if err := store.UpdateShard(ctx, scan.ShardUpdate{ID: s.ID, Status: shardStatus, Attempt: s.Attempt, Error: in.Error}); err != nil {
				return scan.Run{}, wrap("close shard", err)
			}
		}
	}
	if err := store.KeepPartial(ctx, run.ID); err != nil {
		return scan.Run{}, wrap("keep partial results", err)
	}
	if err := store.SetRunStatus(ctx, run.ID, in.Status, in.Error); err != nil {
		return scan.Run{}, wrap("set run status", err)
	}
	if ended, err := store.GetRunByWorkflowID(ctx, in.WorkflowID); err == nil {
		return ended, nil
	}
	run.Status, run.Error = in.Status, in.Error
	return run, nil
}
