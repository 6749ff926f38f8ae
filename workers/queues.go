package workers

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/scantron/scantron/metrics"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// QueueStore lists the task queues there are: agents' and pools'.
type QueueStore interface {
	ListAgents(ctx context.Context) ([]scan.Agent, error)
	ListPools(ctx context.Context) ([]scan.Pool, error)
}

// QueueStates reads, for metrics, every registered agent's and pool's task
// queue and the server's: backlog, agents polling now and their capacity,
// from the same describe the server uses to size runs. A queue that cannot
// be described is left out and the error reported with the rest.
func QueueStates(store QueueStore, d TaskQueueDescriber) metrics.QueueStates {
	return func(ctx context.Context) ([]metrics.QueueState, error) {
		agents, err := store.ListAgents(ctx)
		if err != nil {
			return nil, err
		}
		pools, err := store.ListPools(ctx)
		if err != nil {
			return nil, err
		}
		type queue struct{ name, kind string }
		queues := []queue{{workflows.ServerTaskQueue, "server"}}
		for _, a := range agents {
			queues = append(queues, queue{a.TaskQueue, "agent"})
		}
		for _, p := range pools {
			queues = append(queues, queue{p.TaskQueue, "pool"})
		}
		var out []metrics.QueueState
		var errs []error
		for _, q := range queues {
			typ := enumspb.TASK_QUEUE_TYPE_ACTIVITY
			if q.kind == "server" {
				typ = enumspb.TASK_QUEUE_TYPE_WORKFLOW
			}
			resp, err := d.DescribeTaskQueue(ctx, q.name, typ)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			pollers, capacity := Online(resp, time.Now(), pollerFresh)
			st := metrics.QueueState{Queue: q.name, Kind: q.kind, Backlog: resp.GetStats().GetApproximateBacklogCount(),
				Agents: len(pollers), Capacity: capacity}
			if q.kind == "server" {
				st.Agents, st.Capacity = 0, 0 // the server's own workers, not agents
			}
			out = append(out, st)
		}
		return out, errors.Join(errs...)
	}
}
