package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// TestShardDispatch: a dispatch recorded for a shard of a running run is its
// current one until the next; none is recorded once the run has ended, nor
// for a shard named with another run.
func TestShardDispatch(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	run, err := st.CreateRun(ctx, f.scan.ID, "wf-dispatch")
	must(t, err)
	sh, err := st.CreateShard(ctx, run.ID, 0, f.agent.ID, []string{"198.18.0.2"})
	must(t, err)
	none, status, err := st.ShardDispatch(ctx, run.ID, sh.ID)
	must(t, err)
	if none != (scan.ShardDispatch{}) || status != scan.RunPending {
		t.Fatalf("before any dispatch: %+v, %s", none, status)
	}
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	for i, d := range []scan.ShardDispatch{
		{Attempt: 1, Nonce: "n1", TaskQueue: f.agent.TaskQueue, Agent: f.agent.Name, Expires: expires},
		{Attempt: 2, Nonce: "n2", TaskQueue: "pool.edge", Pool: "edge", Expires: expires.Add(time.Minute)},
	} {
		ok, err := st.RecordDispatch(ctx, run.ID, sh.ID, d)
		if err != nil || !ok {
			t.Fatalf("dispatch %d: %v, %v", i+1, ok, err)
		}
		got, _, err := st.ShardDispatch(ctx, run.ID, sh.ID)
		must(t, err)
		if !got.Expires.Equal(d.Expires) {
			t.Errorf("dispatch %d expires %s, want %s", i+1, got.Expires, d.Expires)
		}
		got.Expires = d.Expires
		if got != d {
			t.Errorf("dispatch %d read back %+v, want %+v", i+1, got, d)
		}
	}
	if ok, err := st.RecordDispatch(ctx, run.ID+1, sh.ID, scan.ShardDispatch{Attempt: 3, Nonce: "n3"}); err != nil || ok {
		t.Errorf("dispatch under another run: %v, %v", ok, err)
	}
	must(t, st.SetRunStatus(ctx, run.ID, scan.RunCancelled, "cancelled"))
	if ok, err := st.RecordDispatch(ctx, run.ID, sh.ID, scan.ShardDispatch{Attempt: 3, Nonce: "n3"}); err != nil || ok {
		t.Errorf("dispatch of a cancelled run: %v, %v", ok, err)
	}
	if got, status, err := st.ShardDispatch(ctx, run.ID, sh.ID); err != nil || got.Nonce != "n2" || status != scan.RunCancelled {
		t.Errorf("after the run ended: %+v, %s, %v", got, status, err)
	}
}

func TestPoolMember(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	g := newFixture(t, st, "b")
	_, err := st.CreatePool(ctx, scan.Pool{Name: "edge", TaskQueue: "pool.edge"})
	must(t, err)
	if member, any, err := st.PoolMember(ctx, "edge", f.agent.Name); err != nil || member || any {
		t.Fatalf("empty pool: %v %v %v", member, any, err)
	}
	must(t, st.AddPoolMember(ctx, "edge", f.agent.Name))
	must(t, st.AddPoolMember(ctx, "edge", f.agent.Name)) // again: no change
	if member, any, err := st.PoolMember(ctx, "edge", f.agent.Name); err != nil || !member || !any {
		t.Errorf("member: %v %v %v", member, any, err)
	}
	if member, any, err := st.PoolMember(ctx, "edge", g.agent.Name); err != nil || member || !any {
		t.Errorf("non-member: %v %v %v", member, any, err)
	}
	wantErr(t, st.AddPoolMember(ctx, "edge", "nobody"), ErrNotFound)
}
