package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/storage/postgres"
)

// accountHandlers serve the API of users and tokens.
type accountHandlers struct {
	*authn
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
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "token %d not found among your tokens", id)
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
	return listAll(c, func(ctx context.Context) ([]accounts.Token, error) { return h.store.ListTokens(ctx, userID) },
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
	if err := h.store.RevokeToken(c.Request.Context(), id, u.ID); err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "token %d not found among %s's tokens", id, u.Name)
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
	u, err := h.store.GetUser(c.Request.Context(), id)
	if err != nil {
		return accounts.User{}, mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "user %d not found", id)
	}
	return u, nil
}

type userRequest struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

func (h *accountHandlers) listUsers(c *gin.Context) error {
	return listAll(c, h.store.ListUsers, func(u accounts.User) string { return u.Name })
}

func (h *accountHandlers) getUser(c *gin.Context) error {
	return getByID(c, "user", h.store.GetUser)
}

func (h *accountHandlers) createUser(c *gin.Context) error {
	var req userRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, err := newUser(req)
	if err != nil {
		return err
	}
	u, err = h.store.CreateUser(c.Request.Context(), u)
	if err != nil {
		return mapErr(err, postgres.ErrConflict, http.StatusConflict, "name: a user named %q already exists", req.Name)
	}
	created(c, "users", u.ID, u)
	return nil
}

// newUser checks a new user's name, role and password and hashes the
// password.
func newUser(req userRequest) (accounts.User, error) {
	name := strings.TrimSpace(req.Name)
	if err := accounts.CheckName(name); err != nil {
		return accounts.User{}, badRequest("name: %v", err)
	}
	role, err := accounts.ParseRole(req.Role)
	if err != nil {
		return accounts.User{}, badRequest("role: %v", err)
	}
	hash, err := accounts.HashPassword(req.Password)
	if err != nil {
		return accounts.User{}, badRequest("%v", err)
	}
	return accounts.User{Name: name, Role: role, PasswordHash: hash}, nil
}

// updateUser changes a role and, if given, the password. The last admin
// cannot be demoted, so that someone can always manage accounts.
func (h *accountHandlers) updateUser(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req struct {
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	role, err := accounts.ParseRole(req.Role)
	if err != nil {
		return badRequest("role: %v", err)
	}
	hash := ""
	if req.Password != "" {
		if hash, err = accounts.HashPassword(req.Password); err != nil {
			return badRequest("%v", err)
		}
	}
	ctx := c.Request.Context()
	old, err := h.store.GetUser(ctx, id)
	if err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "user %d not found", id)
	}
	if old.Role == accounts.Admin && role != accounts.Admin {
		if err := h.keepAnAdmin(c); err != nil {
			return err
		}
	}
	u, err := h.store.UpdateUser(ctx, id, role, hash)
	if err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "user %d not found", id)
	}
	c.JSON(http.StatusOK, u)
	return nil
}

func (h *accountHandlers) deleteUser(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	u, err := h.store.GetUser(c.Request.Context(), id)
	if err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "user %d not found", id)
	}
	if u.Role == accounts.Admin {
		if err := h.keepAnAdmin(c); err != nil {
			return err
		}
	}
	return deleteByID(c, "user", h.store.DeleteUser, "")
}

func (h *accountHandlers) keepAnAdmin(c *gin.Context) error {
	n, err := h.store.CountAdmins(c.Request.Context())
	if err != nil {
		return err
	}
	if n <= 1 {
		return errorf(http.StatusConflict, "role: this is the last admin; make another user admin first")
	}
	return nil
}

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changeOwnPassword lets any user change their password, proving they know
// the current one. Every session of the user ends, this one included.
func (h *accountHandlers) changeOwnPassword(c *gin.Context) error {
	var req passwordChange
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	return h.setOwnPassword(c, req)
}

func (h *authn) setOwnPassword(c *gin.Context, req passwordChange) error {
	me := who(c).user
	// The new password's shape first: it costs nothing and reveals nothing.
	if err := accounts.CheckNewPassword(req.NewPassword); err != nil {
		return badRequest("new_%v", err)
	}
	if err := accounts.CheckPassword(me.PasswordHash, req.CurrentPassword); err != nil {
		if errors.Is(err, accounts.ErrWrongPassword) {
			return badRequest("current_password: wrong password")
		}
		return err
	}
	hash, err := accounts.HashPassword(req.NewPassword)
	if err != nil {
		return badRequest("new_%v", err)
	}
	if _, err := h.store.UpdateUser(c.Request.Context(), me.ID, me.Role, hash); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
