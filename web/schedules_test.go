package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/schedules"
	"github.com/scantron/scantron/workflows"
)

// TestScheduleBadInput: every bad schedule is a 400 naming the problem, and
// neither PostgreSQL nor Temporal gains anything; a bad edit leaves the
// scan and its schedule as they were.
func TestScheduleBadInput(t *testing.T) {
	e := newEnv(t) // now is 2030-01-02T03:04:05Z
	f := makeFixtures(t, e)
	sched := e.temporal.ScheduleClient().(*fakeSchedules)
	body := func(name, extra string) string {
		return fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d%s}`, name, f.site.ID, f.profile.ID, f.agent.ID, extra)
	}
	cases := []struct{ name, extra, want string }{
		{"invalid rrule", `, "start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=DAILY;BYDAY=XX"`, `rrule: "FREQ=DAILY;BYDAY=XX" is not a valid RRULE`},
		{"unknown property", `, "start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=DAILY;EVERY=2"`, "unknown RRULE property: EVERY"},
		{"unknown time zone", `, "start_at": "2030-02-01T09:00:00Z", "time_zone": "Europe/Atlantis", "rrule": "FREQ=DAILY"`, `time_zone: "Europe/Atlantis" is not a known IANA time zone`},
		{"until before start", `, "start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=DAILY;UNTIL=20300101T000000Z"`, "rrule: UNTIL 2030-01-01T00:00:00Z is before start_at 2030-02-01T09:00:00Z"},
		{"count exhausted", `, "start_at": "2029-12-01T09:00:00Z", "rrule": "FREQ=DAILY;COUNT=5"`, "rrule: COUNT=5 is exhausted"},
		{"no future occurrence", `, "start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31"`, "rrule: the rule has no occurrence between now and the end of 2100"},
		{"until in the past", `, "start_at": "2029-12-01T09:00:00Z", "rrule": "FREQ=DAILY;UNTIL=20291231T000000Z"`, "rrule: UNTIL 2029-12-31T00:00:00Z is in the past"},
		{"one-shot in the past", `, "start_at": "2029-12-01T09:00:00Z"`, "start_at: 2029-12-01T09:00:00Z is in the past"},
		{"secondly", `, "start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=SECONDLY"`, "rrule: FREQ=SECONDLY is not supported"},
		{"rrule alone", `, "rrule": "FREQ=DAILY"`, "start_at: required with rrule"},
	}
	before, err := testStore.ListScans(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := uniq("bad")
			w := e.do(t, "POST", "/api/v1/scans", body(name, c.extra))
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", w.Code, w.Body.String())
			}
			if msg := errorOf(t, w); !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not contain %q", msg, c.want)
			}
		})
	}
	after, err := testStore.ListScans(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("bad scans were stored: %d scans before, %d after", len(before), len(after))
	}
	if ids := sched.ids(); len(ids) != 0 {
		t.Errorf("schedules were created for bad scans: %v", ids)
	}

	// A good scheduled scan, then bad edits of it.
	var good scanView
	name := uniq("good")
	e.mustDo(t, "POST", "/api/v1/scans", body(name, `, "start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=WEEKLY;BYDAY=MO"`), http.StatusCreated, &good)
	if good.Schedule == nil || good.Schedule.Form != "calendar" || len(good.Schedule.NextFireTimes) != 10 {
		t.Fatalf("created scan's schedule: %+v", good.Schedule)
	}
	stored := sched.byID[workflows.ScanScheduleID(good.ID)]
	for _, c := range cases {
		w := e.do(t, "PUT", fmt.Sprintf("/api/v1/scans/%d", good.ID), body(name, c.extra))
		if w.Code != http.StatusBadRequest {
			t.Fatalf("%s: edit status %d, want 400", c.name, w.Code)
		}
	}
	got, err := testStore.GetScan(context.Background(), good.ID)
	if err != nil || got.RRule != "FREQ=WEEKLY;BYDAY=MO" || !got.StartAt.Equal(time.Date(2030, 2, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("bad edits changed the scan: %+v, %v", got, err)
	}
	if now := sched.byID[workflows.ScanScheduleID(good.ID)]; !slices.Equal(sched.ids(), []string{workflows.ScanScheduleID(good.ID)}) ||
		fmt.Sprint(now.Spec) != fmt.Sprint(stored.Spec) {
		t.Errorf("bad edits changed the schedule: %+v", now.Spec)
	}
	// Pausing a manual scan, triggering or backfilling one: 409.
	manual := e.makeScan(t, f)
	for _, p := range []string{"pause", "resume", "trigger"} {
		w := e.do(t, "POST", fmt.Sprintf("/api/v1/scans/%d/%s", manual.ID, p), `{"by": "ann"}`)
		if w.Code != http.StatusConflict || !strings.Contains(errorOf(t, w), "has no schedule") {
			t.Errorf("%s of a manual scan: %d %s", p, w.Code, w.Body.String())
		}
	}
	for _, c := range []struct{ body, want string }{
		{`{"start": "yesterday", "end": "2030-01-01T00:00:00Z"}`, `start: "yesterday" is not an RFC 3339 time`},
		{`{"start": "2030-01-01T00:00:00Z", "end": "2029-01-01T00:00:00Z"}`, "end: 2029-01-01T00:00:00Z is not after start"},
		{`{"start": "2030-01-01T00:00:00Z", "end": "2031-01-01T00:00:00Z"}`, "end: 2031-01-01T00:00:00Z is in the future"},
	} {
		w := e.do(t, "POST", fmt.Sprintf("/api/v1/scans/%d/backfill", good.ID), c.body)
		if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), c.want) {
			t.Errorf("backfill %s: %d %s", c.body, w.Code, w.Body.String())
		}
	}
	for _, p := range []string{"pause", "trigger", "backfill"} {
		if w := e.do(t, "POST", fmt.Sprintf("/api/v1/scans/%d/%s", 987654321, p), `{}`); w.Code != http.StatusNotFound {
			t.Errorf("%s of a missing scan: %d", p, w.Code)
		}
	}
}

// TestScheduleTemporalDown: when Temporal refuses the schedule, the scan
// is not created (or its edit is undone) and the answer says so.
func TestScheduleTemporalDown(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	sched := e.temporal.ScheduleClient().(*fakeSchedules)
	sched.err = errors.New("connection refused")
	name := uniq("down")
	w := e.do(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=DAILY"}`,
		name, f.site.ID, f.profile.ID, f.agent.ID))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, w), "no scan was created") {
		t.Fatalf("create while Temporal is down: %d %s", w.Code, w.Body.String())
	}
	scans, err := testStore.ListScans(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scans {
		if s.Name == name {
			t.Errorf("scan %q was stored although its schedule was not created", name)
		}
	}
}

// scheduleEnv is a web server whose schedules live on a real Temporal dev
// server, with a worker that stands in for ScanWorkflow and records the
// fires it gets, so that triggers and backfills can be checked.
type scheduleEnv struct {
	*testEnv
	tc    client.Client
	mu    sync.Mutex
	fires map[string]time.Time // workflow ID -> when it ran
}

func newScheduleEnv(t *testing.T) *scheduleEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmp, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{Headless: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tmp.Stop() })
	tc, err := tmp.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	se := &scheduleEnv{tc: tc, fires: map[string]time.Time{}}
	w := worker.New(tc, workflows.ServerTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.ScanInput) (workflows.ScanResult, error) {
		se.mu.Lock()
		se.fires[workflow.GetInfo(ctx).WorkflowExecution.ID] = workflow.Now(ctx)
		se.mu.Unlock()
		return workflows.ScanResult{}, nil
	}, workflow.RegisterOptions{Name: "ScanWorkflow"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	e := &testEnv{temporal: &fakeTemporal{}, objects: &fakeObjects{}, logs: &syncBuffer{}}
	srv, err := New(Config{Logger: slog.New(slog.NewTextHandler(e.logs, nil)), Schedule: schedules.Defaults{CatchupWindow: time.Minute}},
		Deps{Store: testStore, Objects: e.objects, Temporal: e.temporal, Schedules: tc})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.h = srv.Routes()
	e.token = e.userToken(t, accounts.Admin)
	se.testEnv = e
	return se
}

// firesOf returns the workflow IDs the scan's schedule started so far.
func (se *scheduleEnv) firesOf(scanID int64) []string {
	se.mu.Lock()
	defer se.mu.Unlock()
	var out []string
	for id := range se.fires {
		if strings.HasPrefix(id, workflows.ScanScheduledWorkflowID(scanID)+"-") {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (se *scheduleEnv) waitFires(t *testing.T, scanID int64, n int) []string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := se.firesOf(scanID)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestScheduledScanLifecycle drives a scheduled scan through the API
// against a real Temporal server: create, read (next fire times as the
// server has them), edit in place, pause and resume with a note, trigger,
// backfill a past window, delete.
func TestScheduledScanLifecycle(t *testing.T) {
	se := newScheduleEnv(t)
	ctx := context.Background()
	f := makeFixtures(t, se.testEnv)
	start := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Hour)
	name := uniq("sched")
	body := func(rule string, extra string) string {
		return fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "start_at": %q, "time_zone": "UTC", "rrule": %q%s}`,
			name, f.site.ID, f.profile.ID, f.agent.ID, start.Format(time.RFC3339), rule, extra)
	}
	var v scanView
	se.mustDo(t, "POST", "/api/v1/scans", body("FREQ=DAILY;BYHOUR=3,15", ""), http.StatusCreated, &v)
	if v.Schedule == nil || v.Schedule.Form != "calendar" || v.Overlap != "skip" {
		t.Fatalf("created: %+v", v)
	}
	handle := se.tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(v.ID))
	desc, err := handle.Describe(ctx)
	if err != nil {
		t.Fatalf("schedule not in Temporal: %v", err)
	}
	if desc.Schedule.Policy.CatchupWindow != time.Minute {
		t.Errorf("catch-up window %v, want the server default 1m", desc.Schedule.Policy.CatchupWindow)
	}

	var got scanView
	se.mustDo(t, "GET", fmt.Sprintf("/api/v1/scans/%d", v.ID), "", http.StatusOK, &got)
	if got.Schedule == nil || len(got.Schedule.NextFireTimes) != 10 || got.Schedule.Temporal == nil || !got.Schedule.Temporal.Exists {
		t.Fatalf("get: %+v", got.Schedule)
	}
	next := got.Schedule.Temporal.NextActionTimes
	if len(next) == 0 || !slices.EqualFunc(next, got.Schedule.NextFireTimes[:len(next)], time.Time.Equal) {
		t.Errorf("Temporal's next times %v differ from the API's %v", next, got.Schedule.NextFireTimes)
	}

	// Backfill on the calendar form: the last three days, six fires.
	calendarFires := len(se.backfill(t, v.ID, start, time.Now().UTC().Add(-72*time.Hour), 0))
	if calendarFires < 5 {
		t.Errorf("backfill of three days of a twice-daily rule started %d runs", calendarFires)
	}

	// Recent runs, newest first, with their status.
	var runIDs []int64
	for i := range 3 {
		r, err := testStore.CreateRun(ctx, v.ID, fmt.Sprintf("%s-%d", workflows.ScanScheduledWorkflowID(v.ID), i))
		if err != nil {
			t.Fatal(err)
		}
		runIDs = append(runIDs, r.ID)
	}
	se.mustDo(t, "GET", fmt.Sprintf("/api/v1/scans/%d", v.ID), "", http.StatusOK, &got)
	if len(got.RecentRuns) != 3 || got.RecentRuns[0].ID != runIDs[2] || got.RecentRuns[0].Status != scan.RunPending {
		t.Errorf("recent runs %+v", got.RecentRuns)
	}
	for _, id := range runIDs {
		if err := testStore.DeleteRun(ctx, id); err != nil {
			t.Fatal(err)
		}
	}

	// Edit in place: a rule that needs enumerating, and a per-scan policy.
	se.mustDo(t, "PUT", fmt.Sprintf("/api/v1/scans/%d", v.ID), body("FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=22", `, "overlap": "buffer_one", "catchup_window_seconds": 120`), http.StatusOK, &v)
	if v.Schedule.Form != "enumerated" {
		t.Fatalf("edited form %s", v.Schedule.Form)
	}
	desc, err = handle.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(desc.Info.NextActionTimes, v.Schedule.NextFireTimes[:len(desc.Info.NextActionTimes)], time.Time.Equal) ||
		desc.Schedule.Policy.CatchupWindow != 2*time.Minute || desc.Schedule.Policy.Overlap.String() != "BufferOne" {
		t.Errorf("edited schedule: next %v want %v; policy %+v", desc.Info.NextActionTimes, v.Schedule.NextFireTimes, desc.Schedule.Policy)
	}

	// Pause and resume, saying who and why.
	se.mustDo(t, "POST", fmt.Sprintf("/api/v1/scans/%d/pause", v.ID), `{"by": "ann", "note": "maintenance window"}`, http.StatusOK, &v)
	desc, err = handle.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !desc.Schedule.State.Paused || !strings.Contains(desc.Schedule.State.Note, "paused by admin-") || !strings.Contains(desc.Schedule.State.Note, " for ann") || !strings.Contains(desc.Schedule.State.Note, "maintenance window") || v.Enabled {
		t.Errorf("paused: state %+v, scan enabled %v", desc.Schedule.State, v.Enabled)
	}
	se.mustDo(t, "POST", fmt.Sprintf("/api/v1/scans/%d/resume", v.ID), `{"note": "done"}`, http.StatusOK, &v)
	desc, err = handle.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Schedule.State.Paused || !strings.HasPrefix(desc.Schedule.State.Note, "resumed by ") || !v.Enabled {
		t.Errorf("resumed: state %+v, scan enabled %v", desc.Schedule.State, v.Enabled)
	}

	// Disabling through an edit pauses too, and says so.
	se.mustDo(t, "PUT", fmt.Sprintf("/api/v1/scans/%d", v.ID), body("FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=22", `, "overlap": "buffer_one", "catchup_window_seconds": 120, "enabled": false`), http.StatusOK, &v)
	desc, err = handle.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !desc.Schedule.State.Paused || !strings.Contains(desc.Schedule.State.Note, "edit of the scan") || v.PauseNote != desc.Schedule.State.Note {
		t.Errorf("disabled by an edit: state %+v, scan note %q", desc.Schedule.State, v.PauseNote)
	}
	se.mustDo(t, "POST", fmt.Sprintf("/api/v1/scans/%d/resume", v.ID), `{"by": "ann"}`, http.StatusOK, &v)

	// Trigger now: one run, through the schedule.
	se.mustDo(t, "POST", fmt.Sprintf("/api/v1/scans/%d/trigger", v.ID), "", http.StatusAccepted, nil)
	if fires := se.waitFires(t, v.ID, calendarFires+1); len(fires) != calendarFires+1 {
		t.Fatalf("after the trigger, the schedule started %v", fires)
	}

	// Backfill the last 40 days: exactly the rule's fire times in it.
	backfilled := se.backfill(t, v.ID, start, time.Now().UTC().Add(-40*24*time.Hour), 1+calendarFires)
	if len(backfilled) == 0 {
		t.Fatal("backfill reported no fire times")
	}

	// Delete: the schedule goes with the scan.
	if w := se.do(t, "DELETE", fmt.Sprintf("/api/v1/scans/%d", v.ID), ""); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", w.Code, w.Body.String())
	}
	if _, err := handle.Describe(ctx); err == nil {
		t.Error("schedule still exists after its scan was deleted")
	}
}

// backfill asks for the window [from, a minute ago] and checks that the
// schedule started exactly the fire times the API reported, besides the
// already fired ones it had started before.
func (se *scheduleEnv) backfill(t *testing.T, scanID int64, ruleStart, from time.Time, already int) []time.Time {
	t.Helper()
	to := time.Now().UTC().Add(-time.Minute)
	var bf struct {
		FireTimes []time.Time `json:"fire_times"`
	}
	se.mustDo(t, "POST", fmt.Sprintf("/api/v1/scans/%d/backfill", scanID),
		fmt.Sprintf(`{"by": "ann", "start": %q, "end": %q}`, from.Format(time.RFC3339), to.Format(time.RFC3339)), http.StatusAccepted, &bf)
	var want []string
	for _, ft := range bf.FireTimes {
		if ft.Before(ruleStart) || ft.Before(from) || ft.After(to) {
			t.Errorf("backfill fire time %v outside the rule or window", ft)
		}
		want = append(want, workflows.ScanScheduledWorkflowID(scanID)+"-"+ft.UTC().Format(time.RFC3339))
	}
	fires := se.waitFires(t, scanID, already+len(want))
	for _, w := range want {
		if !slices.Contains(fires, w) {
			t.Errorf("backfill did not start %s; started %v", w, fires)
		}
	}
	// Give a stray extra start a moment to show up.
	time.Sleep(time.Second)
	if fires := se.firesOf(scanID); len(fires) != already+len(want) {
		t.Errorf("started %d workflows, want %d before and %d backfilled: %v", len(fires), already, len(want), fires)
	}
	return bf.FireTimes
}

// TestFinishedScheduleCanBeEdited: a scan whose one-shot time has passed
// keeps that time through an edit of its other fields; changing the time
// to another past one is still refused.
func TestFinishedScheduleCanBeEdited(t *testing.T) {
	e := newEnv(t) // now is 2030-01-02T03:04:05Z
	f := makeFixtures(t, e)
	past := time.Date(2029, 12, 1, 9, 0, 0, 0, time.UTC)
	s, err := testStore.CreateScan(context.Background(), scan.Scan{Name: uniq("done"), SiteID: f.site.ID, ProfileID: f.profile.ID,
		AgentID: f.agent.ID, StartAt: &past, TimeZone: "UTC", RRule: "FREQ=DAILY;COUNT=3", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	body := func(name, start string) string {
		return fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "start_at": %q, "time_zone": "UTC", "rrule": "FREQ=DAILY;COUNT=3"}`,
			name, f.site.ID, f.profile.ID, f.agent.ID, start)
	}
	var v scanView
	e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/scans/%d", s.ID), body(s.Name+"-renamed", "2029-12-01T10:00:00+01:00"), http.StatusOK, &v)
	if v.Name != s.Name+"-renamed" || v.Schedule != nil {
		t.Errorf("renamed finished scan: %+v", v)
	}
	w := e.do(t, "PUT", fmt.Sprintf("/api/v1/scans/%d", s.ID), body(s.Name, "2029-12-02T09:00:00Z"))
	if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), "COUNT=3 is exhausted") {
		t.Errorf("moving a finished schedule to another past start: %d %s", w.Code, w.Body.String())
	}
}
