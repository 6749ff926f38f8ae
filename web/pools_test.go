package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// TestPools: a pool's members are the agents polling its queue now, with
// the version and capacity they announce; a scan runs on an agent or a pool,
// never both or neither, and a pool in use cannot be deleted.
func TestPools(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	name := uniq("edge")
	var p poolView
	e.mustDo(t, "POST", "/api/v1/pools", fmt.Sprintf(`{"name": %q, "description": "edge sites"}`, name), http.StatusCreated, &p)
	if p.TaskQueue != "pool."+name || p.Online || len(p.Members) != 0 {
		t.Fatalf("created pool = %+v", p)
	}
	fresh := timestamppb.New(e.now.Add(-5 * time.Second))
	e.temporal.pollers = map[string][]*taskqueuepb.PollerInfo{
		"pool." + name: {
			{Identity: workflows.AgentIdentity("a1", "h1", "v1.2.0", 2), LastAccessTime: fresh},
			{Identity: workflows.AgentIdentity("a2", "h2", "v1.2.0", 4), LastAccessTime: fresh},
			{Identity: workflows.AgentIdentity("gone", "h3", "v1.1.0", 8), LastAccessTime: timestamppb.New(e.now.Add(-time.Hour))},
		},
		f.agent.TaskQueue: {{Identity: workflows.AgentPoller{Name: f.agent.Name, Host: "h9", Version: "v1.3.0", Capacity: 3, MaxRate: 2500}.Identity(), LastAccessTime: fresh}},
	}
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/pools/%d", p.ID), "", http.StatusOK, &p)
	if !p.Online || p.Capacity != 6 || len(p.Members) != 2 || p.Members[0].Name != "a1" || p.Members[1].Version != "v1.2.0" {
		t.Errorf("pool with two live members = %+v", p)
	}
	var a agentView
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/agents/%d", f.agent.ID), "", http.StatusOK, &a)
	if a.Version != "v1.3.0" || a.Capacity != 3 || a.MaxRate != 2500 || !a.Online {
		t.Errorf("agent = %+v, want version v1.3.0, capacity 3 and max rate 2500", a)
	}

	var sc scan.Scan
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "pool_id": %d, "shard_size": 16}`,
		uniq("scan"), f.site.ID, f.profile.ID, p.ID), http.StatusCreated, &sc)
	if sc.PoolID != p.ID || sc.AgentID != 0 || sc.ShardSize != 16 {
		t.Errorf("pool scan = %+v", sc)
	}
	for _, tt := range []struct{ body, want string }{
		{fmt.Sprintf(`{"name": "x", "site_id": %d, "profile_id": %d}`, f.site.ID, f.profile.ID), "agent_id, pool_id: give exactly one"},
		{fmt.Sprintf(`{"name": "x", "site_id": %d, "profile_id": %d, "agent_id": %d, "pool_id": %d}`, f.site.ID, f.profile.ID, f.agent.ID, p.ID), "agent_id, pool_id: give exactly one"},
		{fmt.Sprintf(`{"name": "x", "site_id": %d, "profile_id": %d, "pool_id": 987654321}`, f.site.ID, f.profile.ID), "pool_id: pool 987654321 does not exist"},
		{fmt.Sprintf(`{"name": "x", "site_id": %d, "profile_id": %d, "pool_id": %d, "shard_size": -1}`, f.site.ID, f.profile.ID, p.ID), "shard_size: -1"},
	} {
		w := e.do(t, "POST", "/api/v1/scans", tt.body)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("POST %s = %d %s, want 400 with %q", tt.body, w.Code, w.Body.String(), tt.want)
		}
	}
	for _, tt := range []struct {
		body string
		code int
		want string
	}{
		{`{"name": "Bad Pool"}`, 400, "is not a valid pool name"},
		{`{}`, 400, "name: required"},
		{fmt.Sprintf(`{"name": %q}`, name), 409, "already exists"},
	} {
		w := e.do(t, "POST", "/api/v1/pools", tt.body)
		if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("POST pool %s = %d %s, want %d with %q", tt.body, w.Code, w.Body.String(), tt.code, tt.want)
		}
	}
	if w := e.do(t, "DELETE", fmt.Sprintf("/api/v1/pools/%d", p.ID), ""); w.Code != http.StatusConflict {
		t.Errorf("deleting a pool in use = %d %s", w.Code, w.Body.String())
	}
	e.mustDo(t, "DELETE", fmt.Sprintf("/api/v1/scans/%d", sc.ID), "", http.StatusNoContent, nil)
	e.mustDo(t, "DELETE", fmt.Sprintf("/api/v1/pools/%d", p.ID), "", http.StatusNoContent, nil)
}

// TestPauseResumeRun: pause and resume signal the run's workflow; a run
// that has ended, or whose workflow is gone, is a 409.
func TestPauseResumeRun(t *testing.T) {
	e := newEnv(t)
	s := e.makeScan(t, makeFixtures(t, e))
	r := e.startRun(t, s.ID)
	e.mustDo(t, "POST", fmt.Sprintf("/api/v1/runs/%d/pause", r.ID), "", http.StatusAccepted, nil)
	e.mustDo(t, "POST", fmt.Sprintf("/api/v1/runs/%d/resume", r.ID), "", http.StatusAccepted, nil)
	want := []string{r.WorkflowID + " " + workflows.SignalPause, r.WorkflowID + " " + workflows.SignalResume}
	if strings.Join(e.temporal.signals, ",") != strings.Join(want, ",") {
		t.Errorf("signals = %q, want %q", e.temporal.signals, want)
	}
	if err := testStore.SetRunStatus(context.Background(), r.ID, scan.RunCompleted, ""); err != nil {
		t.Fatal(err)
	}
	if w := e.do(t, "POST", fmt.Sprintf("/api/v1/runs/%d/pause", r.ID), ""); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "already completed") {
		t.Errorf("pausing a completed run = %d %s", w.Code, w.Body.String())
	}
	e.now = e.now.Add(time.Second)
	gone, err := testStore.CreateRun(context.Background(), s.ID, "never-started-"+uniq("wf"))
	if err != nil {
		t.Fatal(err)
	}
	if w := e.do(t, "POST", fmt.Sprintf("/api/v1/runs/%d/resume", gone.ID), ""); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "is not running") {
		t.Errorf("resuming a run without workflow = %d %s", w.Code, w.Body.String())
	}
}

// TestAgentCredential: registering an agent shows its credential once; the
// server keeps only the public key, and the agent shows it signs results.
func TestAgentCredential(t *testing.T) {
	e := newEnv(t)
	var created struct {
		agentView
		Credential string `json:"credential"`
	}
	e.mustDo(t, "POST", "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, uniq("signer")), http.StatusCreated, &created)
	if scan.CheckCredential(created.Credential) != nil || !created.SignsResults {
		t.Fatalf("registration = %+v", created)
	}
	w := e.do(t, "GET", fmt.Sprintf("/api/v1/agents/%d", created.ID), "")
	if strings.Contains(w.Body.String(), created.Credential) || strings.Contains(w.Body.String(), "credential") {
		t.Errorf("GET shows the credential again: %s", w.Body.String())
	}
	stored, err := testStore.GetAgent(context.Background(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	claim := scan.ResultClaim{RunID: 1, ShardID: 2, Attempt: 1, Agent: created.Name}
	sig, err := scan.SignResult(created.Credential, claim)
	if err != nil || !scan.VerifyResult(stored.PublicKey, claim, sig) {
		t.Errorf("the stored key does not check the credential's signatures (%v)", err)
	}
}

// TestAgentRunningShards: an agent shows how many shards it is scanning now,
// from the started scanner activities of unfinished runs.
func TestAgentRunningShards(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	r := e.startRun(t, e.makeScan(t, f).ID)
	id := workflows.AgentIdentity(f.agent.Name, "h", "v1", 2)
	scanner := func(state enumspb.PendingActivityState, identity string) *workflowpb.PendingActivityInfo {
		return &workflowpb.PendingActivityInfo{ActivityType: &commonpb.ActivityType{Name: "RunScan"}, State: state, LastWorkerIdentity: identity}
	}
	e.temporal.mu.Lock()
	e.temporal.pending = map[string][]*workflowpb.PendingActivityInfo{r.WorkflowID: {
		scanner(enumspb.PENDING_ACTIVITY_STATE_STARTED, id),
		scanner(enumspb.PENDING_ACTIVITY_STATE_STARTED, id),
		scanner(enumspb.PENDING_ACTIVITY_STATE_SCHEDULED, ""), // waiting for an agent
		scanner(enumspb.PENDING_ACTIVITY_STATE_STARTED, workflows.AgentIdentity("other", "h", "v1", 1)),
	}}
	e.temporal.mu.Unlock()
	var a agentView
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/agents/%d", f.agent.ID), "", http.StatusOK, &a)
	if a.RunningShards != 2 {
		t.Errorf("running_shards = %d, want 2", a.RunningShards)
	}
}
