package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/scantron/scantron/scan"
)

// ChangeStore is the part of the database RecordChanges uses.
type ChangeStore interface {
	GetRun(ctx context.Context, id int64) (scan.Run, error)
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
	ListShards(ctx context.Context, runID int64) ([]scan.Shard, error)
	// DiffHosts returns every host of a run with every port, with at
	// least the fields ComputeDiff and ApplyRunToAssets read.
	DiffHosts(ctx context.Context, runID int64) ([]scan.HostRow, error)
	PreviousCompletedRun(ctx context.Context, run scan.Run) (scan.Run, bool, error)
	NextCompletedRun(ctx context.Context, run scan.Run) (scan.Run, bool, error)
	SaveDiff(ctx context.Context, d scan.Diff) (scan.DiffSummary, error)
	ApplyRunToAssets(ctx context.Context, siteID int64, run scan.Run, hosts []scan.HostRow, cov scan.Coverage) error
}

// Changes runs on the server: after a run completes it works out what
// changed since the previous run and folds the run into its site's assets.
type Changes struct {
	Store ChangeStore
}

// RecordChangesInput names a completed run and the scanner options it ran
// with (which ports it covered).
type RecordChangesInput struct {
	RunID   int64    `json:"run_id"`
	Options []string `json:"options"`
}

// RecordChangesResult summarises the stored diff.
type RecordChangesResult struct {
	PreviousRunID *int64          `json:"previous_run_id,omitempty"`
	Counts        scan.DiffCounts `json:"counts"`
}

// ErrTypeRunNotCompleted marks a diff asked of a run that did not complete.
const ErrTypeRunNotCompleted = "RunNotCompleted"

// RecordChanges stores the run's diff against the previous completed run of
// its scan and applies the run to its site's assets. Both replace or merge
// what an earlier attempt stored, so a retry changes nothing.
func (c *Changes) RecordChanges(ctx context.Context, in RecordChangesInput) (RecordChangesResult, error) {
	run, err := c.Store.GetRun(ctx, in.RunID)
	if err != nil {
		return RecordChangesResult{}, wrap("load run", err)
	}
	if run.Status != scan.RunCompleted {
		msg := fmt.Sprintf("run %d is %s, not completed: it has no diff", run.ID, run.Status)
		return RecordChangesResult{}, temporal.NewNonRetryableApplicationError(msg, ErrTypeRunNotCompleted, nil)
	}
	return c.record(ctx, run, in.Options)
}

// RecordNextChangesResult summarises the stored diff of the run after the
// one named, if there is one.
type RecordNextChangesResult struct {
	NextRunID *int64          `json:"next_run_id,omitempty"`
	Counts    scan.DiffCounts `json:"counts"`
}

// RecordNextChanges works out again the diff of the completed run that
// follows the named one (whose hosts were parsed again), and applies that
// run to its site's assets again: its diff was against the hosts as they
// were parsed before, and the assets it marked gone or closed were judged
// against them too. Options are the scanner options of the scan's runs.
func (c *Changes) RecordNextChanges(ctx context.Context, in RecordChangesInput) (RecordNextChangesResult, error) {
	run, err := c.Store.GetRun(ctx, in.RunID)
	if err != nil {
		return RecordNextChangesResult{}, wrap("load run", err)
	}
	next, found, err := c.Store.NextCompletedRun(ctx, run)
	if err != nil || !found {
		return RecordNextChangesResult{}, wrap("find next run", err)
	}
	res, err := c.record(ctx, next, in.Options)
	if err != nil {
		return RecordNextChangesResult{}, err
	}
	return RecordNextChangesResult{NextRunID: &next.ID, Counts: res.Counts}, nil
}

// record stores a completed run's diff and applies it to its site's assets.
func (c *Changes) record(ctx context.Context, run scan.Run, options []string) (RecordChangesResult, error) {
	sc, err := c.Store.GetScan(ctx, run.ScanID)
	if err != nil {
		return RecordChangesResult{}, wrap("load scan", err)
	}
	shards, err := c.Store.ListShards(ctx, run.ID)
	if err != nil {
		return RecordChangesResult{}, wrap("list shards", err)
	}
	var covered [][]string
	for _, s := range shards {
		if s.Status == scan.ShardCompleted {
			covered = append(covered, s.Targets)
		}
	}
	cov := scan.CoverageOf(covered, options)
	d := scan.Diff{DiffSummary: scan.DiffSummary{RunID: run.ID, ScanID: run.ScanID}, Changes: []scan.Change{}}
	prev, found, err := c.Store.PreviousCompletedRun(ctx, run)
	if err != nil {
		return RecordChangesResult{}, wrap("find previous run", err)
	}
	// The two runs' hosts load side by side: reading a large run is as
	// much decoding here as work in PostgreSQL.
	var hosts, before []scan.HostRow
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		hosts, err = c.Store.DiffHosts(gctx, run.ID)
		return wrap("load hosts", err)
	})
	if found {
		g.Go(func() error {
			var err error
			before, err = c.Store.DiffHosts(gctx, prev.ID)
			return wrap("load previous hosts", err)
		})
	}
	if err := g.Wait(); err != nil {
		return RecordChangesResult{}, err
	}
	if found {
		d.PreviousRunID = &prev.ID
		d.Changes = scan.ComputeDiff(before, hosts, cov)
	}
	sum, err := c.Store.SaveDiff(ctx, d)
	if err != nil {
		return RecordChangesResult{}, wrap("store diff", err)
	}
	if err := c.Store.ApplyRunToAssets(ctx, sc.SiteID, run, hosts, cov); err != nil {
		return RecordChangesResult{}, wrap("update assets", err)
	}
	return RecordChangesResult{PreviousRunID: sum.PreviousRunID, Counts: sum.Counts}, nil
}
