package web

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
)

// ExclusionStore keeps the global exclusions, which no scan ever touches.
type ExclusionStore = manage.ExclusionStore

// ExclusionService is what the exclusion handlers and forms ask of global
// exclusions; *manage.Exclusions does it.
type ExclusionService interface {
	Create(ctx context.Context, in manage.ExclusionInput) (scan.Exclusion, error)
	List(ctx context.Context) ([]scan.Exclusion, error)
	Delete(ctx context.Context, id int64) error
}

type exclusionHandlers struct {
	base
	exclusions ExclusionService
}

func (h *exclusionHandlers) create(c *gin.Context) error {
	var in manage.ExclusionInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	row, err := h.exclusions.Create(c.Request.Context(), in)
	if err != nil {
		return err
	}
	created(c, "exclusions", row.ID, row)
	return nil
}

func (h *exclusionHandlers) list(c *gin.Context) error {
	return listAll(c, h.exclusions.List, func(e scan.Exclusion) string { return e.Target + " " + e.Note })
}

func (h *exclusionHandlers) delete(c *gin.Context) error { return deleteOne(c, h.exclusions.Delete) }
