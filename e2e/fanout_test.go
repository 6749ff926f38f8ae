package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/scantron/scantron/internal/targethost"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// TestFanOutMasscanSubnet: real masscan over a namespace /20 (16 shards of
// a /24) with a few listening hosts in it, through a run that fans out to
// a tree of child workflows (4 shards a child, 2 children a parent),
// paused and resumed on the way. Every listening host's open ports land in
// PostgreSQL and in the CSV, JSON Lines and merged XML exports, and the
// run's workflow holds children, not shards.
//
// With SCANTRON_RECORD_HISTORY=FILE the run's workflow history is written
// there, as `temporal workflow show -o json` does (the replay set in
// workflows/testdata).
func TestFanOutMasscanSubnet(t *testing.T) {
	net := targethost.NewSubnet(t, targethost.Options{Name: "fanout", Net: 19, Bits: 20}, 4)
	if net.MAC == "" {
		t.Skip("masscan needs the namespace side's MAC")
	}
	ports := slices.Sorted(maps.Keys(net.Hosts[0].Ports))
	var portList []string
	for _, p := range ports {
		portList = append(portList, fmt.Sprint(p))
	}
	e := newPoolEnv(t, 0, "SCANTRON_RUN_BATCH=4", "SCANTRON_RUN_FANOUT=2")
	agent := e.startRawAgent("fanout", net.Hosts[0], "SCANTRON_AGENT_CAPACITY=8")
	e.waitPool(1) // polling: the run keeps to its capacity

	var site, profile, sc struct {
		ID int64 `json:"id"`
	}
	e.c.do("POST", "/sites", map[string]any{"name": uniqName("site"), "targets": []string{net.Prefix}, "max_rate": 20000}, http.StatusCreated, &site)
	e.c.do("POST", "/profiles", map[string]any{"name": uniqName("profile"), "scanner": "masscan",
		"options": "-p " + strings.Join(portList, ",") + " --wait 2"}, http.StatusCreated, &profile)
	e.c.do("POST", "/scans", map[string]any{"name": uniqName("scan"), "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID,
		"shard_size": 256}, http.StatusCreated, &sc)

	began := time.Now()
	runID := e.startRun(sc.ID)
	// Pause once a shard is done; no shard may finish for good while the
	// run stays paused; then resume.
	waitShards(t, e, runID, 1)
	e.c.do("POST", fmt.Sprintf("/runs/%d/pause", runID), nil, http.StatusAccepted, nil)
	waitStatus(t, e, runID, scan.RunPaused)
	time.Sleep(2 * time.Second) // a shard stopping in flight lands back in the queue
	held := e.view(runID)
	time.Sleep(3 * time.Second)
	if later := e.view(runID); completedShards(later.Shards) != completedShards(held.Shards) || later.Status != scan.RunPaused {
		t.Errorf("while paused: %d shards completed, then %d (status %s)", completedShards(held.Shards), completedShards(later.Shards), later.Status)
	}
	e.c.do("POST", fmt.Sprintf("/runs/%d/resume", runID), nil, http.StatusAccepted, nil)

	v := e.waitFinal(runID, 4*time.Minute)
	if v.Status != scan.RunCompleted {
		t.Fatalf("run ended %s: %s", v.Status, v.Error)
	}
	t.Logf("run of 16 shards ended in %s, 5 s of it paused", time.Since(began).Round(time.Second))
	if len(v.Shards) != 16 || completedShards(v.Shards) != 16 {
		t.Errorf("%d shards, %d completed; want 16 of a /24", len(v.Shards), completedShards(v.Shards))
	}

	want := map[string][]int{}
	for _, h := range net.Hosts {
		want[h.Addr] = ports
	}
	// PostgreSQL, through the API.
	var hosts []scan.HostRow
	e.c.do("GET", fmt.Sprintf("/runs/%d/hosts?limit=500", runID), nil, http.StatusOK, &hosts)
	got := map[string][]int{}
	for _, h := range hosts {
		for _, p := range h.Ports {
			if p.State == "open" {
				got[h.Address] = append(got[h.Address], p.Port)
			}
		}
	}
	checkOpen(t, "PostgreSQL", got, want)

	// The CSV export.
	records, err := csv.NewReader(bytes.NewReader(e.c.download(fmt.Sprintf("/runs/%d/csv", runID)))).ReadAll()
	if err != nil || len(records) == 0 {
		t.Fatalf("CSV: %v", err)
	}
	col := map[string]int{}
	for i, name := range records[0] {
		col[name] = i
	}
	got = map[string][]int{}
	for _, r := range records[1:] {
		var p int
		fmt.Sscan(r[col["port"]], &p)
		if r[col["state"]] == "open" {
			got[r[col["ip_address"]]] = append(got[r[col["ip_address"]]], p)
		}
	}
	checkOpen(t, "CSV", got, want)

	// The JSON Lines export.
	got = map[string][]int{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(e.c.download(fmt.Sprintf("/runs/%d/jsonl", runID)))), "\n") {
		var h struct {
			Address string `json:"address"`
			Ports   []struct {
				Port  int    `json:"port"`
				State string `json:"state"`
			} `json:"ports"`
		}
		if err := json.Unmarshal([]byte(line), &h); err != nil {
			t.Fatalf("JSON line %q: %v", line, err)
		}
		for _, p := range h.Ports {
			if p.State == "open" {
				got[h.Address] = append(got[h.Address], p.Port)
			}
		}
	}
	checkOpen(t, "JSON Lines", got, want)

	// The XML merged from every shard's masscan output.
	got = map[string][]int{}
	if _, err := report.Parse(bytes.NewReader(e.c.download(fmt.Sprintf("/runs/%d/xml", runID))), func(h report.Host) error {
		for _, p := range h.Ports {
			if p.State == "open" {
				got[h.IP()] = append(got[h.IP()], p.Number)
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("merged XML: %v", err)
	}
	checkOpen(t, "merged XML", got, want)

	// The run's workflow started children, never a scanner: its own
	// history holds no shard's activity.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tc, err := stack.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	var events []*historypb.HistoryEvent
	children := 0
	it := tc.GetWorkflowHistory(ctx, v.WorkflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && slices.Contains([]string{"DispatchShard", "RunScan", "ParseResults"}, a.GetActivityType().GetName()) {
			t.Errorf("the run's workflow ran %s itself", a.GetActivityType().GetName())
		}
		if ev.GetStartChildWorkflowExecutionInitiatedEventAttributes() != nil {
			children++
		}
	}
	if children != 2 {
		t.Errorf("the run's workflow started %d children, want 2 (of 8 shards, each of 2 children of 4)", children)
	}
	list, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowType = 'ScanShardsWorkflow' AND WorkflowId STARTS_WITH '%s-shards-'", v.WorkflowID)})
	if err != nil {
		t.Logf("cannot list the child workflows: %v", err)
	} else if len(list.Executions) != 6 {
		t.Errorf("%d child workflows, want 6 (2 of 8 shards, 4 of 4)", len(list.Executions))
	}
	if file := os.Getenv("SCANTRON_RECORD_HISTORY"); file != "" {
		// The run's, and its first leaf's beside it.
		writeHistory(ctx, t, tc, v.WorkflowID, events, file)
		leaf := v.WorkflowID + "-shards-0-3"
		writeHistory(ctx, t, tc, leaf, nil, strings.TrimSuffix(file, ".json")+"_child.json")
	}
}

// writeHistory writes a workflow's history (events, or read from
// Temporal when nil) to file, as `temporal workflow show -o json` does.
func writeHistory(ctx context.Context, t *testing.T, tc client.Client, id string, events []*historypb.HistoryEvent, file string) {
	t.Helper()
	if events == nil {
		it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, ev)
		}
	}
	body, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&historypb.History{Events: events})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("history of %s (%d events) written to %s", id, len(events), file)
}

// completedShards counts the shards that have completed.
func completedShards(shards []scan.Shard) int {
	n := 0
	for _, s := range shards {
		if s.Status == scan.ShardCompleted {
			n++
		}
	}
	return n
}

// waitShards waits until n of the run's shards have completed.
func waitShards(t *testing.T, e *poolEnv, runID int64, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		v := e.view(runID)
		if completedShards(v.Shards) >= n {
			return
		}
		if v.Status.Final() || time.Now().After(deadline) {
			t.Fatalf("run %d: %d shards completed (status %s %s), want %d", runID, completedShards(v.Shards), v.Status, v.Error, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitStatus waits until the run shows status.
func waitStatus(t *testing.T, e *poolEnv, runID int64, status scan.RunStatus) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		v := e.view(runID)
		if v.Status == status {
			return
		}
		if v.Status.Final() || time.Now().After(deadline) {
			t.Fatalf("run %d is %s (%s), want %s", runID, v.Status, v.Error, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkOpen compares the open ports a source holds per host with want.
func checkOpen(t *testing.T, source string, got, want map[string][]int) {
	t.Helper()
	for addr := range got {
		slices.Sort(got[addr])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: open ports %v, want %v", source, got, want)
	}
}
