package main

import (
	"context"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
)

// TestAgentDecisions checks the authorizer's table for an agent token; the
// e2e compromised-agent suite checks the same against the running server.
func TestAgentDecisions(t *testing.T) {
	a := &authorizer{standard: authorization.NewDefaultAuthorizer()}
	agent := &authorization.Claims{Subject: "agent:x", Namespaces: map[string]authorization.Role{"default": authorization.RoleWorker},
		Extensions: &agentScope{Queues: []string{"agent.x", "pool.p"}}}
	poll := func(name string, kind enumspb.TaskQueueKind) *workflowservice.PollActivityTaskQueueRequest {
		return &workflowservice.PollActivityTaskQueueRequest{Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: name, Kind: kind}}
	}
	tests := []struct {
		name   string
		claims *authorization.Claims
		api    string
		ns     string
		req    any
		allow  bool
	}{
		{"own queue", agent, "PollActivityTaskQueue", "default", poll("agent.x", enumspb.TASK_QUEUE_KIND_NORMAL), true},
		{"own pool", agent, "PollActivityTaskQueue", "default", poll("pool.p", enumspb.TASK_QUEUE_KIND_NORMAL), true},
		{"own queue partition", agent, "PollActivityTaskQueue", "default", poll("/_sys/agent.x/3", enumspb.TASK_QUEUE_KIND_NORMAL), true},
		{"other agent", agent, "PollActivityTaskQueue", "default", poll("agent.y", enumspb.TASK_QUEUE_KIND_NORMAL), false},
		{"other agent partition", agent, "PollActivityTaskQueue", "default", poll("/_sys/agent.y/1", enumspb.TASK_QUEUE_KIND_NORMAL), false},
		{"prefix of own queue", agent, "PollActivityTaskQueue", "default", poll("agent.x2", enumspb.TASK_QUEUE_KIND_NORMAL), false},
		{"malformed partition", agent, "PollActivityTaskQueue", "default", poll("/_sys/agent.x", enumspb.TASK_QUEUE_KIND_NORMAL), false},
		{"sticky", agent, "PollActivityTaskQueue", "default", poll("agent.x", enumspb.TASK_QUEUE_KIND_STICKY), false},
		{"other namespace", agent, "PollActivityTaskQueue", "other", poll("agent.x", enumspb.TASK_QUEUE_KIND_NORMAL), false},
		{"heartbeat", agent, "RecordActivityTaskHeartbeat", "default", &workflowservice.RecordActivityTaskHeartbeatRequest{}, true},
		{"complete by token", agent, "RespondActivityTaskCompleted", "default", &workflowservice.RespondActivityTaskCompletedRequest{}, true},
		{"complete by id", agent, "RespondActivityTaskCompletedById", "default", &workflowservice.RespondActivityTaskCompletedByIdRequest{}, false},
		{"start", agent, "StartWorkflowExecution", "default", &workflowservice.StartWorkflowExecutionRequest{}, false},
		{"history", agent, "GetWorkflowExecutionHistory", "default", &workflowservice.GetWorkflowExecutionHistoryRequest{}, false},
		{"workflow poll", agent, "PollWorkflowTaskQueue", "default", &workflowservice.PollWorkflowTaskQueueRequest{}, false},
		{"health", nil, "GetSystemInfo", "", &workflowservice.GetSystemInfoRequest{}, true},
		{"no claims", nil, "DescribeNamespace", "default", &workflowservice.DescribeNamespaceRequest{}, false},
		{"writer starts", &authorization.Claims{Namespaces: map[string]authorization.Role{"default": authorization.RoleWriter}},
			"StartWorkflowExecution", "default", &workflowservice.StartWorkflowExecutionRequest{}, true},
		{"plain worker role cannot poll", &authorization.Claims{Namespaces: map[string]authorization.Role{"default": authorization.RoleWorker}},
			"PollActivityTaskQueue", "default", poll("agent.x", enumspb.TASK_QUEUE_KIND_NORMAL), false},
		{"agent claiming admin too", &authorization.Claims{Namespaces: map[string]authorization.Role{"default": authorization.RoleWorker | authorization.RoleAdmin},
			Extensions: &agentScope{Queues: []string{"agent.x"}}}, "StartWorkflowExecution", "default", &workflowservice.StartWorkflowExecutionRequest{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := a.Authorize(context.Background(), tt.claims, &authorization.CallTarget{APIName: workflowService + tt.api, Namespace: tt.ns, Request: tt.req})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Decision == authorization.DecisionAllow; got != tt.allow {
				t.Errorf("allowed = %v, want %v (%s)", got, tt.allow, res.Reason)
			}
		})
	}
}
