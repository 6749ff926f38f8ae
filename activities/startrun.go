package activities

// This file plans a run: the run row, its shards' specs and the task queue
// they go to; and records a run's pause and resume.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/scanners"
)

// StartRunInput identifies the run by its workflow, so a retried activity or
// a scheduled start finds the same row.
type StartRunInput struct {
	ScanID     int64  `json:"scan_id"`
	WorkflowID string `json:"workflow_id"`
	// ScheduledAt is when the scan's schedule meant the run to start and
	// StartedAt when its workflow started (both unset for a run started by
	// hand): the difference is the schedule's fire lag.
	ScheduledAt *time.Time `json:"scheduled_at,omitempty"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
}

// StartRunResult is the plan of the run: one spec per shard, all for the
// same task queue: the scan's agent's, or its pool's.
type StartRunResult struct {
	RunID     int64       `json:"run_id"`
	Specs     []scan.Spec `json:"specs"`
	AgentName string      `json:"agent_name"`          // "" for a pool
	PoolName  string      `json:"pool_name,omitempty"` // "" for an agent
	TaskQueue string      `json:"task_queue"`
	Timeouts  Timeouts    `json:"timeouts"`
	// Parallel is how many shards may be in flight at once: the capacity
	// polling the task queue when the run started; 0 means no limit.
	Parallel int `json:"parallel,omitempty"`
	// Follow is the second stage of a two-stage profile: Specs are then
	// the discovery stage's, and each shard's found pairs are scanned
	// again by Follow (PlanFollow). nil: one stage.
	Follow *FollowStage `json:"follow,omitempty"`
	// Windows are when the scan's shards may run, read in TimeZone (an
	// IANA name); none: any time.
	Windows  scan.Windows `json:"windows,omitempty"`
	TimeZone string       `json:"time_zone,omitempty"`
}

// StartRun creates or finds the run row, resolves the targets minus site and
// global exclusions, checks the profile's options and records the shards:
// per address family, since a scanner run takes only one, and at most the
// shard size in addresses each. A scan that cannot run as defined fails
// here, before any agent is involved.
func (r *Results) StartRun(ctx context.Context, in StartRunInput) (StartRunResult, error) {
	run, err := r.Store.CreateRun(ctx, in.ScanID, in.WorkflowID)
	if err != nil {
		return StartRunResult{}, wrap("create run", err)
	}
	if r.Metrics != nil && in.ScheduledAt != nil && in.StartedAt != nil && activity.GetInfo(ctx).Attempt == 1 {
		r.Metrics.ObserveFireLag(in.StartedAt.Sub(*in.ScheduledAt))
	}
	plan, err := r.Store.LoadPlan(ctx, in.ScanID)
	if err != nil {
		return StartRunResult{}, wrap("load scan", err)
	}
	if plan.Scan.Imports != "" {
		err := fmt.Errorf("%w: scan %q holds imported runs and never runs", scan.ErrInvalidSpec, plan.Scan.Name)
		return StartRunResult{}, nonRetryable(err)
	}
	if r.Signer == nil {
		err := fmt.Errorf("%w: the server has no signing key (SCANTRON_SIGNING_KEY); agents run signed specs only", scan.ErrInvalidSpec)
		return StartRunResult{}, nonRetryable(err)
	}
	base, follow, resolved, err := r.specFor(plan)
	if err != nil {
		return StartRunResult{}, nonRetryable(err)
	}
	if err := r.Store.SetRunTargets(ctx, run.ID, resolved); err != nil {
		return StartRunResult{}, wrap("store targets", err)
	}
	var specs []scan.Spec
	size := plan.Scan.ShardSize
	if size == 0 {
		size = r.ShardSize
	}
	parts := resolved.Shards(size)
	taskQueue := plan.Agent.TaskQueue
	if plan.Scan.PoolID != 0 {
		taskQueue = plan.Pool.TaskQueue
	}
	parallel := 0
	if r.Capacity != nil {
		n, err := r.Capacity(ctx, taskQueue)
		if err != nil {
			// Without it the run dispatches every shard at once, as before.
			activity.GetLogger(ctx).Warn("cannot learn the capacity of the task queue", "task_queue", taskQueue, "error", err)
		}
		parallel = n
	}
	for i, part := range parts {
		shard, err := r.Store.CreateShard(ctx, run.ID, i, plan.Agent.ID, part.Targets) // agent 0 for a pool
		if err != nil {
			return StartRunResult{}, wrap("create shard", err)
		}
		spec := base
		spec.RunID, spec.ShardID = run.ID, shard.ID
		spec.Targets, spec.Excludes = part.Targets, part.Excludes
		if err := spec.Validate(); err != nil {
			return StartRunResult{}, nonRetryable(err)
		}
		// Unsigned: each attempt is signed when it is dispatched
		// (DispatchShard), for where it goes and for as long as it may run.
		specs = append(specs, spec)
	}
	if err := r.Store.SetRunStatus(ctx, run.ID, scan.RunRunning, ""); err != nil {
		return StartRunResult{}, wrap("mark run running", err)
	}
	for _, spec := range specs {
		if err := r.Store.UpdateShard(ctx, scan.ShardUpdate{ID: spec.ShardID, Status: scan.ShardRunning}); err != nil {
			return StartRunResult{}, wrap("mark shard running", err)
		}
	}
	out := StartRunResult{
		RunID:     run.ID,
		Specs:     specs,
		AgentName: plan.Agent.Name,
		TaskQueue: plan.Agent.TaskQueue,
		Timeouts:  r.timeouts(),
	}
	if plan.Scan.PoolID != 0 {
		out.AgentName, out.PoolName, out.TaskQueue = "", plan.Pool.Name, plan.Pool.TaskQueue
	}
	out.Parallel = parallel
	out.Follow = follow
	out.Windows, out.TimeZone = plan.Scan.Windows, plan.Scan.TimeZone
	return out, nil
}

// specFor is the plan's spec (without run, shard and targets), and for a
// two-stage profile the stage that follows the spec's discovery.
func (r *Results) specFor(plan scan.Plan) (scan.Spec, *FollowStage, scan.Resolved, error) {
	resolved, err := scan.ResolveSite(plan.Site, plan.GlobalExclusions, r.MaxAddresses)
	if err != nil {
		return scan.Spec{}, nil, scan.Resolved{}, fmt.Errorf("site %q: %w", plan.Site.Name, err)
	}
	prof := plan.Profile
	set, err := scan.ParseOptionSet(prof.Scanner, prof.Options)
	if err != nil {
		return scan.Spec{}, nil, scan.Resolved{}, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	// Saving checks this too; a profile stored before the flag existed,
	// or written around the API, is stopped here.
	if intrusive := set.Scripts().Intrusive; len(intrusive) > 0 && !prof.Intrusive {
		return scan.Spec{}, nil, scan.Resolved{}, fmt.Errorf("profile %q: %w: it runs intrusive scripts (%s) but is not marked intrusive; an admin must save it with intrusive set",
			prof.Name, scan.ErrInvalidOptions, strings.Join(intrusive, ", "))
	}
	spec, err := r.stageSpec(plan, prof.Scanner, set)
	if err != nil {
		return scan.Spec{}, nil, scan.Resolved{}, err
	}
	if prof.DiscoveryScanner == "" {
		return spec, nil, resolved, nil
	}
	discSet, err := scan.ParseOptionSet(prof.DiscoveryScanner, prof.DiscoveryOptions)
	if err != nil {
		return scan.Spec{}, nil, scan.Resolved{}, fmt.Errorf("profile %q: discovery: %w", prof.Name, err)
	}
	if _, err := scanners.Stages(prof.DiscoveryScanner, prof.Scanner, set); err != nil {
		return scan.Spec{}, nil, scan.Resolved{}, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	disc, err := r.stageSpec(plan, prof.DiscoveryScanner, discSet)
	if err != nil {
		return scan.Spec{}, nil, scan.Resolved{}, err
	}
	return disc, &FollowStage{Scanner: spec.Scanner, Options: spec.Options, Rate: spec.Rate}, resolved, nil
}

// stageSpec is one scanner's spec of the plan. The site's max_rate and the
// server's ceiling cap every scanner, as its driver does (nmap: --max-rate
// lowered or added; masscan and zmap: the rate out of the options, into
// Spec.Rate). The ceiling is applied again here because it may have been
// lowered since the profile and the site were saved.
func (r *Results) stageSpec(plan scan.Plan, scanner scan.Scanner, set scan.OptionSet) (scan.Spec, error) {
	drv, err := scanners.Lookup(scanner)
	if err != nil {
		return scan.Spec{}, fmt.Errorf("profile %q: %w: %v", plan.Profile.Name, scan.ErrInvalidOptions, err)
	}
	opts, rate, err := drv.Dispatch(set, float64(plan.Site.MaxRate), r.MaxRate)
	if err != nil {
		return scan.Spec{}, fmt.Errorf("profile %q: %w", plan.Profile.Name, err)
	}
	return scan.Spec{Scanner: scanner, Options: opts, Rate: rate}, nil
}

func (r *Results) timeouts() Timeouts {
	t := r.Timeouts
	if t.ScheduleToStart <= 0 {
		t.ScheduleToStart = 10 * time.Minute
	}
	if t.StartToClose <= 0 {
		t.StartToClose = 24 * time.Hour
	}
	if t.Heartbeat <= 0 {
		t.Heartbeat = 30 * time.Second
	}
	return t
}

// SetRunStatusInput records that a run was paused or resumed.
type SetRunStatusInput struct {
	RunID  int64          `json:"run_id"`
	Status scan.RunStatus `json:"status"` // paused or running
	// WindowOpensAt, for a paused run, says it waits for its scan's
	// windows, which open then.
	WindowOpensAt *time.Time `json:"window_opens_at,omitempty"`
}

// SetRunStatus records a pause or a resume of a run, or that it waits for
// its scan's windows to open.
func (r *Results) SetRunStatus(ctx context.Context, in SetRunStatusInput) error {
	if in.Status != scan.RunPaused && in.Status != scan.RunRunning {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("status %q is not paused or running", in.Status), ErrTypeInvalidSpec, nil)
	}
	if in.WindowOpensAt != nil && in.Status == scan.RunPaused {
		return wrap("set run waiting", r.Store.SetRunWaiting(ctx, in.RunID, *in.WindowOpensAt))
	}
	return wrap("set run status", r.Store.SetRunStatus(ctx, in.RunID, in.Status, ""))
}
