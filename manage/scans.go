package manage

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones must not depend on the host having tzdata
	"unicode/utf8"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
	"github.com/scantron/scantron/schedules"
)

// ScanStore keeps scans. A scan refers to a site, a profile and an agent or
// a pool, which are looked up to refuse dangling references with a clear
// message.
type ScanStore interface {
	CreateScan(ctx context.Context, s scan.Scan) (scan.Scan, error)
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
	UpdateScan(ctx context.Context, s scan.Scan) (scan.Scan, error)
	DeleteScan(ctx context.Context, id int64) error

	GetSite(ctx context.Context, id int64) (scan.Site, error)
	GetProfile(ctx context.Context, id int64) (scan.Profile, error)
	GetAgent(ctx context.Context, id int64) (scan.Agent, error)
	GetPool(ctx context.Context, id int64) (scan.Pool, error)
}

// ScheduleClients hands out the Temporal Schedule client (a client.Client
// does).
type ScheduleClients interface {
	ScheduleClient() client.ScheduleClient
}

// ScheduleTimeout bounds the Temporal calls of one schedule change. Like a
// run's start, a change is detached from the caller's context (its values
// stay), so that a client hanging up cannot leave PostgreSQL and Temporal
// half changed.
const ScheduleTimeout = 15 * time.Second

// Scans creates, changes and deletes scans, keeping each one's Temporal
// Schedule in step with it.
type Scans struct {
	Store     ScanStore
	Schedules ScheduleClients
	Defaults  schedules.Defaults
	Now       func() time.Time
	Log       *slog.Logger
	// Check refuses a scan the rules say could never run; nil checks
	// nothing.
	Check *Checker
}

// ScanInput is what a client may write of a scan.
type ScanInput struct {
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
	// Windows, in TimeZone, such as "mon-fri 22:00-06:00"; none: any time.
	Windows []string `json:"windows"`
}

// MaxCatchupWindow bounds a scan's catch-up window: longer ones would bring
// back the burst of stale scans after an outage that the window prevents.
const MaxCatchupWindow = 7 * 24 * time.Hour

const maxRRuleLen = 1000

// scan checks the fields that need no database; the schedule is checked
// as of now.
func (in ScanInput) scan(now time.Time) (scan.Scan, error) {
	name, err := CleanName("name", in.Name)
	if err != nil {
		return scan.Scan{}, err
	}
	for _, ref := range []struct {
		field string
		id    int64
	}{{"site_id", in.SiteID}, {"profile_id", in.ProfileID}, {"agent_id", in.AgentID}, {"pool_id", in.PoolID}} {
		if ref.id == 0 && ref.field != "agent_id" && ref.field != "pool_id" {
			return scan.Scan{}, invalid(ref.field, "required")
		}
		if ref.id < 0 {
			return scan.Scan{}, invalid(ref.field, "%d is not a valid id", ref.id)
		}
	}
	if (in.AgentID == 0) == (in.PoolID == 0) {
		return scan.Scan{}, refuse(Invalid, "agent_id", "agent_id, pool_id: give exactly one: the agent that runs the scan, or the pool whose agents share it")
	}
	if in.ShardSize < 0 || in.ShardSize > scan.MaxShardSize {
		return scan.Scan{}, invalid("shard_size", "%d is not a number of addresses from 1 to %d; leave it out (or 0) for the server's setting", in.ShardSize, int64(scan.MaxShardSize))
	}
	s := scan.Scan{
		Name: name, SiteID: in.SiteID, ProfileID: in.ProfileID, AgentID: in.AgentID, PoolID: in.PoolID,
		ShardSize: uint64(in.ShardSize), RRule: in.RRule, Enabled: true,
	}
	s.StartAt, s.TimeZone, err = ScheduleFields(in.StartAt, in.TimeZone, in.RRule)
	if err != nil {
		return scan.Scan{}, err
	}
	if in.Enabled != nil {
		s.Enabled = *in.Enabled
	}
	s.Overlap = strings.TrimSpace(in.Overlap)
	if s.Overlap == "" {
		s.Overlap = "skip"
	}
	if !slices.Contains(scan.OverlapPolicies, s.Overlap) {
		return scan.Scan{}, invalid("overlap", "%q is not one of %s", Clip(s.Overlap), strings.Join(scan.OverlapPolicies, ", "))
	}
	if c := in.CatchupWindowSeconds; c != 0 && (c < int64(schedules.MinCatchupWindow/time.Second) || c > int64(MaxCatchupWindow/time.Second)) {
		return scan.Scan{}, invalid("catchup_window_seconds", "%d is outside %d to %d (0 means the server's default)",
			c, int64(schedules.MinCatchupWindow/time.Second), int64(MaxCatchupWindow/time.Second))
	}
	s.CatchupWindowSeconds = in.CatchupWindowSeconds
	if s.Windows, err = scan.ParseWindows(in.Windows); err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "[") { // windows[i]: names the bad one
			return scan.Scan{}, refuse(Invalid, "windows", "windows%s", msg)
		}
		return scan.Scan{}, invalid("windows", "%s", err.Error())
	}
	if err := CheckBacklog(s.StartAt, s.TimeZone, s.RRule, now); err != nil {
		return scan.Scan{}, err
	}
	if _, err := schedule.Parse(s.StartAt, s.TimeZone, s.RRule, now); err != nil {
		return scan.Scan{}, ScheduleError(err)
	}
	return s, nil
}

// ScheduleError is the refusal of a schedule that does not parse; its
// message already starts with the field at fault.
func ScheduleError(err error) error {
	field := "rrule"
	if e, ok := schedule.AsError(err); ok && e.Field != "" {
		field = e.Field
	}
	return refuse(Invalid, field, "%s", err.Error())
}

// ScheduleFields checks the schedule fields of a request that need no
// clock: the zone (UTC when empty), start_at and the rule's size and text.
func ScheduleFields(startAt *string, zone, rule string) (*time.Time, string, error) {
	zone = strings.TrimSpace(zone)
	if zone == "" {
		zone = "UTC"
	}
	// "Local" would mean whatever zone the server happens to run in.
	if _, err := time.LoadLocation(zone); err != nil || zone == "Local" {
		return nil, "", invalid("time_zone", "%q is not a known IANA time zone", Clip(zone))
	}
	var start *time.Time
	if startAt != nil && strings.TrimSpace(*startAt) != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(*startAt))
		if err != nil {
			return nil, "", invalid("start_at", "%q is not an RFC 3339 time such as 2030-01-02T03:04:05Z", Clip(*startAt))
		}
		start = &t
	}
	if n := utf8.RuneCountInString(rule); n > maxRRuleLen {
		return nil, "", invalid("rrule", "%d characters long, the limit is %d", n, maxRRuleLen)
	}
	if err := CheckPrintable("rrule", strings.ReplaceAll(rule, "\n", " ")); err != nil {
		return nil, "", err
	}
	return start, zone, nil
}

// maxBacklog is the most fire times a new schedule may have between its
// start and now: every look at the schedule walks them (about 70 days of
// a rule that fires every minute).
const maxBacklog = 100_000

// CheckBacklog refuses a start_at so far behind a frequent rule that
// walking from it to now would hold a request for seconds. The rule is
// parsed as of its own start, which costs nothing to walk; errors in it
// are left to the full check.
func CheckBacklog(start *time.Time, zone, rule string, now time.Time) error {
	if start == nil || strings.TrimSpace(rule) == "" || !start.Before(now) {
		return nil
	}
	r, err := schedule.Parse(start, zone, rule, *start)
	if err != nil || !r.FiresBefore(now, maxBacklog) {
		return nil
	}
	return invalid("start_at", "the rule fires more than %d times between %s and now; move start_at closer to now (it only sets the rule's phase)",
		maxBacklog, start.UTC().Format(time.RFC3339))
}

// checkRefs refuses the first reference that does not exist.
func (s *Scans) checkRefs(ctx context.Context, sc scan.Scan) error {
	if _, err := s.Store.GetSite(ctx, sc.SiteID); err != nil {
		return storeErr(err, scan.ErrNotFound, Invalid, "site_id", "site_id: site %d does not exist", sc.SiteID)
	}
	if _, err := s.Store.GetProfile(ctx, sc.ProfileID); err != nil {
		return storeErr(err, scan.ErrNotFound, Invalid, "profile_id", "profile_id: profile %d does not exist", sc.ProfileID)
	}
	if sc.PoolID != 0 {
		if _, err := s.Store.GetPool(ctx, sc.PoolID); err != nil {
			return storeErr(err, scan.ErrNotFound, Invalid, "pool_id", "pool_id: pool %d does not exist", sc.PoolID)
		}
		return nil
	}
	if _, err := s.Store.GetAgent(ctx, sc.AgentID); err != nil {
		return storeErr(err, scan.ErrNotFound, Invalid, "agent_id", "agent_id: agent %d does not exist", sc.AgentID)
	}
	return nil
}

// check fully validates a scan. For an edit, old is the stored scan: when
// its schedule (start, zone, rule) is kept as it was, a schedule that has
// run its course is no error, so that a finished scan can still be renamed
// or pointed elsewhere.
func (s *Scans) check(ctx context.Context, in ScanInput, old *scan.Scan) (scan.Scan, error) {
	now := s.Now()
	zone := strings.TrimSpace(in.TimeZone)
	if zone == "" {
		zone = "UTC"
	}
	if old != nil && old.StartAt != nil && in.StartAt != nil && zone == old.TimeZone && in.RRule == old.RRule {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(*in.StartAt)); err == nil && t.Equal(*old.StartAt) {
			now = old.StartAt.Add(-time.Second)
		}
	}
	sc, err := in.scan(now)
	if err != nil {
		return scan.Scan{}, err
	}
	if err := s.checkRefs(ctx, sc); err != nil {
		return scan.Scan{}, err
	}
	return sc, s.Check.Scan(ctx, sc)
}

// writeErr explains the failures a create or update can meet. The store
// reports a reference that vanished after checkRefs as ErrNotFound; that
// is still the request's fault.
func writeErr(err error, sc scan.Scan) error {
	err = storeErr(err, scan.ErrConflict, Conflict, "name", "name: a scan named %q already exists", sc.Name)
	return storeErr(err, scan.ErrNotFound, Invalid, "site_id",
		"site_id, profile_id, agent_id, pool_id: site %d, profile %d, agent %d or pool %d no longer exists", sc.SiteID, sc.ProfileID, sc.AgentID, sc.PoolID)
}

// ScheduleUnavailable is the refusal when Temporal did not take a change;
// what says what became of the scan.
func ScheduleUnavailable(what string) error {
	return refuse(Unavailable, "", "could not update the scan's schedule in Temporal (is Temporal reachable?); %s", what)
}

// Sync brings the scan's Temporal Schedule in step with it.
func (s *Scans) Sync(ctx context.Context, sc scan.Scan) error {
	res, err := schedules.Sync(ctx, s.Schedules.ScheduleClient(), sc, s.Defaults, s.Now())
	if err == nil {
		s.Log.DebugContext(ctx, "schedule synced", "scan_id", sc.ID, "result", res)
	}
	return err
}

// detach bounds a schedule change by ScheduleTimeout instead of its
// caller's context.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), ScheduleTimeout)
}

// Create checks and stores a new scan and creates its schedule; when
// Temporal does not take the schedule, the scan is removed again.
func (s *Scans) Create(ctx context.Context, in ScanInput) (scan.Scan, error) {
	ctx, cancel := detach(ctx)
	defer cancel()
	sc, err := s.check(ctx, in, nil)
	if err != nil {
		return scan.Scan{}, err
	}
	row, err := s.Store.CreateScan(ctx, sc)
	if err != nil {
		return scan.Scan{}, writeErr(err, sc)
	}
	if err := s.Sync(ctx, row); err != nil {
		s.Log.ErrorContext(ctx, "creating the scan's schedule failed", "scan_id", row.ID, "err", err)
		if derr := s.Store.DeleteScan(ctx, row.ID); derr != nil {
			s.Log.ErrorContext(ctx, "removing a scan whose schedule was not created failed", "scan_id", row.ID, "err", derr)
			return scan.Scan{}, ScheduleUnavailable(fmt.Sprintf("scan %d was stored and could not be removed; the reconciler will create its schedule", row.ID))
		}
		return scan.Scan{}, ScheduleUnavailable("no scan was created")
	}
	return row, nil
}

// Get returns the scan id names.
func (s *Scans) Get(ctx context.Context, id int64) (scan.Scan, error) {
	row, err := s.Store.GetScan(ctx, id)
	return row, notFound(err, "scan", id)
}

// Update checks and stores a scan's new definition and edits its schedule
// in place (its ID, history and running workflows stay); when Temporal
// does not take the change, the scan is restored. by (the client's
// address) goes into the pause note when the edit pauses or resumes the
// scan.
func (s *Scans) Update(ctx context.Context, id int64, in ScanInput, by string) (scan.Scan, error) {
	ctx, cancel := detach(ctx)
	defer cancel()
	// A missing scan is a 404 whatever the input says.
	old, err := s.Get(ctx, id)
	if err != nil {
		return scan.Scan{}, err
	}
	if old.Imports != "" {
		return scan.Scan{}, refuse(Conflict, "", "scan %d holds the site's imported runs; it has no profile, agent or schedule to edit", id)
	}
	sc, err := s.check(ctx, in, &old)
	if err != nil {
		return scan.Scan{}, err
	}
	sc.ID = id
	sc.PauseNote = old.PauseNote
	if sc.Enabled != old.Enabled {
		verb := "resumed"
		if !sc.Enabled {
			verb = "paused"
		}
		sc.PauseNote = fmt.Sprintf("%s by %s at %s: edit of the scan", verb, by, s.Now().UTC().Format(time.RFC3339))
	}
	updated, err := s.Store.UpdateScan(ctx, sc)
	if err != nil {
		return scan.Scan{}, writeErr(err, sc)
	}
	if err := s.Sync(ctx, updated); err != nil {
		s.Log.ErrorContext(ctx, "updating the scan's schedule failed", "scan_id", id, "err", err)
		if _, rerr := s.Store.UpdateScan(ctx, old); rerr != nil {
			s.Log.ErrorContext(ctx, "restoring the scan after a failed schedule change failed", "scan_id", id, "err", rerr)
			return scan.Scan{}, ScheduleUnavailable("the scan was changed but its schedule was not; the reconciler will repair it")
		}
		return scan.Scan{}, ScheduleUnavailable("the scan was left as it was")
	}
	return updated, nil
}

// Delete removes the scan and then its schedule. PostgreSQL decides (a scan
// with runs stays); a schedule left behind by a failure here is removed by
// the reconciler.
func (s *Scans) Delete(ctx context.Context, id int64) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	if err := s.Store.DeleteScan(ctx, id); err != nil {
		err = notFound(err, "scan", id)
		return storeErr(err, scan.ErrInUse, Conflict, "", "scan %d has runs; delete its runs first", id)
	}
	if err := schedules.Delete(ctx, s.Schedules.ScheduleClient(), id); err != nil {
		s.Log.WarnContext(ctx, "deleting the schedule of a deleted scan failed; the reconciler will", "scan_id", id, "err", err)
	}
	return nil
}

// Limits of who asks (besides the signed-in user) and why.
const (
	MaxByLen        = 200
	maxPauseNoteLen = 500
)

// Caller is who asks for a change: the signed-in user's name ("" for
// none) and the client's address.
type Caller struct {
	User string
	Addr string
}

// Author is who asks: the signed-in user, with the stated author (by)
// kept beside it when that is someone else; without a user, by or else
// the client's address.
func (c Caller) Author(by string) string {
	by = strings.TrimSpace(by)
	if c.User != "" {
		if by != "" && by != c.User {
			return c.User + " for " + by
		}
		return c.User
	}
	if by != "" {
		return by
	}
	return c.Addr
}

// PauseInput says who pauses or resumes a scan (besides the caller) and
// why.
type PauseInput struct {
	By   string `json:"by"`
	Note string `json:"note"`
}

// SetPaused disables or enables a scheduled scan, keeping who and why in
// the scan and in the schedule's note; when Temporal does not take the
// change, the scan is left as it was.
func (s *Scans) SetPaused(ctx context.Context, id int64, paused bool, in PauseInput, caller Caller) (scan.Scan, error) {
	sc, err := s.Get(ctx, id)
	if err != nil {
		return scan.Scan{}, err
	}
	by, err := CleanText("by", in.By, MaxByLen)
	if err != nil {
		return scan.Scan{}, err
	}
	by = caller.Author(by)
	note, err := CleanText("note", in.Note, maxPauseNoteLen)
	if err != nil {
		return scan.Scan{}, err
	}
	if sc.StartAt == nil {
		return scan.Scan{}, refuse(Conflict, "", "scan %d has no schedule (no start_at) to pause or resume", sc.ID)
	}
	verb := "resumed"
	if paused {
		verb = "paused"
	}
	old := sc
	sc.Enabled = !paused
	sc.PauseNote = fmt.Sprintf("%s by %s at %s", verb, by, s.Now().UTC().Format(time.RFC3339))
	if note != "" {
		sc.PauseNote += ": " + note
	}
	ctx, cancel := detach(ctx)
	defer cancel()
	updated, err := s.Store.UpdateScan(ctx, sc)
	if err != nil {
		return scan.Scan{}, notFound(err, "scan", sc.ID)
	}
	if err := s.Sync(ctx, updated); err != nil {
		s.Log.ErrorContext(ctx, "pause/resume schedule failed", "scan_id", sc.ID, "err", err)
		if _, rerr := s.Store.UpdateScan(ctx, old); rerr != nil {
			s.Log.ErrorContext(ctx, "restoring the scan after a failed schedule change failed", "scan_id", sc.ID, "err", rerr)
		}
		return scan.Scan{}, ScheduleUnavailable("the scan was left as it was")
	}
	return updated, nil
}

// Scheduled returns the schedule the scan wants now, refusing a scan that
// has none.
func (s *Scans) Scheduled(sc scan.Scan) (*schedules.ScanSchedule, error) {
	want, err := schedules.Desired(sc, s.Defaults, s.Now())
	if err != nil {
		return nil, err
	}
	if want == nil {
		return nil, refuse(Conflict, "", "scan %d has no schedule (no future fire time); start a run with POST /api/v1/scans/%d/runs", sc.ID, sc.ID)
	}
	return want, nil
}

// Trigger starts a run now through the scan's schedule, under its overlap
// policy, and returns the schedule's options. The schedule is repaired
// first, so that a trigger never meets a missing or stale one.
func (s *Scans) Trigger(ctx context.Context, id int64, caller Caller) (*schedules.ScanSchedule, scan.Scan, error) {
	sc, err := s.Get(ctx, id)
	if err != nil {
		return nil, scan.Scan{}, err
	}
	want, err := s.Scheduled(sc)
	if err != nil {
		return nil, scan.Scan{}, err
	}
	ctx, cancel := detach(ctx)
	defer cancel()
	if err := s.Sync(ctx, sc); err != nil {
		s.Log.ErrorContext(ctx, "sync before trigger failed", "scan_id", sc.ID, "err", err)
		return nil, scan.Scan{}, ScheduleUnavailable("nothing was started")
	}
	if err := s.Schedules.ScheduleClient().GetHandle(ctx, want.Options.ID).Trigger(ctx, client.ScheduleTriggerOptions{Overlap: want.Options.Overlap}); err != nil {
		s.Log.ErrorContext(ctx, "trigger schedule failed", "scan_id", sc.ID, "err", err)
		return nil, scan.Scan{}, refuse(Unavailable, "", "could not trigger the scan's schedule (is Temporal reachable?)")
	}
	s.Log.InfoContext(ctx, "trigger", "scan_id", sc.ID, "by", caller.Addr)
	return want, sc, nil
}
