package activities

// This file links a two-stage shard's stages: the discovery stage's stored
// output becomes the second stage's spec.

import (
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

// FollowStage is a two-stage run's second stage, as StartRun planned it:
// the scanner and its dispatched options, without the ports.
type FollowStage struct {
	Scanner scan.Scanner `json:"scanner"`
	Options []string     `json:"options"`
	Rate    float64      `json:"rate,omitempty"`
}

// PlanFollowInput names a shard's accepted discovery output (as
// ParseResultsInput does) and the stage that follows it.
type PlanFollowInput struct {
	Found  ParseResultsInput `json:"found"`
	Spec   scan.Spec         `json:"spec"` // the discovery stage's, unsigned
	Follow FollowStage       `json:"follow"`
}

// PlanFollowResult is the second stage's spec (unsigned, like StartRun's),
// or nil when the discovery found no open port: then the discovery output
// itself is the shard's result.
type PlanFollowResult struct {
	Spec  *scan.Spec `json:"spec,omitempty"`
	Hosts int        `json:"hosts"`
	Pairs int        `json:"pairs"`
	// ExtraPairs are the pairs scanned beyond those found, when the
	// hosts' port sets were more than scan.MaxPortGroups and the closest
	// were merged.
	ExtraPairs int `json:"extra_pairs,omitempty"`
}

// PlanFollow reads a shard's discovery output from object storage (only
// its reference travelled through Temporal), after the same checks of its
// agent and dispatch as a result to be parsed, and plans the second stage
// on the host:port pairs it found open: hosts grouped by the ports found
// open on them, one run per group (driver.SecondStage).
func (r *Results) PlanFollow(ctx context.Context, in PlanFollowInput) (PlanFollowResult, error) {
	found := in.Found
	if err := found.Raw.Validate(); err != nil {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	if found.RunID != in.Spec.RunID || found.ShardID != in.Spec.ShardID {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: discovery output of shard %d, spec of shard %d", scan.ErrInvalidSpec, found.ShardID, in.Spec.ShardID))
	}
	if err := r.checkSignature(ctx, found); err != nil {
		return PlanFollowResult{}, err
	}
	targets, err := scan.ParseTargets(in.Spec.Targets)
	if err != nil {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	drv, err := scanners.Lookup(in.Follow.Scanner)
	if err != nil {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	follow, ok := drv.(driver.PairScanner)
	if !ok {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: %s cannot follow a discovery stage", scan.ErrInvalidSpec, in.Follow.Scanner))
	}
	body, err := r.Objects.Get(ctx, found.Raw)
	if err != nil {
		return PlanFollowResult{}, wrap("read discovery output", err)
	}
	defer body.Close()
	drvFound, err := scanners.Lookup(found.Scanner)
	if err != nil {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	pairs, err := driver.OpenPairs(drvFound, body, targets)
	if errors.Is(err, report.ErrTruncated) {
		// As in ParseResults: the agent reported success, so a cut-off
		// document is not what the scanner wrote.
		return PlanFollowResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadOutput, err)
	}
	if err != nil {
		return PlanFollowResult{}, wrap("read discovery output", err)
	}
	if len(pairs) == 0 {
		return PlanFollowResult{}, nil
	}
	spec, extra, err := driver.SecondStage(in.Spec, follow, in.Follow.Options, in.Follow.Rate, pairs)
	if err != nil {
		return PlanFollowResult{}, nonRetryable(err)
	}
	if extra > 0 {
		activity.GetLogger(ctx).Info("second stage: port groups merged to stay within the bound; some hosts are scanned on ports not found open on them",
			"shard", spec.ShardID, "groups", len(spec.Groups), "max_groups", scan.MaxPortGroups, "extra_pairs", extra)
	}
	hosts := len(spec.Targets)
	return PlanFollowResult{Spec: &spec, Hosts: hosts, Pairs: len(pairs), ExtraPairs: extra}, nil
}
