package web

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
)

// SiteStore keeps sites.
type SiteStore = manage.SiteStore

// SiteService is what the site handlers and forms ask of sites;
// *manage.Sites does it.
type SiteService interface {
	Create(ctx context.Context, in manage.SiteInput) (scan.Site, error)
	Get(ctx context.Context, id int64) (scan.Site, error)
	List(ctx context.Context) ([]scan.Site, error)
	Update(ctx context.Context, id int64, in manage.SiteInput) (scan.Site, error)
	Delete(ctx context.Context, id int64) error
}

type siteHandlers struct {
	base
	sites SiteService
}

func (h *siteHandlers) create(c *gin.Context) error {
	var in manage.SiteInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	row, err := h.sites.Create(c.Request.Context(), in)
	if err != nil {
		return err
	}
	created(c, "sites", row.ID, row)
	return nil
}

func (h *siteHandlers) list(c *gin.Context) error {
	return listAll(c, h.sites.List, func(s scan.Site) string { return s.Name })
}

func (h *siteHandlers) get(c *gin.Context) error { return getOne(c, h.sites.Get) }

func (h *siteHandlers) update(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in manage.SiteInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	row, err := h.sites.Update(c.Request.Context(), id, in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, row)
	return nil
}

func (h *siteHandlers) delete(c *gin.Context) error { return deleteOne(c, h.sites.Delete) }
