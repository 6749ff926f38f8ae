package activities_test

import (
	"context"
	"slices"
	"testing"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// A run that fans out: StartRun stores the plan and the shards and returns
// only counts; DispatchShard builds each shard's spec from them by index,
// the same spec StartRun returns to a run that carries them, signed for
// its attempt, which the agent runs (real nmap) and whose output parses.
func TestStartRunStoresThePlan(t *testing.T) {
	f := newFixture(t, "")
	env := newEnv(f)
	ctx := context.Background()
	carried := f.startRun(t, env, "wf-carried")

	in := activities.StartRunInput{ScanID: f.scanID, WorkflowID: "wf-planned", Plan: true}
	start, err := execute[activities.StartRunResult](t, env, f.results.StartRun, in)
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	if len(start.Specs) != 0 || start.Shards != 2 || !slices.Equal(start.Options, carried.Specs[0].Options) {
		t.Fatalf("planned start: %d specs, %d shards, options %v; want none, 2 and %v", len(start.Specs), start.Shards, start.Options, carried.Specs[0].Options)
	}
	again, err := execute[activities.StartRunResult](t, env, f.results.StartRun, in)
	if err != nil || again.RunID != start.RunID || again.Shards != 2 {
		t.Errorf("a retried StartRun: %+v, %v", again, err)
	}
	shards, err := f.store.ListShards(ctx, start.RunID)
	if err != nil || len(shards) != 2 {
		t.Fatalf("shards %+v, %v; want 2", shards, err)
	}
	for i, sh := range shards {
		if sh.Index != i || sh.Status != scan.ShardRunning || !slices.Equal(sh.Targets, carried.Specs[i].Targets) {
			t.Errorf("shard %+v, want running on %v", sh, carried.Specs[i].Targets)
		}
		d, err := execute[activities.DispatchShardResult](t, env, f.results.DispatchShard, activities.DispatchShardInput{
			RunID: start.RunID, FromPlan: true, Index: i, Attempt: 1, TaskQueue: testQueue, Agent: start.AgentName})
		if err != nil {
			t.Fatalf("DispatchShard of shard %d: %v", i, err)
		}
		want := carried.Specs[i]
		want.RunID, want.ShardID = start.RunID, sh.ID
		got := d.Spec
		if len(got.Signature) == 0 || got.Dispatch == nil || got.Dispatch.Nonce != d.Nonce || got.Dispatch.Objects.OutputPut == "" {
			t.Fatalf("shard %d dispatched unsigned or without its objects: %+v", i, got)
		}
		got.Signature, got.Dispatch, got.Expires = nil, nil, want.Expires
		if !specsEqual(got, want) {
			t.Errorf("shard %d: built spec\n%+v\nwant StartRun's\n%+v", i, got, want)
		}
		scanned, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: d.Spec})
		if err != nil {
			t.Fatalf("RunScan of shard %d: %v", i, err)
		}
		parsed, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, activities.ParseResultsInput{RunID: start.RunID, ShardID: sh.ID,
			Attempt: scanned.Attempt, Raw: scanned.Raw, Agent: scanned.Agent, Signature: scanned.Signature, Nonce: d.Nonce})
		if err != nil || parsed.Hosts != 1 {
			t.Errorf("ParseResults of shard %d: %+v, %v", i, parsed, err)
		}
	}
	// No shard beyond the plan's, and none of a run without a plan.
	for _, bad := range []activities.DispatchShardInput{
		{RunID: start.RunID, FromPlan: true, Index: 2, Attempt: 1, TaskQueue: testQueue, Agent: start.AgentName},
		{RunID: carried.RunID, FromPlan: true, Index: 0, Attempt: 1, TaskQueue: testQueue, Agent: start.AgentName},
	} {
		if _, err := execute[activities.DispatchShardResult](t, env, f.results.DispatchShard, bad); !isNonRetryable(err, activities.ErrTypeInvalidSpec) {
			t.Errorf("DispatchShard %+v: %v, want a non-retryable invalid spec", bad, err)
		}
	}
}

// specsEqual compares the fields of two unsigned specs.
func specsEqual(a, b scan.Spec) bool {
	return a.RunID == b.RunID && a.ShardID == b.ShardID && a.Scanner == b.Scanner && a.Rate == b.Rate &&
		slices.Equal(a.Options, b.Options) && slices.Equal(a.Targets, b.Targets) && slices.Equal(a.Excludes, b.Excludes) && len(a.Groups) == len(b.Groups)
}
