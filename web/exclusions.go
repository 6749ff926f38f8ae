package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
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
	if err := h.check.checkUsers(c.Request.Context(), http.StatusBadRequest, func(scan.Finding) string { return "target" }, func(scan.Scan) bool { return true },
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

// delete removes a global exclusion unless that would put a scan over the
// address limit (409 naming the scans): a run of it would fail.
func (h *exclusionHandlers) delete(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	all, err := h.store.ListExclusions(c.Request.Context())
	if err != nil {
		return err
	}
	i := slices.IndexFunc(all, func(e scan.Exclusion) bool { return e.ID == id })
	if i < 0 {
		return errorf(http.StatusNotFound, "exclusion %d not found", id)
	}
	gone := all[i].Target
	field := func(scan.Finding) string { return fmt.Sprintf("exclusion %d (%s)", id, gone) }
	without := func(pl *scan.Plan) {
		if j := slices.Index(pl.GlobalExclusions, gone); j >= 0 {
			pl.GlobalExclusions = slices.Delete(pl.GlobalExclusions, j, j+1)
		}
	}
	if err := h.check.checkUsers(c.Request.Context(), http.StatusConflict, field, func(scan.Scan) bool { return true }, without, []string{scan.RuleTargets}); err != nil {
		return err
	}
	return deleteByID(c, "exclusion", h.store.DeleteExclusion, "is in use")
}
