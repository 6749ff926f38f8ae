package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
	"github.com/scantron/scantron/schedules"
	"github.com/scantron/scantron/storage/postgres"
)

// Schedules reaches the scans' Temporal Schedules; client.Client satisfies
// it.
type Schedules interface {
	ScheduleClient() client.ScheduleClient
}

// scheduleTimeout bounds the Temporal calls of one schedule change. Like a
// run's start, it is detached from the request, so that a client hanging
// up cannot leave PostgreSQL and Temporal half changed.
const scheduleTimeout = 15 * time.Second

// maxBackfill is the most fire times one backfill may start.
const maxBackfill = 100

// scanView is a scan as the API shows it: the stored scan, its schedule
// and its latest runs.
type scanView struct {
	scan.Scan
	Schedule   *scheduleView `json:"schedule"`
	RecentRuns []runView     `json:"recent_runs"`
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
	v := scanView{Scan: s, RecentRuns: []runView{}}
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
		runs, err := h.store.ListRuns(ctx, postgres.RunFilter{ScanID: s.ID, Limit: 10})
		if err != nil {
			return v, err
		}
		for _, r := range runs {
			v.RecentRuns = append(v.RecentRuns, runView{Run: r, TemporalURL: h.links.Workflow(r.WorkflowID)})
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

// sync makes the scan's schedule match the scan.
func (h *scanHandlers) sync(ctx context.Context, s scan.Scan) error {
	res, err := schedules.Sync(ctx, h.schedules.ScheduleClient(), s, h.defaults, h.now())
	if err == nil {
		h.log.DebugContext(ctx, "schedule synced", "scan_id", s.ID, "result", res)
	}
	return err
}

// scheduleUnavailable is the answer when Temporal did not take a change.
func scheduleUnavailable(what string) error {
	return errorf(http.StatusServiceUnavailable, "could not update the scan's schedule in Temporal (is Temporal reachable?); %s", what)
}

// Limits of who asks (besides the signed-in user) and why.
const (
	maxByLen        = 200
	maxPauseNoteLen = 500
)

// noteRequest says who asks and why.
type noteRequest struct {
	By   string `json:"by"`
	Note string `json:"note"`
}

// author is who asks: the signed-in user, with the request's stated
// author ("by") kept beside it when that is someone else.
func author(c *gin.Context, by string) string {
	by = strings.TrimSpace(by)
	if p := who(c); p != nil {
		if by != "" && by != p.user.Name {
			return p.user.Name + " for " + by
		}
		return p.user.Name
	}
	if by != "" {
		return by
	}
	return c.ClientIP()
}

func (h *scanHandlers) pause(c *gin.Context) error  { return h.setPaused(c, true) }
func (h *scanHandlers) resume(c *gin.Context) error { return h.setPaused(c, false) }

// setPaused disables or enables a scheduled scan, keeping who and why in
// the scan and in the schedule's note.
func (h *scanHandlers) setPaused(c *gin.Context, paused bool) error {
	s, err := h.scanOf(c)
	if err != nil {
		return err
	}
	var req noteRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	by, err := cleanText("by", req.By, maxByLen)
	if err != nil {
		return err
	}
	by = author(c, by)
	note, err := cleanText("note", req.Note, maxPauseNoteLen)
	if err != nil {
		return err
	}
	if s.StartAt == nil {
		return errorf(http.StatusConflict, "scan %d has no schedule (no start_at) to pause or resume", s.ID)
	}
	verb := "resumed"
	if paused {
		verb = "paused"
	}
	old := s
	s.Enabled = !paused
	s.PauseNote = fmt.Sprintf("%s by %s at %s", verb, by, h.now().UTC().Format(time.RFC3339))
	if note != "" {
		s.PauseNote += ": " + note
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), scheduleTimeout)
	defer cancel()
	updated, err := h.store.UpdateScan(ctx, s)
	if err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", s.ID)
	}
	if err := h.sync(ctx, updated); err != nil {
		h.log.ErrorContext(ctx, "pause/resume schedule failed", "scan_id", s.ID, "err", err)
		if _, rerr := h.store.UpdateScan(ctx, old); rerr != nil {
			h.log.ErrorContext(ctx, "restoring the scan after a failed schedule change failed", "scan_id", s.ID, "err", rerr)
		}
		return scheduleUnavailable("the scan was left as it was")
	}
	v, err := h.view(ctx, updated, false)
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
	s, err := h.store.GetScan(c.Request.Context(), id)
	if err != nil {
		return scan.Scan{}, mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", id)
	}
	return s, nil
}

// scheduled returns the scan's wanted schedule, or 409 when it has none.
func (h *scanHandlers) scheduled(s scan.Scan) (*schedules.ScanSchedule, error) {
	want, err := schedules.Desired(s, h.defaults, h.now())
	if err != nil {
		return nil, err
	}
	if want == nil {
		return nil, errorf(http.StatusConflict, "scan %d has no schedule (no future fire time); start a run with POST /api/v1/scans/%d/runs", s.ID, s.ID)
	}
	return want, nil
}

// trigger starts a run now through the schedule, under the scan's overlap
// policy.
func (h *scanHandlers) trigger(c *gin.Context) error {
	s, err := h.scanOf(c)
	if err != nil {
		return err
	}
	want, err := h.scheduled(s)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), scheduleTimeout)
	defer cancel()
	// The schedule is repaired first, so that a trigger never meets a
	// missing or stale schedule.
	if err := h.sync(ctx, s); err != nil {
		h.log.ErrorContext(ctx, "sync before trigger failed", "scan_id", s.ID, "err", err)
		return scheduleUnavailable("nothing was started")
	}
	if err := h.schedules.ScheduleClient().GetHandle(ctx, want.Options.ID).Trigger(ctx, client.ScheduleTriggerOptions{Overlap: want.Options.Overlap}); err != nil {
		h.log.ErrorContext(ctx, "trigger schedule failed", "scan_id", s.ID, "err", err)
		return errorf(http.StatusServiceUnavailable, "could not trigger the scan's schedule (is Temporal reachable?)")
	}
	h.log.InfoContext(ctx, "trigger", "scan_id", s.ID, "by", c.ClientIP())
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
	if _, err := cleanText("by", req.By, maxByLen); err != nil {
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
	want, err := h.scheduled(s)
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
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), scheduleTimeout)
	defer cancel()
	if err := h.sync(ctx, s); err != nil {
		h.log.ErrorContext(ctx, "sync before backfill failed", "scan_id", s.ID, "err", err)
		return scheduleUnavailable("nothing was started")
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
			return scheduleUnavailable("nothing was started")
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
	h.log.InfoContext(ctx, "backfill", "scan_id", s.ID, "by", author(c, req.By), "start", start, "end", end, "fires", len(times))
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
	start, zone, err := scheduleFields(req.StartAt, req.TimeZone, req.RRule)
	if err != nil {
		return err
	}
	now := h.now()
	if err := checkBacklog(start, zone, req.RRule, now); err != nil {
		return err
	}
	rule, err := schedule.Parse(start, zone, req.RRule, now)
	if err != nil {
		return badRequest("%s", err.Error())
	}
	if rule == nil {
		c.JSON(http.StatusOK, gin.H{"form": "manual", "time_zone": zone, "next": []time.Time{}})
		return nil
	}
	c.JSON(http.StatusOK, gin.H{"form": rule.Form(), "time_zone": zone, "next": nonNil(rule.Next(now, previewCount))})
	return nil
}
