package activities_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
)

// masscanXML is masscan -oX output as masscan writes it: one host element
// per open port. Each host is "address port,port...".
func masscanXML(hosts ...string) string {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\r\n<!-- masscan v1.0 scan -->\r\n<nmaprun scanner=\"masscan\" start=\"1795554300\" version=\"1.0-BETA\"  xmloutputversion=\"1.03\">\r\n<scaninfo type=\"syn\" protocol=\"tcp\" />\r\n")
	for _, h := range hosts {
		addr, ports, _ := strings.Cut(h, " ")
		for _, p := range strings.Split(ports, ",") {
			fmt.Fprintf(&b, "<host endtime=\"1795554301\"><address addr=\"%s\" addrtype=\"ipv4\"/><ports><port protocol=\"tcp\" portid=\"%s\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/></port></ports></host>\r\n", addr, p)
		}
	}
	b.WriteString("<runstats>\r\n<finished time=\"1795554310\" timestr=\"2026-11-24 10:25:10\" elapsed=\"10\" />\r\n<hosts up=\"3\" down=\"0\" total=\"3\" />\r\n</runstats>\r\n</nmaprun>\r\n")
	return b.String()
}

// masscanFixture is a masscan scan of 198.18.0.0/24 beside the fixture's.
type masscanFixture struct {
	*fixture
	env     *testsuite.TestActivityEnvironment
	changes *activities.Changes
	scanID  int64
	siteID  int64
	agentID int64
}

func newMasscanFixture(t *testing.T) *masscanFixture {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, "")
	plan, err := f.store.LoadPlan(ctx, f.scanID)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := f.store.CreateProfile(ctx, scan.Profile{Name: "syn", Scanner: scan.Masscan, Options: "-p22,80,443,8080 --rate=100"})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := f.store.CreateScan(ctx, scan.Scan{Name: "masscan", SiteID: plan.Site.ID, ProfileID: prof.ID, AgentID: plan.Agent.ID})
	if err != nil {
		t.Fatal(err)
	}
	m := &masscanFixture{fixture: f, env: newEnv(f), changes: &activities.Changes{Store: f.store},
		scanID: sc.ID, siteID: plan.Site.ID, agentID: plan.Agent.ID}
	m.env.RegisterActivity(m.changes)
	return m
}

// parsedRun stores output as the one shard's of a new run of the masscan
// scan and parses it as ParseResults does for a scanner, leaving the run
// parsing.
func (m *masscanFixture) parsedRun(t *testing.T, wf, output string, scanner scan.Scanner) scan.Run {
	t.Helper()
	ctx := context.Background()
	run, err := m.store.CreateRun(ctx, m.scanID, wf)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := m.store.CreateShard(ctx, run.ID, 0, m.agentID, []string{"198.18.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := objs.Put(ctx, scan.RawKey(run.ID, sh.ID, 1, scan.Masscan), strings.NewReader(output), int64(len(output)), "application/xml")
	if err != nil {
		t.Fatal(err)
	}
	in := activities.ParseResultsInput{RunID: run.ID, ShardID: sh.ID, Attempt: 1, Raw: raw, Agent: "a1", Scanner: scanner}
	if _, err := execute[activities.ParseResultsResult](t, m.env, m.results.ParseResults, in); err != nil {
		t.Fatalf("ParseResults: %v", err)
	}
	return run
}

// complete exports and completes the run, then records its changes, as
// the scan workflow does.
func (m *masscanFixture) complete(t *testing.T, run scan.Run) {
	t.Helper()
	exported, err := execute[activities.ExportResultsResult](t, m.env, m.results.ExportResults, activities.ExportResultsInput{RunID: run.ID})
	if err != nil {
		t.Fatalf("ExportResults: %v", err)
	}
	done, err := execute[scan.Run](t, m.env, m.results.FinishRun, activities.FinishRunInput{WorkflowID: run.WorkflowID, Status: scan.RunCompleted, CSV: &exported.CSV})
	if err != nil || done.Status != scan.RunCompleted {
		t.Fatalf("FinishRun: %+v, %v", done, err)
	}
	in := activities.RecordChangesInput{RunID: run.ID, Options: []string{"-p22,80,443,8080"}}
	if _, err := execute[activities.RecordChangesResult](t, m.env, m.changes.RecordChanges, in); err != nil {
		t.Fatalf("RecordChanges: %v", err)
	}
}

// reparse runs the activities of ReparseWorkflow for a completed run, in
// its order.
func (m *masscanFixture) reparse(t *testing.T, run scan.Run) activities.ReparseRunResult {
	t.Helper()
	re, err := execute[activities.ReparseRunResult](t, m.env, m.results.ReparseRun, activities.ReparseRunInput{RunID: run.ID})
	if err != nil {
		t.Fatalf("ReparseRun: %v", err)
	}
	if re.Status != scan.RunCompleted {
		return re
	}
	exported, err := execute[activities.ExportResultsResult](t, m.env, m.results.ExportResults, activities.ExportResultsInput{RunID: run.ID})
	if err != nil {
		t.Fatalf("ExportResults: %v", err)
	}
	if _, err := execute[scan.Run](t, m.env, m.results.FinishRun, activities.FinishRunInput{WorkflowID: re.WorkflowID, Status: scan.RunCompleted, CSV: &exported.CSV}); err != nil {
		t.Fatalf("FinishRun: %v", err)
	}
	in := activities.RecordChangesInput{RunID: run.ID, Options: re.Options}
	if _, err := execute[activities.RecordChangesResult](t, m.env, m.changes.RecordChanges, in); err != nil {
		t.Fatalf("RecordChanges: %v", err)
	}
	if _, err := execute[activities.RecordNextChangesResult](t, m.env, m.changes.RecordNextChanges, in); err != nil {
		t.Fatalf("RecordNextChanges: %v", err)
	}
	return re
}

// hostsOf renders a run's stored hosts, one line per host row.
func (m *masscanFixture) hostsOf(t *testing.T, runID int64) []string {
	t.Helper()
	hosts, err := m.store.RunHosts(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range hosts {
		line := h.Address + " " + h.Status
		for _, p := range h.Ports {
			line += fmt.Sprintf(" %s/%d:%s", p.Protocol, p.Port, p.State)
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

// TestReparseMasscanRunOneRowPerHost: a masscan run whose hosts were
// stored one row per port (as parsing again did before it went through
// the host merge) is parsed again into one row per host, the same rows a
// first parse stores, and its counts follow.
func TestReparseMasscanRunOneRowPerHost(t *testing.T) {
	m := newMasscanFixture(t)
	output := masscanXML("198.18.0.2 22,80,443", "198.18.0.7 443")
	want := []string{"198.18.0.2 up tcp/22:open tcp/80:open tcp/443:open", "198.18.0.7 up tcp/443:open"}

	first := m.parsedRun(t, "wf-masscan-first", output, scan.Masscan)
	if got := m.hostsOf(t, first.ID); !slices.Equal(got, want) {
		t.Fatalf("first parse stored\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	old := m.parsedRun(t, "wf-masscan-old", output, "") // read as nmap's: no merge
	if got := m.hostsOf(t, old.ID); len(got) != 4 {
		t.Fatalf("unmerged parse stored %d host rows, want one per port (4): %v", len(got), got)
	}
	m.complete(t, old)
	for i := range 2 { // parsing again twice stores the same
		re := m.reparse(t, old)
		if re.Shards != 1 || re.Hosts != 2 || re.Ports != 4 {
			t.Errorf("ReparseRun #%d = %+v, want 1 shard, 2 hosts, 4 ports", i+1, re)
		}
		if got := m.hostsOf(t, old.ID); !slices.Equal(got, want) {
			t.Fatalf("after parsing again #%d:\n%s\nwant\n%s", i+1, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	run, err := m.store.GetRun(context.Background(), old.ID)
	if err != nil || run.Status != scan.RunCompleted || run.HostsUp != 2 || run.OpenPorts != 4 {
		t.Errorf("run after parsing again: %+v, %v; want completed, 2 hosts up, 4 open ports", run, err)
	}
}

// TestReparseFailedRunWithOutput: a failed run whose shard kept the output
// its stopped scanner wrote (cut off) is parsed again: the hosts before the
// cut are stored and counted, and the run stays failed with its error.
func TestReparseFailedRunWithOutput(t *testing.T) {
	m := newMasscanFixture(t)
	ctx := context.Background()
	run, err := m.store.CreateRun(ctx, m.scanID, "wf-masscan-failed")
	if err != nil {
		t.Fatal(err)
	}
	sh, err := m.store.CreateShard(ctx, run.ID, 0, m.agentID, []string{"198.18.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	full := masscanXML("198.18.0.2 22,80", "198.18.0.7 443", "198.18.0.9 8080")
	cut := full[:strings.Index(full, `addr="198.18.0.9"`)]
	raw, err := objs.Put(ctx, scan.RawKey(run.ID, sh.ID, 1, scan.Masscan), strings.NewReader(cut), int64(len(cut)), "application/xml")
	if err != nil {
		t.Fatal(err)
	}
	// The agent's output was stored, then the run failed before it was
	// parsed.
	if err := m.store.UpdateShard(ctx, scan.ShardUpdate{ID: sh.ID, Status: scan.ShardScanned, Attempt: 1, Raw: &raw, RanBy: "a1"}); err != nil {
		t.Fatal(err)
	}
	failed, err := execute[scan.Run](t, m.env, m.results.FinishRun, activities.FinishRunInput{WorkflowID: run.WorkflowID, Status: scan.RunFailed, Error: "agent lost"})
	if err != nil || failed.Status != scan.RunFailed || failed.HostsUp != 0 {
		t.Fatalf("FinishRun: %+v, %v", failed, err)
	}

	re := m.reparse(t, run)
	if re.Status != scan.RunFailed || re.Shards != 1 || re.Hosts != 2 || re.HostsUp != 2 || re.OpenPorts != 3 {
		t.Errorf("ReparseRun = %+v, want a failed run's 1 shard, 2 hosts up, 3 open ports", re)
	}
	want := []string{"198.18.0.2 up tcp/22:open tcp/80:open", "198.18.0.7 up tcp/443:open"}
	if got := m.hostsOf(t, run.ID); !slices.Equal(got, want) {
		t.Errorf("hosts after parsing again:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	after, err := m.store.GetRun(ctx, run.ID)
	if err != nil || after.Status != scan.RunFailed || after.Error != "agent lost" || !after.Partial || after.HostsUp != 2 || after.OpenPorts != 3 {
		t.Errorf("run after parsing again: %+v, %v; want still failed (agent lost), partial, 2 hosts up, 3 open ports", after, err)
	}

	// A cancelled run, and a run without stored output, are refused.
	none, err := m.store.CreateRun(ctx, m.scanID, "wf-masscan-nothing")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := execute[scan.Run](t, m.env, m.results.FinishRun, activities.FinishRunInput{WorkflowID: none.WorkflowID, Status: scan.RunFailed, Error: "no agent"}); err != nil {
		t.Fatal(err)
	}
	_, err = execute[activities.ReparseRunResult](t, m.env, m.results.ReparseRun, activities.ReparseRunInput{RunID: none.ID})
	if !isNonRetryable(err, activities.ErrTypeNothingToParse) {
		t.Errorf("ReparseRun of a run without output: %v", err)
	}
}

// TestReparseRecomputesDiffsAndAssets: a run whose hosts were stored wrong
// (a host missing) gave its own and its successor's diffs and the site's
// assets from those rows. Parsed again, the diffs of both runs and the
// assets are those of a database where both runs were parsed right the
// first time.
func TestReparseRecomputesDiffsAndAssets(t *testing.T) {
	ctx := context.Background()
	out1 := masscanXML("198.18.0.2 22,80", "198.18.0.7 443")
	out2 := masscanXML("198.18.0.2 22", "198.18.0.7 443", "198.18.0.9 8080")

	fresh := newMasscanFixture(t)
	f1 := fresh.parsedRun(t, "wf-1", out1, scan.Masscan)
	fresh.complete(t, f1)
	f2 := fresh.parsedRun(t, "wf-2", out2, scan.Masscan)
	fresh.complete(t, f2)

	stale := newMasscanFixture(t)
	s1 := stale.parsedRun(t, "wf-1", out1, scan.Masscan)
	// What an older parser might have missed.
	if _, err := stale.store.Pool().Exec(ctx, `DELETE FROM hosts WHERE run_id = $1 AND address = '198.18.0.7'`, s1.ID); err != nil {
		t.Fatal(err)
	}
	stale.complete(t, s1)
	s2 := stale.parsedRun(t, "wf-2", out2, scan.Masscan)
	stale.complete(t, s2)
	if d := diffOf(t, stale, s2.ID); d == diffOf(t, fresh, f2.ID) {
		t.Fatalf("the stale run's successor's diff is already right: %s", d)
	}

	re := stale.reparse(t, s1)
	if re.Hosts != 2 {
		t.Fatalf("ReparseRun = %+v", re)
	}
	for i, pair := range [][2]int64{{s1.ID, f1.ID}, {s2.ID, f2.ID}} {
		if got, want := diffOf(t, stale, pair[0]), diffOf(t, fresh, pair[1]); got != want {
			t.Errorf("diff of run %d after parsing again:\n%s\nwant\n%s", i+1, got, want)
		}
	}
	if got, want := assetsOf(t, stale), assetsOf(t, fresh); got != want {
		t.Errorf("assets after parsing again:\n%s\nwant\n%s", got, want)
	}
}

// diffOf renders a run's stored diff: its counts and changes.
func diffOf(t *testing.T, m *masscanFixture, runID int64) string {
	t.Helper()
	d, err := m.store.GetDiff(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprintf("%+v first=%v", d.Counts, d.PreviousRunID == nil)
	for _, c := range d.Changes {
		s += fmt.Sprintf("\n%s %s %s/%d", c.Kind, c.Address, c.Protocol, c.Port)
	}
	return s
}

// assetsOf renders the masscan site's assets: hosts, states and ports.
func assetsOf(t *testing.T, m *masscanFixture) string {
	t.Helper()
	hosts, _, err := m.store.ListAssets(context.Background(), postgres.AssetFilter{SiteID: m.siteID})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, h := range hosts {
		line := h.Address + " " + h.State
		for _, p := range h.Ports {
			line += fmt.Sprintf(" %s/%d:%s", p.Protocol, p.Port, p.State)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
