package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/accounts"
)

type tokenAnswer struct {
	accounts.Token
	Secret string `json:"token"`
}

// TestTokensExpire: a token works until its expiry, chosen at creation
// within the maximum, and not a moment after.
func TestTokensExpire(t *testing.T) {
	e := newEnv(t)
	name := e.userWithPassword(t, accounts.Operator)
	var tok tokenAnswer
	e.mustDo(t, "POST", "/api/v1/login", fmt.Sprintf(`{"name": %q, "password": %q, "token_name": "cli"}`, name, testPassword), http.StatusCreated, &tok)
	if want := e.now.AddDate(0, 0, accounts.DefaultTokenDays); tok.ExpiresAt.Sub(want).Abs() > time.Millisecond {
		t.Errorf("default expiry %v, want %v", tok.ExpiresAt, want)
	}
	var short tokenAnswer
	decode(t, e.doAs(t, tok.Secret, "POST", "/api/v1/tokens", `{"name": "short", "expires_in_days": 2}`), &short)
	if want := e.now.AddDate(0, 0, 2); short.ExpiresAt.Sub(want).Abs() > time.Millisecond {
		t.Fatalf("2-day token expires %v, want %v", short.ExpiresAt, want)
	}
	for _, days := range []string{"-1", "366", "100000"} {
		w := e.doAs(t, tok.Secret, "POST", "/api/v1/tokens", `{"name": "long", "expires_in_days": `+days+`}`)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), "expires_in_days: ") {
			t.Errorf("expires_in_days %s: %d %s", days, w.Code, w.Body.String())
		}
	}
	if w := e.doAs(t, "", "POST", "/api/v1/login", fmt.Sprintf(`{"name": %q, "password": %q, "expires_in_days": 400}`, name, testPassword)); w.Code != http.StatusBadRequest {
		t.Errorf("login asking for a 400-day token: %d", w.Code)
	}

	var tokens []accounts.Token
	decode(t, e.doAs(t, short.Secret, "GET", "/api/v1/tokens", ""), &tokens)
	if len(tokens) != 2 || tokens[0].ExpiresAt.IsZero() {
		t.Fatalf("tokens %+v", tokens)
	}
	e.now = e.now.AddDate(0, 0, 2)
	w := e.doAs(t, short.Secret, "GET", "/api/v1/me", "")
	if w.Code != http.StatusUnauthorized || !strings.Contains(errorOf(t, w), "expired") {
		t.Errorf("expired token: %d %s", w.Code, w.Body.String())
	}
	if w := e.doAs(t, tok.Secret, "GET", "/api/v1/me", ""); w.Code != http.StatusOK {
		t.Errorf("unexpired token: %d", w.Code)
	}
	// The account page takes a lifetime, refuses a bad one beside its
	// field, and shows when each token expires.
	_, session, csrf := e.sessionFor(t, accounts.Viewer)
	for _, days := range []string{"soon", "0x10", "366"} {
		w := e.page(t, session, "POST", "/tokens", url.Values{csrfField: {csrf}, "name": {"ui"}, "expires_in_days": {days}})
		if w.Code != http.StatusBadRequest || !strings.Contains(fieldErrorText(w.Body.String()), "expires_in_days: ") {
			t.Errorf("form with expires_in_days %q: %d", days, w.Code)
		}
	}
	w = e.page(t, session, "POST", "/tokens", url.Values{csrfField: {csrf}, "name": {"ui"}, "expires_in_days": {"7"}})
	want := e.now.AddDate(0, 0, 7).UTC().Format("2006-01-02 15:04:05 UTC")
	if body := w.Body.String(); w.Code != http.StatusCreated || !strings.Contains(body, "<th>Expires</th>") || !strings.Contains(body, want) {
		t.Errorf("form token of 7 days: %d, expiry %s not shown", w.Code, want)
	}
}

// fieldErrorText is every field error message on a page.
func fieldErrorText(body string) string {
	var out []string
	for _, part := range strings.Split(body, `<p class="field-error">`)[1:] {
		msg, _, _ := strings.Cut(part, "</p>")
		out = append(out, msg)
	}
	return strings.Join(out, "\n")
}

// TestPasswordChangeRevokesTokens: whoever learnt a password and made
// tokens with it loses them when the owner changes it, by the API, the
// account page or an admin's reset.
func TestPasswordChangeRevokesTokens(t *testing.T) {
	e := newEnv(t)
	name := e.userWithPassword(t, accounts.Viewer)
	login := func(password string) string {
		var tok tokenAnswer
		e.mustDo(t, "POST", "/api/v1/login", fmt.Sprintf(`{"name": %q, "password": %q}`, name, password), http.StatusCreated, &tok)
		return tok.Secret
	}
	stolen, own := login(testPassword), login(testPassword)
	body := fmt.Sprintf(`{"current_password": %q, "new_password": "a brand new password"}`, testPassword)
	if w := e.doAs(t, own, "PUT", "/api/v1/me/password", body); w.Code != http.StatusOK && w.Code != http.StatusNoContent {
		t.Fatalf("change password: %d %s", w.Code, w.Body.String())
	}
	for _, secret := range []string{stolen, own} {
		if w := e.doAs(t, secret, "GET", "/api/v1/me", ""); w.Code != http.StatusUnauthorized {
			t.Errorf("a token made before the password change still works: %d", w.Code)
		}
	}

	// An admin's reset revokes them too.
	fresh := login("a brand new password")
	var me accounts.User
	decode(t, e.doAs(t, fresh, "GET", "/api/v1/me", ""), &me)
	e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/users/%d", me.ID), `{"role": "viewer", "password": "reset by the admin"}`, http.StatusOK, nil)
	if w := e.doAs(t, fresh, "GET", "/api/v1/me", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("a token survived the admin's password reset: %d", w.Code)
	}
}

// TestAdminRevokesAnyonesTokens: an admin lists and revokes another
// user's tokens by API and page; nobody else may.
func TestAdminRevokesAnyonesTokens(t *testing.T) {
	e := newEnv(t)
	name := e.userWithPassword(t, accounts.Operator)
	var tok tokenAnswer
	e.mustDo(t, "POST", "/api/v1/login", fmt.Sprintf(`{"name": %q, "password": %q, "token_name": "laptop"}`, name, testPassword), http.StatusCreated, &tok)
	var victim accounts.User
	decode(t, e.doAs(t, tok.Secret, "GET", "/api/v1/me", ""), &victim)
	path := fmt.Sprintf("/api/v1/users/%d/tokens", victim.ID)

	// Not for anyone but admins, not even the owner.
	other := e.userToken(t, accounts.Operator)
	for _, secret := range []string{tok.Secret, other} {
		if w := e.doAs(t, secret, "GET", path, ""); w.Code != http.StatusForbidden {
			t.Errorf("non-admin lists a user's tokens: %d", w.Code)
		}
		if w := e.doAs(t, secret, "DELETE", fmt.Sprintf("%s/%d", path, tok.ID), ""); w.Code != http.StatusForbidden {
			t.Errorf("non-admin revokes a user's token: %d", w.Code)
		}
	}

	var list []accounts.Token
	e.mustDo(t, "GET", path, "", http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != tok.ID || list[0].Name != "laptop" || list[0].ExpiresAt.IsZero() {
		t.Fatalf("admin's list %+v", list)
	}
	// The token must be named under its own user.
	var admin accounts.User
	decode(t, e.do(t, "GET", "/api/v1/me", ""), &admin)
	e.mustDo(t, "DELETE", fmt.Sprintf("/api/v1/users/%d/tokens/%d", admin.ID, tok.ID), "", http.StatusNotFound, nil)
	e.mustDo(t, "GET", "/api/v1/users/987654321/tokens", "", http.StatusNotFound, nil)
	if w := e.do(t, "DELETE", path+"/first", ""); w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), "token_id: ") {
		t.Errorf("bad token id: %d %s", w.Code, w.Body.String())
	}
	e.mustDo(t, "DELETE", fmt.Sprintf("%s/%d", path, tok.ID), "", http.StatusNoContent, nil)
	if w := e.doAs(t, tok.Secret, "GET", "/api/v1/me", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("revoked token works: %d", w.Code)
	}

	// The same from the Users page.
	e.mustDo(t, "POST", "/api/v1/login", fmt.Sprintf(`{"name": %q, "password": %q, "token_name": "desktop"}`, name, testPassword), http.StatusCreated, &tok)
	_, session, csrf := e.sessionFor(t, accounts.Admin)
	page := fmt.Sprintf("/users/%d/tokens", victim.ID)
	if body := e.page(t, session, "GET", "/users?q="+url.QueryEscape(name), nil).Body.String(); !strings.Contains(body, `href="`+page+`"`) {
		t.Error("the users page has no link to a user's tokens")
	}
	if body := e.page(t, session, "GET", page, nil).Body.String(); !strings.Contains(body, "desktop") {
		t.Fatalf("token page lacks the token: %s", body)
	}
	w := e.page(t, session, "POST", fmt.Sprintf("%s/%d/revoke", page, tok.ID), url.Values{csrfField: {csrf}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != page {
		t.Fatalf("revoke from the page: %d %s", w.Code, w.Body.String())
	}
	if w := e.doAs(t, tok.Secret, "GET", "/api/v1/me", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("token revoked from the page works: %d", w.Code)
	}
}
