package activities_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// A pool scan is cut into shards of at most the scan's shard size, all for
// the pool's queue, with as many in flight as the pool's pollers can take.
func TestStartRunShardsAPoolScan(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	site, err := f.store.CreateSite(ctx, scan.Site{Name: "lab", Targets: []string{"198.18.4.0/29", "198.18.5.1"}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := f.store.GetScan(ctx, f.scanID)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := f.store.CreatePool(ctx, scan.Pool{Name: "edge", TaskQueue: workflows.PoolTaskQueue("edge")})
	if err != nil {
		t.Fatal(err)
	}
	pooled, err := f.store.CreateScan(ctx, scan.Scan{Name: "pooled", SiteID: site.ID, ProfileID: sc.ProfileID, PoolID: pool.ID, ShardSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	var asked string
	f.results.Capacity = func(_ context.Context, q string) (int, error) { asked = q; return 5, nil }
	env := newEnv(f)
	start, err := execute[activities.StartRunResult](t, env, f.results.StartRun, activities.StartRunInput{ScanID: pooled.ID, WorkflowID: "wf-pool"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range start.Specs {
		got = append(got, strings.Join(s.Targets, " "))
	}
	want := []string{"198.18.4.0/31 198.18.4.2", "198.18.4.3 198.18.4.4/31", "198.18.4.6/31 198.18.5.1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("shards = %q, want %q", got, want)
	}
	if start.PoolName != "edge" || start.AgentName != "" || start.TaskQueue != "pool.edge" || asked != "pool.edge" || start.Parallel != 5 {
		t.Errorf("dispatch = %+v (capacity asked of %q)", start, asked)
	}
	shards, err := f.store.ListShards(ctx, start.RunID)
	if err != nil || len(shards) != 3 || shards[0].AgentID != 0 {
		t.Errorf("stored shards = %+v, %v", shards, err)
	}
}

// A masscan profile's --rate is capped by the site's max_rate and carried in
// the spec, out of the options, so the profile cannot raise it.
func TestStartRunCapsMasscanRate(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	defer func(r float64) { f.results.MaxRate = r }(f.results.MaxRate)
	for _, tt := range []struct {
		options string
		siteMax int
		ceiling float64
		want    float64
	}{
		{"-p 80 --rate 5000", 300, 0, 300},
		{"-p 80 --rate=200", 300, 0, 200},
		{"-p 80", 300, 0, 300},
		{"-p 80 --rate 1000", 0, 0, 1000},
		// The server's ceiling caps what the profile and the site allow,
		// and never raises masscan's default of 100.
		{"-p 80 --rate 5000", 0, 2000, 2000},
		{"-p 80 --rate 5000", 3000, 2000, 2000},
		{"-p 80", 0, 100000, 100},
		{"-p 80", 0, 50, 50},
	} {
		f.results.MaxRate = tt.ceiling
		site, err := f.store.CreateSite(ctx, scan.Site{Name: uniqueName("s"), Targets: []string{"198.18.6.1"}, MaxRate: tt.siteMax})
		if err != nil {
			t.Fatal(err)
		}
		prof, err := f.store.CreateProfile(ctx, scan.Profile{Name: uniqueName("p"), Scanner: scan.Masscan, Options: tt.options})
		if err != nil {
			t.Fatal(err)
		}
		sc, err := f.store.GetScan(ctx, f.scanID)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := f.store.CreateScan(ctx, scan.Scan{Name: uniqueName("m"), SiteID: site.ID, ProfileID: prof.ID, AgentID: sc.AgentID})
		if err != nil {
			t.Fatal(err)
		}
		start, err := execute[activities.StartRunResult](t, newEnv(f), f.results.StartRun, activities.StartRunInput{ScanID: ms.ID, WorkflowID: uniqueName("wf")})
		if err != nil {
			t.Fatal(err)
		}
		spec := start.Specs[0]
		if spec.Rate != tt.want || strings.Contains(strings.Join(spec.Options, " "), "rate") {
			t.Errorf("profile %q, site max %d: rate %v, options %q; want rate %v", tt.options, tt.siteMax, spec.Rate, spec.Options, tt.want)
		}
	}
}

var nameSeq int

func uniqueName(prefix string) string {
	nameSeq++
	return fmt.Sprintf("%s-%d", prefix, nameSeq)
}

// An agent with a credential signs its result; the server parses a signed
// result and refuses one that is unsigned, altered, or from an agent that
// is not registered.
func TestParseResultsChecksTheAgentsSignature(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	cred, key, err := scan.NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateAgent(ctx, scan.Agent{Name: "signer", TaskQueue: workflows.AgentTaskQueue("signer"), PublicKey: key}); err != nil {
		t.Fatal(err)
	}
	f.agent.Name, f.agent.Credential = "signer", cred
	env := newEnv(f)
	start := f.startRun(t, env, "wf-signed")
	spec := start.Specs[0]
	// The scan's agent is a1; this shard goes to "signer" instead.
	d, err := execute[activities.DispatchShardResult](t, env, f.results.DispatchShard,
		activities.DispatchShardInput{RunID: start.RunID, Spec: spec, Attempt: 1, TaskQueue: testQueue, Agent: "signer"})
	if err != nil {
		t.Fatal(err)
	}
	scanned, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: d.Spec})
	if err != nil {
		t.Fatal(err)
	}
	if len(scanned.Signature) == 0 {
		t.Fatal("the agent did not sign its result")
	}
	in := activities.ParseResultsInput{RunID: start.RunID, ShardID: spec.ShardID, Attempt: scanned.Attempt, Raw: scanned.Raw, Agent: scanned.Agent, Signature: scanned.Signature, Nonce: d.Nonce}
	if _, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, in); err != nil {
		t.Fatalf("signed result refused: %v", err)
	}
	unsigned, altered, stranger, unnamed := in, in, in, in
	unsigned.Signature = nil
	altered.Raw.SHA256 = strings.Repeat("0", 64)
	stranger.Agent = "nobody"
	unnamed.Agent, unnamed.Signature = "", nil
	for name, bad := range map[string]activities.ParseResultsInput{"unsigned": unsigned, "altered": altered, "unregistered": stranger, "unnamed": unnamed} {
		_, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, bad)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != activities.ErrTypeUntrusted || !app.NonRetryable() {
			t.Errorf("%s result: error %v, want a non-retryable %s", name, err, activities.ErrTypeUntrusted)
		}
	}
}

// An agent whose scanner cannot open raw sockets refuses the scans that
// need them, naming why, and still runs the ones that do not.
func TestRunScanRefusesRawScansWithoutCapability(t *testing.T) {
	f := newFixture(t, "")
	f.agent.NoRawSockets = map[scan.Scanner]bool{scan.Nmap: true, scan.Masscan: true}
	env := newEnv(f)
	for _, tt := range []struct {
		spec scan.Spec
		want string
	}{
		{scan.Spec{RunID: 990101, ShardID: 990101, Scanner: scan.Nmap, Options: []string{"-n", "-sS", "-p", "22"}, Targets: []string{"127.0.0.1"}}, "option -sS"},
		{scan.Spec{RunID: 990102, ShardID: 990102, Scanner: scan.Masscan, Options: []string{"-p", "22"}, Targets: []string{"198.18.0.2"}}, "masscan sends raw packets"},
	} {
		_, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: f.dispatched(t, tt.spec)})
		if !isNonRetryable(err, "ScannerMissing") || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "CAP_NET_RAW") {
			t.Errorf("%s %v: error %v, want a non-retryable refusal naming %q", tt.spec.Scanner, tt.spec.Options, err, tt.want)
		}
	}
	// A connect scan needs no raw sockets.
	spec := scan.Spec{RunID: 990103, ShardID: 990103, Scanner: scan.Nmap, Options: []string{"-n", "-Pn", "-sT", "-p", fmt.Sprint(f.ports4[0])}, Targets: []string{"127.0.0.1"}}
	if _, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: f.dispatched(t, spec)}); err != nil {
		t.Errorf("connect scan refused: %v", err)
	}
}

// The site's max_rate and the server's ceiling cap nmap as they cap
// masscan: --max-rate lowered or added, --min-rate lowered with it.
func TestStartRunCapsNmapRate(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	defer func(r float64) { f.results.MaxRate = r }(f.results.MaxRate)
	for _, tt := range []struct {
		options string
		siteMax int
		ceiling float64
		want    string
	}{
		{"-sT -p 80", 0, 0, "-sT -p 80"},
		{"-sT -p 80", 300, 0, "-sT -p 80 --max-rate 300"},
		{"-sT --max-rate 100", 300, 0, "-sT --max-rate 100"},
		{"-sT --min-rate 5000 --max-rate 9000", 300, 0, "-sT --min-rate 300 --max-rate 300"},
		{"-sT --min-rate 5000", 0, 1000, "-sT --min-rate 1000 --max-rate 1000"},
		{"-sT --max-rate 800", 2000, 1000, "-sT --max-rate 800"},
		{"-sT", 2000, 1000, "-sT --max-rate 1000"},
	} {
		f.results.MaxRate = tt.ceiling
		site, err := f.store.CreateSite(ctx, scan.Site{Name: uniqueName("s"), Targets: []string{"198.18.6.1"}, MaxRate: tt.siteMax})
		if err != nil {
			t.Fatal(err)
		}
		prof, err := f.store.CreateProfile(ctx, scan.Profile{Name: uniqueName("p"), Scanner: scan.Nmap, Options: tt.options})
		if err != nil {
			t.Fatal(err)
		}
		sc, err := f.store.GetScan(ctx, f.scanID)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := f.store.CreateScan(ctx, scan.Scan{Name: uniqueName("n"), SiteID: site.ID, ProfileID: prof.ID, AgentID: sc.AgentID})
		if err != nil {
			t.Fatal(err)
		}
		start, err := execute[activities.StartRunResult](t, newEnv(f), f.results.StartRun, activities.StartRunInput{ScanID: ms.ID, WorkflowID: uniqueName("wf")})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(start.Specs[0].Options, " "); got != tt.want {
			t.Errorf("profile %q, site max %d, ceiling %v: options %q, want %q", tt.options, tt.siteMax, tt.ceiling, got, tt.want)
		}
	}
}
