package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/internal/runtree"
	"github.com/scantron/scantron/scan"
)

// planView is the part of a scan's plan this test reads.
type planView struct {
	Runnable bool `json:"runnable"`
	Shards   []struct {
		Index   int      `json:"index"`
		Targets []string `json:"targets"`
		Command []string `json:"command"`
	} `json:"shards"`
	Agents []struct {
		Name     string `json:"name"`
		RawKnown bool   `json:"raw_sockets_known"`
	} `json:"agents"`
}

// The command line the plan shows for each shard is exactly the one the
// agent then runs for it, as the agent reports it in the shard's result.
func TestPlanCommandsAreWhatAgentsRun(t *testing.T) {
	base, c, agent := startServerAndAgent(t, "plan-agent")
	var ports []string
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		ports = append(ports, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
	}
	var site scan.Site
	c.do("POST", "/sites", map[string]any{"name": "loop", "targets": []string{"127.0.0.1", "::1"}}, http.StatusCreated, &site)
	var profile scan.Profile
	c.do("POST", "/profiles", map[string]any{"name": "connect", "scanner": "nmap", "options": "-n -Pn -sT -p " + strings.Join(ports, ",")}, http.StatusCreated, &profile)
	var sc scan.Scan
	c.do("POST", "/scans", map[string]any{"name": "planned", "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID}, http.StatusCreated, &sc)

	// The plan, from the command line, once the agent has announced itself.
	cl := cli{t: t, config: t.TempDir(), env: []string{"SCANTRON_URL=" + base, "SCANTRON_TOKEN=" + c.token}}
	var plan planView
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := json.Unmarshal([]byte(cl.must("", "scans", "plan", fmt.Sprint(sc.ID), "--json")), &plan); err != nil {
			t.Fatal(err)
		}
		if len(plan.Agents) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never showed in the plan: %+v", plan)
		}
		time.Sleep(time.Second)
	}
	if !plan.Runnable || len(plan.Shards) != 2 || plan.Agents[0].Name != agent.Name || !plan.Agents[0].RawKnown {
		t.Fatalf("plan %+v", plan)
	}
	if text := cl.must("", "scans", "plan", fmt.Sprint(sc.ID)); !strings.Contains(text, "shard 1 (ipv6, 1 addresses): nmap -6 -oX $SHARD_DIR/out.xml") {
		t.Errorf("plan as text:\n%s", text)
	}

	var run scan.Run
	c.do("POST", fmt.Sprintf("/scans/%d/runs", sc.ID), nil, http.StatusAccepted, &run)
	view := c.waitRun(run.ID, 4*time.Minute, nil)
	if view.Status != scan.RunCompleted || len(view.Shards) != 2 {
		t.Fatalf("run ended %s with %d shards: %s", view.Status, len(view.Shards), view.Error)
	}
	index := map[int64]int{}
	for _, sh := range view.Shards {
		index[sh.ID] = sh.Index
	}

	// What the agent ran, from the run's history: each scanner activity's
	// input names its shard, its result the command.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tc, err := stack.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	dc := converter.GetDefaultDataConverter()
	type eventKey struct {
		workflow string
		id       int64
	}
	shardOf := map[eventKey]int64{} // scheduled event -> shard
	ran := map[int][]string{}
	// The run's scanner activities are in the child workflows it fans
	// out to.
	err = runtree.Walk(ctx, tc, view.WorkflowID, func(wf string, ev *historypb.HistoryEvent) error {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "RunScan" {
			var in activities.RunScanInput
			if err := dc.FromPayloads(a.GetInput(), &in); err != nil {
				return err
			}
			shardOf[eventKey{wf, ev.GetEventId()}] = in.Spec.ShardID
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
			if shard, ok := shardOf[eventKey{wf, a.GetScheduledEventId()}]; ok {
				var res activities.RunScanResult
				if err := dc.FromPayloads(a.GetResult(), &res); err != nil {
					return err
				}
				ran[index[shard]] = res.Command
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range plan.Shards {
		if !slices.Equal(ran[sh.Index], sh.Command) {
			t.Errorf("shard %d: the agent ran\n%q\nthe plan said\n%q", sh.Index, ran[sh.Index], sh.Command)
		}
	}
}
