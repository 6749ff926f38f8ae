package workers

import (
	"context"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/worker"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// sharedSlots is one agent's capacity, shared by the workers of its own
// task queue and of each of its pools. A worker asks for a slot before it
// polls, so an agent with no free slot polls no queue and a busy agent
// leaves a pool's shards to its idle members: that is what makes the pull
// follow free capacity.
//
// A slot is counted when a task arrives (MarkSlotUsed), not when a poll
// begins, because each queue's poller holds a reservation while it waits;
// counting reservations would let the own queue's idle poll block the
// pools. The price is that tasks arriving on two queues in the same instant
// can exceed the capacity by one per extra queue.
type sharedSlots struct {
	capacity int

	mu      sync.Mutex
	used    map[*worker.SlotPermit]bool
	changed chan struct{} // closed and replaced whenever a slot frees
}

func newSharedSlots(capacity int) *sharedSlots {
	return &sharedSlots{capacity: capacity, used: map[*worker.SlotPermit]bool{}, changed: make(chan struct{})}
}

func (s *sharedSlots) ReserveSlot(ctx context.Context, _ worker.SlotReservationInfo) (*worker.SlotPermit, error) {
	for {
		s.mu.Lock()
		free := len(s.used) < s.capacity
		wait := s.changed
		s.mu.Unlock()
		if free {
			return &worker.SlotPermit{}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait:
		}
	}
}

func (s *sharedSlots) TryReserveSlot(worker.SlotReservationInfo) *worker.SlotPermit {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.used) < s.capacity {
		return &worker.SlotPermit{}
	}
	return nil
}

func (s *sharedSlots) MarkSlotUsed(info worker.SlotMarkUsedInfo) {
	s.mu.Lock()
	s.used[info.Permit()] = true
	s.mu.Unlock()
}

func (s *sharedSlots) ReleaseSlot(info worker.SlotReleaseInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used[info.Permit()] {
		delete(s.used, info.Permit())
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

func (s *sharedSlots) MaxSlots() int { return s.capacity }

// TaskQueueDescriber asks Temporal who polls a task queue; Presence
// satisfies it (and client.Client, which reads one partition only).
type TaskQueueDescriber interface {
	DescribeTaskQueue(ctx context.Context, taskQueue string, taskQueueType enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error)
}

// pollerFresh is how recently a poller must have polled to count: a live
// worker renews its long poll at least about once a minute.
const pollerFresh = 2 * time.Minute

// capacityFresh is how long QueueCapacity reuses an answer for a queue.
// Every run start asks, and the describe fans out to every partition of
// the queue: when a hundred scheduled runs of one pool start together, one
// describe serves them all. Pollers count as online for minutes anyway.
const capacityFresh = 5 * time.Second

// QueueCapacity returns how many scans the agents polling a task queue now
// can run at once, from the capacity each announces in its identity (an
// agent that does not announce one counts as one). It is 0 when no agent
// polls the queue. An answer is reused for capacityFresh.
func QueueCapacity(c TaskQueueDescriber) func(ctx context.Context, taskQueue string) (int, error) {
	type answer struct {
		n  int
		at time.Time
	}
	var mu sync.Mutex
	cache := map[string]answer{}
	return func(ctx context.Context, taskQueue string) (int, error) {
		now := time.Now()
		mu.Lock()
		a, ok := cache[taskQueue]
		mu.Unlock()
		if ok && now.Sub(a.at) < capacityFresh {
			return a.n, nil
		}
		resp, err := c.DescribeTaskQueue(ctx, taskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		if err != nil {
			return 0, err
		}
		_, total := Online(resp, now, pollerFresh)
		mu.Lock()
		cache[taskQueue] = answer{n: total, at: now}
		mu.Unlock()
		return total, nil
	}
}

// QueueAgents returns the agents polling a task queue now, as each
// announces itself (a poller of another form counts as an agent of
// capacity one that says nothing of raw sockets or rates).
func QueueAgents(c TaskQueueDescriber) func(ctx context.Context, taskQueue string) ([]scan.AgentCaps, error) {
	return func(ctx context.Context, taskQueue string) ([]scan.AgentCaps, error) {
		resp, err := c.DescribeTaskQueue(ctx, taskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		if err != nil {
			return nil, err
		}
		var out []scan.AgentCaps
		for _, a := range workflows.LiveAgents(resp.GetPollers(), time.Now(), pollerFresh) {
			out = append(out, a.Caps())
		}
		return out, nil
	}
}

// pollerCapacity is the capacity a poller announces in its identity, 1 for
// a poller that announces none.
func pollerCapacity(identity string) int {
	if a, ok := workflows.ParseAgentIdentity(identity); ok {
		return a.Capacity
	}
	return 1
}
