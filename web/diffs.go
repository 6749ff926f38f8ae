package web

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
)

// DiffStore reads the changes between runs.
type DiffStore interface {
	GetRun(ctx context.Context, id int64) (scan.Run, error)
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
	GetDiff(ctx context.Context, runID int64) (scan.Diff, error)
	ListDiffs(ctx context.Context, scanID int64, limit, offset int) ([]scan.DiffSummary, error)
	CountDiffs(ctx context.Context, scanID int64) (int, error)
	ListChangedDiffs(ctx context.Context, limit int) ([]scan.DiffSummary, error)
}

type diffHandlers struct {
	base
	store DiffStore
}

// run answers a run's diff against the previous completed run of its scan.
func (h *diffHandlers) run(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	r, err := h.store.GetRun(ctx, id)
	if err != nil {
		return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "run %d not found", id)
	}
	d, err := h.store.GetDiff(ctx, r.ID)
	if err != nil {
		if r.Status != scan.RunCompleted {
			return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "run %d is %s: only completed runs have a diff", r.ID, r.Status)
		}
		return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "the diff of run %d is not available yet", r.ID)
	}
	c.JSON(http.StatusOK, d)
	return nil
}

// scan lists the diffs of a scan's runs, newest first, without changes.
func (h *diffHandlers) scan(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	limit, offset, err := page(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if _, err := h.store.GetScan(ctx, id); err != nil {
		return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "scan %d not found", id)
	}
	diffs, err := h.store.ListDiffs(ctx, id, limit, offset)
	if err != nil {
		return err
	}
	total, err := h.store.CountDiffs(ctx, id)
	if err != nil {
		return err
	}
	writeList(c, diffs, total)
	return nil
}
