package activities

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
)

// Presigner makes presigned URLs, for the object storage endpoint agents
// reach, that grant one operation on one key.
type Presigner interface {
	Bucket() string
	PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error)
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// DispatchSkew is added to a dispatched spec's lifetime for clocks that
// differ between the server and the agent.
const DispatchSkew = time.Minute

// DispatchShardInput is one attempt of one shard about to be sent to a task
// queue: the spec as StartRun planned it (unsigned), or with FromPlan the
// shard's index, whose spec is built from the run's stored plan; where it
// goes, and the previous attempt's last progress, whose saved state this
// attempt may read.
type DispatchShardInput struct {
	RunID     int64          `json:"run_id"`
	Spec      scan.Spec      `json:"spec,omitzero"`
	FromPlan  bool           `json:"from_plan,omitempty"`
	Index     int            `json:"index,omitempty"`
	Attempt   int            `json:"attempt"`
	TaskQueue string         `json:"task_queue"`
	Agent     string         `json:"agent,omitempty"`
	Pool      string         `json:"pool,omitempty"`
	Resume    *scan.Progress `json:"resume,omitempty"`
}

// DispatchShardResult is the signed spec to send, and its dispatch's nonce,
// which the result must answer to.
type DispatchShardResult struct {
	Spec  scan.Spec `json:"spec"`
	Nonce string    `json:"nonce"`
}

// DispatchShard signs one attempt of a shard for the task queue it is sent
// to, valid for as long as that attempt may wait for an agent and run
// (schedule-to-start + start-to-close + DispatchSkew), with presigned URLs
// for exactly that attempt's objects, and records it as the shard's current
// dispatch: results of any earlier dispatch are refused from now on.
func (r *Results) DispatchShard(ctx context.Context, in DispatchShardInput) (DispatchShardResult, error) {
	if r.Signer == nil {
		err := fmt.Errorf("%w: the server has no signing key (SCANTRON_SIGNING_KEY); agents run signed specs only", scan.ErrInvalidSpec)
		return DispatchShardResult{}, nonRetryable(err)
	}
	if r.AgentObjects == nil {
		err := fmt.Errorf("%w: the server has no object storage to presign agents' uploads with", scan.ErrInvalidSpec)
		return DispatchShardResult{}, nonRetryable(err)
	}
	spec := in.Spec
	if in.FromPlan {
		var err error
		if spec, err = r.Store.ShardSpec(ctx, in.RunID, in.Index); errors.Is(err, scan.ErrNotFound) {
			return DispatchShardResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
		} else if err != nil {
			return DispatchShardResult{}, wrap("build shard spec", err)
		}
	}
	if spec.RunID != in.RunID || in.Attempt < 1 || in.TaskQueue == "" || (in.Agent == "") == (in.Pool == "") {
		err := fmt.Errorf("%w: dispatch of shard %d: run %d, attempt %d, queue %q, agent %q, pool %q", scan.ErrInvalidSpec,
			spec.ShardID, in.RunID, in.Attempt, in.TaskQueue, in.Agent, in.Pool)
		return DispatchShardResult{}, nonRetryable(err)
	}
	if err := spec.Validate(); err != nil {
		return DispatchShardResult{}, nonRetryable(err)
	}
	t := r.timeouts()
	ttl := t.ScheduleToStart + t.StartToClose + DispatchSkew
	expires := time.Now().Add(ttl)
	nonce, err := newNonce()
	if err != nil {
		return DispatchShardResult{}, err
	}
	urls := scan.ShardURLs{Bucket: r.AgentObjects.Bucket()}
	presign := func(put bool, key string) (string, error) {
		if put {
			return r.AgentObjects.PresignPut(ctx, key, ttl)
		}
		return r.AgentObjects.PresignGet(ctx, key, ttl)
	}
	if urls.OutputPut, err = presign(true, scan.RawKey(spec.RunID, spec.ShardID, in.Attempt, spec.Scanner)); err != nil {
		return DispatchShardResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	if urls.ResumePut, err = presign(true, scan.PartialKey(spec.RunID, spec.ShardID, in.Attempt)); err != nil {
		return DispatchShardResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	if key, ok := resumeKey(spec, in.Attempt, in.Resume); ok {
		if urls.ResumeGet, err = presign(false, key); err != nil {
			return DispatchShardResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
		}
		urls.ResumeKey = key
	}
	spec.Dispatch = &scan.Dispatch{TaskQueue: in.TaskQueue, Attempt: in.Attempt, Nonce: nonce, Objects: urls}
	signed := r.Signer.Sign(spec, expires)
	d := scan.ShardDispatch{Attempt: in.Attempt, Nonce: nonce, TaskQueue: in.TaskQueue, Agent: in.Agent, Pool: in.Pool, Expires: signed.Expires}
	ok, err := r.Store.RecordDispatch(ctx, in.RunID, spec.ShardID, d)
	if err != nil {
		return DispatchShardResult{}, wrap("record dispatch", err)
	}
	if !ok {
		msg := fmt.Sprintf("shard %d of run %d is not dispatched: the run has ended", spec.ShardID, in.RunID)
		return DispatchShardResult{}, temporal.NewNonRetryableApplicationError(msg, ErrTypeInvalidSpec, nil)
	}
	return DispatchShardResult{Spec: signed, Nonce: nonce}, nil
}

// resumeKey is the key of the resume state an attempt may read: the one
// the previous attempt's progress names, if it is an earlier attempt's
// resume state of the same shard (never any other object).
func resumeKey(spec scan.Spec, attempt int, prev *scan.Progress) (string, bool) {
	if prev == nil || prev.Partial == nil {
		return "", false
	}
	for a := attempt - 1; a >= 1; a-- {
		if prev.Partial.Key == scan.PartialKey(spec.RunID, spec.ShardID, a) {
			return prev.Partial.Key, true
		}
	}
	return "", false
}

func newNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
