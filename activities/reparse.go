package activities

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/report"
	"github.com/scantron/scantron/scan/scanners"
)

// ReparseRunInput names a finished run to parse again from its stored
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
	// Status is the run's, which a parse again does not change: a
	// completed run is exported and compared again, a failed one is only
	// recounted.
	Status scan.RunStatus `json:"status,omitempty"`
	// Options are the scanner options of the run's profile, which say
	// what the run covered when its diff is worked out again.
	Options []string `json:"options,omitempty"`
	// HostsUp and OpenPorts are a failed run's counts after the parse (a
	// completed run is recounted when it is recorded again).
	HostsUp   int `json:"hosts_up,omitempty"`
	OpenPorts int `json:"open_ports,omitempty"`
}

// ErrTypeNothingToParse marks a run none of whose shards stored output.
const ErrTypeNothingToParse = "NothingToParse"

// ReparseRun replaces the stored hosts and ports of every shard of a
// finished run that has stored output with a new parse of it (after a
// parser upgrade, say), through the same parse as the first one: masscan's
// hosts merged by address. Each shard is replaced as a whole for the
// attempt whose output it holds, so running it again, or concurrently with
// itself, never duplicates rows. Completed runs and failed ones are parsed
// again (a failed shard's output may be cut off: what it holds is kept, as
// when the run failed); a run in progress still owns its shards, and a
// cancelled one ended on purpose.
func (r *Results) ReparseRun(ctx context.Context, in ReparseRunInput) (ReparseRunResult, error) {
	run, err := r.Store.GetRun(ctx, in.RunID)
	if err != nil {
		return ReparseRunResult{}, wrap("find run", err)
	}
	if run.Status != scan.RunCompleted && run.Status != scan.RunFailed {
		err := fmt.Errorf("run %d is %s; only completed or failed runs are parsed again", run.ID, run.Status)
		return ReparseRunResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidSpec, err)
	}
	out, err := r.parseStoredShards(ctx, run)
	if err != nil {
		return ReparseRunResult{}, err
	}
	if run.Status == scan.RunFailed {
		// Recount what it holds; its status and error stay.
		if err := r.Store.KeepPartial(ctx, run.ID); err != nil {
			return ReparseRunResult{}, wrap("count results", err)
		}
		counted, err := r.Store.GetRun(ctx, run.ID)
		if err != nil {
			return ReparseRunResult{}, wrap("find run", err)
		}
		out.HostsUp, out.OpenPorts = counted.HostsUp, counted.OpenPorts
		return out, nil
	}
	if out.Options, err = r.runOptions(ctx, run); err != nil {
		return ReparseRunResult{}, err
	}
	return out, nil
}

// parseStoredShards replaces the hosts and ports of every shard of the run
// that has stored output with a parse of it.
func (r *Results) parseStoredShards(ctx context.Context, run scan.Run) (ReparseRunResult, error) {
	shards, err := r.Store.ListShards(ctx, run.ID)
	if err != nil {
		return ReparseRunResult{}, wrap("list shards", err)
	}
	out := ReparseRunResult{WorkflowID: run.WorkflowID, Status: run.Status}
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
	if out.Shards == 0 {
		err := fmt.Errorf("run %d has no stored scanner output to parse", run.ID)
		return ReparseRunResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNothingToParse, err)
	}
	return out, nil
}

// runOptions are the scanner options the run's diff reads for what it
// covered: its scan's profile's, none for an imported run (its coverage is
// what it lists).
func (r *Results) runOptions(ctx context.Context, run scan.Run) ([]string, error) {
	plan, err := r.Store.LoadPlan(ctx, run.ScanID)
	if err != nil {
		return nil, wrap("load scan", err)
	}
	opts, err := coverageOptions(plan.Profile)
	if err != nil {
		// The diff then counts as covered only what the run listed.
		activity.GetLogger(ctx).Warn("the scan's profile no longer parses; its run's coverage is what it listed", "run", run.ID, "error", err)
	}
	return opts, nil
}

func (r *Results) reparseShard(ctx context.Context, sh scan.Shard) (scan.IngestStats, error) {
	body, err := r.Objects.Get(ctx, *sh.Raw)
	if err != nil {
		return scan.IngestStats{}, wrap(fmt.Sprintf("read output of shard %d", sh.Index), err)
	}
	defer body.Close()
	br := bufio.NewReaderSize(body, 4096)
	scanner := scan.Scanner(report.SniffScanner(br))
	// Only a completed shard's output is whole: a failed shard kept what
	// its stopped scanner wrote.
	partial := sh.Status != scan.ShardCompleted
	stats, err := r.Store.ReplaceShardResults(ctx, sh.RunID, sh.ID, sh.Attempt, func(emit func(report.Host) error) error {
		return parseOutput(ctx, br, scanner, partial, emit)
	})
	if errors.Is(err, report.ErrTruncated) || errors.Is(err, report.ErrMalformed) {
		return scan.IngestStats{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadOutput, err)
	}
	if err != nil {
		return scan.IngestStats{}, wrap(fmt.Sprintf("store shard %d", sh.Index), err)
	}
	return stats, nil
}

// coverageOptions are a profile's scanner options as the diff reads them
// for the ports a run covered: as dispatched, masscan's rate taken out
// (rates do not change what is covered). A two-stage profile's ports are
// its discovery's.
func coverageOptions(p scan.Profile) ([]string, error) {
	scanner, options := p.Scanner, p.Options
	if p.DiscoveryScanner != "" {
		scanner, options = p.DiscoveryScanner, p.DiscoveryOptions
	}
	opts, err := scan.ParseOptions(scanner, options)
	if err == nil {
		var drv driver.Driver
		if drv, err = scanners.Lookup(scanner); err == nil {
			opts, err = drv.Coverage(opts)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", p.Name, err)
	}
	return opts, nil
}
