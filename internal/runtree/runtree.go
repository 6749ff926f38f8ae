// Package runtree reads a run's workflows: the run's own and the child
// workflows it fans out to (workflows.ScanShardsWorkflow), which hold its
// shards' activities.
package runtree

import (
	"context"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// Describer asks Temporal about one workflow.
type Describer interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// Pending returns the activities of the given type pending in the run's
// workflow and the children it has in flight, level by level, describing
// at most limit workflows (a run with no capacity bound may have hundreds
// of children in flight). What was found is returned with the first error:
// the run's own workflow's (then nothing is found), or a child's that
// ended since it was listed.
func Pending(ctx context.Context, d Describer, workflowID, activityType string, limit int) ([]*workflowpb.PendingActivityInfo, error) {
	var out []*workflowpb.PendingActivityInfo
	var firstErr error
	queue := []string{workflowID}
	for described := 0; len(queue) > 0 && described < limit; described++ {
		id := queue[0]
		queue = queue[1:]
		resp, err := d.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			if id == workflowID {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, pa := range resp.GetPendingActivities() {
			if pa.GetActivityType().GetName() == activityType {
				out = append(out, pa)
			}
		}
		for _, c := range resp.GetPendingChildren() {
			queue = append(queue, c.GetWorkflowId())
		}
	}
	return out, firstErr
}

// Walk calls fn with each event of the run's workflow's history, then of
// each child's it started, depth first, each with its workflow's ID
// (event IDs are per history).
func Walk(ctx context.Context, c client.Client, workflowID string, fn func(workflowID string, ev *historypb.HistoryEvent) error) error {
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var children []string
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return err
		}
		if a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
			children = append(children, a.GetWorkflowId())
		}
		if err := fn(workflowID, ev); err != nil {
			return err
		}
	}
	for _, id := range children {
		if err := Walk(ctx, c, id, fn); err != nil {
			return err
		}
	}
	return nil
}
