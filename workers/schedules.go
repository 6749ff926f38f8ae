package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/metrics"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/schedules"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// ScanLister is the part of the store the schedule reconciler reads.
type ScanLister interface {
	ListScans(ctx context.Context) ([]scan.Scan, error)
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
}

// ScheduleReconciler keeps every scan's Temporal Schedule as PostgreSQL
// defines it. PostgreSQL is the source of truth: a schedule deleted or
// changed in Temporal (Web UI, CLI) comes back as the scan says, enumerated
// specs are topped up, and schedules of scans that no longer exist go.
type ScheduleReconciler struct {
	Store     ScanLister
	Schedules client.ScheduleClient
	Defaults  schedules.Defaults
	Logger    *slog.Logger
	// Every is how often to look (default one minute). An enumerated
	// spec lists 100 fire times and is topped up below 50, so for the
	// finest rules (every minute) this must stay well under 50 minutes.
	Every time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Metrics, when set, times each pass.
	Metrics *metrics.Registry
	// FullEvery is how often a pass describes every schedule, to repair
	// edits made in Temporal itself that leave the schedule's Key alone
	// (default one hour). The passes between only look at schedules whose
	// scan changed, that are due, missing, orphaned or paused otherwise.
	FullEvery time.Duration

	mu       sync.Mutex
	synced   bool  // a pass has brought every schedule in step
	lastErr  error // why the last pass before that failed
	stubborn int   // complete passes in a row that failed only on single scans
	lastFull time.Time
}

// stubbornPasses is how many complete passes in a row may fail on single
// scans alone before the server counts as synced anyway: one scan whose
// schedule Temporal keeps refusing is logged on every pass, but does not
// keep the whole server from taking traffic.
const stubbornPasses = 3

// ErrSchedulesNotSynced is what Synced says until a reconcile pass has
// completed without error.
var ErrSchedulesNotSynced = errors.New("the first schedule reconcile has not completed")

// Synced returns nil once a reconcile pass has completed without error:
// from then on every scan's schedule has been brought in step with
// PostgreSQL at least once since the process started, which is what the
// server's readiness waits for. Before that it returns
// ErrSchedulesNotSynced, wrapping the last pass's failure if there was one.
func (r *ScheduleReconciler) Synced() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.synced:
		return nil
	case r.lastErr != nil:
		return fmt.Errorf("%w: %w", ErrSchedulesNotSynced, r.lastErr)
	default:
		return ErrSchedulesNotSynced
	}
}

// record notes how a pass ended, for Synced: complete says the pass saw
// every scan and every schedule, so err names single scans only.
func (r *ScheduleReconciler) record(complete bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.synced:
	case err == nil:
		r.synced = true
	case complete:
		r.lastErr = err
		r.stubborn++
		if r.stubborn >= stubbornPasses {
			r.synced = true
			r.Logger.Error("schedules of single scans cannot be brought in step; the server counts as ready without them", "error", err)
		}
	default:
		r.lastErr = err
		r.stubborn = 0
	}
}

// ScheduleReport counts what one pass did.
type ScheduleReport struct {
	Created, Updated, Deleted, Orphans int
	// Scans is how many scans the pass looked at; Full says it described
	// every schedule.
	Scans int
	Full  bool
}

// Changed reports whether the pass changed anything.
func (r ScheduleReport) Changed() bool {
	return r.Created+r.Updated+r.Deleted+r.Orphans > 0
}

// syncRetry is how soon Run tries again while no pass has succeeded yet:
// the server is not ready until one has, so it should not wait a minute.
const syncRetry = 2 * time.Second

// Run reconciles at once and then every r.Every until ctx is done; until a
// pass has succeeded (see Synced) it retries every few seconds instead.
func (r *ScheduleReconciler) Run(ctx context.Context) error {
	every := r.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		began := time.Now()
		rep, err := r.Once(ctx)
		took := time.Since(began)
		r.Metrics.ObserveReconcile("schedules", took, err)
		if err != nil && ctx.Err() == nil {
			r.Logger.Warn("reconcile schedules", "error", err, "duration", took)
		}
		r.Logger.Info("reconciled schedules", "duration", took, "scans", rep.Scans, "full", rep.Full,
			"changes", rep.Created+rep.Updated+rep.Deleted+rep.Orphans,
			"created", rep.Created, "updated", rep.Updated, "deleted", rep.Deleted, "orphans", rep.Orphans)
		wait := every
		if r.Synced() != nil {
			wait = min(every, syncRetry)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once brings every scan's schedule in step and deletes schedules whose
// scan is gone. It goes on past a failing scan and reports all failures.
func (r *ScheduleReconciler) Once(ctx context.Context) (ScheduleReport, error) {
	rep, complete, err := r.once(ctx)
	if ctx.Err() == nil {
		r.record(complete, err)
	}
	return rep, err
}

// once is one pass; complete reports that it listed every scan and every
// schedule, so that its errors, if any, are those of single scans.
//
// One paged ListSchedules returns each schedule's Key: a schedule whose
// Key matches its scan's Hash, is not due and is paused as the scan says
// costs no further call. Only the others are described and updated,
// missing ones created and orphans deleted, so a pass costs a few list
// pages plus O(changes) calls. The first pass, and one every FullEvery,
// describes every schedule to repair edits made in Temporal itself.
func (r *ScheduleReconciler) once(ctx context.Context) (rep ScheduleReport, complete bool, err error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	scans, err := r.Store.ListScans(ctx)
	if err != nil {
		return rep, false, err
	}
	rep.Scans = len(scans)
	listed := map[string]*client.ScheduleListEntry{}
	it, err := r.Schedules.List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return rep, false, fmt.Errorf("list schedules: %w", err)
	}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return rep, false, fmt.Errorf("list schedules: %w", err)
		}
		listed[e.ID] = e
	}
	full := r.fullDue(now())
	rep.Full = full
	var errs []error
	for _, s := range scans {
		id := workflows.ScanScheduleID(s.ID)
		e, ok := listed[id]
		delete(listed, id)
		var res schedules.SyncResult
		var err error
		switch {
		case ok && !full && r.Defaults.Keyed && e.Paused == !s.Enabled &&
			schedules.KeyOf(e.SearchAttributes).Current(schedules.Hash(s, r.Defaults), now()):
			continue
		case !ok && s.StartAt == nil:
			continue // manual only: no schedule wanted, none there
		case !ok:
			// Not listed: create it, or sync it if the listing lagged.
			res, err = schedules.Create(ctx, r.Schedules, s, r.Defaults, now())
		default:
			res, err = schedules.Sync(ctx, r.Schedules, s, r.Defaults, now())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("scan %d: %w", s.ID, err))
			continue
		}
		switch res {
		case schedules.SyncCreated:
			rep.Created++
		case schedules.SyncUpdated:
			rep.Updated++
		case schedules.SyncDeleted:
			rep.Deleted++
		}
		if res != schedules.SyncUnchanged && res != schedules.SyncNone {
			r.Logger.Info("schedule reconciled", "scan_id", s.ID, "result", res)
		}
	}
	for sid := range listed {
		var id int64
		if _, err := fmt.Sscanf(sid, "scan-%d-schedule", &id); err != nil || workflows.ScanScheduleID(id) != sid {
			continue // not ours
		}
		// A scan created since ListScans has its row before its schedule.
		if _, err := r.Store.GetScan(ctx, id); !errors.Is(err, postgres.ErrNotFound) {
			continue
		}
		if err := schedules.Delete(ctx, r.Schedules, id); err != nil {
			errs = append(errs, fmt.Errorf("orphan schedule %s: %w", sid, err))
			continue
		}
		r.Logger.Info("deleted the schedule of a scan that no longer exists", "schedule_id", sid)
		rep.Orphans++
	}
	if len(errs) == 0 && full {
		r.mu.Lock()
		r.lastFull = now()
		r.mu.Unlock()
	}
	return rep, true, errors.Join(errs...)
}

// fullDue reports whether this pass should describe every schedule: the
// first one, and one every FullEvery after the last complete full pass.
func (r *ScheduleReconciler) fullDue(now time.Time) bool {
	every := r.FullEvery
	if every <= 0 {
		every = time.Hour
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastFull.IsZero() || !now.Before(r.lastFull.Add(every)) || now.Before(r.lastFull)
}
