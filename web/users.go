package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
)

// accountHandlers serve the API of users and tokens.
type accountHandlers struct {
	*authn
	users UserService
}

// UserService is what the account handlers and forms ask of users;
// *manage.Users does it.
type UserService interface {
	Create(ctx context.Context, in manage.UserInput) (accounts.User, error)
	Get(ctx context.Context, id int64) (accounts.User, error)
	List(ctx context.Context) ([]accounts.User, error)
	Update(ctx context.Context, id int64, in manage.UserUpdate) (accounts.User, error)
	Delete(ctx context.Context, id int64) error
	ChangeOwnPassword(ctx context.Context, me accounts.User, in manage.PasswordChange) error
	Tokens(ctx context.Context, userID int64) ([]accounts.Token, error)
	RevokeToken(ctx context.Context, u accounts.User, tokenID int64) error
}

type loginRequest struct {
	Name          string `json:"name"`
	Password      string `json:"password"`
	TokenName     string `json:"token_name"`
	ExpiresInDays int    `json:"expires_in_days"`
}

// newTokenJSON is a token as made: the only answer that holds its secret.
type newTokenJSON struct {
	accounts.Token
	Secret string `json:"token"`
}

// apiLogin trades a name and password for a new API token, for the CLI.
func (h *accountHandlers) apiLogin(c *gin.Context) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		// A malformed attempt is a failed one: it must not be a way
		// around the limit.
		h.limiter.failed(c.ClientIP(), "")
		return err
	}
	if strings.TrimSpace(req.TokenName) == "" {
		req.TokenName = "login"
	}
	if _, err := cleanName("token_name", req.TokenName); err != nil {
		return err
	}
	u, err := h.login(c, req.Name, req.Password)
	if err != nil {
		return err
	}
	t, secret, err := h.newToken(c.Request.Context(), u, req.TokenName, req.ExpiresInDays)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, newTokenJSON{Token: t, Secret: secret})
	return nil
}

func (h *accountHandlers) me(c *gin.Context) error {
	c.JSON(http.StatusOK, who(c).user)
	return nil
}

func (h *accountHandlers) listTokens(c *gin.Context) error {
	return h.tokensOf(c, who(c).user.ID)
}

func (h *accountHandlers) createToken(c *gin.Context) error {
	var req struct {
		Name          string `json:"name"`
		ExpiresInDays int    `json:"expires_in_days"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, secret, err := h.newToken(c.Request.Context(), who(c).user, req.Name, req.ExpiresInDays)
	if err != nil {
		return err
	}
	c.Header("Location", "/api/v1/tokens")
	c.JSON(http.StatusCreated, newTokenJSON{Token: t, Secret: secret})
	return nil
}

// revokeToken revokes one of the caller's own tokens.
func (h *accountHandlers) revokeToken(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.store.RevokeToken(c.Request.Context(), id, who(c).user.ID); err != nil {
		return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "token %d not found among your tokens", id)
	}
	c.Status(http.StatusNoContent)
	return nil
}

// userTokens lists any user's tokens, for an admin.
func (h *accountHandlers) userTokens(c *gin.Context) error {
	u, err := h.userOf(c)
	if err != nil {
		return err
	}
	return h.tokensOf(c, u.ID)
}

// tokensOf answers the tokens of a user, searchable and paged as listAll.
func (h *accountHandlers) tokensOf(c *gin.Context, userID int64) error {
	return listAll(c, func(ctx context.Context) ([]accounts.Token, error) { return h.users.Tokens(ctx, userID) },
		func(t accounts.Token) string { return t.Name })
}

// revokeUserToken revokes any user's token, for an admin.
func (h *accountHandlers) revokeUserToken(c *gin.Context) error {
	u, err := h.userOf(c)
	if err != nil {
		return err
	}
	id, err := pathParamID(c, "token_id")
	if err != nil {
		return err
	}
	if err := h.users.RevokeToken(c.Request.Context(), u, id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// userOf is the user :id names, or a 404.
func (h *accountHandlers) userOf(c *gin.Context) (accounts.User, error) {
	id, err := pathID(c)
	if err != nil {
		return accounts.User{}, err
	}
	return h.users.Get(c.Request.Context(), id)
}

func (h *accountHandlers) listUsers(c *gin.Context) error {
	return listAll(c, h.users.List, func(u accounts.User) string { return u.Name })
}

func (h *accountHandlers) getUser(c *gin.Context) error { return getOne(c, h.users.Get) }

func (h *accountHandlers) createUser(c *gin.Context) error {
	var in manage.UserInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	u, err := h.users.Create(c.Request.Context(), in)
	if err != nil {
		return err
	}
	created(c, "users", u.ID, u)
	return nil
}

// updateUser changes a role and, if given, the password. The last admin
// cannot be demoted, so that someone can always manage accounts.
func (h *accountHandlers) updateUser(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in manage.UserUpdate
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	u, err := h.users.Update(c.Request.Context(), id, in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, u)
	return nil
}

func (h *accountHandlers) deleteUser(c *gin.Context) error { return deleteOne(c, h.users.Delete) }

// changeOwnPassword lets any user change their password, proving they know
// the current one. Every session of the user ends, this one included.
func (h *accountHandlers) changeOwnPassword(c *gin.Context) error {
	var in manage.PasswordChange
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := h.users.ChangeOwnPassword(c.Request.Context(), who(c).user, in); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
