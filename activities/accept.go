package activities

// This file decides whether a shard's result is taken: it must answer the
// shard's current dispatch and carry its agent's signature.

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
)

// ErrTypeUntrusted marks a result its agent did not sign.
const ErrTypeUntrusted = "UntrustedResult"

// checkSignature accepts a result only if it answers the shard's current
// dispatch of a run that has not ended, names the agent the shard was
// dispatched to (or a member of the pool it was dispatched to), and that
// agent signed it with its credential. Agents registered without a
// credential (before credentials existed, or directly in the database) have
// no key, and their results are taken unsigned.
func (r *Results) checkSignature(ctx context.Context, in ParseResultsInput) error {
	refuse := func(format string, args ...any) error {
		msg := fmt.Sprintf("result of shard %d ", in.ShardID) + fmt.Sprintf(format, args...) + ": refused"
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeUntrusted, nil)
	}
	if in.Agent == "" {
		// Every agent names itself in its results; an unnamed result could
		// come from anyone who can complete a task on the agent's queue.
		return refuse("names no agent")
	}
	d, status, err := r.Store.ShardDispatch(ctx, in.RunID, in.ShardID)
	if err != nil {
		return wrap("find shard dispatch", err)
	}
	switch {
	case d.Nonce == "" && in.Nonce != "":
		return refuse("answers a dispatch the server has no record of")
	case d.Nonce != "" && (in.Nonce != d.Nonce || in.Attempt != d.Attempt):
		return refuse("answers attempt %d, not the shard's current dispatch (attempt %d)", in.Attempt, d.Attempt)
	case d.Nonce != "" && status.Final():
		return refuse("comes after its run ended (%s)", status)
	case d.Agent != "" && in.Agent != d.Agent:
		return refuse("comes from agent %q; the shard was dispatched to agent %q", in.Agent, d.Agent)
	case d.Pool != "":
		member, any, err := r.Store.PoolMember(ctx, d.Pool, in.Agent)
		if err != nil {
			return wrap("find pool member", err)
		}
		if any && !member {
			return refuse("comes from agent %q, which is not a member of pool %q", in.Agent, d.Pool)
		}
		if !any {
			activity.GetLogger(ctx).Warn("pool has no recorded members: its shards' results are taken from any registered agent", "pool", d.Pool, "agent", in.Agent)
		}
	}
	key, registered, err := r.Store.AgentPublicKey(ctx, in.Agent)
	if err != nil {
		return wrap("find agent", err)
	}
	if !registered {
		return refuse("comes from agent %q, which is not registered", in.Agent)
	}
	if len(key) == 0 {
		return nil
	}
	claim := scan.ResultClaim{RunID: in.RunID, ShardID: in.ShardID, Attempt: in.Attempt, Agent: in.Agent, Raw: in.Raw, Nonce: in.Nonce}
	if !scan.VerifyResult(key, claim, in.Signature) {
		return refuse("is not signed by agent %q's credential for this dispatch", in.Agent)
	}
	return nil
}
