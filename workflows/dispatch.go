package workflows

import (
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// shardAttempts dispatches each attempt of a run's shards on its own: the
// server signs the spec for that attempt and task queue, with presigned
// URLs for its objects and an expiry that covers only it, and records it
// as the shard's current dispatch. A failed attempt that another may fix
// is dispatched again, up to scannerAttempts, resuming from what it saved.
type shardAttempts struct {
	start activities.StartRunResult
	// next is each shard's next attempt number: attempts keep counting
	// across a pause, so each has its own objects.
	next map[int]int
	// nonce is each shard's current dispatch's, which its result answers.
	nonce map[int]string
	// current is each shard's spec of its current stage (of a two-stage
	// run: the second once it has started), unsigned, which says how to
	// read the result.
	current map[int]scan.Spec
}

// The maps of shardAttempts are keyed by the shard's index in its run.

func newShardAttempts(start activities.StartRunResult) *shardAttempts {
	return &shardAttempts{start: start, next: map[int]int{}, nonce: map[int]string{}, current: map[int]scan.Spec{}}
}

// spec is the spec of the shard's current stage: what its result is read
// as.
func (s *shardAttempts) spec(ref shardRef) scan.Spec {
	if c, ok := s.current[ref.index]; ok {
		return c
	}
	return ref.spec
}

// runStages runs a two-stage shard: its discovery stage (spec), then, on
// the host:port pairs it found, s.start.Follow. Each stage is its own
// dispatches and attempts (run), so a failed second stage is retried
// without running the discovery again. Between them only references
// travel: the discovery's output stays in object storage, PlanFollow reads
// it there and returns the second stage's spec. When the discovery found
// nothing, its own (empty) output is the shard's result.
func (s *shardAttempts) runStages(ctx workflow.Context, ref shardRef) workflow.Future {
	var r *activities.Results
	f, set := workflow.NewFuture(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		if !ref.planned {
			s.current[ref.index] = ref.spec
		}
		var found activities.RunScanResult
		if err := s.run(ctx, ref.index, ref.spec, ref.planned).Get(ctx, &found); err != nil {
			set.Set(found, err)
			return
		}
		spec := s.current[ref.index] // as dispatched (a planned shard's is built then)
		in := activities.PlanFollowInput{Spec: spec, Follow: *s.start.Follow, Found: activities.ParseResultsInput{
			RunID: spec.RunID, ShardID: spec.ShardID, Attempt: found.Attempt, Raw: found.Raw, Agent: found.Agent,
			Scanner: spec.Scanner, Signature: found.Signature, Nonce: s.nonce[ref.index]}}
		var plan activities.PlanFollowResult
		serverCtx := workflow.WithActivityOptions(ctx, serverActivity)
		if err := workflow.ExecuteActivity(serverCtx, r.PlanFollow, in).Get(ctx, &plan); err != nil {
			set.Set(nil, err)
			return
		}
		if plan.Spec == nil {
			set.Set(found, nil)
			return
		}
		s.current[ref.index] = *plan.Spec
		var res activities.RunScanResult
		err := s.run(ctx, ref.index, *plan.Spec, false).Get(ctx, &res)
		set.Set(res, err)
	})
	return f
}

// run dispatches and runs attempts of shard index until one succeeds, one
// fails for good or scannerAttempts have failed: attempts of spec or, with
// fromPlan, of the spec DispatchShard builds from the run's plan. The
// future's value is the activities.RunScanResult; ctx carries the agent's
// activity options (one Temporal attempt each).
func (s *shardAttempts) run(ctx workflow.Context, index int, spec scan.Spec, fromPlan bool) workflow.Future {
	var r *activities.Results
	var a *activities.Agent
	f, set := workflow.NewFuture(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		serverCtx := workflow.WithActivityOptions(ctx, serverActivity)
		var prev *scan.Progress
		wait := firstRetryWait
		for try := 1; ; try++ {
			attempt := max(s.next[index], 1)
			s.next[index] = attempt + 1
			in := activities.DispatchShardInput{RunID: s.start.RunID, Spec: spec, Attempt: attempt,
				TaskQueue: s.start.TaskQueue, Agent: s.start.AgentName, Pool: s.start.PoolName, Resume: prev}
			if fromPlan {
				in.Spec, in.FromPlan, in.Index = scan.Spec{}, true, index
			}
			var d activities.DispatchShardResult
			if err := workflow.ExecuteActivity(serverCtx, r.DispatchShard, in).Get(ctx, &d); err != nil {
				set.Set(nil, err)
				return
			}
			s.nonce[index] = d.Nonce
			s.current[index] = unsigned(d.Spec)
			var res activities.RunScanResult
			err := workflow.ExecuteActivity(ctx, a.RunScan, activities.RunScanInput{Spec: d.Spec, Resume: prev}).Get(ctx, &res)
			if err == nil || try >= scannerAttempts || !retryAttempt(err) || ctx.Err() != nil {
				set.Set(res, err)
				return
			}
			if p := lastProgress(err); p != nil {
				prev = p
			}
			workflow.GetLogger(ctx).Warn("shard attempt failed; dispatching it again", "shard", d.Spec.ShardID, "attempt", attempt, "error", err)
			if serr := workflow.Sleep(ctx, wait); serr != nil {
				set.Set(nil, serr) // cancelled (a pause, or the run's end)
				return
			}
			wait = min(2*wait, time.Minute)
		}
	})
	return f
}

// unsigned is a dispatched spec as it was planned: without its signature,
// expiry and dispatch.
func unsigned(spec scan.Spec) scan.Spec {
	spec.Expires, spec.Signature, spec.Dispatch = time.Time{}, nil, nil
	return spec
}

// firstRetryWait is the backoff before a shard's second attempt, doubled
// for each next one up to a minute. A variable only so that a test
// counting a history's events need not wait for it.
var firstRetryWait = 5 * time.Second

// retryAttempt says whether another attempt may succeed where err failed,
// as Temporal's retry policy for agents' activities did: not for a spec
// or agent that cannot run it, a cancel, or an agent that never picked the
// shard up (offline).
func retryAttempt(err error) bool {
	if temporal.IsCanceledError(err) {
		return false
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return timeout.TimeoutType() != enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START && timeout.TimeoutType() != enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch {
		case app.NonRetryable(), app.Type() == activities.ErrTypeInvalidSpec, app.Type() == "ScannerMissing":
			return false
		}
	}
	return true
}

// lastProgress is the failed attempt's last progress: its last heartbeat
// if the agent went silent, or what it reported with its failure.
func lastProgress(err error) *scan.Progress {
	var p scan.Progress
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) && timeout.HasLastHeartbeatDetails() && timeout.LastHeartbeatDetails(&p) == nil {
		return &p
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == activities.ErrTypeAttemptFailed && app.HasDetails() && app.Details(&p) == nil {
		return &p
	}
	return nil
}
