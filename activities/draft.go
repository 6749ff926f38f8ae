package activities

import (
	"fmt"
	"strings"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/scanners"
)

// RunLimits are the server's settings that shape every run.
type RunLimits struct {
	// MaxAddresses bounds a run's target set (0: scan.DefaultMaxAddresses).
	MaxAddresses uint64
	// MaxRate is the server's packet-rate ceiling (0: none).
	MaxRate float64
	// ShardSize is used when the scan sets none (0: scan.DefaultShardSize).
	ShardSize uint64
}

// RunDraft is what a run of a scan would dispatch, worked out without
// storing or running anything: StartRun records it, a scan's plan shows it.
type RunDraft struct {
	Resolved  scan.Resolved  `json:"resolved"`
	Findings  []scan.Finding `json:"findings"`
	ShardSize uint64         `json:"shard_size"`
	// Shards are the parts of Resolved, one per spec.
	Shards []scan.Resolved `json:"-"`
	// Specs are the shards' specs, unsigned and without run or shard id.
	Specs []scan.Spec `json:"-"`
	// TaskQueue is the scan's agent's or its pool's.
	TaskQueue string `json:"task_queue"`
	// Follow is the second stage of a two-stage profile (Specs are then
	// the discovery stage's); nil: one stage.
	Follow *FollowStage `json:"-"`
}

// DraftRun runs every rule of scan.Check over the scan and, when none
// fails, builds its shards' specs as the server dispatches them: rates
// capped by the site and the server, as each scanner's driver dispatches them.
// online are the agents polling the scan's task queue now (nil: not
// known) and poolSeen whether its pool has ever had a member. The error is
// the first rule that fails, or another reason the specs cannot be built;
// Findings holds every finding even then.
func DraftRun(plan scan.Plan, lim RunLimits, online []scan.AgentCaps, poolSeen bool) (RunDraft, error) {
	d := RunDraft{TaskQueue: plan.TaskQueue(), ShardSize: plan.Scan.ShardSize}
	if d.ShardSize == 0 {
		d.ShardSize = lim.ShardSize
	}
	if d.ShardSize == 0 {
		d.ShardSize = scan.DefaultShardSize
	}
	in := plan.CheckInput(lim.MaxAddresses, lim.MaxRate)
	in.Online, in.PoolSeen, in.Stored = online, poolSeen, true
	d.Resolved, d.Findings = scan.Check(in)
	if err := scan.FirstError(d.Findings); err != nil {
		return d, err
	}
	base, follow, err := baseSpec(plan, lim.MaxRate)
	if err != nil {
		return d, err
	}
	d.Follow = follow
	d.Shards = d.Resolved.Shards(d.ShardSize)
	for _, part := range d.Shards {
		spec := base
		spec.Options = append([]string(nil), base.Options...)
		spec.Targets, spec.Excludes = part.Targets, part.Excludes
		d.Specs = append(d.Specs, spec)
	}
	return d, nil
}

// baseSpec is the part of every shard's spec that the profile and the
// rate ceilings decide, and for a two-stage profile the stage that follows
// the spec's discovery.
func baseSpec(plan scan.Plan, serverMax float64) (scan.Spec, *FollowStage, error) {
	prof := plan.Profile
	set, err := scan.ParseOptionSet(prof.Scanner, prof.Options)
	if err != nil {
		return scan.Spec{}, nil, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	// Saving checks this too; a profile stored before the flag existed,
	// or written around the API, is stopped here.
	if intrusive := set.Scripts().Intrusive; len(intrusive) > 0 && !prof.Intrusive {
		return scan.Spec{}, nil, fmt.Errorf("profile %q: %w: it runs intrusive scripts (%s) but is not marked intrusive; an admin must save it with intrusive set",
			prof.Name, scan.ErrInvalidOptions, strings.Join(intrusive, ", "))
	}
	spec, err := stageSpec(plan, prof.Scanner, set, serverMax)
	if err != nil {
		return scan.Spec{}, nil, err
	}
	if prof.DiscoveryScanner == "" {
		return spec, nil, nil
	}
	discSet, err := scan.ParseOptionSet(prof.DiscoveryScanner, prof.DiscoveryOptions)
	if err != nil {
		return scan.Spec{}, nil, fmt.Errorf("profile %q: discovery: %w", prof.Name, err)
	}
	if _, err := scanners.Stages(prof.DiscoveryScanner, prof.Scanner, set); err != nil {
		return scan.Spec{}, nil, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	disc, err := stageSpec(plan, prof.DiscoveryScanner, discSet, serverMax)
	if err != nil {
		return scan.Spec{}, nil, err
	}
	return disc, &FollowStage{Scanner: spec.Scanner, Options: spec.Options, Rate: spec.Rate}, nil
}

// stageSpec is one scanner's spec of the plan. The site's max_rate and the
// server's ceiling cap every scanner, as its driver does (a rate option
// lowered or added, or the rate taken out of the options into Spec.Rate).
// The ceiling is applied again here because it may have been lowered since
// the profile and the site were saved.
func stageSpec(plan scan.Plan, scanner scan.Scanner, set scan.OptionSet, serverMax float64) (scan.Spec, error) {
	drv, err := scanners.Lookup(scanner)
	if err != nil {
		return scan.Spec{}, fmt.Errorf("profile %q: %w: %v", plan.Profile.Name, scan.ErrInvalidOptions, err)
	}
	opts, rate, err := drv.Dispatch(set, float64(plan.Site.MaxRate), serverMax)
	if err != nil {
		return scan.Spec{}, fmt.Errorf("profile %q: %w", plan.Profile.Name, err)
	}
	return scan.Spec{Scanner: scanner, Options: opts, Rate: rate}, nil
}
