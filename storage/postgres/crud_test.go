package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

func TestSites(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()

	created, err := st.CreateSite(ctx, scan.Site{
		Name: "dmz", Description: "edge",
		Targets:    []string{"198.18.0.0/24", "scanme.example", "198.18.1.1"},
		Exclusions: []string{"198.18.0.9", "198.18.0.1"},
	})
	must(t, err)
	if created.ID == 0 || created.CreatedAt.IsZero() {
		t.Fatalf("created site lacks id or time: %+v", created)
	}
	got, err := st.GetSite(ctx, created.ID)
	must(t, err)
	if !slices.Equal(got.Targets, []string{"198.18.0.0/24", "scanme.example", "198.18.1.1"}) ||
		!slices.Equal(got.Exclusions, []string{"198.18.0.9", "198.18.0.1"}) {
		t.Fatalf("targets or exclusions lost their order: %+v", got)
	}

	got.Name, got.Targets, got.Exclusions = "dmz2", []string{"198.18.2.0/24"}, nil
	updated, err := st.UpdateSite(ctx, got)
	must(t, err)
	if updated.Name != "dmz2" || !slices.Equal(updated.Targets, []string{"198.18.2.0/24"}) ||
		updated.Exclusions == nil || len(updated.Exclusions) != 0 {
		t.Fatalf("updated = %+v", updated)
	}
	if n := count(t, st, `SELECT count(*) FROM site_targets`); n != 1 {
		t.Fatalf("site_targets has %d rows after update, want 1", n)
	}

	_, err = st.CreateSite(ctx, scan.Site{Name: "lab", Targets: []string{"198.18.3.0/24"}})
	must(t, err)
	list, err := st.ListSites(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "dmz2" || list[1].Name != "lab" {
		t.Fatalf("ListSites = %+v", list)
	}

	must(t, st.DeleteSite(ctx, created.ID))
	_, err = st.GetSite(ctx, created.ID)
	wantErr(t, err, ErrNotFound)
	if n := count(t, st, `SELECT count(*) FROM site_targets WHERE site_id = $1`, created.ID); n != 0 {
		t.Fatalf("targets of a deleted site remain: %d", n)
	}
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	p, err := st.CreateProfile(ctx, scan.Profile{Name: "quick", Scanner: scan.Nmap, Options: "-F"})
	must(t, err)
	p.Scanner, p.Options, p.Description = scan.Masscan, "--rate 1000", "fast"
	_, err = st.UpdateProfile(ctx, p)
	must(t, err)
	got, err := st.GetProfile(ctx, p.ID)
	must(t, err)
	if got.Scanner != scan.Masscan || got.Options != "--rate 1000" || got.Description != "fast" {
		t.Fatalf("GetProfile = %+v", got)
	}
	list, err := st.ListProfiles(ctx)
	must(t, err)
	if len(list) != 1 || list[0] != got {
		t.Fatalf("ListProfiles = %+v", list)
	}
	_, err = st.CreateProfile(ctx, scan.Profile{Name: "odd", Scanner: "nessus"})
	wantErr(t, err, ErrInvalid)
	must(t, st.DeleteProfile(ctx, p.ID))
	wantErr(t, st.DeleteProfile(ctx, p.ID), ErrNotFound)
}

func TestAgents(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	a, err := st.CreateAgent(ctx, scan.Agent{Name: "east", TaskQueue: "agent.east"})
	must(t, err)
	if a.LastSeenAt != nil {
		t.Fatalf("new agent already seen: %v", a.LastSeenAt)
	}
	byName, err := st.GetAgentByName(ctx, "east")
	must(t, err)
	if byName.ID != a.ID || byName.TaskQueue != "agent.east" {
		t.Fatalf("GetAgentByName = %+v", byName)
	}
	_, err = st.GetAgentByName(ctx, "west")
	wantErr(t, err, ErrNotFound)

	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, st.TouchAgent(ctx, a.ID, at))
	must(t, st.TouchAgent(ctx, a.ID, at.Add(-time.Hour))) // late report: ignored
	got, err := st.GetAgent(ctx, a.ID)
	must(t, err)
	if got.LastSeenAt == nil || !got.LastSeenAt.Equal(at) {
		t.Fatalf("last seen = %v, want %v", got.LastSeenAt, at)
	}
	wantErr(t, st.TouchAgent(ctx, 424242, at), ErrNotFound)

	_, err = st.CreateAgent(ctx, scan.Agent{Name: "west", TaskQueue: "agent.east"})
	wantErr(t, err, ErrConflict)
	if !strings.Contains(err.Error(), "agent.east") {
		t.Fatalf("conflict does not name the task queue: %v", err)
	}
	list, err := st.ListAgents(ctx)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("ListAgents = %+v", list)
	}
	must(t, st.DeleteAgent(ctx, a.ID))
	wantErr(t, st.DeleteAgent(ctx, a.ID), ErrNotFound)
}

func TestScans(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	if f.scan.TimeZone != "UTC" || !f.scan.Enabled || f.scan.StartAt != nil {
		t.Fatalf("created scan = %+v", f.scan)
	}
	start := time.Date(2030, 5, 6, 7, 0, 0, 0, time.UTC)
	sc := f.scan
	sc.StartAt, sc.TimeZone, sc.RRule, sc.Enabled = &start, "Europe/Paris", "FREQ=DAILY", false
	_, err := st.UpdateScan(ctx, sc)
	must(t, err)
	got, err := st.GetScan(ctx, sc.ID)
	must(t, err)
	if got.StartAt == nil || !got.StartAt.Equal(start) || got.TimeZone != "Europe/Paris" || got.RRule != "FREQ=DAILY" || got.Enabled {
		t.Fatalf("GetScan = %+v", got)
	}
	list, err := st.ListScans(ctx)
	must(t, err)
	if len(list) != 1 || list[0].ID != sc.ID {
		t.Fatalf("ListScans = %+v", list)
	}

	sc.SiteID = 424242
	_, err = st.UpdateScan(ctx, sc)
	wantErr(t, err, ErrNotFound)
	if !strings.Contains(err.Error(), "site") {
		t.Fatalf("missing reference not named: %v", err)
	}
	_, err = st.CreateScan(ctx, scan.Scan{Name: "b", SiteID: f.site.ID, ProfileID: 424242, AgentID: f.agent.ID})
	wantErr(t, err, ErrNotFound)

	must(t, st.DeleteScan(ctx, sc.ID))
	wantErr(t, st.DeleteScan(ctx, sc.ID), ErrNotFound)
	// Nothing uses them any more.
	must(t, st.DeleteSite(ctx, f.site.ID))
	must(t, st.DeleteProfile(ctx, f.profile.ID))
	must(t, st.DeleteAgent(ctx, f.agent.ID))
}

func TestExclusions(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	a, err := st.CreateExclusion(ctx, scan.Exclusion{Target: "198.18.0.0/30", Note: "routers"})
	must(t, err)
	_, err = st.CreateExclusion(ctx, scan.Exclusion{Target: "printer.example"})
	must(t, err)
	list, err := st.ListExclusions(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Target != "198.18.0.0/30" || list[0].Note != "routers" || list[1].Target != "printer.example" {
		t.Fatalf("ListExclusions = %+v", list)
	}
	_, err = st.CreateExclusion(ctx, scan.Exclusion{Target: " "})
	wantErr(t, err, ErrInvalid)
	must(t, st.DeleteExclusion(ctx, a.ID))
	wantErr(t, st.DeleteExclusion(ctx, a.ID), ErrNotFound)
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	const id = 424242
	tests := []struct {
		name string
		call func() error
	}{
		{"GetSite", func() error { _, err := st.GetSite(ctx, id); return err }},
		{"UpdateSite", func() error { _, err := st.UpdateSite(ctx, scan.Site{ID: id, Name: "x"}); return err }},
		{"DeleteSite", func() error { return st.DeleteSite(ctx, id) }},
		{"DeleteExclusion", func() error { return st.DeleteExclusion(ctx, id) }},
		{"GetProfile", func() error { _, err := st.GetProfile(ctx, id); return err }},
		{"UpdateProfile", func() error {
			_, err := st.UpdateProfile(ctx, scan.Profile{ID: id, Name: "x", Scanner: scan.Nmap})
			return err
		}},
		{"DeleteProfile", func() error { return st.DeleteProfile(ctx, id) }},
		{"GetAgent", func() error { _, err := st.GetAgent(ctx, id); return err }},
		{"GetAgentByName", func() error { _, err := st.GetAgentByName(ctx, "nobody"); return err }},
		{"DeleteAgent", func() error { return st.DeleteAgent(ctx, id) }},
		{"TouchAgent", func() error { return st.TouchAgent(ctx, id, time.Now()) }},
		{"GetScan", func() error { _, err := st.GetScan(ctx, id); return err }},
		{"UpdateScan", func() error { _, err := st.UpdateScan(ctx, scan.Scan{ID: id, Name: "x"}); return err }},
		{"DeleteScan", func() error { return st.DeleteScan(ctx, id) }},
		{"LoadPlan", func() error { _, err := st.LoadPlan(ctx, id); return err }},
		{"CreateRun", func() error { _, err := st.CreateRun(ctx, id, "wf"); return err }},
		{"GetRun", func() error { _, err := st.GetRun(ctx, id); return err }},
		{"GetRunByWorkflowID", func() error { _, err := st.GetRunByWorkflowID(ctx, "nope"); return err }},
		{"DeleteRun", func() error { return st.DeleteRun(ctx, id) }},
		{"SetRunStatus", func() error { return st.SetRunStatus(ctx, id, scan.RunRunning, "") }},
		{"SetRunTargets", func() error { return st.SetRunTargets(ctx, id, scan.Resolved{}) }},
		{"CompleteRun", func() error { _, err := st.CompleteRun(ctx, id, testBlob("x")); return err }},
		{"CreateShard", func() error { _, err := st.CreateShard(ctx, id, 0, 0, nil); return err }},
		{"GetShard", func() error { _, err := st.GetShard(ctx, id); return err }},
		{"UpdateShard", func() error { return st.UpdateShard(ctx, scan.ShardUpdate{ID: id, Status: scan.ShardRunning}) }},
		{"ReplaceShardResults", func() error {
			_, err := st.ReplaceShardResults(ctx, id, id, 0, func(func(report.Host) error) error { return nil })
			return err
		}},
		{"ExportRows", func() error { return st.ExportRows(ctx, id, func(scan.ExportRow) error { return nil }) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.call(), ErrNotFound)
		})
	}
}

func TestConflict(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	g := newFixture(t, st, "b")
	tests := []struct {
		name string
		call func() error
		want string // the taken name, quoted in the message
	}{
		{"CreateSite", func() error { _, err := st.CreateSite(ctx, scan.Site{Name: "a-site"}); return err }, `"a-site"`},
		{"UpdateSite", func() error { s := g.site; s.Name = "a-site"; _, err := st.UpdateSite(ctx, s); return err }, `"a-site"`},
		{"CreateProfile", func() error {
			_, err := st.CreateProfile(ctx, scan.Profile{Name: "a-profile", Scanner: scan.Nmap})
			return err
		}, `"a-profile"`},
		{"UpdateProfile", func() error {
			p := g.profile
			p.Name = "a-profile"
			_, err := st.UpdateProfile(ctx, p)
			return err
		}, `"a-profile"`},
		{"CreateAgent", func() error {
			_, err := st.CreateAgent(ctx, scan.Agent{Name: "a-agent", TaskQueue: "agent.other"})
			return err
		}, `"a-agent"`},
		{"CreateScan", func() error {
			sc := f.scan
			sc.ID = 0
			_, err := st.CreateScan(ctx, sc)
			return err
		}, `"a-scan"`},
		{"UpdateScan", func() error { sc := g.scan; sc.Name = "a-scan"; _, err := st.UpdateScan(ctx, sc); return err }, `"a-scan"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			wantErr(t, err, ErrConflict)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not name %s", err, tt.want)
			}
		})
	}
}

func TestInUse(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	run, err := st.CreateRun(ctx, f.scan.ID, "wf-in-use")
	must(t, err)
	tests := []struct {
		name string
		call func() error
	}{
		{"DeleteSite", func() error { return st.DeleteSite(ctx, f.site.ID) }},
		{"DeleteProfile", func() error { return st.DeleteProfile(ctx, f.profile.ID) }},
		{"DeleteAgent", func() error { return st.DeleteAgent(ctx, f.agent.ID) }},
		{"DeleteScan", func() error { return st.DeleteScan(ctx, f.scan.ID) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.call(), ErrInUse)
		})
	}
	must(t, st.DeleteRun(ctx, run.ID))
	must(t, st.DeleteScan(ctx, f.scan.ID))
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"empty site name", func() error { _, err := st.CreateSite(ctx, scan.Site{Name: " "}); return err }},
		{"empty target", func() error {
			_, err := st.CreateSite(ctx, scan.Site{Name: "s", Targets: []string{""}})
			return err
		}},
		{"unknown scanner", func() error {
			_, err := st.CreateProfile(ctx, scan.Profile{Name: "p", Scanner: "nessus"})
			return err
		}},
		{"empty task queue", func() error { _, err := st.CreateAgent(ctx, scan.Agent{Name: "a"}); return err }},
		{"unknown run status", func() error { return st.SetRunStatus(ctx, 1, "exploded", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.call(), ErrInvalid)
		})
	}
	if n := count(t, st, `SELECT count(*) FROM sites`); n != 0 {
		t.Fatalf("a refused site was stored (%d rows)", n)
	}
}

func TestLoadPlan(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	_, err := st.CreateExclusion(ctx, scan.Exclusion{Target: "198.18.0.128/25"})
	must(t, err)
	_, err = st.CreateExclusion(ctx, scan.Exclusion{Target: "printer.example"})
	must(t, err)
	p, err := st.LoadPlan(ctx, f.scan.ID)
	must(t, err)
	if p.Scan.ID != f.scan.ID || p.Site.ID != f.site.ID || p.Profile != f.profile || p.Agent.ID != f.agent.ID {
		t.Fatalf("plan = %+v", p)
	}
	if !slices.Equal(p.Site.Targets, f.site.Targets) || !slices.Equal(p.Site.Exclusions, f.site.Exclusions) {
		t.Fatalf("plan site = %+v, want %+v", p.Site, f.site)
	}
	if !slices.Equal(p.GlobalExclusions, []string{"198.18.0.128/25", "printer.example"}) {
		t.Fatalf("global exclusions = %v", p.GlobalExclusions)
	}
}
