package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// layerRefusal is a refusal that is not an HTTP answer: the agent's own
// spec verification, or the server refusing a result in ParseResults (seen
// on the run).
type layerRefusal struct {
	by     string
	answer string
}

func (e *layerRefusal) Error() string { return e.answer }

// s3Attempts use the presigned URLs in the spec of the task the agent
// received; each is an edit of one of them, or one used for what it was
// not signed for, and the real S3 server must refuse it.
var s3Attempts = []attempt{
	{"S3: GET another run's raw output (key rewritten in its URL)", func(ctx context.Context, h *agentHoldings) error {
		return s3Do(ctx, http.MethodGet, withKey(h.spec.Dispatch.Objects.OutputPut, h.otherRawKey), nil)
	}},
	{"S3: GET an export (key rewritten in its URL)", func(ctx context.Context, h *agentHoldings) error {
		return s3Do(ctx, http.MethodGet, withKey(h.spec.Dispatch.Objects.OutputPut, h.exportKey), nil)
	}},
	{"S3: PUT over an export", func(ctx context.Context, h *agentHoldings) error {
		return s3Do(ctx, http.MethodPut, withKey(h.spec.Dispatch.Objects.OutputPut, h.exportKey), []byte("forged"))
	}},
	{"S3: PUT over another shard's output", func(ctx context.Context, h *agentHoldings) error {
		return s3Do(ctx, http.MethodPut, withKey(h.spec.Dispatch.Objects.OutputPut, h.otherRawKey), []byte("forged"))
	}},
	{"S3: list the bucket with its URL's signature", func(ctx context.Context, h *agentHoldings) error {
		u, err := url.Parse(h.spec.Dispatch.Objects.OutputPut)
		if err != nil {
			return err
		}
		u.Path = "/" + h.spec.Dispatch.Objects.Bucket + "/"
		return s3Do(ctx, http.MethodGet, u.String(), nil)
	}},
	{"S3: DELETE its own output with its PUT URL", func(ctx context.Context, h *agentHoldings) error {
		return s3Do(ctx, http.MethodDelete, h.spec.Dispatch.Objects.OutputPut, nil)
	}},
	{"S3: GET its own output with its PUT URL", func(ctx context.Context, h *agentHoldings) error {
		return s3Do(ctx, http.MethodGet, h.spec.Dispatch.Objects.OutputPut, nil)
	}},
	{"S3: PUT with its URL's expiry edited (a week)", func(ctx context.Context, h *agentHoldings) error {
		u, err := url.Parse(h.spec.Dispatch.Objects.OutputPut)
		if err != nil {
			return err
		}
		q := u.Query()
		q.Set("X-Amz-Expires", "604800")
		u.RawQuery = q.Encode()
		return s3Do(ctx, http.MethodPut, u.String(), []byte("late"))
	}},
	{"S3: PUT with its URL's signing date edited (a later expiry)", func(ctx context.Context, h *agentHoldings) error {
		u, err := url.Parse(h.spec.Dispatch.Objects.OutputPut)
		if err != nil {
			return err
		}
		// Later on the same day, so that it still matches the credential's
		// scope: only the signature can refuse it.
		q := u.Query()
		signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
		if err != nil {
			return err
		}
		later := signed.Add(time.Minute)
		if endOfDay := signed.Truncate(24 * time.Hour).Add(24*time.Hour - time.Second); later.After(endOfDay) {
			later = endOfDay
		}
		if later.Equal(signed) {
			q.Set("X-Amz-Expires", "604800") // signed at 23:59:59: a change all the same
		}
		q.Set("X-Amz-Date", later.Format("20060102T150405Z"))
		u.RawQuery = q.Encode()
		return s3Do(ctx, http.MethodPut, u.String(), []byte("late"))
	}},
}

// specAttempts hand the agent's own verification (activities.Agent.Verify,
// as RunScan calls it, with the server key from its enrollment) specs made
// from the one it received.
var specAttempts = []attempt{
	{"spec: widen its targets (a target added to the signed spec)", func(ctx context.Context, h *agentHoldings) error {
		spec := h.spec
		spec.Targets = append(append([]string(nil), spec.Targets...), "127.0.0.2")
		return agentVerify(h, spec)
	}},
	{"spec: widen its ports (options edited in the signed spec)", func(ctx context.Context, h *agentHoldings) error {
		spec := h.spec
		spec.Options = append(append([]string(nil), spec.Options...), "-p", "1-65535")
		return agentVerify(h, spec)
	}},
	{"spec: replay the run's dispatch once it ran", func(ctx context.Context, h *agentHoldings) error {
		return agentVerify(h, h.spec)
	}},
	{"spec: move its expiry later", func(ctx context.Context, h *agentHoldings) error {
		spec := h.spec
		spec.Expires = spec.Expires.Add(24 * time.Hour)
		return agentVerify(h, spec)
	}},
}

func agentVerify(h *agentHoldings, spec scan.Spec) error {
	err := h.agent.Verify(spec, workflows.AgentTaskQueue(h.name), time.Now())
	if err == nil {
		return nil
	}
	return &layerRefusal{by: "agent: spec verification", answer: err.Error()}
}

// enrollAttempts are its tries at the enrollment endpoint.
var enrollAttempts = []attempt{
	{"enroll again with the used join token", func(ctx context.Context, h *agentHoldings) error {
		_, err := enroll(ctx, h.serverURL, h.joinToken)
		return err
	}},
}

// resultAttempts answer the agent's own activity task with forged results,
// the way every agent's result reaches the server: the run's workflow hands
// it to ParseResults. They end the run, and so come last.
var resultAttempts = []attempt{
	{"complete its shard as another agent's work, signed with its own credential", func(ctx context.Context, h *agentHoldings) error {
		return forgeResult(ctx, h, h.task, h.spec, h.otherAgent, h.spec.Dispatch.Nonce)
	}},
	{"complete a new run's shard with a result signed for an earlier dispatch", func(ctx context.Context, h *agentHoldings) error {
		task, spec, err := h.nextRun()
		if err != nil {
			return err
		}
		return forgeResult(ctx, h, task, spec, h.name, h.spec.Dispatch.Nonce)
	}},
}

// forgeResult answers task with a result for its shard that names agent,
// signed with the agent's own credential for the dispatch nonce, and
// returns the server's refusal as the run shows it.
func forgeResult(ctx context.Context, h *agentHoldings, task *workflowservice.PollActivityTaskQueueResponse, spec scan.Spec, agent, nonce string) error {
	raw := scan.BlobRef{Bucket: spec.Dispatch.Objects.Bucket, Key: scan.RawKey(spec.RunID, spec.ShardID, spec.Dispatch.Attempt, spec.Scanner), Size: 6}
	sum := sha256.Sum256([]byte("forged"))
	raw.SHA256 = hex.EncodeToString(sum[:])
	claim := scan.ResultClaim{RunID: spec.RunID, ShardID: spec.ShardID, Attempt: spec.Dispatch.Attempt, Agent: agent, Raw: raw, Nonce: nonce}
	sig, err := scan.SignResult(h.credential, claim)
	if err != nil {
		return err
	}
	payloads, err := converter.GetDefaultDataConverter().ToPayloads(activities.RunScanResult{Raw: raw, Agent: agent, Attempt: claim.Attempt, Signature: sig})
	if err != nil {
		return err
	}
	if _, err := h.temporal.WorkflowService().RespondActivityTaskCompleted(ctx, &workflowservice.RespondActivityTaskCompletedRequest{
		Namespace: h.namespace, TaskToken: task.GetTaskToken(), Result: payloads, Identity: "compromised"}); err != nil {
		return fmt.Errorf("completing its own task: %w", err)
	}
	v, err := h.runOutcome(spec.RunID)
	if err != nil {
		return err
	}
	if v.Status != scan.RunFailed || !strings.Contains(v.Error, "refused") {
		return fmt.Errorf("run %d ended %s (%q): the forged result was not refused", spec.RunID, v.Status, v.Error)
	}
	return &layerRefusal{by: "scantron server: ParseResults", answer: v.Error}
}

// withKey rewrites the object key in a presigned path-style URL, leaving
// its signature as it was.
func withKey(presigned, key string) string {
	u, err := url.Parse(presigned)
	if err != nil {
		return presigned
	}
	bucket, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	u.Path = "/" + bucket + "/" + key
	u.RawPath = ""
	return u.String()
}

var s3Code = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// s3Do sends a request with a presigned URL: nil when S3 did what was
// asked, an *httpRefusal with its answer otherwise.
func s3Do(ctx context.Context, method, u string, body []byte) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	answer := string(data)
	if m := s3Code.FindSubmatch(data); m != nil {
		answer = string(m[1])
	}
	return &httpRefusal{by: "S3", status: resp.StatusCode, body: answer}
}

// enrollBundle is the part of the enrollment answer the suite uses.
type enrollBundle struct {
	AgentName       string   `json:"agent_name"`
	Credential      string   `json:"credential"`
	ServerPublicKey string   `json:"server_public_key"`
	Pools           []string `json:"pools"`
}

// enroll posts a join token to the enrollment endpoint, as `scantron agent
// enroll` does; a refusal is an *httpRefusal with the server's message.
func enroll(ctx context.Context, base, token string) (enrollBundle, error) {
	var b enrollBundle
	body, _ := json.Marshal(map[string]string{"token": token})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/enroll", bytes.NewReader(body))
	if err != nil {
		return b, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return b, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return b, &httpRefusal{by: "scantron server: enroll", status: resp.StatusCode, body: string(data)}
	}
	return b, json.Unmarshal(data, &b)
}
