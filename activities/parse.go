package activities

// This file ingests a shard's accepted output: it streams the stored output
// through its scanner driver's reader into PostgreSQL.

import (
	"context"
	"errors"
	"io"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
	"github.com/scantron/scantron/scan/scanners"
)

// ParseResultsInput names a shard's stored output.
type ParseResultsInput struct {
	RunID   int64        `json:"run_id"`
	ShardID int64        `json:"shard_id"`
	Attempt int          `json:"attempt"`
	Raw     scan.BlobRef `json:"raw"`
	Agent   string       `json:"agent,omitempty"` // who ran the scanner
	// Scanner says how to read Raw; "" is nmap.
	Scanner scan.Scanner `json:"scanner,omitempty"`
	// Signature is the agent's, from RunScanResult.
	Signature []byte `json:"signature,omitempty"`
	// Nonce is the dispatch's the result answers (DispatchShardResult,
	// never the agent's word): only the shard's current dispatch is
	// accepted. Empty for runs dispatched before dispatches existed.
	Nonce string `json:"nonce,omitempty"`
	// Partial is output of a scanner stopped by a cancel: a cut-off
	// document is expected, every complete host in it is stored, and the
	// shard is left to be closed as cancelled.
	Partial bool `json:"partial,omitempty"`
}

// ParseResultsResult counts what was stored.
type ParseResultsResult struct {
	Hosts   int `json:"hosts"`
	Ports   int `json:"ports"`
	Skipped int `json:"skipped"` // hosts without an IP address
	// Stale: the shard already holds a later attempt's results, so this
	// (late) attempt stored nothing.
	Stale bool `json:"stale,omitempty"`
}

// ParseResults streams the shard's XML from object storage into PostgreSQL.
// It replaces the shard's rows, so running it twice never duplicates them;
// an attempt older than the one already stored changes nothing.
func (r *Results) ParseResults(ctx context.Context, in ParseResultsInput) (ParseResultsResult, error) {
	if err := in.Raw.Validate(); err != nil {
		return ParseResultsResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadOutput, err)
	}
	if err := r.checkSignature(ctx, in); err != nil {
		return ParseResultsResult{}, err
	}
	if sh, err := r.Store.GetShard(ctx, in.ShardID); err != nil {
		return ParseResultsResult{}, wrap("find shard", err)
	} else if sh.Attempt > in.Attempt {
		activity.GetLogger(ctx).Warn("output of an older attempt arrived late; kept the newer attempt", "shard", in.ShardID, "attempt", in.Attempt, "stored", sh.Attempt)
		return ParseResultsResult{Stale: true}, nil
	}
	if err := r.Store.SetRunStatus(ctx, in.RunID, scan.RunParsing, ""); err != nil {
		return ParseResultsResult{}, wrap("mark run parsing", err)
	}
	if err := r.Store.UpdateShard(ctx, scan.ShardUpdate{ID: in.ShardID, Status: scan.ShardScanned, Attempt: in.Attempt, Raw: &in.Raw, RanBy: in.Agent}); err != nil {
		return ParseResultsResult{}, wrap("mark shard scanned", err)
	}
	body, err := r.Objects.Get(ctx, in.Raw)
	if err != nil {
		return ParseResultsResult{}, wrap("read scanner output", err)
	}
	defer body.Close()

	ingestStart := time.Now()
	stats, err := r.Store.ReplaceShardResults(ctx, in.RunID, in.ShardID, in.Attempt, func(emit func(report.Host) error) error {
		return parseOutput(ctx, body, in.Scanner, in.Partial, emit)
	})
	if errors.Is(err, report.ErrTruncated) {
		// The agent reported success, so a cut-off document means the stored
		// object is not what the scanner wrote; parsing it again won't help.
		return ParseResultsResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadOutput, err)
	}
	if err != nil {
		return ParseResultsResult{}, wrap("store results", err)
	}
	if stats.Stale {
		activity.GetLogger(ctx).Warn("results of an older attempt arrived late; kept the newer ones", "shard", in.ShardID, "attempt", in.Attempt)
		return ParseResultsResult{Stale: true}, nil
	}
	if r.Metrics != nil {
		r.Metrics.ObserveIngest(stats.Hosts+stats.Ports, time.Since(ingestStart))
	}
	if in.Partial {
		r.observeShard(ctx, in, "partial")
		return ParseResultsResult{Hosts: stats.Hosts, Ports: stats.Ports, Skipped: stats.Skipped}, nil
	}
	if err := r.Store.UpdateShard(ctx, scan.ShardUpdate{ID: in.ShardID, Status: scan.ShardCompleted, Attempt: in.Attempt, Raw: &in.Raw}); err != nil {
		return ParseResultsResult{}, wrap("mark shard completed", err)
	}
	r.observeShard(ctx, in, "completed")
	return ParseResultsResult{Hosts: stats.Hosts, Ports: stats.Ports, Skipped: stats.Skipped}, nil
}

// observeShard records how long the shard took from being marked running
// until its output was stored.
func (r *Results) observeShard(ctx context.Context, in ParseResultsInput, outcome string) {
	if r.Metrics == nil {
		return
	}
	sh, err := r.Store.GetShard(ctx, in.ShardID)
	if err != nil || sh.StartedAt == nil {
		return
	}
	end := time.Now()
	if sh.FinishedAt != nil {
		end = *sh.FinishedAt
	}
	scanner := in.Scanner
	if scanner == "" {
		scanner = scan.DefaultScanner
	}
	r.Metrics.ObserveShard(string(scanner), outcome, end.Sub(*sh.StartedAt))
}

// parseOutput reads a shard's scanner output and hands its hosts to emit,
// one host each, as its scanner's driver reads it ("" is the default
// scanner); a first parse and a parse again both store them so. A partial
// output (of a stopped scanner) may be cut off: the hosts before the cut
// are what the scan found.
func parseOutput(ctx context.Context, body io.Reader, scanner scan.Scanner, partial bool, emit func(report.Host) error) error {
	if scanner == "" {
		scanner = scan.DefaultScanner
	}
	drv, err := scanners.Lookup(scanner)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadOutput, err)
	}
	parsed := 0
	return drv.Parse(body, partial, func(h report.Host) error {
		if parsed++; parsed%500 == 0 {
			activity.RecordHeartbeat(ctx, parsed)
		}
		return emit(h)
	})
}
