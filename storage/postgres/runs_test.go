package postgres

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/scantron/scantron/scan"
)

// testBlob is a complete blob reference for key.
func testBlob(key string) scan.BlobRef {
	sum := sha256.Sum256([]byte(key))
	return scan.BlobRef{Bucket: "scantron", Key: key, Size: int64(len(key)), SHA256: hex.EncodeToString(sum[:])}
}

func TestCreateRunIdempotent(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	g := newFixture(t, st, "b")

	r1, err := st.CreateRun(ctx, f.scan.ID, "wf-1")
	must(t, err)
	if r1.Status != scan.RunPending || r1.ScanID != f.scan.ID || r1.Targets == nil || r1.CSV != nil {
		t.Fatalf("new run = %+v", r1)
	}
	must(t, st.SetRunStatus(ctx, r1.ID, scan.RunRunning, ""))
	r2, err := st.CreateRun(ctx, f.scan.ID, "wf-1")
	must(t, err)
	if r2.ID != r1.ID || r2.Status != scan.RunRunning {
		t.Fatalf("second CreateRun = %+v, want run %d unchanged (running)", r2, r1.ID)
	}
	_, err = st.CreateRun(ctx, g.scan.ID, "wf-1")
	wantErr(t, err, ErrConflict)
	if n := count(t, st, `SELECT count(*) FROM runs`); n != 1 {
		t.Fatalf("runs has %d rows, want 1", n)
	}
	byWF, err := st.GetRunByWorkflowID(ctx, "wf-1")
	must(t, err)
	if byWF.ID != r1.ID {
		t.Fatalf("GetRunByWorkflowID = %+v", byWF)
	}
}

func TestListRuns(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	g := newFixture(t, st, "b")
	var ids []int64
	for i := range 5 {
		sc := f.scan
		if i%2 == 1 {
			sc = g.scan
		}
		r, err := st.CreateRun(ctx, sc.ID, fmt.Sprintf("wf-%d", i))
		must(t, err)
		ids = append(ids, r.ID)
	}
	idsOf := func(runs []scan.Run) []int64 {
		var out []int64
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    RunFilter
		want []int64
	}{
		{"all newest first", RunFilter{}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"one scan", RunFilter{ScanID: f.scan.ID}, []int64{ids[4], ids[2], ids[0]}},
		{"page", RunFilter{Limit: 2, Offset: 1}, []int64{ids[3], ids[2]}},
		{"past the end", RunFilter{Offset: 10}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := st.ListRuns(ctx, tt.f)
			must(t, err)
			if got := idsOf(runs); !slices.Equal(got, tt.want) {
				t.Fatalf("ListRuns(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
}

func TestSetRunStatus(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	tests := []struct {
		name  string
		steps []scan.RunStatus
		last  scan.RunStatus
		want  error          // of the last step
		stays scan.RunStatus // the status after the last step, when not last
	}{
		{"forward", []scan.RunStatus{scan.RunRunning, scan.RunParsing}, scan.RunCompleted, nil, ""},
		{"fail", []scan.RunStatus{scan.RunRunning}, scan.RunFailed, nil, ""},
		{"cancel while pending", nil, scan.RunCancelled, nil, ""},
		{"final repeat", []scan.RunStatus{scan.RunFailed}, scan.RunFailed, nil, ""},
		{"final is final", []scan.RunStatus{scan.RunCancelled}, scan.RunRunning, ErrConflict, ""},
		{"final to final", []scan.RunStatus{scan.RunCompleted}, scan.RunFailed, ErrConflict, ""},
		{"parsing keeps a pause", []scan.RunStatus{scan.RunRunning, scan.RunPaused}, scan.RunParsing, nil, scan.RunPaused},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := st.CreateRun(ctx, f.scan.ID, fmt.Sprintf("wf-status-%d", i))
			must(t, err)
			for _, s := range tt.steps {
				must(t, st.SetRunStatus(ctx, r.ID, s, ""))
			}
			err = st.SetRunStatus(ctx, r.ID, tt.last, "boom")
			if tt.want != nil {
				wantErr(t, err, tt.want)
				return
			}
			must(t, err)
			got, err := st.GetRun(ctx, r.ID)
			must(t, err)
			if want := cmp.Or(tt.stays, tt.last); got.Status != want {
				t.Fatalf("status = %s, want %s", got.Status, want)
			}
			if ran := slices.Contains(tt.steps, scan.RunRunning); ran != (got.StartedAt != nil) {
				t.Fatalf("started_at = %v after steps %v", got.StartedAt, tt.steps)
			}
			if tt.last.Final() != (got.FinishedAt != nil) {
				t.Fatalf("finished_at = %v for %s", got.FinishedAt, tt.last)
			}
			// The first final error wins on a repeat.
			if tt.name != "final repeat" && tt.stays == "" && got.Error != "boom" {
				t.Fatalf("error = %q, want boom", got.Error)
			}
		})
	}
}

func TestSetRunTargets(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	r, err := st.CreateRun(ctx, f.scan.ID, "wf")
	must(t, err)
	res := scan.Resolved{Targets: []string{"198.18.0.0/25", "scanme.example"}, Excludes: []string{"198.18.0.1"}, Addresses: 129}
	must(t, st.SetRunTargets(ctx, r.ID, res))
	got, err := st.GetRun(ctx, r.ID)
	must(t, err)
	if !slices.Equal(got.Targets, res.Targets) || !slices.Equal(got.Excludes, res.Excludes) || got.Addresses != 129 {
		t.Fatalf("run = %+v", got)
	}
	must(t, st.SetRunTargets(ctx, r.ID, scan.Resolved{Targets: []string{"::/0"}, Addresses: math.MaxUint64}))
	got, err = st.GetRun(ctx, r.ID)
	must(t, err)
	if got.Addresses != math.MaxInt64 || len(got.Excludes) != 0 || got.Excludes == nil {
		t.Fatalf("run = %+v, want addresses clamped and excludes empty", got)
	}
}

func TestShards(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "a")
	r, err := st.CreateRun(ctx, f.scan.ID, "wf")
	must(t, err)

	s1, err := st.CreateShard(ctx, r.ID, 1, f.agent.ID, []string{"198.18.0.128/25"})
	must(t, err)
	s0, err := st.CreateShard(ctx, r.ID, 0, 0, []string{"198.18.0.0/25"})
	must(t, err)
	if s0.AgentID != 0 || s1.AgentID != f.agent.ID || s1.Status != scan.ShardPending || s1.Raw != nil {
		t.Fatalf("shards = %+v %+v", s0, s1)
	}
	again, err := st.CreateShard(ctx, r.ID, 1, 0, []string{"other"})
	must(t, err)
	if again.ID != s1.ID || again.AgentID != f.agent.ID || !slices.Equal(again.Targets, s1.Targets) {
		t.Fatalf("CreateShard again = %+v, want %+v", again, s1)
	}
	_, err = st.CreateShard(ctx, r.ID, 2, 424242, nil)
	wantErr(t, err, ErrNotFound)

	list, err := st.ListShards(ctx, r.ID)
	must(t, err)
	if len(list) != 2 || list[0].ID != s0.ID || list[1].ID != s1.ID {
		t.Fatalf("ListShards = %+v", list)
	}

	must(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: s1.ID, Status: scan.ShardRunning, Attempt: 1}))
	raw := testBlob("runs/1/1/1/nmap.xml")
	must(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: s1.ID, Status: scan.ShardScanned, Attempt: 1, Raw: &raw}))
	must(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: s1.ID, Status: scan.ShardCompleted})) // keeps attempt and raw
	got, err := st.GetShard(ctx, s1.ID)
	must(t, err)
	if got.Status != scan.ShardCompleted || got.Attempt != 1 || got.Raw == nil || *got.Raw != raw ||
		got.StartedAt == nil || got.FinishedAt == nil {
		t.Fatalf("shard = %+v", got)
	}
	must(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: s1.ID, Status: scan.ShardFailed, Attempt: 2, Error: "agent lost"}))
	got, err = st.GetShard(ctx, s1.ID)
	must(t, err)
	if got.Status != scan.ShardFailed || got.Attempt != 2 || got.Error != "agent lost" {
		t.Fatalf("shard = %+v", got)
	}
	wantErr(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: s1.ID, Status: "lost"}), ErrInvalid)
	bad := scan.BlobRef{Bucket: "b"}
	wantErr(t, st.UpdateShard(ctx, scan.ShardUpdate{ID: s1.ID, Status: scan.ShardScanned, Raw: &bad}), ErrInvalid)

	// Deleting an agent keeps the history of the shards it ran.
	spare, err := st.CreateAgent(ctx, scan.Agent{Name: "spare", TaskQueue: "agent.spare"})
	must(t, err)
	s2, err := st.CreateShard(ctx, r.ID, 2, spare.ID, nil)
	must(t, err)
	must(t, st.DeleteAgent(ctx, spare.ID))
	got, err = st.GetShard(ctx, s2.ID)
	must(t, err)
	if got.AgentID != 0 || got.Targets == nil {
		t.Fatalf("shard of a deleted agent = %+v", got)
	}
}
