package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// ReparseRunInput names a completed run to parse again from its stored
// scanner output.
type ReparseRunInput struct {
	RunID int64 `json:"run_id"`
}

// ReparseRunResult counts what the new parse stored, and names the run's
// scan workflow, by which FinishRun finds the run.
type ReparseRunResult struct {
	WorkflowID string `json:"workflow_id"`
	Shards     int    `json:"shards"`
	Hosts      int    `json:"hosts"`
	Ports      int    `json:"ports"`
	Skipped    int    `json:"skipped"`
}

// ReparseRun replaces the stored hosts and ports of every shard of a
// completed run with a new parse of the shard's stored output (after a
// parser upgrade, say). Each shard is replaced as a whole for the attempt
// whose output it holds, so running it again, or concurrently with itself,
// never duplicates rows. Only completed runs are parsed again: a run in
// progress still owns its shards.
func (r *Results) ReparseRun(ctx context.Context, in ReparseRunInput) (ReparseRunResult, error) {
	run, err := r.Store.GetRun(ctx, in.RunID)
	if err != nil {
		return ReparseRunResult{}, wrap("find run", err)
	}
	if run.Status != scan.RunCompleted {
		err := fmt.Errorf("run %d is %s; only completed runs are parsed again", run.ID, run.Status)
		return ReparseRunResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidSpec, err)
	}
	shards, err := r.Store.ListShards(ctx, in.RunID)
	if err != nil {
		return ReparseRunResult{}, wrap("list shards", err)
	}
	out := ReparseRunResult{WorkflowID: run.WorkflowID}
	for _, sh := range shards {
		if sh.Raw == nil {
			continue
		}
		stats, err := r.reparseShard(ctx, sh)
		if err != nil {
			return ReparseRunResult{}, err
		}
		out.Shards++
		out.Hosts += stats.Hosts
		out.Ports += stats.Ports
		out.Skipped += stats.Skipped
		activity.RecordHeartbeat(ctx, out)
	}
	return out, nil
}

func (r *Results) reparseShard(ctx context.Context, sh scan.Shard) (scan.IngestStats, error) {
	body, err := r.Objects.Get(ctx, *sh.Raw)
	if err != nil {
		return scan.IngestStats{}, wrap(fmt.Sprintf("read output of shard %d", sh.Index), err)
	}
	defer body.Close()
	parsed := 0
	stats, err := r.Store.ReplaceShardResults(ctx, sh.RunID, sh.ID, sh.Attempt, func(emit func(report.Host) error) error {
		_, err := report.ParseAny(body, func(h report.Host) error {
			if parsed++; parsed%500 == 0 {
				activity.RecordHeartbeat(ctx, parsed)
			}
			return emit(h)
		})
		return err
	})
	if errors.Is(err, report.ErrTruncated) || errors.Is(err, report.ErrMalformed) {
		return scan.IngestStats{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadOutput, err)
	}
	if err != nil {
		return scan.IngestStats{}, wrap(fmt.Sprintf("store shard %d", sh.Index), err)
	}
	return stats, nil
}
