package activities_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// A two-stage profile's run: StartRun plans the discovery's specs and the
// stage that follows; PlanFollow, given the stored discovery output of the
// shard's current dispatch, plans nmap on the hosts and ports found open
// among the shard's targets, and refuses output of any other dispatch.
func TestPlanFollow(t *testing.T) {
	f := newFixture(t, "")
	env := newEnv(f)
	ctx := context.Background()
	prof, err := f.store.CreateProfile(ctx, scan.Profile{Name: uniqueName("two"), Scanner: scan.Nmap, Options: "-n -sV --max-rate 5000",
		DiscoveryScanner: scan.Masscan, DiscoveryOptions: "-p1-1024 --rate 100000"})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := f.store.GetScan(ctx, f.scanID)
	if err != nil {
		t.Fatal(err)
	}
	sc.ProfileID = prof.ID
	if _, err := f.store.UpdateScan(ctx, sc); err != nil {
		t.Fatal(err)
	}
	f.results.MaxRate = 20000
	start := f.startRun(t, env, "wf-two-stage")
	if start.Follow == nil || start.Follow.Scanner != scan.Nmap || !slices.Equal(start.Follow.Options, []string{"-n", "-sV", "--max-rate", "5000"}) {
		t.Fatalf("follow %+v", start.Follow)
	}
	v4 := start.Specs[0]
	if v4.Scanner != scan.Masscan || v4.Rate != 20000 || !slices.Equal(v4.Targets, []string{"127.0.0.1"}) {
		t.Fatalf("discovery spec %+v: masscan, its rate capped by the server", v4)
	}

	d := f.dispatch(t, env, start, v4, 1)
	out := `<?xml version="1.0"?>
<nmaprun scanner="masscan" start="1795554300" version="1.0-BETA" xmloutputversion="1.03">
<host endtime="1795554301"><address addr="127.0.0.1" addrtype="ipv4"/><ports><port protocol="tcp" portid="80"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>
<host endtime="1795554301"><address addr="127.0.0.1" addrtype="ipv4"/><ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>
<host endtime="1795554301"><address addr="127.0.0.9" addrtype="ipv4"/><ports><port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>
<runstats><finished time="1795554310" timestr="2026-11-24 10:25:10" elapsed="10" /><hosts up="3" down="0" total="3" /></runstats>
</nmaprun>`
	raw, err := objs.Put(ctx, scan.RawKey(start.RunID, v4.ShardID, 1, scan.Masscan), strings.NewReader(out), int64(len(out)), "application/xml")
	if err != nil {
		t.Fatal(err)
	}
	in := activities.PlanFollowInput{Spec: v4, Follow: *start.Follow, Found: activities.ParseResultsInput{
		RunID: start.RunID, ShardID: v4.ShardID, Attempt: 1, Raw: raw, Agent: "a1", Scanner: scan.Masscan, Nonce: d.Nonce}}
	plan, err := execute[activities.PlanFollowResult](t, env, f.results.PlanFollow, in)
	if err != nil {
		t.Fatalf("PlanFollow: %v", err)
	}
	if plan.Spec == nil || plan.Hosts != 1 || plan.Pairs != 2 {
		t.Fatalf("plan %+v", plan)
	}
	// The found host on the ports found open on it: one port group.
	want := []string{"-n", "-sV", "--max-rate", "5000"}
	if s := plan.Spec; s.Scanner != scan.Nmap || !slices.Equal(s.Options, want) || !slices.Equal(s.Targets, []string{"127.0.0.1"}) ||
		s.ShardID != v4.ShardID || !slices.Equal(s.Excludes, v4.Excludes) || len(s.Groups) != 1 ||
		!slices.Equal(s.Groups[0].Ports, []uint16{22, 80}) || !slices.Equal(s.Groups[0].Targets, s.Targets) || plan.ExtraPairs != 0 {
		t.Errorf("second stage %+v, want nmap %v on 127.0.0.1, ports 22 and 80", s, want)
	}
	// The second stage is dispatched like any attempt: signed, its own
	// objects.
	d2 := f.dispatch(t, env, start, *plan.Spec, 2)
	if d2.Spec.Dispatch == nil || !strings.Contains(d2.Spec.Dispatch.Objects.OutputPut, scan.RawKey(start.RunID, v4.ShardID, 2, scan.Nmap)) {
		t.Errorf("second stage dispatch %+v", d2.Spec.Dispatch)
	}

	// Output of a dispatch that is not the shard's current one is refused.
	if _, err := execute[activities.PlanFollowResult](t, env, f.results.PlanFollow, in); !isNonRetryable(err, activities.ErrTypeUntrusted) {
		t.Errorf("stale dispatch: %v, want refused", err)
	}
	in.Found.Nonce, in.Found.Attempt = d2.Nonce, 2
	in.Spec.ShardID++
	if _, err := execute[activities.PlanFollowResult](t, env, f.results.PlanFollow, in); !isNonRetryable(err, activities.ErrTypeInvalidSpec) {
		t.Errorf("another shard's spec: %v, want refused", err)
	}
}
