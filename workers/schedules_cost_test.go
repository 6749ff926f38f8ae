package workers

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/schedules"
	"github.com/scantron/scantron/workflows"
)

// countingSchedules counts the per-schedule calls a reconcile pass makes.
type countingSchedules struct {
	client.ScheduleClient
	creates, describes, updates, deletes atomic.Int32
}

func (c *countingSchedules) Create(ctx context.Context, o client.ScheduleOptions) (client.ScheduleHandle, error) {
	c.creates.Add(1)
	return c.ScheduleClient.Create(ctx, o)
}

func (c *countingSchedules) GetHandle(ctx context.Context, id string) client.ScheduleHandle {
	return &countingHandle{ScheduleHandle: c.ScheduleClient.GetHandle(ctx, id), c: c}
}

func (c *countingSchedules) reset() (creates, describes, updates, deletes int32) {
	return c.creates.Swap(0), c.describes.Swap(0), c.updates.Swap(0), c.deletes.Swap(0)
}

type countingHandle struct {
	client.ScheduleHandle
	c *countingSchedules
}

func (h *countingHandle) Describe(ctx context.Context) (*client.ScheduleDescription, error) {
	h.c.describes.Add(1)
	return h.ScheduleHandle.Describe(ctx)
}

func (h *countingHandle) Update(ctx context.Context, o client.ScheduleUpdateOptions) error {
	h.c.updates.Add(1)
	return h.ScheduleHandle.Update(ctx, o)
}

func (h *countingHandle) Delete(ctx context.Context) error {
	h.c.deletes.Add(1)
	return h.ScheduleHandle.Delete(ctx)
}

// TestReconcileCostsChanges: against a real Temporal, once the listing
// shows every schedule with its key, a pass over unchanged scans makes no
// Create, Describe, Update or Delete call; a changed scan is updated, a
// deleted scan's schedule and a schedule made outside Scantron under our
// ID prefix are removed, each with calls for that schedule only.
func TestReconcileCostsChanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	store, tc := startScheduleStack(t, ctx)
	site, _ := store.CreateSite(ctx, scan.Site{Name: "s", Targets: []string{"127.0.0.1"}})
	prof, _ := store.CreateProfile(ctx, scan.Profile{Name: "p", Scanner: scan.Nmap, Options: "-n"})
	agent, _ := store.CreateAgent(ctx, scan.Agent{Name: "a", TaskQueue: workflows.AgentTaskQueue("a")})
	start := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	var scans []scan.Scan
	for i, rule := range []string{"FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO", "FREQ=DAILY;INTERVAL=3", "FREQ=HOURLY;BYMINUTE=7"} {
		s, err := store.CreateScan(ctx, scan.Scan{Name: "scan" + string(rune('a'+i)), SiteID: site.ID, ProfileID: prof.ID,
			AgentID: agent.ID, StartAt: &start, TimeZone: "UTC", RRule: rule, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		scans = append(scans, s)
	}
	counting := &countingSchedules{ScheduleClient: tc.ScheduleClient()}
	now := time.Now()
	r := &ScheduleReconciler{Store: store, Schedules: counting, Defaults: schedules.Defaults{CatchupWindow: time.Minute, Keyed: true},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
	rep, err := r.Once(ctx)
	if err != nil || rep.Created != len(scans) || !rep.Full {
		t.Fatalf("first pass: %+v, %v; want %d created in a full pass", rep, err, len(scans))
	}
	counting.reset()

	// quiet waits for a pass that makes no call at all: the listing is
	// eventually consistent, so the pass just after a change may still
	// describe the changed schedule once (and find it current).
	quiet := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			rep, err := r.Once(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c, d, u, del := counting.reset()
			if rep.Changed() {
				t.Fatalf("%s: a pass over unchanged scans did %+v", what, rep)
			}
			if c+d+u+del == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: passes over unchanged scans still make calls: %d creates, %d describes, %d updates, %d deletes", what, c, d, u, del)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	quiet("after the first pass")

	// A changed scan is updated, with one Describe and one Update.
	changed := scans[1]
	changed.RRule = "FREQ=WEEKLY;BYDAY=TU"
	if _, err := store.UpdateScan(ctx, changed); err != nil {
		t.Fatal(err)
	}
	rep, err = r.Once(ctx)
	if err != nil || rep.Updated != 1 || rep.Created+rep.Deleted+rep.Orphans != 0 {
		t.Fatalf("pass after one change: %+v, %v; want one update", rep, err)
	}
	if c, d, u, del := counting.reset(); c != 0 || d != 1 || u != 1 || del != 0 {
		t.Errorf("pass after one change made %d creates, %d describes, %d updates, %d deletes; want 1 describe, 1 update", c, d, u, del)
	}
	desc, err := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(changed.ID)).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next := desc.Info.NextActionTimes; len(next) == 0 || next[0].Weekday() != time.Tuesday {
		t.Errorf("updated schedule fires at %v; want Tuesdays", next)
	}
	quiet("after an update")

	// A deleted scan's schedule goes, and so does one created outside
	// Scantron under our ID prefix.
	if err := store.DeleteScan(ctx, scans[2].ID); err != nil {
		t.Fatal(err)
	}
	orphan := scan.Scan{ID: 987654, StartAt: &start, TimeZone: "UTC", RRule: "FREQ=DAILY", Enabled: true}
	want, err := schedules.Desired(orphan, r.Defaults, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.ScheduleClient().Create(ctx, want.Options); err != nil {
		t.Fatal(err)
	}
	removed := 0
	deadline := time.Now().Add(30 * time.Second)
	for removed < 2 {
		rep, err := r.Once(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Created+rep.Updated+rep.Deleted != 0 {
			t.Fatalf("pass after deletions did %+v", rep)
		}
		removed += rep.Orphans
		if time.Now().After(deadline) {
			t.Fatalf("after a minute %d of 2 orphan schedules were removed", removed)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, _, _, del := counting.reset(); del != 2 {
		t.Errorf("removing two orphans took %d deletes", del)
	}
	for _, id := range []int64{scans[2].ID, orphan.ID} {
		if _, err := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(id)).Describe(ctx); err == nil {
			t.Errorf("schedule of scan %d still exists", id)
		}
	}
	quiet("after removing orphans")

	// An hour on, one pass describes every schedule again (and finds all
	// in step), to catch edits made in Temporal that leave the key alone.
	now = now.Add(time.Hour)
	rep, err = r.Once(ctx)
	if err != nil || !rep.Full || rep.Changed() {
		t.Fatalf("hourly pass: %+v, %v; want a full pass without changes", rep, err)
	}
	if _, d, _, _ := counting.reset(); d != int32(len(scans)-1) {
		t.Errorf("full pass described %d schedules; want %d", d, len(scans)-1)
	}
}
