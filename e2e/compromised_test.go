package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	schedulepb "go.temporal.io/api/schedule/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/grpc/codes"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/signing"
	"github.com/scantron/scantron/temporalauth"
	"github.com/scantron/scantron/workflows"
)

// agentHoldings is exactly what an enrolled agent holds, and so what an
// attacker who owns the agent's machine has: the join token it enrolled
// with and the settings enrollment gave it (name, credential, the server's
// URL and public key, Temporal's address), the Temporal token the server
// gave it and its Temporal connection, and an activity task it received
// (the run's workflow ID and run ID, the task token, the signed spec with
// its presigned URLs). It also knows the names of other agents and pools
// and the object keys of other runs and exports, as anyone might guess
// them.
type agentHoldings struct {
	name       string
	credential string
	serverURL  string
	namespace  string
	temporal   client.Client // with its worker token
	token      temporalauth.TokenResponse
	task       *workflowservice.PollActivityTaskQueueResponse
	spec       scan.Spec // the signed spec in task
	joinToken  string    // the (now used) join token it enrolled with
	// agent is the agent's own activities, with the server's public key
	// from its enrollment: its spec verification.
	agent *activities.Agent

	otherRawKey string // another run's raw output, in the bucket
	exportKey   string // an export, in the bucket
	// runOutcome waits (up to two minutes) for a run to end and returns
	// it, as an admin sees it.
	runOutcome func(runID int64) (runView, error)
	// nextRun has an admin start the scan again, and returns the task the
	// agent then takes from its queue (up to two minutes).
	nextRun func() (*workflowservice.PollActivityTaskQueueResponse, scan.Spec, error)

	otherAgent string // another agent's name
	otherPool  string // a pool it is not in

	// dial connects to Temporal with another token ("" = none).
	dial func(token string) (client.Client, error)
	// mint signs tokens with the issuer's published keys, as only the
	// server can; the suite uses it to make expired tokens.
	mint func(at time.Time, agent string, queues []string) (string, error)
	// publishedKeyID is the id of a key in the server's JWKS.
	publishedKeyID string
}

// attempt is one thing a compromised agent tries. try returns the answer;
// the suite requires an error that a named layer gave as a refusal: a
// Temporal permission error, an *httpRefusal (S3, the token and enrollment
// endpoints) or a *layerRefusal (the agent's spec verification, the
// server's ParseResults).
type attempt struct {
	name string
	try  func(ctx context.Context, h *agentHoldings) error
}

// httpRefusal is the scantron server (or S3) refusing an HTTP request.
type httpRefusal struct {
	by     string
	status int
	body   string
}

func (e *httpRefusal) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// refusal says which layer refused err, or ok=false when err is not a
// refusal (nil, a timeout, a not-found: the attempt got through).
func refusal(err error) (by string, ok bool) {
	var lr *layerRefusal
	if errors.As(err, &lr) {
		return lr.by, true
	}
	var he *httpRefusal
	if errors.As(err, &he) {
		// 410: the enrollment endpoint's answer to a spent join token.
		if he.status == http.StatusUnauthorized || he.status == http.StatusForbidden || he.status == http.StatusGone {
			return fmt.Sprintf("%s (HTTP %d)", he.by, he.status), true
		}
		return "", false
	}
	if err == nil {
		return "", false
	}
	// Temporal answers a refused token with a bare "Request unauthorized."
	// and the authorizer's denials with their reason.
	var pd *serviceerror.PermissionDenied
	if errors.As(err, &pd) {
		if pd.Reason == "" {
			return "temporal: token check", true
		}
		return "temporal: authorizer", true
	}
	if serviceerror.ToStatus(err).Code() == codes.Unauthenticated {
		return "temporal: token check", true
	}
	return "", false
}

// temporalAttempts are the compromised agent's tries at Temporal with its
// own, genuine worker token (or none, or a forged or expired one).
var temporalAttempts = []attempt{
	{"start a workflow (ScanWorkflow on the server's queue)", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "evil-" + h.name, TaskQueue: workflows.ServerTaskQueue}, "ScanWorkflow", workflows.ScanInput{ScanID: 1})
		return err
	}},
	{"signal-with-start a workflow", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.SignalWithStartWorkflow(ctx, "evil-sws-"+h.name, workflows.SignalPause, nil,
			client.StartWorkflowOptions{TaskQueue: workflows.ServerTaskQueue}, "ScanWorkflow", workflows.ScanInput{ScanID: 1})
		return err
	}},
	{"signal the run it scans for (pause)", func(ctx context.Context, h *agentHoldings) error {
		we := h.task.GetWorkflowExecution()
		return h.temporal.SignalWorkflow(ctx, we.GetWorkflowId(), we.GetRunId(), workflows.SignalPause, nil)
	}},
	{"cancel the run", func(ctx context.Context, h *agentHoldings) error {
		we := h.task.GetWorkflowExecution()
		return h.temporal.CancelWorkflow(ctx, we.GetWorkflowId(), we.GetRunId())
	}},
	{"terminate the run", func(ctx context.Context, h *agentHoldings) error {
		we := h.task.GetWorkflowExecution()
		return h.temporal.TerminateWorkflow(ctx, we.GetWorkflowId(), we.GetRunId(), "compromised agent")
	}},
	{"reset the run", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
			Namespace: h.namespace, WorkflowExecution: h.task.GetWorkflowExecution(), WorkflowTaskFinishEventId: 3, RequestId: "evil"})
		return err
	}},
	{"delete the run", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
			Namespace: h.namespace, WorkflowExecution: h.task.GetWorkflowExecution()})
		return err
	}},
	{"describe the run", func(ctx context.Context, h *agentHoldings) error {
		we := h.task.GetWorkflowExecution()
		_, err := h.temporal.DescribeWorkflowExecution(ctx, we.GetWorkflowId(), we.GetRunId())
		return err
	}},
	{"query the run", func(ctx context.Context, h *agentHoldings) error {
		we := h.task.GetWorkflowExecution()
		_, err := h.temporal.QueryWorkflow(ctx, we.GetWorkflowId(), we.GetRunId(), "__stack_trace")
		return err
	}},
	{"read the run's history (its target list)", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace: h.namespace, Execution: h.task.GetWorkflowExecution()})
		return err
	}},
	{"list workflows", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: h.namespace})
		return err
	}},
	{"count workflows", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: h.namespace})
		return err
	}},
	{"create a schedule", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.WorkflowService().CreateSchedule(ctx, &workflowservice.CreateScheduleRequest{
			Namespace: h.namespace, ScheduleId: "evil", RequestId: "evil",
			Schedule: &schedulepb.Schedule{Action: &schedulepb.ScheduleAction{Action: &schedulepb.ScheduleAction_StartWorkflow{
				StartWorkflow: &workflowpb.NewWorkflowExecutionInfo{WorkflowId: "evil", WorkflowType: &commonpb.WorkflowType{Name: "ScanWorkflow"},
					TaskQueue: &taskqueuepb.TaskQueue{Name: workflows.ServerTaskQueue}}}}}})
		return err
	}},
	{"list schedules", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.WorkflowService().ListSchedules(ctx, &workflowservice.ListSchedulesRequest{Namespace: h.namespace})
		return err
	}},
	{"poll another agent's queue", func(ctx context.Context, h *agentHoldings) error {
		return pollActivity(ctx, h.temporal, h.namespace, workflows.AgentTaskQueue(h.otherAgent), enumspb.TASK_QUEUE_KIND_NORMAL)
	}},
	{"poll a pool's queue it is not in", func(ctx context.Context, h *agentHoldings) error {
		return pollActivity(ctx, h.temporal, h.namespace, workflows.PoolTaskQueue(h.otherPool), enumspb.TASK_QUEUE_KIND_NORMAL)
	}},
	{"poll a partition of another agent's queue", func(ctx context.Context, h *agentHoldings) error {
		return pollActivity(ctx, h.temporal, h.namespace, "/_sys/"+workflows.AgentTaskQueue(h.otherAgent)+"/1", enumspb.TASK_QUEUE_KIND_NORMAL)
	}},
	{"poll the server's queue", func(ctx context.Context, h *agentHoldings) error {
		return pollActivity(ctx, h.temporal, h.namespace, workflows.ServerTaskQueue, enumspb.TASK_QUEUE_KIND_NORMAL)
	}},
	{"poll its own queue as a sticky queue", func(ctx context.Context, h *agentHoldings) error {
		return pollActivity(ctx, h.temporal, h.namespace, workflows.AgentTaskQueue(h.name), enumspb.TASK_QUEUE_KIND_STICKY)
	}},
	{"poll workflow tasks on the server's queue", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.WorkflowService().PollWorkflowTaskQueue(ctx, &workflowservice.PollWorkflowTaskQueueRequest{
			Namespace: h.namespace, TaskQueue: &taskqueuepb.TaskQueue{Name: workflows.ServerTaskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL}, Identity: "evil"})
		return err
	}},
	{"complete the run's activity by ID, without its task token", func(ctx context.Context, h *agentHoldings) error {
		we := h.task.GetWorkflowExecution()
		return h.temporal.CompleteActivityByID(ctx, h.namespace, we.GetWorkflowId(), we.GetRunId(), h.task.GetActivityId(), nil, nil)
	}},
	{"describe the server's task queue (who polls)", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.DescribeTaskQueue(ctx, workflows.ServerTaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		return err
	}},
	{"update the namespace (retention)", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{Namespace: h.namespace})
		return err
	}},
	{"register a namespace", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: "evil"})
		return err
	}},
	{"add a search attribute (operator API)", func(ctx context.Context, h *agentHoldings) error {
		_, err := h.temporal.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: h.namespace, SearchAttributes: map[string]enumspb.IndexedValueType{"Evil": enumspb.INDEXED_VALUE_TYPE_KEYWORD}})
		return err
	}},
	{"poll its own queue with no token", func(ctx context.Context, h *agentHoldings) error {
		return pollWith(ctx, h, "")
	}},
	{"poll its own queue with an expired token from a published key", func(ctx context.Context, h *agentHoldings) error {
		tok, err := h.mint(time.Now().Add(-2*time.Hour), h.name, h.token.Queues)
		if err != nil {
			return fmt.Errorf("mint: %w", err)
		}
		return pollWith(ctx, h, tok)
	}},
	{"poll another agent's queue with a token from a key it made", func(ctx context.Context, h *agentHoldings) error {
		tok, err := forgeToken(ctx, "", h.name, []string{workflows.AgentTaskQueue(h.otherAgent)})
		if err != nil {
			return err
		}
		return pollWithQueue(ctx, h, tok, workflows.AgentTaskQueue(h.otherAgent))
	}},
	{"poll another agent's queue with a token naming a published key but signed by its own", func(ctx context.Context, h *agentHoldings) error {
		tok, err := forgeToken(ctx, h.publishedKeyID, h.name, []string{workflows.AgentTaskQueue(h.otherAgent)})
		if err != nil {
			return err
		}
		return pollWithQueue(ctx, h, tok, workflows.AgentTaskQueue(h.otherAgent))
	}},
}

// tokenAttempts are its tries at getting a better token from the server.
var tokenAttempts = []attempt{
	{"get another agent's token with its own credential", func(ctx context.Context, h *agentHoldings) error {
		_, err := fetchToken(ctx, h, h.otherAgent, time.Now())
		return err
	}},
	{"replay a token request signed ten minutes ago", func(ctx context.Context, h *agentHoldings) error {
		_, err := fetchToken(ctx, h, h.name, time.Now().Add(-10*time.Minute))
		return err
	}},
}

func fetchToken(ctx context.Context, h *agentHoldings, agent string, at time.Time) (temporalauth.TokenResponse, error) {
	resp, err := temporalauth.FetchAgentToken(ctx, http.DefaultClient, h.serverURL+temporalauth.TokenPath, agent, h.credential, at)
	if err != nil && strings.Contains(err.Error(), "temporal token: ") {
		var status int
		fmt.Sscanf(err.Error()[strings.Index(err.Error(), "temporal token: ")+len("temporal token: "):], "%d", &status)
		if status != 0 {
			return resp, &httpRefusal{by: "scantron server", status: status, body: err.Error()}
		}
	}
	return resp, err
}

func pollActivity(ctx context.Context, c client.Client, namespace, queue string, kind enumspb.TaskQueueKind) error {
	_, err := c.WorkflowService().PollActivityTaskQueue(ctx, &workflowservice.PollActivityTaskQueueRequest{
		Namespace: namespace, TaskQueue: &taskqueuepb.TaskQueue{Name: queue, Kind: kind}, Identity: "compromised"})
	return err
}

func pollWith(ctx context.Context, h *agentHoldings, token string) error {
	return pollWithQueue(ctx, h, token, workflows.AgentTaskQueue(h.name))
}

func pollWithQueue(ctx context.Context, h *agentHoldings, token, queue string) error {
	c, err := h.dial(token)
	if err != nil {
		return err
	}
	defer c.Close()
	return pollActivity(ctx, c, h.namespace, queue, enumspb.TASK_QUEUE_KIND_NORMAL)
}

// memKeys is a key store of the attacker's own: keys the server never
// published, possibly under the id of one it did.
type memKeys struct {
	mu   sync.Mutex
	keys []scan.TokenKey
}

func (m *memKeys) TemporalTokenKeys(context.Context, time.Time) ([]scan.TokenKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.keys), nil
}

func (m *memKeys) AddTemporalTokenKey(_ context.Context, k scan.TokenKey, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, k)
	return nil
}

// forgeToken signs an agent token with a key the attacker made; kid, when
// set, is the id it claims the key has.
func forgeToken(ctx context.Context, kid, agent string, queues []string) (string, error) {
	store := &memKeys{}
	if kid != "" {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return "", err
		}
		now := time.Now()
		store.keys = []scan.TokenKey{{ID: kid, PrivateKey: der, UseFrom: now.Add(-time.Hour), UseUntil: now.Add(time.Hour), PublishUntil: now.Add(2 * time.Hour)}}
	}
	tok, _, err := temporalauth.NewSigner(store, temporalauth.Policy{}, nil).AgentToken(ctx, agent, "default", queues)
	return tok, err
}

// TestCompromisedAgent starts from what an enrolled agent holds, against
// the authorizing Temporal server, and tries what an attacker on the
// agent's machine would: every attempt must be refused, and the table says
// by what and how.
func TestCompromisedAgent(t *testing.T) {
	a := authStackFor(t)
	c := adminAPI(t, a.base)
	suffix := fmt.Sprint(os.Getpid() % 100000)
	x, y := "cx-"+suffix, "cy-"+suffix
	p1, p2 := "cp1-"+suffix, "cp2-"+suffix
	for _, p := range []string{p1, p2} {
		c.do("POST", "/pools", map[string]any{"name": p}, http.StatusCreated, nil)
	}
	// Agent x enrolls as a new machine does: an admin makes a join token
	// for it, and the machine trades the token for its settings.
	var join struct {
		Token string `json:"token"`
	}
	c.do("POST", "/join-tokens", map[string]any{"agent_name": x, "pools": []string{p1}, "ttl": "10m"}, http.StatusCreated, &join)
	bundle, err := enroll(context.Background(), a.base, join.Token)
	if err != nil {
		t.Fatalf("enrolling with a new join token: %v", err)
	}
	if bundle.AgentName != x || !slices.Equal(bundle.Pools, []string{p1}) {
		t.Fatalf("enrolled as %q in %v, want %q in [%s]", bundle.AgentName, bundle.Pools, x, p1)
	}
	pub, err := signing.ParsePublicKey(bundle.ServerPublicKey)
	if err != nil {
		t.Fatalf("the server public key enrollment gave: %v", err)
	}
	verifier, err := signing.NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	var ay scan.Agent
	c.do("POST", "/agents", map[string]any{"name": y}, http.StatusCreated, &ay)
	c.do("PUT", fmt.Sprintf("/agents/%d/pools", ay.ID), map[string]any{"pools": []string{p2}}, http.StatusOK, nil)
	var agents []scan.Agent
	c.do("GET", "/agents", nil, http.StatusOK, &agents)
	ax := agents[slices.IndexFunc(agents, func(ag scan.Agent) bool { return ag.Name == x })]
	// Enrollment recorded the token's pools as the agent's, which its
	// Temporal token names.
	var recorded struct {
		Pools []string `json:"pools"`
	}
	c.do("GET", fmt.Sprintf("/agents/%d/pools", ax.ID), nil, http.StatusOK, &recorded)
	if !slices.Equal(recorded.Pools, []string{p1}) {
		t.Fatalf("the server recorded pools %v for the enrolled agent, want [%s]", recorded.Pools, p1)
	}

	// A run for agent x, so that it holds a real task of a real run.
	var site scan.Site
	c.do("POST", "/sites", map[string]any{"name": "compromised-" + suffix, "targets": []string{"127.0.0.1"}}, http.StatusCreated, &site)
	var profile scan.Profile
	c.do("POST", "/profiles", map[string]any{"name": "compromised-" + suffix, "scanner": "nmap", "options": "-n -Pn -sT -p 1"}, http.StatusCreated, &profile)
	var sc scan.Scan
	c.do("POST", "/scans", map[string]any{"name": "compromised-" + suffix, "site_id": site.ID, "profile_id": profile.ID, "agent_id": ax.ID}, http.StatusCreated, &sc)
	var run scan.Run
	c.do("POST", fmt.Sprintf("/scans/%d/runs", sc.ID), nil, http.StatusAccepted, &run)
	t.Cleanup(func() {
		// The forged-result row ends the run; cancel it if it did not.
		var v runView
		c.do("GET", fmt.Sprintf("/runs/%d", run.ID), nil, http.StatusOK, &v)
		if !v.Status.Final() {
			c.do("POST", fmt.Sprintf("/runs/%d/cancel", run.ID), nil, http.StatusAccepted, nil)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h := &agentHoldings{name: x, credential: bundle.Credential, serverURL: a.base, namespace: a.temporal.Namespace, otherAgent: y, otherPool: p2,
		joinToken: join.Token, agent: &activities.Agent{Verifier: verifier}}
	h.runOutcome = func(runID int64) (runView, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		for {
			var v runView
			c.do("GET", fmt.Sprintf("/runs/%d", runID), nil, http.StatusOK, &v)
			if v.Status.Final() {
				return v, nil
			}
			select {
			case <-ctx.Done():
				return v, fmt.Errorf("run %d still %s: %w", runID, v.Status, ctx.Err())
			case <-time.After(300 * time.Millisecond):
			}
		}
	}
	h.token, err = fetchToken(ctx, h, x, time.Now())
	if err != nil {
		t.Fatalf("the agent's own token request: %v\n%s", err, a.serverLog())
	}
	if want := []string{workflows.AgentTaskQueue(x), workflows.PoolTaskQueue(p1)}; !slices.Equal(h.token.Queues, want) {
		t.Fatalf("token queues = %v, want %v (its own and its pool's, as the server stores them)", h.token.Queues, want)
	}
	h.dial = func(token string) (client.Client, error) {
		opts := client.Options{HostPort: a.temporal.HostPort, Namespace: a.temporal.Namespace, Logger: quietTemporalLogger()}
		if token != "" {
			opts.Credentials = client.NewAPIKeyStaticCredentials(token)
			opts.ConnectionOptions.TLSDisabled = true
		}
		return client.DialContext(ctx, opts)
	}
	h.temporal, err = client.DialContext(ctx, client.Options{HostPort: a.temporal.HostPort, Namespace: a.temporal.Namespace, Logger: quietTemporalLogger(),
		Credentials:       temporalauth.NewSource(temporalauth.AgentFetcher(a.base, x, bundle.Credential, nil)).Credentials(),
		ConnectionOptions: client.ConnectionOptions{TLSDisabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.temporal.Close)
	h.mint = func(at time.Time, agent string, queues []string) (string, error) {
		// The issuer's own keys, its clock set back: the token is expired
		// now, and its key is published (until its lifetime ends).
		s := temporalauth.NewSigner(a.store, temporalauth.Policy{TokenTTL: time.Minute}, func() time.Time { return at })
		tok, _, err := s.AgentToken(ctx, agent, a.temporal.Namespace, queues)
		if err != nil {
			return "", err
		}
		return tok, waitPublished(ctx, a.base, tok)
	}
	h.publishedKeyID = publishedKeyIDs(t, a.base)[0]

	// Control: the agent's own work is allowed. It takes the run's task
	// from its own queue, heartbeats it, and may poll its pool's queue.
	h.task, h.spec, err = takeTask(ctx, h)
	if err != nil {
		t.Fatalf("%v\n%s", err, a.serverLog())
	}
	h.nextRun = func() (*workflowservice.PollActivityTaskQueueResponse, scan.Spec, error) {
		var next scan.Run
		c.do("POST", fmt.Sprintf("/scans/%d/runs", sc.ID), nil, http.StatusAccepted, &next)
		t.Cleanup(func() {
			var v runView
			c.do("GET", fmt.Sprintf("/runs/%d", next.ID), nil, http.StatusOK, &v)
			if !v.Status.Final() {
				c.do("POST", fmt.Sprintf("/runs/%d/cancel", next.ID), nil, http.StatusAccepted, nil)
			}
		})
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		task, spec, err := takeTask(ctx, h)
		if err == nil && spec.RunID != next.ID {
			err = fmt.Errorf("took a task of run %d, want run %d", spec.RunID, next.ID)
		}
		return task, spec, err
	}
	if _, err := h.temporal.WorkflowService().RecordActivityTaskHeartbeat(ctx, &workflowservice.RecordActivityTaskHeartbeatRequest{
		Namespace: h.namespace, TaskToken: h.task.GetTaskToken(), Identity: "compromised"}); err != nil {
		t.Fatalf("heartbeat of its own task: %v", err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
	err = pollActivity(pctx, h.temporal, h.namespace, workflows.PoolTaskQueue(p1), enumspb.TASK_QUEUE_KIND_NORMAL)
	pcancel()
	if _, refused := refusal(err); refused {
		t.Fatalf("polling its own pool's queue was refused: %v", err)
	}

	// The task's spec is signed for this agent's queue, and its own
	// verification accepts it once (the agent runs it): the S3 and spec
	// rows start from this spec.
	if h.spec.RunID != run.ID || h.spec.Dispatch == nil || h.spec.Dispatch.Objects.OutputPut == "" {
		t.Fatalf("the task's spec is not a dispatch of run %d with presigned URLs: %+v", run.ID, h.spec)
	}
	if err := h.agent.Verify(h.spec, workflows.AgentTaskQueue(x), time.Now()); err != nil {
		t.Fatalf("the agent's verification refused the spec it was sent: %v", err)
	}
	// Objects that exist, so that a refusal is not a not-found: another
	// run's output and an export.
	h.otherRawKey = scan.RawKey(run.ID+1000, 1, 1, scan.Nmap)
	h.exportKey = scan.ExportKey(run.ID+1000, "results.jsonl")
	s3c, err := minio.New(stack.S3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(stack.S3.AccessKey, stack.S3.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{h.otherRawKey, h.exportKey} {
		if _, err := s3c.PutObject(ctx, h.spec.Dispatch.Objects.Bucket, key, strings.NewReader("secret"), 6, minio.PutObjectOptions{}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		t.Cleanup(func() {
			_ = s3c.RemoveObject(context.Background(), h.spec.Dispatch.Objects.Bucket, key, minio.RemoveObjectOptions{})
		})
	}
	// Control: the URL it was given stores its output.
	if err := s3Do(ctx, http.MethodPut, h.spec.Dispatch.Objects.OutputPut, []byte("<nmaprun/>")); err != nil {
		t.Fatalf("PUT with its own presigned URL: %v", err)
	}

	attempts := slices.Concat(temporalAttempts, tokenAttempts, s3Attempts, specAttempts, enrollAttempts, resultAttempts)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "attempt\trefused by\tanswer")
	var through []string
	for _, at := range attempts {
		actx, acancel := context.WithTimeout(ctx, 15*time.Second)
		err := at.try(actx, h)
		acancel()
		by, ok := refusal(err)
		answer := "succeeded"
		if err != nil {
			answer = oneLine(err.Error())
		}
		var pd *serviceerror.PermissionDenied
		if errors.As(err, &pd) && pd.Reason != "" {
			answer = oneLine(pd.Message + " " + pd.Reason)
		}
		if !ok {
			by = "NOT REFUSED"
			through = append(through, fmt.Sprintf("%s: %s", at.name, answer))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", at.name, by, answer)
	}
	tw.Flush()
	if len(through) > 0 {
		t.Errorf("%d of %d attempts were not refused:\n  %s", len(through), len(attempts), strings.Join(through, "\n  "))
	}
}

// takeTask polls the agent's own queue, as its worker does, until it gets
// a task, and returns it with the spec in it.
func takeTask(ctx context.Context, h *agentHoldings) (*workflowservice.PollActivityTaskQueueResponse, scan.Spec, error) {
	for {
		pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
		resp, err := h.temporal.WorkflowService().PollActivityTaskQueue(pctx, &workflowservice.PollActivityTaskQueueRequest{
			Namespace: h.namespace, TaskQueue: &taskqueuepb.TaskQueue{Name: workflows.AgentTaskQueue(h.name), Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			Identity: workflows.AgentIdentity(h.name, "compromised", "v0", 1)})
		pcancel()
		if err != nil && ctx.Err() == nil && serviceerror.ToStatus(err).Code() == codes.DeadlineExceeded {
			continue
		}
		if err != nil {
			return nil, scan.Spec{}, fmt.Errorf("polling its own queue: %w", err)
		}
		if len(resp.GetTaskToken()) == 0 {
			continue
		}
		var in activities.RunScanInput
		if err := converter.GetDefaultDataConverter().FromPayloads(resp.GetInput(), &in); err != nil {
			return nil, scan.Spec{}, fmt.Errorf("the task's input: %w", err)
		}
		return resp, in.Spec, nil
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 150 {
		s = s[:147] + "..."
	}
	return s
}

// publishedKeyIDs reads the key ids in the server's JWKS.
func publishedKeyIDs(t *testing.T, base string) []string {
	t.Helper()
	ids, err := jwksIDs(context.Background(), base)
	if err != nil || len(ids) == 0 {
		t.Fatalf("JWKS: %v %v", ids, err)
	}
	return ids
}

func jwksIDs(ctx context.Context, base string) ([]string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+temporalauth.JWKSPath, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%s: %w", data, err)
	}
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.Kid)
	}
	return ids, nil
}

// waitPublished waits until the key that signed tok is in the server's
// JWKS (a server reloads keys other servers added every 30 seconds).
func waitPublished(ctx context.Context, base, tok string) error {
	kid := tokenKeyID(tok)
	for {
		ids, err := jwksIDs(ctx, base)
		if err == nil && slices.Contains(ids, kid) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("key %s never published: %v", kid, ids)
		case <-time.After(time.Second):
		}
	}
}

func tokenKeyID(tok string) string {
	head, _, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(head)
	var h struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(raw, &h)
	return h.Kid
}

func quietTemporalLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
}
