package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones must not depend on the host having tzdata
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// ScanStore keeps scans. A scan refers to a site, a profile and an agent or
// a pool, which are looked up to refuse dangling references with a clear
// message.
type ScanStore interface {
	CreateScan(ctx context.Context, s scan.Scan) (scan.Scan, error)
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
	SearchScans(ctx context.Context, f postgres.ScanFilter) ([]scan.Scan, int, error)
	ListRuns(ctx context.Context, f postgres.RunFilter) ([]scan.Run, error)
	UpdateScan(ctx context.Context, s scan.Scan) (scan.Scan, error)
	DeleteScan(ctx context.Context, id int64) error

	GetSite(ctx context.Context, id int64) (scan.Site, error)
	GetProfile(ctx context.Context, id int64) (scan.Profile, error)
	GetAgent(ctx context.Context, id int64) (scan.Agent, error)
	GetPool(ctx context.Context, id int64) (scan.Pool, error)
}

type scanHandlers struct {
	base
	store     ScanStore
	schedules Schedules
	defaults  workflows.ScheduleDefaults
	links     temporalLinks
	now       func() time.Time
	check     *checker
}

type scanRequest struct {
	Name      string  `json:"name"`
	SiteID    int64   `json:"site_id"`
	ProfileID int64   `json:"profile_id"`
	AgentID   int64   `json:"agent_id"`
	PoolID    int64   `json:"pool_id"`
	ShardSize int64   `json:"shard_size"`
	StartAt   *string `json:"start_at"`
	TimeZone  string  `json:"time_zone"`
	RRule     string  `json:"rrule"`
	Enabled   *bool   `json:"enabled"`
	Overlap   string  `json:"overlap"`
	// CatchupWindowSeconds: 0 means the server's default.
	CatchupWindowSeconds int64 `json:"catchup_window_seconds"`
}

// maxCatchupWindow bounds a scan's catch-up window: longer ones would bring
// back the burst of stale scans after an outage that the window prevents.
const maxCatchupWindow = 7 * 24 * time.Hour

const maxRRuleLen = 1000

// scan checks the fields that need no database; the schedule is checked
// as of now.
func (r scanRequest) scan(now time.Time) (scan.Scan, error) {
	name, err := cleanName("name", r.Name)
	if err != nil {
		return scan.Scan{}, err
	}
	for _, ref := range []struct {
		field string
		id    int64
	}{{"site_id", r.SiteID}, {"profile_id", r.ProfileID}, {"agent_id", r.AgentID}, {"pool_id", r.PoolID}} {
		if ref.id == 0 && ref.field != "agent_id" && ref.field != "pool_id" {
			return scan.Scan{}, badRequest("%s: required", ref.field)
		}
		if ref.id < 0 {
			return scan.Scan{}, badRequest("%s: %d is not a valid id", ref.field, ref.id)
		}
	}
	if (r.AgentID == 0) == (r.PoolID == 0) {
		return scan.Scan{}, badRequest("agent_id, pool_id: give exactly one: the agent that runs the scan, or the pool whose agents share it")
	}
	if r.ShardSize < 0 || r.ShardSize > scan.MaxShardSize {
		return scan.Scan{}, badRequest("shard_size: %d is not a number of addresses from 1 to %d; leave it out (or 0) for the server's setting", r.ShardSize, int64(scan.MaxShardSize))
	}
	s := scan.Scan{
		Name: name, SiteID: r.SiteID, ProfileID: r.ProfileID, AgentID: r.AgentID, PoolID: r.PoolID,
		ShardSize: uint64(r.ShardSize), RRule: r.RRule, Enabled: true,
	}
	s.StartAt, s.TimeZone, err = scheduleFields(r.StartAt, r.TimeZone, r.RRule)
	if err != nil {
		return scan.Scan{}, err
	}
	if r.Enabled != nil {
		s.Enabled = *r.Enabled
	}
	s.Overlap = strings.TrimSpace(r.Overlap)
	if s.Overlap == "" {
		s.Overlap = "skip"
	}
	if !slices.Contains(scan.OverlapPolicies, s.Overlap) {
		return scan.Scan{}, badRequest("overlap: %q is not one of %s", clip(s.Overlap), strings.Join(scan.OverlapPolicies, ", "))
	}
	if c := r.CatchupWindowSeconds; c != 0 && (c < int64(workflows.MinCatchupWindow/time.Second) || c > int64(maxCatchupWindow/time.Second)) {
		return scan.Scan{}, badRequest("catchup_window_seconds: %d is outside %d to %d (0 means the server's default)",
			c, int64(workflows.MinCatchupWindow/time.Second), int64(maxCatchupWindow/time.Second))
	}
	s.CatchupWindowSeconds = r.CatchupWindowSeconds
	if err := checkBacklog(s.StartAt, s.TimeZone, s.RRule, now); err != nil {
		return scan.Scan{}, err
	}
	if _, err := schedule.Parse(s.StartAt, s.TimeZone, s.RRule, now); err != nil {
		return scan.Scan{}, badRequest("%s", err.Error())
	}
	return s, nil
}

// scheduleFields checks the schedule fields of a request that need no
// clock: the zone (UTC when empty), start_at and the rule's size and text.
func scheduleFields(startAt *string, zone, rule string) (*time.Time, string, error) {
	zone = strings.TrimSpace(zone)
	if zone == "" {
		zone = "UTC"
	}
	// "Local" would mean whatever zone the server happens to run in.
	if _, err := time.LoadLocation(zone); err != nil || zone == "Local" {
		return nil, "", badRequest("time_zone: %q is not a known IANA time zone", clip(zone))
	}
	var start *time.Time
	if startAt != nil && strings.TrimSpace(*startAt) != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(*startAt))
		if err != nil {
			return nil, "", badRequest("start_at: %q is not an RFC 3339 time such as 2030-01-02T03:04:05Z", clip(*startAt))
		}
		start = &t
	}
	if n := utf8.RuneCountInString(rule); n > maxRRuleLen {
		return nil, "", badRequest("rrule: %d characters long, the limit is %d", n, maxRRuleLen)
	}
	if err := checkPrintable("rrule", strings.ReplaceAll(rule, "\n", " ")); err != nil {
		return nil, "", err
	}
	return start, zone, nil
}

// maxBacklog is the most fire times a new schedule may have between its
// start and now: every look at the schedule walks them (about 70 days of
// a rule that fires every minute).
const maxBacklog = 100_000

// checkBacklog refuses a start_at so far behind a frequent rule that
// walking from it to now would hold a request for seconds. The rule is
// parsed as of its own start, which costs nothing to walk; errors in it
// are left to the full check.
func checkBacklog(start *time.Time, zone, rule string, now time.Time) error {
	if start == nil || strings.TrimSpace(rule) == "" || !start.Before(now) {
		return nil
	}
	r, err := schedule.Parse(start, zone, rule, *start)
	if err != nil || !r.FiresBefore(now, maxBacklog) {
		return nil
	}
	return badRequest("start_at: the rule fires more than %d times between %s and now; move start_at closer to now (it only sets the rule's phase)",
		maxBacklog, start.UTC().Format(time.RFC3339))
}

// checkRefs answers 400 naming the first reference that does not exist.
func (h *scanHandlers) checkRefs(ctx context.Context, s scan.Scan) error {
	if _, err := h.store.GetSite(ctx, s.SiteID); err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusBadRequest, "site_id: site %d does not exist", s.SiteID)
	}
	if _, err := h.store.GetProfile(ctx, s.ProfileID); err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusBadRequest, "profile_id: profile %d does not exist", s.ProfileID)
	}
	if s.PoolID != 0 {
		if _, err := h.store.GetPool(ctx, s.PoolID); err != nil {
			return mapErr(err, postgres.ErrNotFound, http.StatusBadRequest, "pool_id: pool %d does not exist", s.PoolID)
		}
		return nil
	}
	if _, err := h.store.GetAgent(ctx, s.AgentID); err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusBadRequest, "agent_id: agent %d does not exist", s.AgentID)
	}
	return nil
}

// read decodes and fully validates a scan from the request. For an edit,
// old is the stored scan: when its schedule (start, zone, rule) is kept as
// it was, a schedule that has run its course is no error, so that a
// finished scan can still be renamed or pointed elsewhere.
func (h *scanHandlers) read(c *gin.Context, old *scan.Scan) (scan.Scan, error) {
	var req scanRequest
	if err := decodeJSON(c, &req); err != nil {
		return scan.Scan{}, err
	}
	now := h.now()
	zone := strings.TrimSpace(req.TimeZone)
	if zone == "" {
		zone = "UTC"
	}
	if old != nil && old.StartAt != nil && req.StartAt != nil && zone == old.TimeZone && req.RRule == old.RRule {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(*req.StartAt)); err == nil && t.Equal(*old.StartAt) {
			now = old.StartAt.Add(-time.Second)
		}
	}
	s, err := req.scan(now)
	if err != nil {
		return scan.Scan{}, err
	}
	if err := h.checkRefs(c.Request.Context(), s); err != nil {
		return scan.Scan{}, err
	}
	return s, h.check.checkScan(c.Request.Context(), s)
}

// storeWriteErr explains the failures a create or update can meet. The
// store reports a reference that vanished after checkRefs as ErrNotFound;
// that is still the request's fault, so 400.
func storeWriteErr(err error, s scan.Scan) error {
	err = mapErr(err, postgres.ErrConflict, http.StatusConflict, "name: a scan named %q already exists", s.Name)
	return mapErr(err, postgres.ErrNotFound, http.StatusBadRequest,
		"site_id, profile_id, agent_id, pool_id: site %d, profile %d, agent %d or pool %d no longer exists", s.SiteID, s.ProfileID, s.AgentID, s.PoolID)
}

func (h *scanHandlers) create(c *gin.Context) error {
	s, err := h.read(c, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), scheduleTimeout)
	defer cancel()
	row, err := h.store.CreateScan(ctx, s)
	if err != nil {
		return storeWriteErr(err, s)
	}
	if err := h.sync(ctx, row); err != nil {
		h.log.ErrorContext(ctx, "creating the scan's schedule failed", "scan_id", row.ID, "err", err)
		if derr := h.store.DeleteScan(ctx, row.ID); derr != nil {
			h.log.ErrorContext(ctx, "removing a scan whose schedule was not created failed", "scan_id", row.ID, "err", derr)
			return scheduleUnavailable(fmt.Sprintf("scan %d was stored and could not be removed; the reconciler will create its schedule", row.ID))
		}
		return scheduleUnavailable("no scan was created")
	}
	v, err := h.view(ctx, row, false)
	if err != nil {
		return err
	}
	created(c, "scans", row.ID, v)
	return nil
}

// list answers a page of scans by name (50 unless limit says otherwise:
// scans are many), those whose name contains q when it is given.
func (h *scanHandlers) list(c *gin.Context) error {
	lq, err := readList(c)
	if err != nil {
		return err
	}
	scans, total, err := h.store.SearchScans(c.Request.Context(), postgres.ScanFilter{Name: lq.Q, Limit: lq.Limit, Offset: lq.Offset})
	if err != nil {
		return err
	}
	out := make([]scanView, 0, len(scans))
	for _, s := range scans {
		v, err := h.view(c.Request.Context(), s, false)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeList(c, out, total)
	return nil
}

// get shows a scan with its schedule, next fire times and recent runs.
func (h *scanHandlers) get(c *gin.Context) error {
	s, err := h.scanOf(c)
	if err != nil {
		return err
	}
	v, err := h.view(c.Request.Context(), s, true)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, v)
	return nil
}

func (h *scanHandlers) update(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	// A missing scan is a 404 whatever the body says.
	old, err := h.store.GetScan(c.Request.Context(), id)
	if err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", id)
	}
	s, err := h.read(c, &old)
	if err != nil {
		return err
	}
	s.ID = id
	s.PauseNote = old.PauseNote
	if s.Enabled != old.Enabled {
		verb := "resumed"
		if !s.Enabled {
			verb = "paused"
		}
		s.PauseNote = fmt.Sprintf("%s by %s at %s: edit of the scan", verb, c.ClientIP(), h.now().UTC().Format(time.RFC3339))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), scheduleTimeout)
	defer cancel()
	updated, err := h.store.UpdateScan(ctx, s)
	if err != nil {
		return storeWriteErr(err, s)
	}
	// The schedule is edited in place (its ID, history and running
	// workflows stay).
	if err := h.sync(ctx, updated); err != nil {
		h.log.ErrorContext(ctx, "updating the scan's schedule failed", "scan_id", id, "err", err)
		if _, rerr := h.store.UpdateScan(ctx, old); rerr != nil {
			h.log.ErrorContext(ctx, "restoring the scan after a failed schedule change failed", "scan_id", id, "err", rerr)
			return scheduleUnavailable("the scan was changed but its schedule was not; the reconciler will repair it")
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

// delete removes the scan and then its schedule. PostgreSQL decides (a scan
// with runs stays); a schedule left behind by a failure here is removed by
// the reconciler.
func (h *scanHandlers) delete(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), scheduleTimeout)
	defer cancel()
	if err := h.store.DeleteScan(ctx, id); err != nil {
		err = mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", id)
		return mapErr(err, postgres.ErrInUse, http.StatusConflict, "scan %d has runs; delete its runs first", id)
	}
	if err := workflows.DeleteSchedule(ctx, h.schedules.ScheduleClient(), id); err != nil {
		h.log.WarnContext(ctx, "deleting the schedule of a deleted scan failed; the reconciler will", "scan_id", id, "err", err)
	}
	c.Status(http.StatusNoContent)
	return nil
}
