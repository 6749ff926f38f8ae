package workflows

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// versionFanOut marks runs that fan out to child workflows
// (ScanShardsWorkflow), each holding a bounded part of the run's shards,
// whose specs StartRun stores rather than returns. Older histories hold
// every shard, and every spec, in the run's own workflow.
const versionFanOut = "fan-out-to-children"

// DefaultShardBatch is how many shards one child workflow runs itself
// (activities.Results.Batch, SCANTRON_RUN_BATCH, overrides it).
//
// A shard costs its child's history about 20 events when its one attempt
// succeeds (DispatchShard, RunScan and ParseResults: scheduled, started,
// completed, each waking a workflow task of three more); a failed attempt
// adds its dispatch, its scan and the backoff timer. The worst case is a
// two-stage shard whose every stage is tried scannerAttempts times: about
// 106 events (TestShardHistoryEvents counts them in real histories). 64
// shards so stay under 7,000 events, below Temporal's 10,000-event warning
// (and far from its 50,000 limit) with room for pauses, which dispatch the
// shards they stopped again.
const DefaultShardBatch = 64

// DefaultFanout is how many children one workflow of a run starts at most
// (activities.Results.Fanout, SCANTRON_RUN_FANOUT, overrides it). A child
// costs its parent about 9 events (initiated, started, completed and
// their workflow tasks) and 5 more for each pause or resume forwarded to
// it: 128 children are about 1,200 events. A run of more than
// batch × fanout shards fans out over more levels: a /8 of /24 shards
// (65,536) is 8 children of 128 children of 64 shards.
const DefaultFanout = 128

// ScanShardsInput is one part of a run: its shards From to To-1, which
// ScanShardsWorkflow runs itself or fans out again.
type ScanShardsInput struct {
	// RunWorkflowID is the run's own workflow's, which names its
	// children.
	RunWorkflowID string `json:"run_workflow_id"`
	// Start is the run's start (no specs: a shard's is built when it is
	// dispatched).
	Start activities.StartRunResult `json:"start"`
	From  int                       `json:"from"`
	To    int                       `json:"to"`
	// Parallel bounds the part's shards in flight (0: all of them).
	Parallel int `json:"parallel,omitempty"`
}

// ScanShardsResult is what a part of a run reports: how many shards it
// held.
type ScanShardsResult struct {
	Shards int `json:"shards"`
}

// ScanShardsWorkflow runs part of a run: up to its batch of shards itself,
// as the run's own workflow did when it held them all (scanShards:
// dispatch per attempt, retries, two stages, parse), or, for a larger
// part, through children of its own. It obeys SignalPause and
// SignalResume, which its parent forwards; a cancel stops its scanners,
// whose partial output it keeps, and its children. It records nothing of
// the run's status: the run's workflow does.
func ScanShardsWorkflow(ctx workflow.Context, in ScanShardsInput) (ScanShardsResult, error) {
	serverCtx := workflow.WithActivityOptions(ctx, serverActivity)
	n := in.To - in.From
	batch, _ := fanShape(in.Start)
	if n > batch {
		return ScanShardsResult{Shards: n}, runParts(ctx, serverCtx, in, nil, false)
	}
	refs := make([]shardRef, 0, n)
	for i := in.From; i < in.To; i++ {
		refs = append(refs, shardRef{index: i, spec: scan.Spec{RunID: in.Start.RunID}, planned: true})
	}
	loop := shardLoop{start: in.Start, refs: refs, perAttempt: true, parallel: in.Parallel, planned: true}
	partials, err := scanShards(ctx, agentContext(ctx, in.Start, true), serverCtx, loop)
	if err != nil {
		// Keep what stopped scanners had written before the part ends:
		// the run closes only once every part has.
		keepCtx, _ := workflow.NewDisconnectedContext(serverCtx)
		keepPartials(keepCtx, in.Start.RunID, partials)
	}
	return ScanShardsResult{Shards: n}, err
}

// fanShape is the run's batch and fanout, or the defaults.
func fanShape(start activities.StartRunResult) (batch, fanout int) {
	batch, fanout = start.Batch, start.Fanout
	if batch < 1 {
		batch = DefaultShardBatch
	}
	if fanout < 2 {
		fanout = DefaultFanout
	}
	return batch, fanout
}

// span is a range of shard indexes, From to To-1.
type span struct{ from, to int }

// splitParts cuts shards from to to-1 into at most fanout parts of equal
// size (the last may be smaller): batch × fanout^k shards each, for the
// least k that needs no more parts. A range of more than batch shards
// always gives two parts or more, so the tree ends.
func splitParts(from, to, batch, fanout int) []span {
	size := batch
	for (to-from+size-1)/size > fanout {
		size *= fanout
	}
	var out []span
	for lo := from; lo < to; lo += size {
		out = append(out, span{lo, min(lo+size, to)})
	}
	return out
}

// runParts runs a part of a run through children (ScanShardsWorkflow),
// one per sub-part, at most in.Parallel shards in flight among them (all
// when it is 0): each child gets its share, and no child starts without
// one.
//
// Pause and resume (signals, and for the run's own workflow its windows,
// gate) are forwarded to the children in flight, and no child starts while
// the part is held. If a child fails, the others are cancelled (and waited
// for) before its error is returned. A cancel reaches the children through
// their context; they stop their scanners and keep their partial output
// before they end. record says this is the run's own workflow, which
// records the run's pause and resume.
func runParts(ctx, serverCtx workflow.Context, in ScanShardsInput, gate *windowGate, record bool) error {
	batch, fanout := fanShape(in.Start)
	parts := splitParts(in.From, in.To, batch, fanout)
	if len(parts) == 0 {
		return nil
	}
	// The part's shards in flight (in.Parallel) are shared out: each child
	// takes enough for its size, or what is left, and gives it back when
	// it ends, for the next.
	size := parts[0].to - parts[0].from
	free, take := in.Parallel, 0
	if in.Parallel > 0 {
		most := min(len(parts), (in.Parallel+size-1)/size)
		take = (in.Parallel + most - 1) / most
	}
	childCtx, cancelChildren := workflow.WithCancel(ctx)
	defer cancelChildren()

	type child struct {
		share int  // of in.Parallel
		held  bool // as last forwarded
		done  bool
	}
	inFlight := map[workflow.Future]*child{} // looked up, never ranged over
	var finished workflow.Future
	var signal string
	sel, idle := holdSelectors(ctx, &signal)
	gate.watch(ctx, &signal, sel, idle)

	var firstErr error
	next := 0
	// A part starts only while its run is not held: it starts running.
	paused, closed := false, gate.closed()
	held := func() bool { return paused || closed }
	// forward is the hold the children in flight are to have: set before
	// the run records a pause, so that scanners stop at once, and after it
	// records a resume, so that none starts before the run shows running
	// (the order a run that holds its shards keeps).
	forward := held()
	startChildren := func() {
		for !held() && firstErr == nil && (in.Parallel == 0 || free > 0) && next < len(parts) {
			p := parts[next]
			next++
			share := min(free, take)
			free -= share
			cin := ScanShardsInput{RunWorkflowID: in.RunWorkflowID, Start: in.Start, From: p.from, To: p.to, Parallel: share}
			cctx := workflow.WithChildOptions(childCtx, workflow.ChildWorkflowOptions{
				WorkflowID: ScanShardsWorkflowID(in.RunWorkflowID, p.from, p.to),
				// A run's workflow that is terminated, or times out,
				// still stops its children's scanners.
				ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
				WaitForCancellation: true,
			})
			f := workflow.ExecuteChildWorkflow(cctx, ScanShardsWorkflow, cin)
			c := &child{share: share}
			inFlight[f] = c
			sel.AddFuture(f, func(f workflow.Future) { finished = f })
			// Forward each change of the hold, in order, once the child
			// runs.
			workflow.Go(ctx, func(ctx workflow.Context) {
				if f.GetChildWorkflowExecution().Get(ctx, nil) != nil {
					return
				}
				for {
					if workflow.Await(ctx, func() bool { return c.done || c.held != forward }) != nil || c.done {
						return
					}
					c.held = forward
					name := SignalResume
					if c.held {
						name = SignalPause
					}
					if err := f.SignalChildWorkflow(ctx, name, nil).Get(ctx, nil); err != nil && !c.done {
						workflow.GetLogger(ctx).Warn("could not forward a pause or resume to a part of the run", "signal", name, "error", err)
					}
				}
			})
		}
	}
	recordRun := func() {
		if record {
			recordHold(ctx, serverCtx, in.Start.RunID, paused, gate)
		}
	}

	if closed {
		recordRun()
	}
	startChildren()
	for len(inFlight) > 0 || (firstErr == nil && next < len(parts)) {
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
				forward = held()
				recordRun()
			}
			continue
		case SignalResume:
			if paused && firstErr == nil {
				paused = false
				recordRun()
				forward = held()
				startChildren()
			}
			continue
		case signalWindow:
			if firstErr != nil {
				continue
			}
			changed, err := gate.advance(ctx, &signal, sel, idle)
			if err != nil {
				firstErr = err
				cancelChildren()
				continue
			}
			if changed {
				closed = gate.closed()
				if closed {
					forward = held()
				}
				recordRun()
				forward = held()
				startChildren()
			}
			continue
		case signalStale:
			continue
		case signalCancel:
			if firstErr == nil {
				firstErr = temporal.NewCanceledError()
				cancelChildren()
			}
			continue
		}
		c := inFlight[finished]
		delete(inFlight, finished)
		c.done = true
		free += c.share
		if err := finished.Get(ctx, nil); err != nil && firstErr == nil {
			firstErr = err
			cancelChildren()
		}
		startChildren()
	}
	return firstErr
}
