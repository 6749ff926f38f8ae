package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// TestPools covers a scan that runs on a pool: exactly one of agent and pool,
// its shard size, its plan, and the pool kept while a scan uses it.
func TestPools(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	p, err := st.CreatePool(ctx, scan.Pool{Name: "edge", TaskQueue: "pool.edge"})
	must(t, err)
	_, err = st.CreatePool(ctx, scan.Pool{Name: "edge", TaskQueue: "pool.other"})
	wantErr(t, err, ErrConflict)

	sc, err := st.CreateScan(ctx, scan.Scan{Name: "pooled", SiteID: f.site.ID, ProfileID: f.profile.ID, PoolID: p.ID, ShardSize: 16})
	must(t, err)
	if sc.PoolID != p.ID || sc.AgentID != 0 || sc.ShardSize != 16 {
		t.Fatalf("created scan = %+v", sc)
	}
	plan, err := st.LoadPlan(ctx, sc.ID)
	must(t, err)
	if plan.Pool != p || plan.Agent.ID != 0 {
		t.Fatalf("plan pool = %+v, agent = %+v", plan.Pool, plan.Agent)
	}
	for _, bad := range []scan.Scan{
		{Name: "both", SiteID: f.site.ID, ProfileID: f.profile.ID, PoolID: p.ID, AgentID: f.agent.ID},
		{Name: "neither", SiteID: f.site.ID, ProfileID: f.profile.ID},
	} {
		_, err := st.CreateScan(ctx, bad)
		wantErr(t, err, ErrInvalid)
	}
	_, err = st.CreateScan(ctx, scan.Scan{Name: "gone", SiteID: f.site.ID, ProfileID: f.profile.ID, PoolID: 424242})
	wantErr(t, err, ErrNotFound)

	// Moving the scan to an agent clears the pool and the shard size.
	sc.PoolID, sc.AgentID, sc.ShardSize = 0, f.agent.ID, 0
	moved, err := st.UpdateScan(ctx, sc)
	must(t, err)
	if moved.PoolID != 0 || moved.AgentID != f.agent.ID || moved.ShardSize != 0 {
		t.Fatalf("updated scan = %+v", moved)
	}
	sc.PoolID, sc.AgentID = p.ID, 0
	_, err = st.UpdateScan(ctx, sc)
	must(t, err)
	wantErr(t, st.DeletePool(ctx, p.ID), ErrInUse)
	list, err := st.ListPools(ctx)
	must(t, err)
	if len(list) != 1 || list[0] != p {
		t.Fatalf("ListPools = %+v", list)
	}
	must(t, st.DeleteScan(ctx, sc.ID))
	must(t, st.DeletePool(ctx, p.ID))
	_, err = st.GetPool(ctx, p.ID)
	wantErr(t, err, ErrNotFound)
}

func TestPausedRun(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	run, err := st.CreateRun(ctx, f.scan.ID, "wf-paused")
	must(t, err)
	must(t, st.SetRunStatus(ctx, run.ID, scan.RunPaused, ""))
	unfinished, err := st.ListUnfinishedRuns(ctx, time.Now().Add(time.Hour))
	must(t, err)
	if len(unfinished) != 1 || unfinished[0].Status != scan.RunPaused {
		t.Fatalf("unfinished runs = %+v, want the paused run", unfinished)
	}
	must(t, st.KeepPartial(ctx, run.ID))
	got, err := st.GetRun(ctx, run.ID)
	must(t, err)
	if got.Partial {
		t.Errorf("a run without hosts marked partial: %+v", got)
	}
}
