package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
)

// The login form is protected from cross-site posts by a double-submit
// token: a random value in a cookie that must come back in the form.

func (h *uiHandlers) loginPage(c *gin.Context) error {
	return h.renderLogin(c, http.StatusOK, localPath(c.Query("next")), "", "")
}

func (h *uiHandlers) renderLogin(c *gin.Context, status int, next, name, msg string) error {
	token := accounts.NewSecret()
	h.auth.setCookie(c, loginCSRFCookie, token, 3600)
	return h.render(c, status, "login", map[string]any{
		"Title": "Log in", "LoginCSRF": token, "Next": next, "Name": name, "Error": msg,
	})
}

func (h *uiHandlers) loginSubmit(c *gin.Context) error {
	next := localPath(c.PostForm("next"))
	name := c.PostForm("name")
	cookie, err := c.Cookie(loginCSRFCookie)
	if err != nil || cookie == "" || !accounts.SameSecret(cookie, c.PostForm(csrfField)) {
		return h.renderLogin(c, http.StatusForbidden, next, name, "The form expired; please log in again.")
	}
	u, err := h.auth.login(c, name, c.PostForm("password"))
	if he, ok := clientError(err); ok {
		return h.renderLogin(c, he.status, next, name, he.msg)
	}
	if err != nil {
		return err
	}
	if err := h.auth.startSession(c, u); err != nil {
		return err
	}
	h.auth.setCookie(c, loginCSRFCookie, "", -1)
	c.Redirect(http.StatusSeeOther, next)
	return nil
}

// localPath keeps a redirect target on this server: an absolute path on
// this origin, or "/" for anything else. Browsers forgive a great deal in
// a Location header (they drop tabs and newlines, read '\' as '/', and
// some decode before they resolve), so the path is judged after decoding
// as well as before, and anything a browser might read as another host or
// a scheme is refused rather than repaired.
func localPath(p string) string {
	if !isLocalPath(p) {
		return "/"
	}
	return p
}

func isLocalPath(p string) bool {
	if len(p) > 2048 || !plainPath(p) {
		return false
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Opaque != "" || u.User != nil || u.Host != "" {
		return false
	}
	// Judge the path part decoded, again and again, so that "%2F%2F",
	// "%09" or "%255C" cannot become "//", a tab or '\' on the way.
	// The query is data and may hold encoded text.
	path, _, _ := strings.Cut(p, "?")
	path, _, _ = strings.Cut(path, "#")
	for range 3 {
		d, err := url.PathUnescape(path)
		if err != nil || !plainPath(d) {
			return false
		}
		if d == path {
			return true
		}
		path = d
	}
	return false // still encoded after three rounds: no real link is
}

// plainPath reports whether s starts with a single '/' and holds no
// backslash, no control or white-space character and no "//" or dot
// segment, which browsers may turn into another host.
func plainPath(s string) bool {
	if !strings.HasPrefix(s, "/") {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' || r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	path, _, _ := strings.Cut(s, "?")
	path, _, _ = strings.Cut(path, "#")
	if strings.Contains(path, "//") {
		return false
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func (h *uiHandlers) logout(c *gin.Context) error {
	if err := h.auth.endSession(c); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/login")
	return nil
}

func (h *uiHandlers) tokensPage(c *gin.Context) error {
	return h.renderTokens(c, http.StatusOK, nil)
}

func (h *uiHandlers) renderTokens(c *gin.Context, status int, extra map[string]any) error {
	list, err := h.auth.store.ListTokens(c.Request.Context(), who(c).user.ID)
	if err != nil {
		return err
	}
	data := map[string]any{"Title": "Account", "Tokens": list, "PasswordChanged": c.Query("password") == "changed",
		"Errors": map[string]string{}, "Now": h.now(), "DefaultDays": accounts.DefaultTokenDays, "MaxDays": accounts.MaxTokenDays}
	for k, v := range extra {
		data[k] = v
	}
	return h.render(c, status, "tokens", data)
}

// passwordChange changes the user's own password from the account page,
// then logs this browser in again: the change ended every session.
func (h *uiHandlers) passwordChange(c *gin.Context) error {
	in := manage.PasswordChange{CurrentPassword: c.PostForm("current_password"), NewPassword: c.PostForm("new_password")}
	err := h.ops.users.ChangeOwnPassword(c.Request.Context(), who(c).user, in)
	if he, ferr := formError(err); err != nil {
		if ferr != nil {
			return ferr
		}
		return h.renderTokens(c, he.status, map[string]any{"Errors": fieldErrors(he)})
	}
	u, err := h.auth.store.GetUser(c.Request.Context(), who(c).user.ID)
	if err != nil {
		return err
	}
	if err := h.auth.startSession(c, u); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/tokens?password=changed")
	return nil
}

func (h *uiHandlers) tokenCreate(c *gin.Context) error {
	days := 0
	if raw := strings.TrimSpace(c.PostForm("expires_in_days")); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil {
			return h.renderTokens(c, http.StatusBadRequest, map[string]any{"Name": c.PostForm("name"), "Days": raw,
				"Errors": map[string]string{"expires_in_days": fmt.Sprintf("expires_in_days: %q is not a whole number of days", clip(raw))}})
		}
		days = n
	}
	t, secret, err := h.auth.newToken(c.Request.Context(), who(c).user, c.PostForm("name"), days)
	if he, ok := clientError(err); ok {
		return h.renderTokens(c, he.status, map[string]any{"Errors": fieldErrors(he), "Name": c.PostForm("name"), "Days": c.PostForm("expires_in_days")})
	}
	if err != nil {
		return err
	}
	// The secret is shown on this one answer and never again.
	return h.renderTokens(c, http.StatusCreated, map[string]any{"NewToken": secret, "NewTokenName": t.Name})
}

func (h *uiHandlers) tokenRevoke(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.auth.store.RevokeToken(c.Request.Context(), id, who(c).user.ID); err != nil {
		return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "token %d not found among your tokens", id)
	}
	c.Redirect(http.StatusSeeOther, "/tokens")
	return nil
}

// userTokensPage shows an admin any user's tokens, to revoke.
func (h *uiHandlers) userTokensPage(c *gin.Context) error {
	u, err := h.srv.accounts.userOf(c)
	if err != nil {
		return err
	}
	list, err := h.ops.users.Tokens(c.Request.Context(), u.ID)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "usertokens", map[string]any{"Title": "Tokens of " + u.Name, "User": u, "Tokens": list, "Now": h.now()})
}

func (h *uiHandlers) userTokenRevoke(c *gin.Context) error {
	u, err := h.srv.accounts.userOf(c)
	if err != nil {
		return err
	}
	id, err := pathParamID(c, "token_id")
	if err != nil {
		return err
	}
	if err := h.ops.users.RevokeToken(c.Request.Context(), u, id); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/users/"+c.Param("id")+"/tokens")
	return nil
}

// fieldErrors files a validation message under the field it names, so
// that a form can show it beside that field: the refusal's own field, or
// else the text before the first ':' or '['; anything else goes under "".
func fieldErrors(he *httpError) map[string]string {
	if he.field != "" {
		return map[string]string{he.field: he.msg}
	}
	field, _, ok := strings.Cut(he.msg, ":")
	if !ok || strings.ContainsAny(field, " \"") {
		return map[string]string{"": he.msg}
	}
	field, _, _ = strings.Cut(field, "[")
	return map[string]string{field: he.msg}
}

// --- users (admins only) -------------------------------------------------

func (h *uiHandlers) usersPage(c *gin.Context) error {
	return h.showUsers(c, http.StatusOK, nil)
}

func (h *uiHandlers) showUsers(c *gin.Context, status int, extra map[string]any) error {
	if extra == nil {
		extra = map[string]any{}
	}
	extra["Roles"] = accounts.Roles
	return listPage(h, c, status, "users", "Users", pagedList(h.ops.users.List, func(u accounts.User) string { return u.Name }), extra)
}

func (h *uiHandlers) userCreate(c *gin.Context) error {
	in := manage.UserInput{Name: c.PostForm("name"), Role: c.PostForm("role"), Password: c.PostForm("password")}
	return h.submit(c,
		func() error { _, err := h.ops.users.Create(c.Request.Context(), in); return err },
		func(status int, extra map[string]any) error {
			delete(extra["Form"].(map[string]string), "password") // never echoed back
			return h.showUsers(c, status, extra)
		},
		func() string { return "/users" })
}

// userUpdate changes a role and, if one is typed, the password.
func (h *uiHandlers) userUpdate(c *gin.Context) error {
	in := manage.UserUpdate{Role: c.PostForm("role"), Password: c.PostForm("password")}
	return h.submit(c,
		func() error {
			id, err := pathID(c)
			if err == nil {
				_, err = h.ops.users.Update(c.Request.Context(), id, in)
			}
			return err
		},
		func(status int, extra map[string]any) error {
			extra["Form"] = map[string]string{}
			// The rows share one page, so the message names the row.
			extra["Errors"] = map[string]string{"": fmt.Sprintf("user %s: %s", c.Param("id"), firstError(extra))}
			return h.showUsers(c, status, extra)
		},
		func() string { return "/users" })
}

func (h *uiHandlers) userDelete(c *gin.Context) error {
	return h.deleteThen(c, h.ops.users.Delete, "/users")
}

// firstError is the message of a refused form, whatever field it names.
func firstError(extra map[string]any) string {
	for _, msg := range extra["Errors"].(map[string]string) {
		return msg
	}
	return ""
}
