package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
)

// ExpiringRuns is the part of the store retention uses.
type ExpiringRuns interface {
	ListExpiredRuns(ctx context.Context, createdBefore time.Time, limit int) ([]scan.Run, error)
	DeleteRun(ctx context.Context, id int64) error
}

// PrefixDeleter removes every object under a key prefix; objects.Store
// satisfies it.
type PrefixDeleter interface {
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

// Retention deletes finished runs older than Age: first every object stored
// under the run's key prefix (raw scanner output, exports) and the copies of
// its exports in the export targets, then the run's rows (shards, hosts and ports go with it). Objects go first so that a
// failure leaves the run listed, to be retried on the next pass, rather
// than objects nobody knows of.
type Retention struct {
	Store   ExpiringRuns
	Objects PrefixDeleter
	// Targets are the export targets, whose copies of a run's exports go
	// with the run.
	Targets []activities.ExportTarget
	Age     time.Duration
	Logger  *slog.Logger
	// Every is how often to look (default one hour).
	Every time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// retentionBatch bounds the runs one pass lists at a time.
const retentionBatch = 100

// Run deletes expired runs at once and then every r.Every until ctx is
// done. With no Age it does nothing.
func (r *Retention) Run(ctx context.Context) error {
	if r.Age <= 0 {
		return nil
	}
	every := r.Every
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := r.Once(ctx); err != nil {
			r.Logger.Warn("retention", "error", err, "deleted", n)
		} else if n > 0 {
			r.Logger.Info("deleted runs past retention", "runs", n, "older_than", r.Age)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once deletes every finished run created more than Age ago and returns how
// many it deleted. A run whose objects cannot be deleted is kept and the
// error reported; the others are still deleted.
func (r *Retention) Once(ctx context.Context) (int, error) {
	if r.Age <= 0 {
		return 0, errors.New("retention: no age set")
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	before := now().Add(-r.Age)
	deleted := 0
	var errs []error
	failed := map[int64]bool{}
	for {
		runs, err := r.Store.ListExpiredRuns(ctx, before, retentionBatch+len(failed))
		if err != nil {
			return deleted, err
		}
		progress := false
		for _, run := range runs {
			if failed[run.ID] {
				continue
			}
			if err := r.delete(ctx, run.ID); err != nil {
				failed[run.ID] = true
				errs = append(errs, err)
				continue
			}
			deleted++
			progress = true
		}
		if !progress || len(runs) < retentionBatch+len(failed) {
			return deleted, errors.Join(errs...)
		}
	}
}

func (r *Retention) delete(ctx context.Context, runID int64) error {
	if _, err := r.Objects.DeletePrefix(ctx, scan.RunPrefix(runID)); err != nil {
		return fmt.Errorf("run %d: %w", runID, err)
	}
	for _, t := range r.Targets {
		for _, export := range []string{scan.CSVExport, scan.JSONLExport, scan.XMLExport} {
			if err := t.Remove(ctx, scan.ExportFileName(runID, export)); err != nil {
				return fmt.Errorf("run %d: %s: %w", runID, t, err)
			}
		}
	}
	// Another server may have deleted it meanwhile.
	if err := r.Store.DeleteRun(ctx, runID); err != nil && !errors.Is(err, postgres.ErrNotFound) {
		return fmt.Errorf("run %d: %w", runID, err)
	}
	return nil
}
