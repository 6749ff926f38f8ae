package web

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
)

// TestEveryRouteDeclaresARole walks every route gin has registered and
// proves that each declared its least role, that an anonymous request is
// refused unless the route is public, that a user whose role is too small
// is refused, and that a browser session's unsafe request without the CSRF
// token is refused.
func TestEveryRouteDeclaresARole(t *testing.T) {
	e := newEnv(t)
	viewer := e.userToken(t, accounts.Viewer)
	operator := e.userToken(t, accounts.Operator)
	_, adminCookie, _ := e.sessionFor(t, accounts.Admin)

	routes := e.srv.engine().Routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	for _, rt := range routes {
		role, ok := e.srv.roles[rt.Method+" "+rt.Path]
		if !ok {
			t.Errorf("%s %s was registered without a role: register it through routeGroup (GET/POST/PUT/DELETE with a role)", rt.Method, rt.Path)
			continue
		}
		path := strings.NewReplacer(":id", "1", ":token_id", "1", ":file", "style.css", ":ip", "198.18.0.2").Replace(rt.Path)
		if strings.Contains(path, ":") || strings.Contains(path, "*") {
			t.Errorf("%s %s: the walk does not know what to put for its parameters", rt.Method, rt.Path)
			continue
		}
		api := strings.HasPrefix(path, "/api/")
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			if role == public {
				return
			}
			w := e.doAs(t, "", rt.Method, path, "")
			switch {
			case api:
				if w.Code != http.StatusUnauthorized {
					t.Fatalf("anonymous: status %d, want 401: %s", w.Code, w.Body.String())
				}
				if msg := errorOf(t, w); !strings.Contains(msg, "authentication required") {
					t.Errorf("anonymous: error %q", msg)
				}
			case rt.Method == http.MethodGet:
				if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
					t.Fatalf("anonymous page: status %d, Location %q; want a redirect to the login page", w.Code, w.Header().Get("Location"))
				}
			default:
				if w.Code != http.StatusUnauthorized {
					t.Fatalf("anonymous form: status %d, want 401", w.Code)
				}
			}
			if !accounts.Viewer.Allows(role) {
				if w := e.doAs(t, viewer, rt.Method, path, ""); w.Code != http.StatusForbidden {
					t.Errorf("viewer on a %s route: status %d, want 403: %s", role, w.Code, w.Body.String())
				} else if api && !strings.Contains(errorOf(t, w), "needs the "+string(role)+" role") {
					t.Errorf("viewer: error %s", w.Body.String())
				}
			}
			if !accounts.Operator.Allows(role) {
				if w := e.doAs(t, operator, rt.Method, path, ""); w.Code != http.StatusForbidden {
					t.Errorf("operator on an %s route: status %d, want 403", role, w.Code)
				}
			}
			if !safeMethod(rt.Method) {
				req := httptest.NewRequest(rt.Method, path, strings.NewReader("x=1"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(adminCookie)
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, req)
				if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "CSRF") {
					t.Errorf("session without CSRF token: status %d, want 403 naming CSRF: %s", w.Code, w.Body.String())
				}
			}
		})
	}
}

const testPassword = "a long enough password"

// sessionFor makes a user with the role and a password, logs them in
// through the login form and returns the name, the session cookie and
// the session's CSRF token (read from a page).
func (e *testEnv) sessionFor(t *testing.T, role accounts.Role) (string, *http.Cookie, string) {
	t.Helper()
	name := e.userWithPassword(t, role)
	w := e.login(t, name, testPassword, "/")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login: status %d: %s", w.Code, w.Body.String())
	}
	var session *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("login set no session cookie")
	}
	page := e.page(t, session, "GET", "/tokens", nil)
	m := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindStringSubmatch(page.Body.String())
	if m == nil {
		t.Fatalf("no CSRF token on the page: %s", page.Body.String())
	}
	return name, session, m[1]
}

func (e *testEnv) userWithPassword(t *testing.T, role accounts.Role) string {
	t.Helper()
	hash, err := accounts.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	u, err := testStore.CreateUser(context.Background(), accounts.User{Name: uniq(string(role)), Role: role, PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	return u.Name
}

// login fetches the login form and posts it.
func (e *testEnv) login(t *testing.T, name, password, next string) *httptest.ResponseRecorder {
	t.Helper()
	w := e.page(t, nil, "GET", "/login", nil)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusOK || m == nil {
		t.Fatalf("login page: %d %s", w.Code, w.Body.String())
	}
	var formCookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == loginCSRFCookie {
			formCookie = c
		}
	}
	if formCookie == nil {
		t.Fatal("login page set no form cookie")
	}
	return e.page(t, formCookie, "POST", "/login", url.Values{
		"csrf_token": {m[1]}, "name": {name}, "password": {password}, "next": {next},
	})
}

// page sends a browser-like request with a cookie and, for a form, its
// fields.
func (e *testEnv) page(t *testing.T, cookie *http.Cookie, method, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

func TestLoginSessionAndTokens(t *testing.T) {
	e := newEnv(t)
	name, session, csrf := e.sessionFor(t, accounts.Operator)
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure {
		t.Errorf("session cookie over plain HTTP: HttpOnly %v SameSite %v Secure %v", session.HttpOnly, session.SameSite, session.Secure)
	}

	w := e.page(t, session, "GET", "/", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), name) {
		t.Fatalf("dashboard with a session: %d, lacks the user name", w.Code)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}

	// A token made in the browser is shown once and works for the API.
	w = e.page(t, session, "POST", "/tokens", url.Values{"csrf_token": {csrf}, "name": {"laptop"}})
	m := regexp.MustCompile(`id="new-token">(sct_[A-Za-z0-9_-]+)<`).FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusCreated || m == nil {
		t.Fatalf("create token: %d %s", w.Code, w.Body.String())
	}
	secret := m[1]
	var me accounts.User
	decode(t, e.doAs(t, secret, "GET", "/api/v1/me", ""), &me)
	if me.Name != name || me.Role != accounts.Operator {
		t.Fatalf("/me with the new token: %+v", me)
	}
	if strings.Contains(e.page(t, session, "GET", "/tokens", nil).Body.String(), secret) {
		t.Error("the token's secret is shown again")
	}

	// An empty name is refused next to the field.
	w = e.page(t, session, "POST", "/tokens", url.Values{"csrf_token": {csrf}, "name": {" "}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `<p class="field-error">name: required</p>`) {
		t.Errorf("empty token name: %d %s", w.Code, w.Body.String())
	}

	// Revoking it from the API stops it at once.
	var tokens []accounts.Token
	decode(t, e.doAs(t, secret, "GET", "/api/v1/tokens", ""), &tokens)
	if len(tokens) != 1 || tokens[0].Name != "laptop" || !strings.HasPrefix(secret, tokens[0].Prefix) {
		t.Fatalf("tokens %+v", tokens)
	}
	if w := e.do(t, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", tokens[0].ID), ""); w.Code != http.StatusNotFound {
		t.Errorf("another user revoked the token: %d", w.Code)
	}
	if w := e.doAs(t, secret, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", tokens[0].ID), ""); w.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", w.Code, w.Body.String())
	}
	w = e.doAs(t, secret, "GET", "/api/v1/me", "")
	if w.Code != http.StatusUnauthorized || !strings.Contains(errorOf(t, w), "not valid") || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("revoked token: %d %s", w.Code, w.Body.String())
	}

	// The session can use the JSON API too; its writes need the CSRF header.
	req := httptest.NewRequest("POST", "/api/v1/exclusions", strings.NewReader(`{"target": "198.18.250.1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(session)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("session JSON write without CSRF header: %d", rec.Code)
	}
	req.Body = http.NoBody
	req = httptest.NewRequest("POST", "/api/v1/exclusions", strings.NewReader(`{"target": "198.18.250.1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(csrfHeader, csrf)
	req.AddCookie(session)
	rec = httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Errorf("session JSON write with CSRF header: %d %s", rec.Code, rec.Body.String())
	}

	// Logging out ends the session on the server, not just in the browser.
	w = e.page(t, session, "POST", "/logout", url.Values{"csrf_token": {csrf}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", w.Code)
	}
	if w := e.page(t, session, "GET", "/", nil); w.Code != http.StatusSeeOther {
		t.Errorf("old session cookie after logout: %d", w.Code)
	}
}

func TestLoginForm(t *testing.T) {
	e := newEnv(t)
	name := e.userWithPassword(t, accounts.Viewer)

	w := e.login(t, name, "not the password", "/")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "wrong user name or password") {
		t.Errorf("wrong password: %d %s", w.Code, w.Body.String())
	}
	w = e.login(t, "nobody-"+uniq("x"), testPassword, "/")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "wrong user name or password") {
		t.Errorf("unknown user: %d", w.Code)
	}
	// The redirect stays on this server.
	for next, want := range map[string]string{"/runs/5": "/runs/5", "//evil.example/": "/", "https://evil.example/": "/"} {
		w = e.login(t, name, testPassword, next)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
			t.Errorf("next %q: %d Location %q, want %q", next, w.Code, w.Header().Get("Location"), want)
		}
	}
	// A post without the form's cookie (a cross-site form) is refused.
	w = e.page(t, nil, "POST", "/login", url.Values{"csrf_token": {"x"}, "name": {name}, "password": {testPassword}})
	if w.Code != http.StatusForbidden {
		t.Errorf("login without the form token: %d", w.Code)
	}
	// Under TLS the session cookie is Secure.
	req := httptest.NewRequest("GET", "/login", nil)
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if !c.Secure || !c.HttpOnly {
			t.Errorf("cookie %s under TLS: Secure %v HttpOnly %v", c.Name, c.Secure, c.HttpOnly)
		}
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	name := e.userWithPassword(t, accounts.Viewer)
	for i := range e.srv.auth.limiter.perName {
		body := fmt.Sprintf(`{"name": %q, "password": "wrong %d"}`, name, i)
		if w := e.doAs(t, "", "POST", "/api/v1/login", body); w.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i, w.Code, w.Body.String())
		}
	}
	// Even the right password is refused now.
	w := e.doAs(t, "", "POST", "/api/v1/login", fmt.Sprintf(`{"name": %q, "password": %q}`, name, testPassword))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || !strings.Contains(errorOf(t, w), "too many failed logins") {
		t.Fatalf("after the limit: %d %s", w.Code, w.Body.String())
	}
	if w := e.login(t, name, testPassword, "/"); w.Code != http.StatusTooManyRequests {
		t.Errorf("login form after the limit: %d", w.Code)
	}
}

func TestAPILoginAndUsers(t *testing.T) {
	e := newEnv(t)
	name := e.userWithPassword(t, accounts.Operator)
	var tok struct {
		Token string `json:"token"`
		Name  string `json:"name"`
	}
	e.mustDo(t, "POST", "/api/v1/login", fmt.Sprintf(`{"name": %q, "password": %q, "token_name": "cli"}`, name, testPassword), http.StatusCreated, &tok)
	if !strings.HasPrefix(tok.Token, accounts.TokenPrefix) || tok.Name != "cli" {
		t.Fatalf("login answer %+v", tok)
	}
	var me accounts.User
	decode(t, e.doAs(t, tok.Token, "GET", "/api/v1/me", ""), &me)
	if me.Name != name {
		t.Fatalf("me = %+v", me)
	}

	newName := uniq("carol")
	for _, tc := range []struct{ body, want string }{
		{fmt.Sprintf(`{"name": %q, "role": "root", "password": %q}`, newName, testPassword), "role: role \"root\" is not one of"},
		{fmt.Sprintf(`{"name": %q, "role": "viewer", "password": "short"}`, newName), "password: 5 characters long, at least 12"},
		{fmt.Sprintf(`{"name": "Bad Name", "role": "viewer", "password": %q}`, testPassword), "name: user name \"Bad Name\""},
	} {
		w := e.do(t, "POST", "/api/v1/users", tc.body)
		if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), tc.want) {
			t.Errorf("%s: %d %s", tc.body, w.Code, w.Body.String())
		}
	}
	if _, err := testStore.GetUserByName(context.Background(), newName); err == nil {
		t.Fatal("a refused user was created")
	}
	var u accounts.User
	e.mustDo(t, "POST", "/api/v1/users", fmt.Sprintf(`{"name": %q, "role": "viewer", "password": %q}`, newName, testPassword), http.StatusCreated, &u)
	w := e.do(t, "GET", fmt.Sprintf("/api/v1/users/%d", u.ID), "")
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "$2") || strings.Contains(w.Body.String(), "password") {
		t.Fatalf("user JSON leaks the hash or failed: %s", w.Body.String())
	}
	e.mustDo(t, "POST", "/api/v1/users", fmt.Sprintf(`{"name": %q, "role": "viewer", "password": %q}`, newName, testPassword), http.StatusConflict, nil)
	e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/users/%d", u.ID), `{"role": "operator"}`, http.StatusOK, &u)
	if u.Role != accounts.Operator {
		t.Fatalf("role not changed: %+v", u)
	}
	e.mustDo(t, "DELETE", fmt.Sprintf("/api/v1/users/%d", u.ID), "", http.StatusNoContent, nil)
	e.mustDo(t, "DELETE", fmt.Sprintf("/api/v1/users/%d", u.ID), "", http.StatusNotFound, nil)
}

// oneAdminStore reports a single admin, as a fresh installation has.
type oneAdminStore struct{ Store }

func (oneAdminStore) CountAdmins(context.Context) (int, error) { return 1, nil }

func TestLastAdminStays(t *testing.T) {
	e := newEnv(t, withStore(oneAdminStore{testStore}))
	var admin accounts.User
	decode(t, e.do(t, "GET", "/api/v1/me", ""), &admin)
	w := e.do(t, "PUT", fmt.Sprintf("/api/v1/users/%d", admin.ID), `{"role": "viewer"}`)
	if w.Code != http.StatusConflict || !strings.Contains(errorOf(t, w), "last admin") {
		t.Errorf("demoting the last admin: %d %s", w.Code, w.Body.String())
	}
	if w := e.do(t, "DELETE", fmt.Sprintf("/api/v1/users/%d", admin.ID), ""); w.Code != http.StatusConflict {
		t.Errorf("deleting the last admin: %d", w.Code)
	}
}

func TestChangeOwnPassword(t *testing.T) {
	e := newEnv(t)
	name, session, csrf := e.sessionFor(t, accounts.Viewer)
	_, other, _ := e.sessionFor(t, accounts.Viewer) // another user's session stays

	w := e.page(t, session, "POST", "/password", url.Values{csrfField: {csrf}, "current_password": {"wrong one here"}, "new_password": {"a brand new password"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "current_password"), "wrong password") {
		t.Errorf("wrong current password: %d %q", w.Code, fieldError(w.Body.String(), "current_password"))
	}
	w = e.page(t, session, "POST", "/password", url.Values{csrfField: {csrf}, "current_password": {testPassword}, "new_password": {"short"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "new_password"), "at least 12") {
		t.Errorf("short new password: %d %q", w.Code, fieldError(w.Body.String(), "new_password"))
	}
	w = e.page(t, session, "POST", "/password", url.Values{csrfField: {csrf}, "current_password": {testPassword}, "new_password": {"a brand new password"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("change: %d %s", w.Code, w.Body.String())
	}
	var fresh *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			fresh = c
		}
	}
	if fresh == nil || fresh.Value == session.Value {
		t.Fatal("no new session after the change")
	}
	if w := e.page(t, session, "GET", "/", nil); w.Code != http.StatusSeeOther {
		t.Errorf("the old session survived the password change: %d", w.Code)
	}
	if w := e.page(t, fresh, "GET", "/tokens?password=changed", nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Password changed") {
		t.Errorf("new session: %d", w.Code)
	}
	if w := e.page(t, other, "GET", "/", nil); w.Code != http.StatusOK {
		t.Errorf("another user's session ended: %d", w.Code)
	}
	if w := e.login(t, name, "a brand new password", "/"); w.Code != http.StatusSeeOther {
		t.Errorf("login with the new password: %d", w.Code)
	}
	if w := e.login(t, name, testPassword, "/"); w.Code != http.StatusUnauthorized {
		t.Errorf("login with the old password: %d", w.Code)
	}
}
