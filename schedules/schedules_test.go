package schedules

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
	"github.com/scantron/scantron/workflows"
)

// corpusRule is one schedule of the exactness corpus.
type corpusRule struct {
	start string // RFC 3339
	zone  string
	rule  string
}

// scheduleCorpus covers the rules operators write and the cases where a
// calendar reading and RFC 5545 part ways: DST changes in zones that have
// them, 29 February, month ends, negative BYMONTHDAY, BYSETPOS, ordinal
// BYDAY, BYWEEKNO, BYYEARDAY, INTERVAL, COUNT, UNTIL and EXDATE. Every
// start lies in the future, so no schedule fires while the test runs.
var scheduleCorpus = []corpusRule{
	// Fixed-offset zone: calendar form.
	{"2027-01-01T09:00:00Z", "UTC", "FREQ=DAILY"},
	{"2027-01-01T09:30:15Z", "UTC", "FREQ=HOURLY"},
	{"2027-01-01T00:00:00Z", "UTC", "FREQ=MINUTELY;BYMINUTE=0,15,30,45"},
	{"2027-01-01T00:00:00Z", "UTC", "FREQ=MINUTELY"},
	{"2027-01-04T02:00:00Z", "UTC", "FREQ=WEEKLY;BYDAY=MO,WE,FR"},
	{"2027-01-04T02:00:00Z", "UTC", "FREQ=WEEKLY"},
	{"2027-01-31T23:00:00Z", "UTC", "FREQ=MONTHLY"},
	{"2027-01-15T06:00:00Z", "UTC", "FREQ=MONTHLY;BYMONTHDAY=1,15,31"},
	{"2028-02-29T12:00:00Z", "UTC", "FREQ=YEARLY"},
	{"2027-01-01T00:00:00Z", "UTC", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"},
	{"2027-03-01T08:00:00Z", "UTC", "FREQ=DAILY;BYDAY=SA,SU;BYHOUR=8,20;BYMINUTE=0,30"},
	{"2027-01-01T01:02:03Z", "UTC", "FREQ=DAILY;UNTIL=20270110T010203Z"},
	{"2027-01-01T05:00:00Z", "UTC", "FREQ=DAILY\nEXDATE:20270102T050000Z,20270105T050000Z"},
	{"2027-01-01T05:00:00Z", "Etc/GMT-5", "FREQ=DAILY;BYHOUR=3,23"},
	{"2027-06-01T00:00:00Z", "UTC", "FREQ=YEARLY;BYMONTH=1,7;BYDAY=MO"},
	{"2027-01-13T13:13:00Z", "UTC", "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR"},
	// Fixed-offset zone, INTERVAL>1 and no BY* part: interval form.
	{"2027-01-01T06:45:30Z", "Etc/GMT+3", "FREQ=HOURLY;INTERVAL=5"},
	{"2027-01-03T12:00:00Z", "UTC", "FREQ=WEEKLY;INTERVAL=2;UNTIL=20270601T120000Z\nEXDATE:20270117T120000Z"},
	{"2027-01-01T00:00:07Z", "UTC", "FREQ=MINUTELY;INTERVAL=90"},
	// Needs enumeration: COUNT, ordinals, negative days, BYSETPOS, BY* with
	// INTERVAL>1…
	{"2027-01-01T09:00:00Z", "UTC", "FREQ=DAILY;INTERVAL=3"},
	{"2027-01-01T09:00:00Z", "UTC", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU"},
	{"2027-01-01T09:00:00Z", "UTC", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=MO"},
	{"2027-01-01T00:10:00Z", "UTC", "FREQ=MINUTELY;INTERVAL=7"},
	{"2027-01-01T00:00:00Z", "UTC", "FREQ=HOURLY;INTERVAL=5;COUNT=30"},
	{"2027-01-01T09:00:00Z", "UTC", "FREQ=DAILY;COUNT=10"},
	{"2027-01-01T18:00:00Z", "UTC", "FREQ=MONTHLY;BYDAY=-1FR"},
	{"2027-01-01T18:00:00Z", "UTC", "FREQ=MONTHLY;BYDAY=1MO,3MO"},
	{"2027-01-01T07:00:00Z", "UTC", "FREQ=MONTHLY;BYMONTHDAY=-1"},
	{"2027-01-01T07:00:00Z", "UTC", "FREQ=MONTHLY;BYMONTHDAY=-3,1"},
	{"2027-01-01T07:00:00Z", "UTC", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"},
	{"2027-01-01T07:00:00Z", "UTC", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,2"},
	{"2027-01-01T10:00:00Z", "UTC", "FREQ=YEARLY;BYWEEKNO=1,20;BYDAY=MO"},
	{"2027-01-01T10:00:00Z", "UTC", "FREQ=YEARLY;BYYEARDAY=1,100,-1"},
	{"2027-01-01T10:00:00Z", "UTC", "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH"},
	{"2027-01-01T10:00:00Z", "UTC", "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=31"},
	{"2028-02-29T06:00:00Z", "UTC", "FREQ=YEARLY;INTERVAL=4;COUNT=3"},
	// Zones with DST: always enumerated (gaps and repeated hours).
	{"2027-03-10T02:30:00-05:00", "America/New_York", "FREQ=DAILY"},
	{"2027-03-13T01:30:00-05:00", "America/New_York", "FREQ=HOURLY;INTERVAL=1;COUNT=40"},
	{"2027-11-06T00:30:00-04:00", "America/New_York", "FREQ=MINUTELY;INTERVAL=30"},
	{"2027-10-30T01:30:00-04:00", "America/New_York", "FREQ=DAILY;BYHOUR=1;BYMINUTE=30"},
	{"2027-03-26T02:30:00+01:00", "Europe/Berlin", "FREQ=DAILY;BYHOUR=2,3;BYMINUTE=30"},
	{"2027-03-01T09:00:00+01:00", "Europe/Berlin", "FREQ=WEEKLY;BYDAY=MO,FR"},
	{"2027-01-31T23:30:00+01:00", "Europe/Berlin", "FREQ=MONTHLY;BYMONTHDAY=-1,-2"},
	{"2027-01-01T00:00:00+11:00", "Australia/Sydney", "FREQ=MONTHLY;BYDAY=1SU;BYHOUR=2,3"},
	{"2027-01-01T08:00:00+01:00", "Europe/Berlin", "FREQ=DAILY;UNTIL=20270401T080000\nEXDATE:20270328T080000,20270329T080000"},
	{"2028-02-29T09:00:00-05:00", "America/New_York", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1"},
	{"2027-01-01T12:00:00+05:30", "Asia/Kolkata", "FREQ=DAILY;INTERVAL=2"},
	{"2027-01-01T04:45:00+13:45", "Pacific/Chatham", "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2,3"},
	{"2027-01-01T09:00:00-03:00", "America/Sao_Paulo", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=3;COUNT=12"},
	{"2027-03-14T00:00:00-08:00", "America/Los_Angeles", "FREQ=MINUTELY;INTERVAL=20;BYHOUR=1,2,3"},
}

// TestScheduleCorpusAgainstServer creates the Temporal Schedule of every
// corpus rule on a real dev server and compares the fire times the server
// reports for it (ListScheduleMatchingTimes over the window of the next 25
// rrule-go occurrences, and describe's NextActionTimes) with rrule-go's.
func TestScheduleCorpusAgainstServer(t *testing.T) {
	if len(scheduleCorpus) < 40 {
		t.Fatalf("corpus has %d rules, want at least 40", len(scheduleCorpus))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
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

	forms := map[schedule.Form]int{}
	for i, c := range scheduleCorpus {
		t.Run(fmt.Sprintf("%02d_%s_%s", i, c.zone, c.rule), func(t *testing.T) {
			start, err := time.Parse(time.RFC3339, c.start)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			sc := scan.Scan{ID: int64(1000 + i), StartAt: &start, TimeZone: c.zone, RRule: c.rule, Enabled: true}
			want, err := Desired(sc, Defaults{CatchupWindow: time.Minute}, now)
			if err != nil || want == nil {
				t.Fatalf("desired schedule: %v (nil: %v)", err, want == nil)
			}
			forms[want.Spec.Form]++
			expect := want.Rule.Next(now, 25)
			if len(expect) == 0 {
				t.Fatal("rrule-go gives no occurrence")
			}
			if _, err := tc.ScheduleClient().Create(ctx, want.Options); err != nil {
				t.Fatal(err)
			}
			// The window runs one second past the 25th occurrence (or a
			// year past the last, for rules that end sooner).
			end := expect[len(expect)-1].Add(time.Second)
			if len(expect) < 25 {
				end = expect[len(expect)-1].AddDate(1, 0, 0)
			}
			got := matchingTimes(ctx, t, tc, want.Options.ID, now, end)
			if !slices.EqualFunc(got, expect, time.Time.Equal) {
				t.Fatalf("form %s: server fire times differ from rrule-go\n server: %v\n rrule:  %v", want.Spec.Form, utc(got), utc(expect))
			}
			desc, err := tc.ScheduleClient().GetHandle(ctx, want.Options.ID).Describe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			next := desc.Info.NextActionTimes
			if len(next) == 0 || len(next) > len(expect) || !slices.EqualFunc(next, expect[:len(next)], time.Time.Equal) {
				t.Fatalf("describe NextActionTimes %v are not the start of rrule-go's %v", utc(next), utc(expect))
			}
			// What was created reads back as in step: no repair needed.
			if res, err := Sync(ctx, tc.ScheduleClient(), sc, Defaults{CatchupWindow: time.Minute}, time.Now()); err != nil || res != SyncUnchanged {
				t.Fatalf("sync after create: %v, %v; want unchanged", res, err)
			}
		})
	}
	t.Logf("forms: %v", forms)
	if forms[schedule.FormCalendar] < 10 || forms[schedule.FormEnumerated] < 10 || forms[schedule.FormInterval] < 3 {
		t.Errorf("forms %v: the corpus should exercise both forms", forms)
	}
}

func matchingTimes(ctx context.Context, t *testing.T, tc client.Client, id string, from, to time.Time) []time.Time {
	t.Helper()
	resp, err := tc.WorkflowService().ListScheduleMatchingTimes(ctx, &workflowservice.ListScheduleMatchingTimesRequest{
		Namespace: "default", ScheduleId: id,
		StartTime: timestamppb.New(from), EndTime: timestamppb.New(to),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, ts := range resp.GetStartTime() {
		out = append(out, ts.AsTime())
	}
	return out
}

func utc(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(time.RFC3339)
	}
	return out
}

// TestCatchupWindowAfterOutage stops the Temporal server while a schedule
// should fire every 5 s and starts it again 40 s later: only fires within
// the scan's catch-up window (10 s) start late, the rest are counted as
// missed, so an outage is not followed by a burst of stale scans.
func TestCatchupWindowAfterOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a minute")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	opt := devstack.TemporalOptions{Headless: true, Port: port, DBFile: filepath.Join(t.TempDir(), "temporal.db")}
	tmp, err := devstack.StartTemporal(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tmp.Dial(ctx)
	if err != nil {
		tmp.Stop()
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(time.Minute)
	// allow_all: with no worker, started workflows never end, and every
	// fire must still start one.
	sc := scan.Scan{ID: 7, StartAt: &start, TimeZone: "UTC", RRule: "FREQ=MINUTELY;BYSECOND=0,5,10,15,20,25,30,35,40,45,50,55",
		Enabled: true, Overlap: "allow_all", CatchupWindowSeconds: 10}
	if _, err := Sync(ctx, tc.ScheduleClient(), sc, Defaults{CatchupWindow: time.Hour}, time.Now()); err != nil {
		t.Fatal(err)
	}
	h := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(sc.ID))
	waitActions := func(h client.ScheduleHandle, n int) *client.ScheduleDescription {
		t.Helper()
		for {
			desc, err := h.Describe(ctx)
			if err == nil && desc.Info.NumActions >= n {
				return desc
			}
			if ctx.Err() != nil {
				t.Fatalf("waiting for %d actions: %v", n, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	before := waitActions(h, 2).Info.NumActions
	tc.Close()
	if err := tmp.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	time.Sleep(40 * time.Second) // the outage
	restart := time.Now()
	tmp, err = devstack.StartTemporal(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tmp.Stop() })
	tc, err = tmp.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	h = tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(sc.ID))
	// The scheduler cannot resume before the server starts again, so every
	// fire more than the window (10 s) before the restart is missed, however
	// long the start takes on a busy machine; fires after that may start
	// late. Wait until the scheduler has counted the missed ones.
	missedAtLeast := int((restart.Sub(down)-10*time.Second)/(5*time.Second)) - 1
	var desc *client.ScheduleDescription
	settle := time.Now().Add(2 * time.Minute)
	for {
		desc = waitActions(h, before+1)
		if desc.Info.NumActionsMissedCatchupWindow >= missedAtLeast || time.Now().After(settle) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("down %v: %d actions before, %d after, %d missed the catch-up window",
		restart.Sub(down).Round(time.Second), before, desc.Info.NumActions, desc.Info.NumActionsMissedCatchupWindow)
	if desc.Info.NumActionsMissedCatchupWindow < missedAtLeast {
		t.Errorf("only %d fires missed the catch-up window in a %v outage, want at least %d",
			desc.Info.NumActionsMissedCatchupWindow, restart.Sub(down).Round(time.Second), missedAtLeast)
	}
	for _, a := range desc.Info.RecentActions {
		if late := a.ActualTime.Sub(a.ScheduleTime); late > 10*time.Second+5*time.Second {
			t.Errorf("fire of %v started %v late, beyond the 10 s catch-up window", a.ScheduleTime, late)
		}
	}
}

// TestOverlapSkipByDefault: with the default policy a scan never has two
// scheduled runs at once; fires while one runs are skipped, and counted.
func TestOverlapSkipByDefault(t *testing.T) {
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
	start := time.Now().UTC().Truncate(time.Minute)
	// No worker polls, so the first run never ends.
	sc := scan.Scan{ID: 8, StartAt: &start, TimeZone: "UTC", RRule: "FREQ=MINUTELY;BYSECOND=0,3,6,9,12,15,18,21,24,27,30,33,36,39,42,45,48,51,54,57", Enabled: true}
	if _, err := Sync(ctx, tc.ScheduleClient(), sc, Defaults{CatchupWindow: time.Minute}, time.Now()); err != nil {
		t.Fatal(err)
	}
	h := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(sc.ID))
	for {
		desc, err := h.Describe(ctx)
		if err != nil {
			// One Describe may outlast its own RPC deadline on a busy
			// machine; only the test's deadline is final.
			if ctx.Err() != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			continue
		}
		if desc.Info.NumActionsSkippedOverlap >= 3 {
			if desc.Info.NumActions != 1 || len(desc.Info.RunningWorkflows) != 1 {
				t.Errorf("%d actions, %d running; want one", desc.Info.NumActions, len(desc.Info.RunningWorkflows))
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("only %d fires skipped", desc.Info.NumActionsSkippedOverlap)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
