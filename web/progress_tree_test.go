package web

import (
	"context"
	"fmt"
	"slices"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// treeDescriber answers DescribeWorkflowExecution for a run's workflow
// and its children, recording which it was asked about.
type treeDescriber struct {
	workflows map[string]*workflowservice.DescribeWorkflowExecutionResponse
	asked     []string
}

func (d *treeDescriber) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	d.asked = append(d.asked, id)
	if r, ok := d.workflows[id]; ok {
		return r, nil
	}
	return nil, serviceerror.NewNotFound("workflow not found")
}

func scanner(shard string) *workflowpb.PendingActivityInfo {
	return &workflowpb.PendingActivityInfo{ActivityId: shard, ActivityType: &commonpb.ActivityType{Name: scannerActivity}}
}

func children(ids ...string) []*workflowpb.PendingChildExecutionInfo {
	var out []*workflowpb.PendingChildExecutionInfo
	for _, id := range ids {
		out = append(out, &workflowpb.PendingChildExecutionInfo{WorkflowId: id})
	}
	return out
}

// A run that fans out holds its scanners in its children, and theirs: the
// look at its scanners walks the children in flight, skipping one that
// ended since, and leaves out other activities.
func TestPendingScannersWalkTheRunsChildren(t *testing.T) {
	d := &treeDescriber{workflows: map[string]*workflowservice.DescribeWorkflowExecutionResponse{
		"run": {PendingActivities: []*workflowpb.PendingActivityInfo{{ActivityType: &commonpb.ActivityType{Name: "SetRunStatus"}}},
			PendingChildren: children("run-shards-0-7", "run-shards-8-15")},
		"run-shards-0-7":  {PendingChildren: children("run-shards-0-3", "run-shards-4-7")},
		"run-shards-8-15": {PendingActivities: []*workflowpb.PendingActivityInfo{scanner("8")}},
		"run-shards-0-3":  {PendingActivities: []*workflowpb.PendingActivityInfo{scanner("1"), scanner("2")}},
	}}
	pending, err := pendingScanners(context.Background(), d, "run")
	var got []string
	for _, pa := range pending {
		got = append(got, pa.GetActivityId())
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"1", "2", "8"}) {
		t.Errorf("scanners %v, want 1, 2 and 8", got)
	}
	if err == nil {
		t.Error("a child that ended since was not reported")
	}
	// A run with no capacity bound may have hundreds of children in
	// flight: a look describes a bounded number.
	wide := &treeDescriber{workflows: map[string]*workflowservice.DescribeWorkflowExecutionResponse{}}
	var ids []string
	for i := range 500 {
		id := fmt.Sprintf("run-shards-%d", i)
		ids = append(ids, id)
		wide.workflows[id] = &workflowservice.DescribeWorkflowExecutionResponse{PendingActivities: []*workflowpb.PendingActivityInfo{scanner(id)}}
	}
	wide.workflows["run"] = &workflowservice.DescribeWorkflowExecutionResponse{PendingChildren: children(ids...)}
	pending, err = pendingScanners(context.Background(), wide, "run")
	if err != nil || len(wide.asked) != maxDescribed || len(pending) != maxDescribed-1 {
		t.Errorf("described %d workflows, found %d scanners (%v); want %d and %d", len(wide.asked), len(pending), err, maxDescribed, maxDescribed-1)
	}
	if _, err := pendingScanners(context.Background(), d, "gone"); err == nil {
		t.Error("a run whose workflow is gone reported no error")
	}
}
