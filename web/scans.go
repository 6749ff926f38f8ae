package web

import (
	"context"
	"net/http"
	"strings"
	"time"
	_ "time/tzdata" // time zones must not depend on the host having tzdata

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
)

// ScanStore keeps scans. A scan refers to a site, a profile and an agent or
// a pool, which are looked up to refuse dangling references with a clear
// message.
type ScanStore interface {
	CreateScan(ctx context.Context, s scan.Scan) (scan.Scan, error)
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
	ListScans(ctx context.Context) ([]scan.Scan, error)
	UpdateScan(ctx context.Context, s scan.Scan) (scan.Scan, error)
	DeleteScan(ctx context.Context, id int64) error

	GetSite(ctx context.Context, id int64) (scan.Site, error)
	GetProfile(ctx context.Context, id int64) (scan.Profile, error)
	GetAgent(ctx context.Context, id int64) (scan.Agent, error)
	GetPool(ctx context.Context, id int64) (scan.Pool, error)
}

type scanHandlers struct {
	base
	store ScanStore
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
}

const maxRRuleLen = 1000

// scan checks the fields that need no database.
func (r scanRequest) scan() (scan.Scan, error) {
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
	if r.ShardSize < 0 {
		return scan.Scan{}, badRequest("shard_size: %d is not a number of addresses; leave it out for the server's setting", r.ShardSize)
	}
	s := scan.Scan{
		Name: name, SiteID: r.SiteID, ProfileID: r.ProfileID, AgentID: r.AgentID, PoolID: r.PoolID,
		ShardSize: uint64(r.ShardSize), TimeZone: strings.TrimSpace(r.TimeZone), RRule: r.RRule, Enabled: true,
	}
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	// "Local" would mean whatever zone the server happens to run in.
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "Local" {
		return scan.Scan{}, badRequest("time_zone: %q is not a known IANA time zone", clip(s.TimeZone))
	}
	if r.StartAt != nil && strings.TrimSpace(*r.StartAt) != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(*r.StartAt))
		if err != nil {
			return scan.Scan{}, badRequest("start_at: %q is not an RFC 3339 time such as 2030-01-02T03:04:05Z", clip(*r.StartAt))
		}
		s.StartAt = &t
	}
	// Nothing starts scans on a schedule yet. Accepting a start time or a
	// recurrence that never fires would mislead the operator, so both are
	// refused until schedules exist.
	if s.StartAt != nil {
		return scan.Scan{}, badRequest("start_at: scheduled scans are not supported yet; start a run with POST /api/v1/scans/:id/runs")
	}
	if strings.TrimSpace(r.RRule) != "" {
		return scan.Scan{}, badRequest("rrule: recurring scans are not supported yet; start a run with POST /api/v1/scans/:id/runs")
	}
	if len(r.RRule) > maxRRuleLen {
		return scan.Scan{}, badRequest("rrule: %d bytes long, the limit is %d", len(r.RRule), maxRRuleLen)
	}
	if err := checkPrintable("rrule", strings.ReplaceAll(r.RRule, "\n", " ")); err != nil {
		return scan.Scan{}, err
	}
	if r.Enabled != nil {
		s.Enabled = *r.Enabled
	}
	return s, nil
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

// read decodes and fully validates a scan from the request.
func (h *scanHandlers) read(c *gin.Context) (scan.Scan, error) {
	var req scanRequest
	if err := decodeJSON(c, &req); err != nil {
		return scan.Scan{}, err
	}
	s, err := req.scan()
	if err != nil {
		return scan.Scan{}, err
	}
	return s, h.checkRefs(c.Request.Context(), s)
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
	s, err := h.read(c)
	if err != nil {
		return err
	}
	row, err := h.store.CreateScan(c.Request.Context(), s)
	if err != nil {
		return storeWriteErr(err, s)
	}
	created(c, "scans", row.ID, row)
	return nil
}

func (h *scanHandlers) list(c *gin.Context) error { return listAll(c, h.store.ListScans) }

func (h *scanHandlers) get(c *gin.Context) error { return getByID(c, "scan", h.store.GetScan) }

func (h *scanHandlers) update(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	// A missing scan is a 404 whatever the body says.
	if _, err := h.store.GetScan(c.Request.Context(), id); err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", id)
	}
	s, err := h.read(c)
	if err != nil {
		return err
	}
	s.ID = id
	updated, err := h.store.UpdateScan(c.Request.Context(), s)
	if err != nil {
		return storeWriteErr(err, s)
	}
	c.JSON(http.StatusOK, updated)
	return nil
}

func (h *scanHandlers) delete(c *gin.Context) error {
	return deleteByID(c, "scan", h.store.DeleteScan, "has runs; delete its runs first")
}
