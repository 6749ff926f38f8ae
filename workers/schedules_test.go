package workers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
	"github.com/scantron/scantron/schedules"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// TestScheduleReconciler uses a real Temporal dev server and PostgreSQL:
// the reconciler creates missing schedules, brings back one deleted in
// Temporal, repairs a drifted spec and pause state, tops up an enumerated
// spec as time passes and deletes a schedule whose scan is gone.
func TestScheduleReconciler(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	store, tc := startScheduleStack(t, ctx)
	site, _ := store.CreateSite(ctx, scan.Site{Name: "s", Targets: []string{"127.0.0.1"}})
	prof, _ := store.CreateProfile(ctx, scan.Profile{Name: "p", Scanner: scan.Nmap, Options: "-n"})
	agent, _ := store.CreateAgent(ctx, scan.Agent{Name: "a", TaskQueue: workflows.AgentTaskQueue("a")})
	start := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	mk := func(name, zone, rule string, at *time.Time) scan.Scan {
		s, err := store.CreateScan(ctx, scan.Scan{Name: name, SiteID: site.ID, ProfileID: prof.ID, AgentID: agent.ID,
			StartAt: at, TimeZone: zone, RRule: rule, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cal := mk("calendar", "UTC", "FREQ=WEEKLY;BYDAY=MO,TH", &start)
	enum := mk("enumerated", "Europe/Berlin", "FREQ=DAILY;BYHOUR=2,3;BYMINUTE=30", &start)
	manual := mk("manual", "UTC", "", nil)

	now := time.Now()
	r := &ScheduleReconciler{Store: store, Schedules: tc.ScheduleClient(), Defaults: schedules.Defaults{CatchupWindow: time.Minute, Keyed: true},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
	once := func(want ScheduleReport) {
		t.Helper()
		got, err := r.Once(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got.Scans, got.Full = 0, false
		if got != want {
			t.Fatalf("reconcile did %+v, want %+v", got, want)
		}
	}
	// checkNext compares the schedule's next fire times with rrule-go's.
	checkNext := func(s scan.Scan) {
		t.Helper()
		desc, err := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(s.ID)).Describe(ctx)
		if err != nil {
			t.Fatalf("scan %d: %v", s.ID, err)
		}
		rule, err := schedule.Parse(s.StartAt, s.TimeZone, s.RRule, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		next := desc.Info.NextActionTimes
		want := rule.Next(time.Now(), len(next))
		if len(next) == 0 || !slices.EqualFunc(next, want, time.Time.Equal) || desc.Schedule.State.Paused != !s.Enabled {
			t.Errorf("scan %d: next %v, paused %v; want %v, paused %v", s.ID, next, desc.Schedule.State.Paused, want, !s.Enabled)
		}
	}

	if err := r.Synced(); !errors.Is(err, ErrSchedulesNotSynced) {
		t.Fatalf("Synced before any pass = %v, want ErrSchedulesNotSynced", err)
	}
	once(ScheduleReport{Created: 2})
	if err := r.Synced(); err != nil {
		t.Fatalf("Synced after a clean pass = %v", err)
	}
	checkNext(cal)
	checkNext(enum)
	if _, err := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(manual.ID)).Describe(ctx); err == nil {
		t.Error("a manual scan got a schedule")
	}
	once(ScheduleReport{})

	// Someone deletes one schedule and edits the other in Temporal, and a
	// schedule is left from a scan that no longer exists.
	if err := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(cal.ID)).Delete(ctx); err != nil {
		t.Fatal(err)
	}
	err := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(enum.ID)).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec = &client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}}
			s.State.Paused = true
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	gone := scan.Scan{ID: 987654, StartAt: &start, TimeZone: "UTC", RRule: "FREQ=DAILY", Enabled: true}
	want, err := schedules.Desired(gone, r.Defaults, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.ScheduleClient().Create(ctx, want.Options); err != nil {
		t.Fatal(err)
	}
	// Listing is eventually consistent, and not in order: a pass may see the
	// orphan before the edit of the other schedule, or the edit first. Pass
	// again until the three repairs are made, and count each only once.
	var repaired ScheduleReport
	want3 := ScheduleReport{Created: 1, Updated: 1, Orphans: 1}
	deadline := time.Now().Add(time.Minute)
	for {
		rep, err := r.Once(ctx)
		if err != nil {
			t.Fatal(err)
		}
		repaired.Created += rep.Created
		repaired.Updated += rep.Updated
		repaired.Deleted += rep.Deleted
		repaired.Orphans += rep.Orphans
		if repaired == want3 {
			break
		}
		if repaired.Created > 1 || repaired.Updated > 1 || repaired.Deleted > 0 || repaired.Orphans > 1 || time.Now().After(deadline) {
			t.Fatalf("repair passes did %+v in all (last pass %+v), want %+v", repaired, rep, want3)
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkNext(cal)
	checkNext(enum)
	if _, err := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(gone.ID)).Describe(ctx); err == nil {
		t.Error("the orphan schedule still exists")
	}
	once(ScheduleReport{})

	// Time passes: 30 days on, 40 of the enumerated scan's 100 listed fire
	// times (two a day, from 1 March 2027) are left, so it is topped up.
	now = start.AddDate(0, 0, 30)
	once(ScheduleReport{Updated: 1})
	desc, err := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(enum.ID)).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	times, ok := schedules.EnumeratedTimes(*desc.Schedule.Spec)
	rule, _ := schedule.Parse(enum.StartAt, enum.TimeZone, enum.RRule, now)
	if wantTimes := rule.Next(now, schedule.Enumerate); !ok || !slices.EqualFunc(times, wantTimes, time.Time.Equal) {
		t.Errorf("topped-up spec lists %d times from %v; want %d from %v", len(times), times[0], len(wantTimes), wantTimes[0])
	}
	once(ScheduleReport{})

	// A server whose first passes fail is not synced, says why, and tries
	// again within seconds rather than at the next Every.
	failing := &failingLister{ScanLister: store, failures: 2}
	r2 := &ScheduleReconciler{Store: failing, Schedules: tc.ScheduleClient(), Defaults: r.Defaults,
		Logger: r.Logger, Every: time.Hour}
	if _, err := r2.Once(ctx); err == nil {
		t.Fatal("a pass whose ListScans failed reported no error")
	}
	if err := r2.Synced(); !errors.Is(err, ErrSchedulesNotSynced) || !strings.Contains(err.Error(), "database went away") {
		t.Fatalf("Synced after a failed pass = %v, want ErrSchedulesNotSynced with the cause", err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r2.Run(rctx) }()
	t.Cleanup(func() { stop(); <-done })
	deadline = time.Now().Add(time.Minute)
	for r2.Synced() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not retry a failed first pass within a minute: %v", r2.Synced())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := failing.calls.Load(); n < 3 {
		t.Errorf("ListScans called %d times; want the failed Once, a failed pass and a good one", n)
	}
}

// failingLister fails its first failures calls to ListScans.
type failingLister struct {
	ScanLister
	failures int32
	calls    atomic.Int32
}

func (f *failingLister) ListScans(ctx context.Context) ([]scan.Scan, error) {
	if f.calls.Add(1) <= f.failures {
		return nil, errors.New("database went away")
	}
	return f.ScanLister.ListScans(ctx)
}

// startScheduleStack starts PostgreSQL (migrated) and a Temporal dev server
// for a test and dials Temporal.
func startScheduleStack(t *testing.T, ctx context.Context) (*postgres.Store, client.Client) {
	t.Helper()
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	tmp, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{Headless: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tmp.Stop() })
	store, err := postgres.Open(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tc, err := tmp.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)

	return store, tc
}
