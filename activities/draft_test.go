package activities_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// A run of a scan that can never run fails in StartRun, before any shard
// exists, with the message of the rule that fails, the same one its plan
// shows.
func TestStartRunRunsThePlansChecks(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	ag, err := f.store.CreateAgent(ctx, scan.Agent{Name: "noraw", TaskQueue: workflows.AgentTaskQueue("noraw")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { f.results.Online = nil }()
	f.results.Online = func(_ context.Context, q string) ([]scan.AgentCaps, error) {
		if q == ag.TaskQueue {
			return []scan.AgentCaps{{Name: "noraw", Capacity: 1, RawKnown: true, RawSockets: []scan.Scanner{}}}, nil
		}
		return nil, nil
	}
	for _, tt := range []struct {
		name      string
		site      scan.Site
		profile   scan.Profile
		agent     int64
		wantError string
	}{
		{"-6 with IPv4", scan.Site{Targets: []string{"198.18.7.0/30"}}, scan.Profile{Scanner: scan.Nmap, Options: "-6 -sT -p 80"}, 0,
			"the profile has -6 (IPv6 only) but the site has IPv4 targets (198.18.7.0/30)"},
		{"masscan and a host name", scan.Site{Targets: []string{"198.18.7.0/30"}, Exclusions: []string{"printer.example"}}, scan.Profile{Scanner: scan.Masscan, Options: "-p80"}, 0,
			"masscan cannot resolve host names"},
		{"raw sockets on an agent without", scan.Site{Targets: []string{"198.18.7.0/30"}}, scan.Profile{Scanner: scan.Nmap, Options: "-sS -p 80"}, ag.ID,
			`agent "noraw" announced that its nmap cannot open them`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.site.Name, tt.profile.Name = uniqueName("site"), uniqueName("prof")
			site, err := f.store.CreateSite(ctx, tt.site)
			if err != nil {
				t.Fatal(err)
			}
			prof, err := f.store.CreateProfile(ctx, tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			agent := tt.agent
			if agent == 0 {
				sc, err := f.store.GetScan(ctx, f.scanID)
				if err != nil {
					t.Fatal(err)
				}
				agent = sc.AgentID
			}
			sc, err := f.store.CreateScan(ctx, scan.Scan{Name: uniqueName("scan"), SiteID: site.ID, ProfileID: prof.ID, AgentID: agent})
			if err != nil {
				t.Fatal(err)
			}
			wf := uniqueName("wf")
			_, runErr := execute[activities.StartRunResult](t, newEnv(f), f.results.StartRun, activities.StartRunInput{ScanID: sc.ID, WorkflowID: wf})
			var app *temporal.ApplicationError
			if !errors.As(runErr, &app) || !app.NonRetryable() || !strings.Contains(runErr.Error(), tt.wantError) {
				t.Fatalf("StartRun: %v; want a non-retryable error saying %q", runErr, tt.wantError)
			}
			plan, err := f.store.LoadPlan(ctx, sc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, perr := activities.DraftRun(plan, activities.RunLimits{}, []scan.AgentCaps{{Name: "noraw", RawKnown: true}}, true); perr == nil || !strings.Contains(runErr.Error(), perr.Error()) {
				t.Errorf("the plan says %v, the run failed with %v", perr, runErr)
			}
			run, err := f.store.GetRunByWorkflowID(ctx, wf)
			if err != nil {
				t.Fatal(err)
			}
			if shards, err := f.store.ListShards(ctx, run.ID); err != nil || len(shards) != 0 {
				t.Errorf("shards %v, %v: want none", shards, err)
			}
		})
	}
}
