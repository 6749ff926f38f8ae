package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
	"github.com/scantron/scantron/schedules"
)

// Schedules reaches the scans' Temporal Schedules; client.Client satisfies
// it.
type Schedules interface {
	ScheduleClient() client.ScheduleClient
}

// maxBackfill is the most fire times one backfill may start.
const maxBackfill = 100

// scanView is a scan as the API shows it: the stored scan, its schedule
// and its latest runs.
type scanView struct {
	scan.Scan
	Schedule   *scheduleView `json:"schedule"`
	RecentRuns []runView     `json:"recent_runs"`
	// WindowState is whether the scan's windows are open now and until
	// when; absent for a scan without windows.
	WindowState *windowStateView `json:"window_state,omitempty"`
}

// scheduleView is a scan's Temporal Schedule.
type scheduleView struct {
	ID string `json:"id"`
	// Form is how the rule is expressed in Temporal: "calendar" or
	// "interval" (the rule itself) or "enumerated" (its next fire times,
	// kept topped up).
	Form   schedule.Form `json:"form"`
	Paused bool          `json:"paused"`
	// NextFireTimes are the next 10, in the scan's zone (from the rule;
	// the schedule in Temporal fires at exactly these).
	NextFireTimes []time.Time `json:"next_fire_times"`
	// Temporal is what the server reports, when it could be asked.
	Temporal *temporalScheduleState `json:"temporal,omitempty"`
}

type temporalScheduleState struct {
	Exists          bool        `json:"exists"`
	Paused          bool        `json:"paused"`
	Note            string      `json:"note,omitempty"`
	NextActionTimes []time.Time `json:"next_action_times"`
	Actions         int         `json:"actions"`
	MissedCatchup   int         `json:"missed_catchup_window"`
	SkippedOverlap  int         `json:"skipped_overlap"`
}

// view builds a scan's view; Temporal's part is best effort.
func (h *scanHandlers) view(ctx context.Context, s scan.Scan, recent bool) (scanView, error) {
	v := scanView{Scan: s, RecentRuns: []runView{}, WindowState: windowStateOf(s, h.now())}
	want, err := schedules.Desired(s, h.defaults, h.now())
	if err != nil {
		return v, err
	}
	if want != nil {
		v.Schedule = &scheduleView{
			ID: want.Options.ID, Form: want.Spec.Form, Paused: !s.Enabled,
			NextFireTimes: nonNil(want.Rule.Next(h.now(), 10)),
		}
		if recent {
			v.Schedule.Temporal = h.temporalState(ctx, want.Options.ID)
		}
	}
	if recent {
		runs, err := h.store.ListRuns(ctx, scan.RunFilter{ScanID: s.ID, Limit: 10})
		if err != nil {
			return v, err
		}
		for _, r := range runs {
			v.RecentRuns = append(v.RecentRuns, newRunView(r, h.links))
		}
	}
	return v, nil
}

func (h *scanHandlers) temporalState(ctx context.Context, id string) *temporalScheduleState {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	desc, err := h.schedules.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return &temporalScheduleState{NextActionTimes: []time.Time{}}
	}
	if err != nil {
		h.log.DebugContext(ctx, "describe schedule", "schedule_id", id, "err", err)
		return nil
	}
	st := &temporalScheduleState{
		Exists: true, NextActionTimes: nonNil(desc.Info.NextActionTimes),
		Actions: desc.Info.NumActions, MissedCatchup: desc.Info.NumActionsMissedCatchupWindow,
		SkippedOverlap: desc.Info.NumActionsSkippedOverlap,
	}
	if s := desc.Schedule.State; s != nil {
		st.Paused, st.Note = s.Paused, s.Note
	}
	return st
}

// caller is who asks, as the operations record it.
func caller(c *gin.Context) manage.Caller {
	cl := manage.Caller{Addr: c.ClientIP()}
	if p := who(c); p != nil {
		cl.User = p.user.Name
	}
	return cl
}

func (h *scanHandlers) pause(c *gin.Context) error  { return h.setPaused(c, true) }
func (h *scanHandlers) resume(c *gin.Context) error { return h.setPaused(c, false) }

// setPaused disables or enables a scheduled scan, keeping who and why in
// the scan and in the schedule's note.
func (h *scanHandlers) setPaused(c *gin.Context, paused bool) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in manage.PauseInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	updated, err := h.scans.SetPaused(c.Request.Context(), id, paused, in, caller(c))
	if err != nil {
		return err
	}
	v, err := h.view(c.Request.Context(), updated, false)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, v)
	return nil
}

// scanOf loads the scan :id names, or answers 404.
func (h *scanHandlers) scanOf(c *gin.Context) (scan.Scan, error) {
	id, err := pathID(c)
	if err != nil {
		return scan.Scan{}, err
	}
	return h.scans.Get(c.Request.Context(), id)
}

// trigger starts a run now through the schedule, under the scan's overlap
// policy.
func (h *scanHandlers) trigger(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	want, s, err := h.scans.Trigger(c.Request.Context(), id, caller(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, gin.H{"schedule_id": want.Options.ID, "overlap": s.Overlap})
	return nil
}

type backfillRequest struct {
	By    string `json:"by"`
	Start string `json:"start"`
	End   string `json:"end"`
}

// backfill starts the runs the schedule would have started in a past
// window, one after another (buffer all: never two at once).
func (h *scanHandlers) backfill(c *gin.Context) error {
	s, err := h.scanOf(c)
	if err != nil {
		return err
	}
	var req backfillRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if _, err := cleanText("by", req.By, manage.MaxByLen); err != nil {
		return err
	}
	var window [2]time.Time
	for i, f := range []struct{ name, v string }{{"start", req.Start}, {"end", req.End}} {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(f.v))
		if err != nil {
			return badRequest("%s: %q is not an RFC 3339 time such as 2030-01-02T03:04:05Z", f.name, clip(f.v))
		}
		window[i] = t
	}
	start, end := window[0], window[1]
	if !start.Before(end) {
		return badRequest("end: %s is not after start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	if end.After(h.now()) {
		return badRequest("end: %s is in the future; a backfill covers a past window", end.Format(time.RFC3339))
	}
	want, err := h.scans.Scheduled(s)
	if err != nil {
		return err
	}
	times := want.Rule.Between(start, end, maxBackfill)
	if len(times) == 0 {
		return badRequest("start, end: no fire time of the scan's schedule lies between %s and %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	if len(times) > maxBackfill {
		return badRequest("start, end: the window holds more than %d fire times; backfill a shorter one", maxBackfill)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), manage.ScheduleTimeout)
	defer cancel()
	if err := h.scans.Sync(ctx, s); err != nil {
		h.log.ErrorContext(ctx, "sync before backfill failed", "scan_id", s.ID, "err", err)
		return manage.ScheduleUnavailable("nothing was started")
	}
	handle := h.schedules.ScheduleClient().GetHandle(ctx, want.Options.ID)
	if want.Spec.Form == schedule.FormEnumerated {
		// An enumerated spec lists future fire times only; the window's
		// are added (as exact entries) so that the backfill finds them.
		// Past entries never fire on their own, and the next top-up drops
		// them.
		var past []schedule.Calendar
		for _, t := range times {
			past = append(past, schedule.Exact(t.UTC()))
		}
		extra := schedules.TemporalSpec(schedule.Spec{Calendars: past}).Calendars
		if err := schedules.Update(ctx, handle, want, extra); err != nil {
			h.log.ErrorContext(ctx, "adding backfill times failed", "scan_id", s.ID, "err", err)
			return manage.ScheduleUnavailable("nothing was started")
		}
	}
	err = handle.Backfill(ctx, client.ScheduleBackfillOptions{Backfill: []client.ScheduleBackfill{{
		// Temporal's backfill window excludes its start; one second
		// earlier takes in a fire time on the start itself.
		Start: start.Add(-time.Second), End: end, Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL,
	}}})
	if err != nil {
		h.log.ErrorContext(ctx, "backfill failed", "scan_id", s.ID, "err", err)
		return errorf(http.StatusServiceUnavailable, "could not backfill the scan's schedule (is Temporal reachable?)")
	}
	h.log.InfoContext(ctx, "backfill", "scan_id", s.ID, "by", caller(c).Author(req.By), "start", start, "end", end, "fires", len(times))
	c.JSON(http.StatusAccepted, gin.H{"schedule_id": want.Options.ID, "fire_times": times})
	return nil
}

// previewRequest is a schedule to try out before saving it.
type previewRequest struct {
	StartAt  *string `json:"start_at"`
	TimeZone string  `json:"time_zone"`
	RRule    string  `json:"rrule"`
}

// previewCount is how many fire times a preview shows.
const previewCount = 10

// preview checks a schedule exactly as saving a scan would and answers
// the form it takes in Temporal and its next fire times, in its zone; an
// empty start_at and rule is a scan started by hand ("manual", none).
func (h *scanHandlers) preview(c *gin.Context) error {
	var req previewRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	start, zone, err := manage.ScheduleFields(req.StartAt, req.TimeZone, req.RRule)
	if err != nil {
		return err
	}
	now := h.now()
	if err := manage.CheckBacklog(start, zone, req.RRule, now); err != nil {
		return err
	}
	rule, err := schedule.Parse(start, zone, req.RRule, now)
	if err != nil {
		return manage.ScheduleError(err)
	}
	if rule == nil {
		c.JSON(http.StatusOK, gin.H{"form": "manual", "time_zone": zone, "next": []time.Time{}})
		return nil
	}
	c.JSON(http.StatusOK, gin.H{"form": rule.Form(), "time_zone": zone, "next": nonNil(rule.Next(now, previewCount))})
	return nil
}
