package workers

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// Temporal spreads a queue's pollers over its partitions (four on the dev
// server) and the plain describe reads only the root one, which learns of
// the others' pollers only as their polls get forwarded to it: on this
// machine that took about a minute for eight agents, and the field saw 5
// of 8 after 25 s. Through Presence the eight agents joining one pool are
// all counted, with their announced capacities, well within the deadline
// below (it is a bound for a loaded machine, not a speed target), as is
// each agent on its own queue.
func TestPresenceCountsEveryPartition(t *testing.T) {
	const countedWithin = 45 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tm, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{Headless: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tm.Stop() })
	tc, err := tm.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)

	const agents, capacity = 8, 2
	pool := workflows.PoolTaskQueue("presence")
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, agents)
	t.Cleanup(func() {
		stop()
		for range agents {
			<-done
		}
	})
	for i := range agents {
		name := fmt.Sprintf("presence-%d", i)
		go func() {
			done <- RunAgent(actx, tc, &activities.Agent{Name: name}, AgentOptions{
				Capacity: capacity, Pools: []string{"presence"},
				// Even agents say their nmap can open raw sockets,
				// odd ones that neither scanner can.
				Identity: workflows.AgentPoller{Name: name, Host: "host", Version: "test", Capacity: capacity, RawSockets: []string{"nmap", "none"}[i%2]}.Identity(),
			})
		}()
	}

	presence := Presence{Client: tc, Namespace: tm.Namespace}
	capOf := QueueCapacity(presence)
	deadline := time.Now().Add(countedWithin)
	for {
		got, err := capOf(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		if got == agents*capacity {
			break
		}
		if got > agents*capacity {
			t.Fatalf("pool capacity %d, more than %d agents of %d", got, agents, capacity)
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool capacity %d after %v, want %d", got, countedWithin, agents*capacity)
		}
		time.Sleep(250 * time.Millisecond)
	}
	resp, err := presence.DescribeTaskQueue(ctx, pool, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range resp.GetPollers() {
		a, ok := workflows.ParseAgentIdentity(p.GetIdentity())
		if !ok || seen[a.Name] {
			t.Errorf("poller %q: unknown or listed twice", p.GetIdentity())
		}
		seen[a.Name] = true
	}
	if len(seen) != agents {
		t.Errorf("%d distinct pollers, want %d", len(seen), agents)
	}
	// What each member announces, as the checks of a scan read it.
	members, err := QueueAgents(presence)(ctx, pool)
	if err != nil || len(members) != agents {
		t.Fatalf("QueueAgents: %d members, %v", len(members), err)
	}
	for _, m := range members {
		var i int
		fmt.Sscanf(m.Name, "presence-%d", &i)
		if m.Capacity != capacity || !m.RawKnown || slices.Contains(m.RawSockets, scan.Nmap) != (i%2 == 0) {
			t.Errorf("member %+v", m)
		}
	}
	for i := range agents {
		q := workflows.AgentTaskQueue(fmt.Sprintf("presence-%d", i))
		for {
			got, err := capOf(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if got == capacity {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: capacity %d, want %d", q, got, capacity)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}
