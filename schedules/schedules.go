// Package schedules keeps each scan's Temporal Schedule in step with the
// scan, from the client side: it builds the schedule a scan should have
// (spec, action, policies, pause state), creates, repairs, tops up and
// deletes it. The web handlers and the schedule reconciler call it; the
// workflow it starts and the IDs it uses live in workflows.
package schedules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
	"github.com/scantron/scantron/workflows"
)

// Defaults are the server-wide schedule settings.
type Defaults struct {
	// CatchupWindow is how late a fire missed during an outage may still
	// start, for scans that set none. Temporal's own default is a year,
	// which after an outage would start a burst of stale scans.
	CatchupWindow time.Duration
	// Keyed says the namespace has KeyAttribute registered: schedules
	// then carry their Key and the reconciler skips the current ones.
	// Without it every pass describes every schedule.
	Keyed bool
}

// MinCatchupWindow is the smallest catch-up window Temporal accepts.
const MinCatchupWindow = 10 * time.Second

// OverlapPolicy maps a scan's overlap setting to Temporal's.
func OverlapPolicy(name string) (enumspb.ScheduleOverlapPolicy, error) {
	switch name {
	case "", "skip":
		return enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, nil
	case "buffer_one":
		return enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, nil
	case "buffer_all":
		return enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL, nil
	case "allow_all":
		return enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL, nil
	case "cancel_other":
		return enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER, nil
	case "terminate_other":
		return enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER, nil
	}
	return 0, fmt.Errorf("overlap: %q is not one of %v", name, scan.OverlapPolicies)
}

// TemporalSpec converts a schedule spec to the client's.
func TemporalSpec(s schedule.Spec) client.ScheduleSpec {
	conv := func(cs []schedule.Calendar) []client.ScheduleCalendarSpec {
		out := make([]client.ScheduleCalendarSpec, 0, len(cs))
		for _, c := range cs {
			out = append(out, client.ScheduleCalendarSpec{
				Second: temporalRanges(c.Second), Minute: temporalRanges(c.Minute), Hour: temporalRanges(c.Hour),
				DayOfMonth: temporalRanges(c.DayOfMonth), Month: temporalRanges(c.Month), Year: temporalRanges(c.Year),
				DayOfWeek: temporalRanges(c.DayOfWeek),
			})
		}
		return out
	}
	var intervals []client.ScheduleIntervalSpec
	for _, i := range s.Intervals {
		intervals = append(intervals, client.ScheduleIntervalSpec{Every: i.Every, Offset: i.Offset})
	}
	return client.ScheduleSpec{
		Calendars: conv(s.Calendars), Intervals: intervals, Skip: conv(s.Skip),
		StartAt: s.StartAt, EndAt: s.EndAt, TimeZoneName: s.TimeZone,
	}
}

func temporalRanges(rs []schedule.Range) []client.ScheduleRange {
	out := make([]client.ScheduleRange, 0, len(rs))
	for _, r := range rs {
		out = append(out, client.ScheduleRange{Start: r.Start, End: r.End, Step: 1})
	}
	return out
}

// ScanSchedule is the schedule a scan should have, as of a given time.
type ScanSchedule struct {
	Rule *schedule.Rule
	Spec schedule.Spec
	// Key is what the schedule carries in its KeyAttribute.
	Key Key
	// Options create the schedule.
	Options client.ScheduleOptions
}

// Desired builds the schedule of a scan as of now. It returns nil
// when the scan should have none: manual only, or past its last fire time
// by more than a minute (the minute lets a late last fire still happen).
// A definition that does not parse is an error.
func Desired(sc scan.Scan, d Defaults, now time.Time) (*ScanSchedule, error) {
	rule, err := schedule.Parse(sc.StartAt, sc.TimeZone, sc.RRule, now.Add(-time.Minute))
	if err != nil {
		if e, ok := schedule.AsError(err); ok && e.Finished {
			return nil, nil // nothing left to fire
		}
		return nil, err
	}
	if rule == nil {
		return nil, nil
	}
	overlap, err := OverlapPolicy(sc.Overlap)
	if err != nil {
		return nil, err
	}
	catchup := catchupWindow(sc, d)
	spec := rule.Spec(now)
	key := Key{Hash: Hash(sc, d), Due: due(rule, spec, now)}
	return &ScanSchedule{Rule: rule, Spec: spec, Key: key, Options: client.ScheduleOptions{
		ID:   workflows.ScanScheduleID(sc.ID),
		Spec: TemporalSpec(spec),
		Action: &client.ScheduleWorkflowAction{
			ID:        workflows.ScanScheduledWorkflowID(sc.ID),
			Workflow:  workflows.ScanWorkflow,
			Args:      []any{workflows.ScanInput{ScanID: sc.ID}},
			TaskQueue: workflows.ServerTaskQueue,
		},
		Overlap:               overlap,
		CatchupWindow:         catchup,
		Paused:                !sc.Enabled,
		Note:                  sc.PauseNote,
		TypedSearchAttributes: key.attributes(d.Keyed),
	}}, nil
}

func catchupWindow(sc scan.Scan, d Defaults) time.Duration {
	catchup := time.Duration(sc.CatchupWindowSeconds) * time.Second
	if catchup == 0 {
		catchup = d.CatchupWindow
	}
	return max(catchup, MinCatchupWindow)
}

// SyncResult says what Sync did.
type SyncResult string

// What Sync can do.
const (
	SyncUnchanged SyncResult = "unchanged"
	SyncCreated   SyncResult = "created"
	SyncUpdated   SyncResult = "updated"
	SyncDeleted   SyncResult = "deleted"
	SyncNone      SyncResult = "none" // no schedule wanted, none there
)

// Sync makes the scan's Temporal Schedule match the scan: creates
// it, repairs a drifted spec, action, policy or pause state, tops up an
// enumerated spec, or deletes it when the scan should have none.
func Sync(ctx context.Context, sc client.ScheduleClient, s scan.Scan, d Defaults, now time.Time) (SyncResult, error) {
	want, err := Desired(s, d, now)
	if err != nil {
		return "", err
	}
	h := sc.GetHandle(ctx, workflows.ScanScheduleID(s.ID))
	desc, err := h.Describe(ctx)
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		if want == nil {
			return SyncNone, nil
		}
		if _, err := sc.Create(ctx, want.Options); err != nil {
			return "", fmt.Errorf("create schedule %s: %w", want.Options.ID, err)
		}
		return SyncCreated, nil
	case err != nil:
		return "", fmt.Errorf("describe schedule: %w", err)
	}
	if want == nil {
		if err := h.Delete(ctx); err != nil && !errors.As(err, &nf) {
			return "", fmt.Errorf("delete schedule: %w", err)
		}
		return SyncDeleted, nil
	}
	if inStep(desc, want, now) && (!d.Keyed || KeyOf(desc.SearchAttributes).Current(want.Key.Hash, now)) {
		return SyncUnchanged, nil
	}
	if err := Update(ctx, h, want, nil); err != nil {
		return "", err
	}
	return SyncUpdated, nil
}

// Create creates the scan's schedule when it should have one, for a scan
// whose schedule is not listed. A schedule that exists after all (the
// listing lags behind) is synced instead.
func Create(ctx context.Context, sc client.ScheduleClient, s scan.Scan, d Defaults, now time.Time) (SyncResult, error) {
	want, err := Desired(s, d, now)
	if err != nil || want == nil {
		return SyncNone, err
	}
	_, err = sc.Create(ctx, want.Options)
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return Sync(ctx, sc, s, d, now)
	}
	if err != nil {
		return "", fmt.Errorf("create schedule %s: %w", want.Options.ID, err)
	}
	return SyncCreated, nil
}

// Update replaces the schedule's spec, action, policies and state
// with want's; extra calendars (a backfill's past fire times) are added.
func Update(ctx context.Context, h client.ScheduleHandle, want *ScanSchedule, extra []client.ScheduleCalendarSpec) error {
	o := want.Options
	var attrs *temporal.SearchAttributes
	if o.TypedSearchAttributes.Size() > 0 {
		attrs = &o.TypedSearchAttributes
	}
	spec := o.Spec
	spec.Calendars = append(slices.Clip(spec.Calendars), extra...)
	err := h.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			return &client.ScheduleUpdate{Schedule: &client.Schedule{
				Action: o.Action,
				Spec:   &spec,
				Policy: &client.SchedulePolicies{Overlap: o.Overlap, CatchupWindow: o.CatchupWindow},
				State:  &client.ScheduleState{Paused: o.Paused, Note: o.Note},
			}, TypedSearchAttributes: attrs}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", o.ID, err)
	}
	return nil
}

// inStep compares what Temporal holds with what the scan wants.
func inStep(desc *client.ScheduleDescription, want *ScanSchedule, now time.Time) bool {
	s := desc.Schedule
	o := want.Options
	if s.State == nil || s.State.Paused != o.Paused || s.State.LimitedActions ||
		s.Policy == nil || s.Policy.Overlap != o.Overlap || s.Policy.CatchupWindow != o.CatchupWindow {
		return false
	}
	act, ok := s.Action.(*client.ScheduleWorkflowAction)
	wantAct := o.Action.(*client.ScheduleWorkflowAction)
	if !ok || act.ID != wantAct.ID || act.TaskQueue != wantAct.TaskQueue || fmt.Sprint(act.Workflow) != "ScanWorkflow" || len(act.Args) != 1 {
		return false
	}
	p, ok := act.Args[0].(*commonpb.Payload)
	var in workflows.ScanInput
	if !ok || converter.GetDefaultDataConverter().FromPayload(p, &in) != nil || in != wantAct.Args[0].(workflows.ScanInput) {
		return false
	}
	if s.Spec == nil {
		return false
	}
	if want.Spec.Form == schedule.FormEnumerated {
		return enumeratedInStep(*s.Spec, want, now)
	}
	return sameSpec(*s.Spec, o.Spec)
}

// normRanges makes ranges comparable: the server may store a one-value
// range with End 0 and a step of 0 or 1.
func normRanges(rs []client.ScheduleRange) []client.ScheduleRange {
	out := make([]client.ScheduleRange, 0, len(rs))
	for _, r := range rs {
		if r.End < r.Start {
			r.End = r.Start
		}
		if r.Step == 0 {
			r.Step = 1
		}
		out = append(out, r)
	}
	return out
}

func sameCalendars(a, b []client.ScheduleCalendarSpec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		for _, pair := range [][2][]client.ScheduleRange{
			{x.Second, y.Second}, {x.Minute, y.Minute}, {x.Hour, y.Hour}, {x.DayOfMonth, y.DayOfMonth},
			{x.Month, y.Month}, {x.Year, y.Year}, {x.DayOfWeek, y.DayOfWeek},
		} {
			if !slices.Equal(normRanges(pair[0]), normRanges(pair[1])) {
				return false
			}
		}
	}
	return true
}

func sameSpec(got, want client.ScheduleSpec) bool {
	tz := func(s string) string {
		if s == "" {
			return "UTC"
		}
		return s
	}
	return sameCalendars(got.Calendars, want.Calendars) && sameCalendars(got.Skip, want.Skip) &&
		slices.Equal(got.Intervals, want.Intervals) && len(got.CronExpressions) == 0 && got.Jitter == 0 &&
		got.StartAt.Equal(want.StartAt) && got.EndAt.Equal(want.EndAt) && tz(got.TimeZoneName) == tz(want.TimeZoneName)
}

// EnumeratedTimes reads the fire times of an enumerated spec back (UTC
// calendar entries of one value per field), in order. ok is false when an
// entry is not of that shape.
func EnumeratedTimes(spec client.ScheduleSpec) (times []time.Time, ok bool) {
	single := func(rs []client.ScheduleRange) (int, bool) {
		rs = normRanges(rs)
		if len(rs) != 1 || rs[0].Start != rs[0].End {
			return 0, false
		}
		return rs[0].Start, true
	}
	for _, c := range spec.Calendars {
		var v [6]int
		for i, f := range [][]client.ScheduleRange{c.Year, c.Month, c.DayOfMonth, c.Hour, c.Minute, c.Second} {
			n, ok := single(f)
			if !ok {
				return nil, false
			}
			v[i] = n
		}
		times = append(times, time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, time.UTC))
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	return times, true
}

// enumeratedInStep accepts an enumerated spec whose entries after
// now-Lookback are the start of the wanted ones and still cover at least half of them (or all
// that remain): only then is no top-up due.
func enumeratedInStep(got client.ScheduleSpec, want *ScanSchedule, now time.Time) bool {
	if len(got.Skip) != 0 || len(got.Intervals) != 0 || len(got.CronExpressions) != 0 || !got.StartAt.IsZero() || !got.EndAt.IsZero() {
		return false
	}
	if tz := got.TimeZoneName; tz != "" && tz != "UTC" {
		return false
	}
	times, ok := EnumeratedTimes(got)
	if !ok {
		return false
	}
	wantTimes, _ := EnumeratedTimes(want.Options.Spec)
	var future []time.Time
	for _, t := range times {
		if t.After(now.Add(-schedule.Lookback)) {
			future = append(future, t)
		}
	}
	if len(future) > len(wantTimes) || !slices.EqualFunc(future, wantTimes[:len(future)], time.Time.Equal) {
		return false
	}
	if want.Spec.Complete {
		return len(future) == len(wantTimes)
	}
	return len(future) >= schedule.Enumerate/2
}

// Delete deletes a scan's schedule; one already gone is no error.
func Delete(ctx context.Context, sc client.ScheduleClient, scanID int64) error {
	err := sc.GetHandle(ctx, workflows.ScanScheduleID(scanID)).Delete(ctx)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete schedule: %w", err)
	}
	return nil
}
