package web

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
)

// ProfileStore keeps scanner profiles.
type ProfileStore = manage.ProfileStore

// ProfileService is what the profile handlers and forms ask of profiles;
// *manage.Profiles does it.
type ProfileService interface {
	Create(ctx context.Context, role accounts.Role, in manage.ProfileInput) (scan.Profile, error)
	Get(ctx context.Context, id int64) (scan.Profile, error)
	List(ctx context.Context) ([]scan.Profile, error)
	Update(ctx context.Context, role accounts.Role, id int64, in manage.ProfileInput) (scan.Profile, error)
	Delete(ctx context.Context, id int64) error
}

type profileHandlers struct {
	base
	profiles ProfileService
}

func (h *profileHandlers) create(c *gin.Context) error {
	var in manage.ProfileInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	row, err := h.profiles.Create(c.Request.Context(), roleOf(c), in)
	if err != nil {
		return err
	}
	created(c, "profiles", row.ID, row)
	return nil
}

func (h *profileHandlers) list(c *gin.Context) error {
	return listAll(c, h.profiles.List, func(p scan.Profile) string { return p.Name })
}

func (h *profileHandlers) get(c *gin.Context) error { return getOne(c, h.profiles.Get) }

func (h *profileHandlers) update(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in manage.ProfileInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	row, err := h.profiles.Update(c.Request.Context(), roleOf(c), id, in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, row)
	return nil
}

func (h *profileHandlers) delete(c *gin.Context) error { return deleteOne(c, h.profiles.Delete) }
