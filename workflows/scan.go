package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// Retry and timeout settings for the server-side activities. They touch only
// PostgreSQL and object storage, so they retry for a while through an outage
// of either before the run is failed.
var serverActivity = workflow.ActivityOptions{
	TaskQueue:              ServerTaskQueue,
	StartToCloseTimeout:    10 * time.Minute,
	ScheduleToCloseTimeout: 30 * time.Minute,
	HeartbeatTimeout:       2 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        30 * time.Second,
		NonRetryableErrorTypes: []string{activities.ErrTypeInvalidSpec, activities.ErrTypeBadOutput},
	},
}

// NotifyActivityOptions govern webhook and email deliveries: retried with
// backoff for 15 minutes through a receiver's outage, never failing the run.
// The bound is short because the workflow waits for them, and a scheduled
// scan's next run may wait for the workflow. A receiver that refuses a
// delivery for good (ErrTypeNotificationRefused) is not asked again.
var NotifyActivityOptions = workflow.ActivityOptions{
	TaskQueue:              ServerTaskQueue,
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 15 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        5 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        2 * time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrTypeNotificationRefused},
	},
}

// afterRunChange guards the steps after a run ends (diff, assets,
// notifications), which histories recorded before them lack.
const afterRunChange = "after-run-changes-and-notifications"

// scannerAttempts bounds how often one shard is tried: a dead agent (heartbeat
// timeout) or a failing scanner gets this many attempts in all.
const scannerAttempts = 3

// scheduledStartTime is the search attribute a Temporal Schedule sets on
// the workflows it starts: the time the action was scheduled for.
var scheduledStartTime = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")

// ScanWorkflow runs one scan once: resolve targets, run the scanner on the
// scan's agent for each shard, parse each shard's output into PostgreSQL,
// export a CSV, and record how the run ended. Cancelling the workflow kills
// the scanners and marks the run cancelled.
func ScanWorkflow(ctx workflow.Context, in ScanInput) (ScanResult, error) {
	var r *activities.Results
	wid := workflow.GetInfo(ctx).WorkflowExecution.ID
	serverCtx := workflow.WithActivityOptions(ctx, serverActivity)
	var partials []partialShard

	res, err := func() (ScanResult, error) {
		// Runs started before each attempt was dispatched on its own had
		// their specs signed by StartRun and let Temporal retry; their
		// histories replay on that path (agents now refuse such specs).
		perAttempt := workflow.GetVersion(ctx, versionDispatch, workflow.DefaultVersion, 1) >= 1
		// Runs started before fan-out hold every shard themselves, with
		// every spec from StartRun; theirs replay on that path.
		fanOut := perAttempt && workflow.GetVersion(ctx, versionFanOut, workflow.DefaultVersion, 1) >= 1
		var start activities.StartRunResult
		startIn := activities.StartRunInput{ScanID: in.ScanID, WorkflowID: wid, Plan: fanOut}
		if at, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok {
			started := workflow.GetInfo(ctx).WorkflowStartTime
			startIn.ScheduledAt, startIn.StartedAt = &at, &started
		}
		if err := workflow.ExecuteActivity(serverCtx, r.StartRun, startIn).Get(ctx, &start); err != nil {
			return ScanResult{}, err
		}
		res := ScanResult{RunID: start.RunID}

		gate, err := newWindowGate(ctx, in, start)
		if err != nil {
			return res, err
		}
		if fanOut {
			part := ScanShardsInput{RunWorkflowID: wid, Start: start, From: 0, To: start.Shards, Parallel: start.Parallel}
			err = runParts(ctx, serverCtx, part, gate, true)
		} else {
			refs := make([]shardRef, len(start.Specs))
			for i, spec := range start.Specs {
				refs[i] = shardRef{index: i, spec: spec}
			}
			loop := shardLoop{start: start, refs: refs, perAttempt: perAttempt, gate: gate, record: true, parallel: start.Parallel}
			partials, err = scanShards(ctx, agentContext(ctx, start, perAttempt), serverCtx, loop)
		}
		gate.stop()
		if err != nil {
			return res, err
		}

		var exported activities.ExportResultsResult
		if err := workflow.ExecuteActivity(serverCtx, r.ExportResults, activities.ExportResultsInput{RunID: start.RunID}).Get(ctx, &exported); err != nil {
			return res, err
		}

		var run scan.Run
		finish := activities.FinishRunInput{WorkflowID: wid, Status: scan.RunCompleted, CSV: &exported.CSV}
		if err := workflow.ExecuteActivity(serverCtx, r.FinishRun, finish).Get(ctx, &run); err != nil {
			return res, err
		}
		res.Status, res.HostsUp, res.OpenPorts, res.CSV = run.Status, run.HostsUp, run.OpenPorts, exported.CSV
		if workflow.GetVersion(ctx, afterRunChange, workflow.DefaultVersion, 1) == 1 {
			options := start.Options
			if len(start.Specs) > 0 {
				options = start.Specs[0].Options
			}
			// The run has ended: a cancel now must not stop its follow-up.
			afterCtx, _ := workflow.NewDisconnectedContext(ctx)
			afterRun(afterCtx, run, options)
		}
		return res, nil
	}()
	if err == nil {
		return res, nil
	}

	// Record the end on a context that survives cancellation of the run.
	status := scan.RunFailed
	if temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled) {
		status = scan.RunCancelled
	}
	finishCtx, _ := workflow.NewDisconnectedContext(serverCtx)
	keepPartials(finishCtx, res.RunID, partials)
	finish := activities.FinishRunInput{WorkflowID: wid, Status: status, Error: describe(err)}
	var ended scan.Run
	if ferr := workflow.ExecuteActivity(finishCtx, r.FinishRun, finish).Get(finishCtx, &ended); ferr != nil {
		workflow.GetLogger(ctx).Error("could not record the end of the run", "error", ferr)
	} else if workflow.GetVersion(ctx, afterRunChange, workflow.DefaultVersion, 1) == 1 {
		afterRun(finishCtx, ended, nil)
	}
	res.Status = status
	return res, err
}

// agentContext carries the options of the activities that run a shard on
// its agent (RunScan). With perAttempt the workflow retries a shard, with
// a new dispatch each time; before, Temporal retried the activity.
func agentContext(ctx workflow.Context, start activities.StartRunResult, perAttempt bool) workflow.Context {
	retry := &temporal.RetryPolicy{
		InitialInterval:        5 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		MaximumAttempts:        scannerAttempts,
		NonRetryableErrorTypes: []string{activities.ErrTypeInvalidSpec, "ScannerMissing"},
	}
	if perAttempt {
		retry = &temporal.RetryPolicy{MaximumAttempts: 1}
	}
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              start.TaskQueue,
		ScheduleToStartTimeout: start.Timeouts.ScheduleToStart,
		StartToCloseTimeout:    start.Timeouts.StartToClose,
		HeartbeatTimeout:       start.Timeouts.Heartbeat,
		WaitForCancellation:    true,
		RetryPolicy:            retry,
	})
}

// afterRun follows up a run that has ended: for a completed run, its diff
// against the previous run and its site's assets; for a completed or failed
// one, the scan's notifications. Nothing here can fail the run: errors are
// logged (and visible in the workflow's history).
func afterRun(ctx workflow.Context, run scan.Run, options []string) {
	var c *activities.Changes
	var n *activities.Notifier
	log := workflow.GetLogger(ctx)
	if run.Status == scan.RunCompleted {
		changesCtx := workflow.WithActivityOptions(ctx, serverActivity)
		in := activities.RecordChangesInput{RunID: run.ID, Options: options}
		if err := workflow.ExecuteActivity(changesCtx, c.RecordChanges, in).Get(ctx, nil); err != nil {
			log.Error("could not record the run's changes", "run", run.ID, "error", err)
		}
	}
	if run.Status != scan.RunCompleted && run.Status != scan.RunFailed {
		return
	}
	notifyCtx := workflow.WithActivityOptions(ctx, NotifyActivityOptions)
	in := activities.NotifyInput{RunID: run.ID}
	hook := workflow.ExecuteActivity(notifyCtx, n.SendWebhook, in)
	mail := workflow.ExecuteActivity(notifyCtx, n.SendEmail, in)
	if err := hook.Get(ctx, nil); err != nil {
		log.Warn("webhook notification not delivered", "run", run.ID, "error", err)
	}
	if err := mail.Get(ctx, nil); err != nil {
		log.Warn("email notification not delivered", "run", run.ID, "error", err)
	}
}

// explainAgentError turns Temporal's timeouts into what an operator needs to
// read: which agent or pool, and what went wrong with it.
func explainAgentError(start activities.StartRunResult, err error) error {
	var timeout *temporal.TimeoutError
	if !errors.As(err, &timeout) {
		return err
	}
	agent, t := start.AgentName, start.Timeouts
	if start.PoolName != "" {
		switch timeout.TimeoutType() {
		case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("pool %q is offline: no agent of the pool picked up a shard within %s", start.PoolName, t.ScheduleToStart), "AgentOffline", err)
		case enumspb.TIMEOUT_TYPE_HEARTBEAT:
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("pool %q: agents stopped responding during a shard (no heartbeat for %s, %d attempts)", start.PoolName, t.Heartbeat, scannerAttempts), "AgentLost", err)
		case enumspb.TIMEOUT_TYPE_START_TO_CLOSE:
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("a shard on pool %q ran longer than %s", start.PoolName, t.StartToClose), "ScanTooLong", err)
		}
		return err
	}
	switch timeout.TimeoutType() {
	case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("agent %q is offline: it did not pick up the scan within %s", agent, t.ScheduleToStart), "AgentOffline", err)
	case enumspb.TIMEOUT_TYPE_HEARTBEAT:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("agent %q stopped responding during the scan (no heartbeat for %s, %d attempts)", agent, t.Heartbeat, scannerAttempts), "AgentLost", err)
	case enumspb.TIMEOUT_TYPE_START_TO_CLOSE:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the scan on agent %q ran longer than %s", agent, t.StartToClose), "ScanTooLong", err)
	}
	return err
}

// describe renders the innermost useful message of a Temporal error chain.
func describe(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	if temporal.IsCanceledError(err) {
		return "cancelled"
	}
	return err.Error()
}

// partialShard is what a scanner stopped by a cancel had written, uploaded
// by its agent and returned with the cancellation.
type partialShard struct {
	spec    scan.Spec
	scanned activities.RunScanResult
	nonce   string // of the dispatch it answers
}

// partialOf returns the output a cancelled scanner left, if its agent sent
// any with the cancellation.
func partialOf(err error, spec scan.Spec) (partialShard, bool) {
	var ce *temporal.CanceledError
	if !errors.As(err, &ce) || !ce.HasDetails() {
		return partialShard{}, false
	}
	var p activities.RunScanResult
	if ce.Details(&p) != nil || p.Raw.Key == "" {
		return partialShard{}, false
	}
	return partialShard{spec: spec, scanned: p}, true
}

// keepPartials parses what stopped scanners had written, so that a
// cancelled or failed run keeps every host they had finished. A failure
// here is logged: the run still has to be closed.
func keepPartials(ctx workflow.Context, runID int64, partials []partialShard) {
	if len(partials) == 0 || workflow.GetVersion(ctx, versionKeepPartial, workflow.DefaultVersion, 1) < 1 {
		return
	}
	var r *activities.Results
	for _, p := range partials {
		in := activities.ParseResultsInput{RunID: runID, ShardID: p.spec.ShardID, Attempt: p.scanned.Attempt,
			Raw: p.scanned.Raw, Agent: p.scanned.Agent, Signature: p.scanned.Signature, Partial: true, Nonce: p.nonce}
		if p.spec.Scanner != scan.DefaultScanner {
			in.Scanner = p.spec.Scanner
		}
		if err := workflow.ExecuteActivity(ctx, r.ParseResults, in).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("could not keep a stopped shard's results", "shard", p.spec.ShardID, "error", err)
		}
	}
}

// shardRef is one shard of a run's loop: its index and, for a run whose
// StartRun returned every spec, its spec. A planned shard (a run that
// fans out) carries no spec: DispatchShard builds it from the run's stored
// plan, by index.
type shardRef struct {
	index   int
	spec    scan.Spec
	planned bool
}

// shardLoop is what scanShards runs.
type shardLoop struct {
	start      activities.StartRunResult
	refs       []shardRef
	perAttempt bool
	gate       *windowGate // nil: no windows (a child's run keeps them)
	// record says the loop records its run's pause and resume: the run's
	// own workflow does; a child workflow leaves it to the run's.
	record bool
	// parallel bounds the shards in flight (0: all of them).
	parallel int
	// planned: the refs are planned shards of a run that fans out, whose
	// histories never lacked the version markers below.
	planned bool
}

// scanShards runs the shards' scanners and parses each shard's output as
// soon as it is stored. At most loop.parallel shards are in flight (all of
// them when it is 0): whichever agent frees a slot pulls the next one from
// the task queue, and a shard whose agent died is retried on the same
// queue, so in a pool another member takes it. If one shard fails, the
// others are cancelled (and waited for) before the first error is returned.
//
// SignalPause stops dispatching and stops the shards in flight, which go
// back to the front of the queue; shards already parsed stay parsed.
// SignalResume dispatches again. The scan's windows (gate; nil for none)
// pause the same way while they are closed, and the run records until
// when it waits; a run resumes when both its windows are open and no
// operator's pause holds it.
func scanShards(ctx, agentCtx, serverCtx workflow.Context, loop shardLoop) ([]partialShard, error) {
	var a *activities.Agent
	start, perAttempt, gate := loop.start, loop.perAttempt, loop.gate
	scanCtx, cancelScans := workflow.WithCancel(agentCtx)
	defer cancelScans()

	// Two-stage runs need a dispatch per attempt: each stage is its own.
	twoStage := perAttempt && start.Follow != nil &&
		(loop.planned || workflow.GetVersion(ctx, versionTwoStage, workflow.DefaultVersion, 1) >= 1)

	window := len(loop.refs)
	if loop.planned {
		if loop.parallel > 0 {
			window = min(window, loop.parallel)
		}
	} else if v := workflow.GetVersion(ctx, versionShardWindow, workflow.DefaultVersion, 1); v >= 1 && loop.parallel > 0 {
		window = min(window, loop.parallel)
	}

	type flight struct {
		ref    shardRef
		cancel workflow.CancelFunc
		paused bool // stopped by a pause: to be run again
		done   bool
	}
	inFlight := map[workflow.Future]*flight{} // looked up, never ranged over
	var dispatched []*flight                  // in dispatch order, for a deterministic pause
	queue := append([]shardRef(nil), loop.refs...)
	var finished workflow.Future
	var signal string
	// sel waits for a shard or a signal; idle, for a signal or a cancel
	// while paused with nothing in flight (in flight, a cancel reaches the
	// scanners, whose futures then end).
	sel, idle := holdSelectors(ctx, &signal)
	gate.watch(ctx, &signal, sel, idle)

	var firstErr error
	var partials []partialShard
	paused := false // by an operator
	closed := gate.closed()
	shards := newShardAttempts(start)
	dispatch := func() {
		for !paused && !closed && firstErr == nil && len(inFlight) < window && len(queue) > 0 {
			ref := queue[0]
			queue = queue[1:]
			fctx, cancel := workflow.WithCancel(scanCtx)
			var f workflow.Future
			switch {
			case twoStage:
				f = shards.runStages(fctx, ref)
			case perAttempt:
				f = shards.run(fctx, ref.index, ref.spec, ref.planned)
			default:
				f = workflow.ExecuteActivity(fctx, a.RunScan, activities.RunScanInput{Spec: ref.spec})
			}
			fl := &flight{ref: ref, cancel: cancel}
			inFlight[f] = fl
			dispatched = append(dispatched, fl)
			sel.AddFuture(f, func(f workflow.Future) { finished = f })
		}
	}
	record := func() {
		if loop.record {
			recordHold(ctx, serverCtx, start.RunID, paused, gate)
		}
	}
	stopInFlight := func() {
		for _, fl := range dispatched {
			if !fl.done {
				fl.paused = true
				fl.cancel()
			}
		}
	}

	if closed {
		record()
	}
	dispatch()
	for len(inFlight) > 0 || (firstErr == nil && len(queue) > 0) {
		finished, signal = nil, ""
		if len(inFlight) > 0 {
			sel.Select(ctx)
		} else {
			idle.Select(ctx)
		}
		switch signal {
		case SignalPause:
			if !paused && firstErr == nil {
				paused = true
				stopInFlight()
				record()
			}
			continue
		case SignalResume:
			if paused && firstErr == nil {
				paused = false
				record()
				dispatch()
			}
			continue
		case signalWindow:
			if firstErr != nil {
				continue
			}
			changed, err := gate.advance(ctx, &signal, sel, idle)
			if err != nil {
				firstErr = err
				cancelScans()
				continue
			}
			if changed {
				closed = gate.closed()
				if closed {
					stopInFlight()
				}
				record()
				dispatch()
			}
			continue
		case signalStale:
			continue
		case signalCancel:
			if firstErr == nil {
				firstErr = temporal.NewCanceledError()
				cancelScans()
			}
			continue
		}
		fl := inFlight[finished]
		delete(inFlight, finished)
		fl.done = true
		ref := fl.ref
		// A two-stage shard's result is its last stage's: read as that.
		stage := shards.spec(ref)
		var scanned activities.RunScanResult
		err := finished.Get(ctx, &scanned)
		switch {
		case err != nil && fl.paused && temporal.IsCanceledError(err) && firstErr == nil:
			queue = append([]shardRef{ref}, queue...) // run it again on resume (both stages)
			delete(shards.current, ref.index)
			continue
		case err == nil && firstErr != nil:
			// Finished while the others were being stopped: keep it too.
			partials = append(partials, partialShard{spec: stage, scanned: scanned, nonce: shards.nonce[ref.index]})
		case err == nil:
			err = parseShard(ctx, serverCtx, start.RunID, stage, scanned, shards.nonce[ref.index])
		default:
			if p, ok := partialOf(err, stage); ok {
				p.nonce = shards.nonce[ref.index]
				partials = append(partials, p)
			}
			err = explainAgentError(start, err)
		}
		if err != nil && firstErr == nil {
			firstErr = err
			cancelScans()
		}
		dispatch()
	}
	return partials, firstErr
}

// parseShard parses a shard's accepted output into PostgreSQL.
func parseShard(ctx, serverCtx workflow.Context, runID int64, stage scan.Spec, scanned activities.RunScanResult, nonce string) error {
	var r *activities.Results
	in := activities.ParseResultsInput{RunID: runID, ShardID: stage.ShardID, Attempt: scanned.Attempt, Raw: scanned.Raw,
		Agent: scanned.Agent, Signature: scanned.Signature, Nonce: nonce}
	// The default scanner travels unnamed, as before there were others.
	if stage.Scanner != scan.DefaultScanner {
		in.Scanner = stage.Scanner
	}
	return workflow.ExecuteActivity(serverCtx, r.ParseResults, in).Get(ctx, nil)
}

// What a hold selector reports besides the pause and resume signals.
const (
	signalWindow = "window" // the windows' timer fired
	signalStale  = "stale"  // a timer already handled, or cancelled
	signalCancel = "cancel" // the workflow was cancelled while idle
)

// holdSelectors are the selectors of a loop that a pause holds: sel, to
// which the loop adds its futures, and idle, for when nothing is in flight,
// which also hears a cancel. Both set *signal to the signal received.
func holdSelectors(ctx workflow.Context, signal *string) (sel, idle workflow.Selector) {
	sel, idle = workflow.NewSelector(ctx), workflow.NewSelector(ctx)
	for _, sl := range []workflow.Selector{sel, idle} {
		sl.AddReceive(workflow.GetSignalChannel(ctx, SignalPause), func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			*signal = SignalPause
		})
		sl.AddReceive(workflow.GetSignalChannel(ctx, SignalResume), func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			*signal = SignalResume
		})
	}
	idle.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) { *signal = signalCancel })
	return sel, idle
}

// recordHold stores whether the run is paused (by an operator, or by its
// windows) and, when its windows hold it, until when.
func recordHold(ctx, serverCtx workflow.Context, runID int64, paused bool, gate *windowGate) {
	var r *activities.Results
	in := activities.SetRunStatusInput{RunID: runID, Status: scan.RunRunning}
	if paused || gate.closed() {
		in.Status = scan.RunPaused
	}
	if gate.closed() {
		until := gate.state.Until
		in.WindowOpensAt = &until
	}
	if err := workflow.ExecuteActivity(serverCtx, r.SetRunStatus, in).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("could not record the run's pause or resume", "error", err)
	}
}
