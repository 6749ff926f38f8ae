package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
)

// ExclusionStore keeps the global exclusions, which no scan ever touches.
type ExclusionStore interface {
	CreateExclusion(ctx context.Context, e scan.Exclusion) (scan.Exclusion, error)
	ListExclusions(ctx context.Context) ([]scan.Exclusion, error)
	DeleteExclusion(ctx context.Context, id int64) error
}

type exclusionHandlers struct {
	base
	store ExclusionStore
	check *checker
}

type exclusionRequest struct {
	Target string `json:"target"`
	Note   string `json:"note"`
}

func (r exclusionRequest) exclusion() (scan.Exclusion, error) {
	if _, err := scan.ParseTarget(r.Target); err != nil {
		return scan.Exclusion{}, badRequest("target: %v", err)
	}
	note, err := cleanText("note", r.Note, maxDescriptionLen)
	if err != nil {
		return scan.Exclusion{}, err
	}
	return scan.Exclusion{Target: strings.TrimSpace(r.Target), Note: note}, nil
}

func (h *exclusionHandlers) create(c *gin.Context) error {
	var req exclusionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	e, err := req.exclusion()
	if err != nil {
		return err
	}
	// Every scan takes the global exclusions: one that would leave a
	// scan nothing to scan, or give masscan a host name, is refused and
	// names the scans it would break.
	if err := h.check.checkUsers(c.Request.Context(), func(scan.Finding) string { return "target" }, func(scan.Scan) bool { return true },
		func(pl *scan.Plan) { pl.GlobalExclusions = append(pl.GlobalExclusions, e.Target) }, siteRules); err != nil {
		return err
	}
	row, err := h.store.CreateExclusion(c.Request.Context(), e)
	if err != nil {
		return mapErr(err, postgres.ErrConflict, http.StatusConflict, "target: %q is already excluded", e.Target)
	}
	created(c, "exclusions", row.ID, row)
	return nil
}

func (h *exclusionHandlers) list(c *gin.Context) error {
	return listAll(c, h.store.ListExclusions, func(e scan.Exclusion) string { return e.Target + " " + e.Note })
}

func (h *exclusionHandlers) delete(c *gin.Context) error {
	return deleteByID(c, "exclusion", h.store.DeleteExclusion, "is in use")
}
