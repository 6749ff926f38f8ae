package activities

// This file plans a run: the run row, its shards' specs and the task queue
// they go to; and records a run's pause and resume.

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
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
	// Plan stores the run's plan (scan.RunPlan) and returns counts, not
	// specs: each shard's spec is built when it is dispatched
	// (DispatchShardInput.FromPlan). Runs started before plans were stored
	// leave it unset and get every spec back.
	Plan bool `json:"plan,omitempty"`
}

// StartRunResult is the plan of the run: its shards, all for the same task
// queue: the scan's agent's, or its pool's.
type StartRunResult struct {
	RunID int64 `json:"run_id"`
	// Specs are the shards' specs, for a run started without
	// StartRunInput.Plan; with it, Specs is empty and Shards counts them.
	Specs []scan.Spec `json:"specs"`
	// Shards counts the shards of a run started with StartRunInput.Plan,
	// numbered 0 to Shards-1.
	Shards int `json:"shards,omitempty"`
	// Options are the options of every shard's spec (of a two-stage run,
	// the discovery stage's), for what follows the run.
	Options []string `json:"options,omitempty"`
	// Batch and Fanout shape how a run started with StartRunInput.Plan
	// fans out to child workflows (0: the workflows' defaults).
	Batch     int      `json:"batch,omitempty"`
	Fanout    int      `json:"fanout,omitempty"`
	AgentName string   `json:"agent_name"`          // "" for a pool
	PoolName  string   `json:"pool_name,omitempty"` // "" for an agent
	TaskQueue string   `json:"task_queue"`
	Timeouts  Timeouts `json:"timeouts"`
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
	draft, err := DraftRun(plan, r.limits(), r.online(ctx, plan), r.poolSeen(ctx, plan))
	if err != nil {
		return StartRunResult{}, nonRetryable(err)
	}
	for _, f := range draft.Findings {
		if f.Warning {
			activity.GetLogger(ctx).Warn("scan check", "scan", plan.Scan.ID, "rule", f.Rule, "warning", f.Message)
		}
	}
	resolved, taskQueue := draft.Resolved, draft.TaskQueue
	if err := r.Store.SetRunTargets(ctx, run.ID, resolved); err != nil {
		return StartRunResult{}, wrap("store targets", err)
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
	var specs []scan.Spec
	if in.Plan {
		if err := r.storePlan(ctx, run.ID, plan.Agent.ID, draft); err != nil {
			return StartRunResult{}, err
		}
	} else {
		for i, spec := range draft.Specs {
			shard, err := r.Store.CreateShard(ctx, run.ID, i, plan.Agent.ID, spec.Targets) // agent 0 for a pool
			if err != nil {
				return StartRunResult{}, wrap("create shard", err)
			}
			spec.RunID, spec.ShardID = run.ID, shard.ID
			if err := spec.Validate(); err != nil {
				return StartRunResult{}, nonRetryable(err)
			}
			// Unsigned: each attempt is signed when it is dispatched
			// (DispatchShard), for where it goes and for as long as it may run.
			specs = append(specs, spec)
		}
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
	if in.Plan {
		out.Shards, out.Batch, out.Fanout = len(draft.Specs), r.Batch, r.Fanout
	}
	if len(draft.Specs) > 0 {
		out.Options = draft.Specs[0].Options
	}
	out.Follow = draft.Follow
	out.Windows, out.TimeZone = plan.Scan.Windows, plan.Scan.TimeZone
	return out, nil
}

// shardsPerStore is how many shards one round trip to the database
// creates.
const shardsPerStore = 1000

// storePlan stores what the run's shards' specs are built from, and its
// shards, a batch at a time, heartbeating between batches: a run of a
// /8 has 65,536 shards. Each spec is checked as DispatchShard will build
// it, so a scan that cannot run still fails here.
func (r *Results) storePlan(ctx context.Context, runID, agentID int64, draft RunDraft) error {
	rp := scan.RunPlan{Excludes: draft.Resolved.Excludes, Shards: len(draft.Specs)}
	if len(draft.Specs) > 0 {
		rp.Spec = draft.Specs[0]
		rp.Spec.Targets, rp.Spec.Excludes = nil, nil
	}
	if f := draft.Follow; f != nil {
		rp.Follow = &scan.Spec{Scanner: f.Scanner, Options: f.Options, Rate: f.Rate}
	}
	targets := make([][]string, len(draft.Specs))
	for i, spec := range draft.Specs {
		if err := rp.ShardSpec(runID, int64(i)+1, spec.Targets).Validate(); err != nil {
			return nonRetryable(err)
		}
		targets[i] = spec.Targets
	}
	if err := r.Store.SetRunPlan(ctx, runID, rp); err != nil {
		return wrap("store run plan", err)
	}
	for from := 0; from < len(targets); from += shardsPerStore {
		to := min(from+shardsPerStore, len(targets))
		if err := r.Store.CreateShards(ctx, runID, agentID, from, targets[from:to]); err != nil { // agent 0 for a pool
			return wrap("create shards", err)
		}
		activity.RecordHeartbeat(ctx, to)
	}
	return nil
}

func (r *Results) limits() RunLimits {
	return RunLimits{MaxAddresses: r.MaxAddresses, MaxRate: r.MaxRate, ShardSize: r.ShardSize}
}

// online asks who polls the scan's task queue now, for the rules that
// read what agents announce; nil when it is not known.
func (r *Results) online(ctx context.Context, plan scan.Plan) []scan.AgentCaps {
	if r.Online == nil {
		return nil
	}
	q := plan.TaskQueue()
	agents, err := r.Online(ctx, q)
	if err != nil {
		activity.GetLogger(ctx).Warn("cannot learn who polls the task queue; checks of what agents announce are skipped", "task_queue", q, "error", err)
		return nil
	}
	return agents
}

// poolSeen says whether the scan's pool has had a member (true for a scan
// pinned to an agent, and when it cannot be learnt).
func (r *Results) poolSeen(ctx context.Context, plan scan.Plan) bool {
	if plan.Scan.PoolID == 0 {
		return true
	}
	_, seen, err := r.Store.PoolMember(ctx, plan.Pool.Name, "")
	return err != nil || seen
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
