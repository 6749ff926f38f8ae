package activities_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// agentWithCredential registers an agent with a credential and returns a
// copy of f's agent that is it.
func agentWithCredential(t *testing.T, f *fixture, name string) *activities.Agent {
	t.Helper()
	cred, key, err := scan.NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateAgent(context.Background(), scan.Agent{Name: name, TaskQueue: workflows.AgentTaskQueue(name), PublicKey: key}); err != nil {
		t.Fatal(err)
	}
	return &activities.Agent{Name: name, Credential: cred, HeartbeatEvery: time.Second, Verifier: f.agent.Verifier}
}

// forged is a result of shard for the given dispatch that agent a signs,
// pointing at raw, as a compromised agent could make one.
func forged(t *testing.T, a *activities.Agent, runID int64, spec scan.Spec, attempt int, nonce string, raw scan.BlobRef) activities.ParseResultsInput {
	t.Helper()
	claim := scan.ResultClaim{RunID: runID, ShardID: spec.ShardID, Attempt: attempt, Agent: a.Name, Raw: raw, Nonce: nonce}
	sig, err := scan.SignResult(a.Credential, claim)
	if err != nil {
		t.Fatal(err)
	}
	return activities.ParseResultsInput{RunID: runID, ShardID: spec.ShardID, Attempt: attempt, Raw: raw, Agent: a.Name, Signature: sig, Nonce: nonce}
}

func isUntrusted(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == activities.ErrTypeUntrusted && app.NonRetryable()
}

// TestParseResultsAcceptsOnlyTheCurrentDispatch: a shard's result is taken
// only for its current dispatch of a running run, from the agent it was
// dispatched to, signed for that dispatch. A result signed by another
// agent, one answering an earlier dispatch (a replay), and one arriving
// after the run ended are refused; so is a dispatch of an ended run, and
// the replay of a spec at the agent.
func TestParseResultsAcceptsOnlyTheCurrentDispatch(t *testing.T) {
	f := newFixture(t, "")
	owner := agentWithCredential(t, f, "owner")
	intruder := agentWithCredential(t, f, "intruder")
	env := newEnv(f)
	env.RegisterActivity(owner)
	start := f.startRun(t, env, "wf-dispatch")
	spec := start.Specs[0]
	dispatch := func(attempt int) activities.DispatchShardResult {
		d, err := execute[activities.DispatchShardResult](t, env, f.results.DispatchShard,
			activities.DispatchShardInput{RunID: start.RunID, Spec: spec, Attempt: attempt, TaskQueue: testQueue, Agent: "owner"})
		if err != nil {
			t.Fatalf("DispatchShard attempt %d: %v", attempt, err)
		}
		return d
	}
	first := dispatch(1)
	scanned, err := execute[activities.RunScanResult](t, env, owner.RunScan, activities.RunScanInput{Spec: first.Spec})
	if err != nil {
		t.Fatal(err)
	}
	good := activities.ParseResultsInput{RunID: start.RunID, ShardID: spec.ShardID, Attempt: scanned.Attempt, Raw: scanned.Raw,
		Agent: scanned.Agent, Signature: scanned.Signature, Nonce: first.Nonce}

	unsigned := good
	unsigned.Signature = nil
	wrongNonce := good
	wrongNonce.Nonce = "made-up"
	for name, in := range map[string]activities.ParseResultsInput{
		"signed by the wrong agent": forged(t, intruder, start.RunID, spec, 1, first.Nonce, scanned.Raw),
		"signed by the right agent's name": func() activities.ParseResultsInput {
			in := forged(t, intruder, start.RunID, spec, 1, first.Nonce, scanned.Raw)
			in.Agent = "owner"
			return in
		}(),
		"unsigned from an agent with a key":  unsigned,
		"for a dispatch that never happened": wrongNonce,
		"from a legacy agent without a key":  func() activities.ParseResultsInput { in := good; in.Agent, in.Signature = "a1", nil; return in }(),
	} {
		if _, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, in); !isUntrusted(err) {
			t.Errorf("result %s: %v, want refused as untrusted", name, err)
		}
	}

	// The shard is dispatched again (a retry): the first dispatch's result,
	// genuine as it is, is a replay now.
	second := dispatch(2)
	if _, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, good); !isUntrusted(err) || !strings.Contains(err.Error(), "not the shard's current dispatch") {
		t.Errorf("replayed result of an earlier dispatch: %v, want refused", err)
	}
	again, err := execute[activities.RunScanResult](t, env, owner.RunScan, activities.RunScanInput{Spec: second.Spec})
	if err != nil {
		t.Fatal(err)
	}
	if again.Raw.Key != scan.RawKey(start.RunID, spec.ShardID, 2, spec.Scanner) {
		t.Errorf("second attempt stored %s", again.Raw.Key)
	}
	current := activities.ParseResultsInput{RunID: start.RunID, ShardID: spec.ShardID, Attempt: again.Attempt, Raw: again.Raw,
		Agent: again.Agent, Signature: again.Signature, Nonce: second.Nonce}
	if parsed, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, current); err != nil || parsed.Hosts != 1 {
		t.Fatalf("the current dispatch's result: %+v, %v", parsed, err)
	}
	// Replaying the first spec at its agent runs nothing: a dispatch runs
	// once (and its spec expires with its attempt).
	if _, err := execute[activities.RunScanResult](t, env, owner.RunScan, activities.RunScanInput{Spec: first.Spec}); !isNonRetryable(err, activities.ErrTypeInvalidSpec) || !strings.Contains(err.Error(), "a replay") {
		t.Errorf("replayed spec at the agent: %v, want refused", err)
	}

	// Once the run has ended, nothing of it is accepted or dispatched.
	if _, err := execute[scan.Run](t, env, f.results.FinishRun, activities.FinishRunInput{WorkflowID: "wf-dispatch", Status: scan.RunCancelled, Error: "cancelled"}); err != nil {
		t.Fatal(err)
	}
	if _, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, current); !isUntrusted(err) || !strings.Contains(err.Error(), "after its run ended") {
		t.Errorf("result after the run was cancelled: %v, want refused", err)
	}
	_, err = execute[activities.DispatchShardResult](t, env, f.results.DispatchShard,
		activities.DispatchShardInput{RunID: start.RunID, Spec: spec, Attempt: 3, TaskQueue: testQueue, Agent: "owner"})
	if !isNonRetryable(err, activities.ErrTypeInvalidSpec) {
		t.Errorf("dispatch of a cancelled run's shard: %v, want refused", err)
	}
}

// TestParseResultsTakesPoolResultsFromMembers: a shard dispatched to a pool
// is accepted from a recorded member of the pool, signed, and refused from
// a registered agent that is not one.
func TestParseResultsTakesPoolResultsFromMembers(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	member := agentWithCredential(t, f, "member")
	outsider := agentWithCredential(t, f, "outsider")
	if _, err := f.store.CreatePool(ctx, scan.Pool{Name: "edge", TaskQueue: workflows.PoolTaskQueue("edge")}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AddPoolMember(ctx, "edge", "member"); err != nil {
		t.Fatal(err)
	}
	env := newEnv(f)
	env.RegisterActivity(member)
	start := f.startRun(t, env, "wf-pool-members")
	spec := start.Specs[0]
	d, err := execute[activities.DispatchShardResult](t, env, f.results.DispatchShard,
		activities.DispatchShardInput{RunID: start.RunID, Spec: spec, Attempt: 1, TaskQueue: testQueue, Pool: "edge"})
	if err != nil {
		t.Fatal(err)
	}
	scanned, err := execute[activities.RunScanResult](t, env, member.RunScan, activities.RunScanInput{Spec: d.Spec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, forged(t, outsider, start.RunID, spec, 1, d.Nonce, scanned.Raw)); !isUntrusted(err) || !strings.Contains(err.Error(), "not a member") {
		t.Errorf("result from an agent outside the pool: %v, want refused", err)
	}
	in := activities.ParseResultsInput{RunID: start.RunID, ShardID: spec.ShardID, Attempt: scanned.Attempt, Raw: scanned.Raw,
		Agent: scanned.Agent, Signature: scanned.Signature, Nonce: d.Nonce}
	if _, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, in); err != nil {
		t.Errorf("result from the pool's member: %v", err)
	}
}
