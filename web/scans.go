package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/schedules"
)

// ScanStore is what the scan handlers read besides the operations
// (manage.ScanStore): pages of scans and their recent runs.
type ScanStore interface {
	SearchScans(ctx context.Context, f scan.ScanFilter) ([]scan.Scan, int, error)
	ListRuns(ctx context.Context, f scan.RunFilter) ([]scan.Run, error)
}

type scanHandlers struct {
	base
	store     ScanStore
	scans     ScanService
	schedules Schedules
	defaults  schedules.Defaults
	links     temporalLinks
	now       func() time.Time
	planner   *planner
}

// ScanService is what the scan handlers and forms ask to be done to
// scans; *manage.Scans does it, keeping each scan's schedule in step.
type ScanService interface {
	Get(ctx context.Context, id int64) (scan.Scan, error)
	Create(ctx context.Context, in manage.ScanInput) (scan.Scan, error)
	Update(ctx context.Context, id int64, in manage.ScanInput, by string) (scan.Scan, error)
	Delete(ctx context.Context, id int64) error
	Sync(ctx context.Context, s scan.Scan) error
	SetPaused(ctx context.Context, id int64, paused bool, in manage.PauseInput, caller manage.Caller) (scan.Scan, error)
	Scheduled(s scan.Scan) (*schedules.ScanSchedule, error)
	Trigger(ctx context.Context, id int64, caller manage.Caller) (*schedules.ScanSchedule, scan.Scan, error)
}

func (h *scanHandlers) create(c *gin.Context) error {
	var in manage.ScanInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request.Context()
	row, err := h.scans.Create(ctx, in)
	if err != nil {
		return err
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
	return listPaged(c, h.page)
}

// page is the page of scans lq chooses.
func (h *scanHandlers) page(ctx context.Context, lq listQuery) ([]scanView, int, error) {
	scans, total, err := h.store.SearchScans(ctx, scan.ScanFilter{Name: lq.Q, Limit: lq.Limit, Offset: lq.Offset})
	if err != nil {
		return nil, 0, err
	}
	out := make([]scanView, 0, len(scans))
	for _, s := range scans {
		v, err := h.view(ctx, s, false)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, v)
	}
	return out, total, nil
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
	var in manage.ScanInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request.Context()
	updated, err := h.scans.Update(ctx, id, in, c.ClientIP())
	if err != nil {
		return err
	}
	v, err := h.view(ctx, updated, false)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, v)
	return nil
}

// delete removes the scan and then its schedule.
func (h *scanHandlers) delete(c *gin.Context) error { return deleteOne(c, h.scans.Delete) }

// windowStateView is scan.WindowState as the API shows it.
type windowStateView struct {
	Open  bool      `json:"open"`
	Until time.Time `json:"until"`
}

// windowStateOf reads a scan's windows at now, in its zone; nil when it
// has none (or a zone this server does not know).
func windowStateOf(s scan.Scan, now time.Time) *windowStateView {
	if len(s.Windows) == 0 {
		return nil
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return nil
	}
	st := s.Windows.At(now, loc)
	return &windowStateView{Open: st.Open, Until: st.Until}
}
