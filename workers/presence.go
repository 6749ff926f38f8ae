//lint:file-ignore SA1019 the ENHANCED describe is deprecated, but it is the one call that reads every partition's pollers (see Presence).

package workers

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// Presence answers who polls a task queue, counting the pollers of every
// partition of the queue.
//
// Temporal splits a task queue into partitions (four by default) and a
// worker's poll lands on any of them. The plain DescribeTaskQueue reads
// only the root partition, which sees its own pollers and those forwarded
// to it, so a newly started agent may stay unseen for as long as its polls
// keep landing elsewhere. The enhanced describe asks every partition and
// merges their pollers; Presence uses it, and answers in the shape of the
// plain call so that every reader of pollers (agent presence, pool
// membership, run capacity, metrics) takes the same view. Should a server
// refuse the enhanced call, Presence falls back to the plain one.
type Presence struct {
	Client client.Client
	// Namespace is the client's namespace; "" means "default".
	Namespace string
}

// DescribeTaskQueue returns the queue's pollers over all its partitions,
// and its backlog statistics.
func (p Presence) DescribeTaskQueue(ctx context.Context, taskQueue string, taskQueueType enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error) {
	ns := p.Namespace
	if ns == "" {
		ns = "default"
	}
	req := &workflowservice.DescribeTaskQueueRequest{
		Namespace:      ns,
		TaskQueue:      &taskqueuepb.TaskQueue{Name: taskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		ApiMode:        enumspb.DESCRIBE_TASK_QUEUE_MODE_ENHANCED,
		Versions:       &taskqueuepb.TaskQueueVersionSelection{Unversioned: true, AllActive: true},
		TaskQueueTypes: []enumspb.TaskQueueType{taskQueueType},
		ReportPollers:  true,
		ReportStats:    true,
	}
	resp, err := p.Client.WorkflowService().DescribeTaskQueue(ctx, req)
	if err != nil {
		if isUnsupported(err) {
			return p.plain(ctx, ns, taskQueue, taskQueueType)
		}
		return nil, fmt.Errorf("describe task queue %s: %w", taskQueue, err)
	}
	out := &workflowservice.DescribeTaskQueueResponse{}
	seen := map[string]*taskqueuepb.PollerInfo{}
	var backlog int64
	for _, v := range resp.GetVersionsInfo() {
		for typ, info := range v.GetTypesInfo() {
			if typ != int32(taskQueueType) {
				continue
			}
			backlog += info.GetStats().GetApproximateBacklogCount()
			for _, pi := range info.GetPollers() {
				// One identity per worker: keep its newest poll.
				if old, ok := seen[pi.GetIdentity()]; ok {
					if pi.GetLastAccessTime().AsTime().After(old.GetLastAccessTime().AsTime()) {
						old.LastAccessTime = pi.GetLastAccessTime()
					}
					continue
				}
				seen[pi.GetIdentity()] = pi
				out.Pollers = append(out.Pollers, pi)
			}
		}
	}
	out.Stats = &taskqueuepb.TaskQueueStats{ApproximateBacklogCount: backlog}
	return out, nil
}

// plain is the root partition's view, for servers without the enhanced
// describe.
func (p Presence) plain(ctx context.Context, ns, taskQueue string, taskQueueType enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error) {
	resp, err := p.Client.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace:     ns,
		TaskQueue:     &taskqueuepb.TaskQueue{Name: taskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		TaskQueueType: taskQueueType,
		ReportStats:   true,
	})
	if err != nil {
		return nil, fmt.Errorf("describe task queue %s: %w", taskQueue, err)
	}
	return resp, nil
}

func isUnsupported(err error) bool {
	switch err.(type) {
	case *serviceerror.Unimplemented, *serviceerror.InvalidArgument:
		return true
	}
	return false
}

// Online reads a describe's answer: the distinct pollers that polled within
// fresh of now, and the scans they can run at once from the capacity each
// announces in its identity (an agent that announces none counts as one).
func Online(resp *workflowservice.DescribeTaskQueueResponse, now time.Time, fresh time.Duration) (pollers []*taskqueuepb.PollerInfo, capacity int) {
	seen := map[string]bool{}
	for _, p := range resp.GetPollers() {
		if now.Sub(p.GetLastAccessTime().AsTime()) > fresh || seen[p.GetIdentity()] {
			continue
		}
		seen[p.GetIdentity()] = true
		pollers = append(pollers, p)
		capacity += pollerCapacity(p.GetIdentity())
	}
	return pollers, capacity
}
