package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scantron/scantron/accounts"
)

// Regression tests for the defects the first bad-input run found, one per
// defect, named TestBadInputDefect….

// A NUL in a free-text field reached PostgreSQL and came back as 500.
func TestBadInputDefectNULInFreeText(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	var sc struct{ ID int64 }
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "start_at": "2031-01-02T03:04:05Z", "rrule": "FREQ=DAILY"}`,
		uniq("scan"), f.site.ID, f.profile.ID, f.agent.ID), http.StatusCreated, &sc)
	for _, c := range []struct{ method, path, body, field string }{
		{"POST", "/api/v1/sites", `{"name": %q, "targets": ["198.18.0.1"], "description": "a\u0000b"}`, "description"},
		{"POST", "/api/v1/profiles", `{"name": %q, "scanner": "nmap", "description": "a\u0000b"}`, "description"},
		{"POST", "/api/v1/agents", `{"name": %q, "description": "a\u0000b"}`, "description"},
		{"POST", "/api/v1/pools", `{"name": %q, "description": "a\u0000b"}`, "description"},
		{"POST", "/api/v1/exclusions", `{"target": "198.18.5.5", "note": "a\u0000b%.0s"}`, "note"},
		{"POST", fmt.Sprintf("/api/v1/scans/%d/pause", sc.ID), `{"by": "a\u0000b%.0s"}`, "by"},
		{"POST", fmt.Sprintf("/api/v1/scans/%d/pause", sc.ID), `{"note": "a\u0000b%.0s"}`, "note"},
		{"POST", fmt.Sprintf("/api/v1/scans/%d/resume", sc.ID), `{"by": "a\u0000b%.0s"}`, "by"},
		{"POST", fmt.Sprintf("/api/v1/scans/%d/resume", sc.ID), `{"note": "a\u0000b%.0s"}`, "note"},
	} {
		body := fmt.Sprintf(c.body, uniq("nul"))
		w := e.do(t, c.method, c.path, body)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), c.field+": ") {
			t.Errorf("%s %s %s: %d %s, want 400 naming %s", c.method, c.path, body, w.Code, w.Body.String(), c.field)
		}
	}
}

// A NUL in a login name was a 500, and not counted by the login limiter;
// a malformed login body was not counted either.
func TestBadInputDefectLoginNULCounted(t *testing.T) {
	e := newEnv(t)
	login := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.9.9:5555"
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		return w
	}
	w := login(`{"name": "admin\u0000", "password": "whatever-password"}`)
	if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), "name: ") {
		t.Fatalf("NUL name: %d %s", w.Code, w.Body.String())
	}
	// Names no account can have are failed logins, not database errors.
	w = login(fmt.Sprintf(`{"name": %q, "password": "whatever-password"}`, strings.Repeat("n", 100_000)))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("long name: %d %s", w.Code, w.Body.String())
	}
	// Those two and 18 more malformed attempts use up the address's 20
	// failures: the next well-formed login is limited.
	for i := 0; i < 18; i++ {
		if w := login(`{"name": "x\u0001"}`); w.Code != http.StatusBadRequest {
			t.Fatalf("attempt %d: %d %s", i, w.Code, w.Body.String())
		}
	}
	if w := login(`{"name": "nobody", "password": "whatever-password"}`); w.Code != http.StatusTooManyRequests {
		t.Fatalf("after 20 malformed logins: %d %s, want 429", w.Code, w.Body.String())
	}
}

// COUNT=0 was accepted (and fired without end), INTERVAL=0 taken as 1, a
// start_at in year 0000 accepted.
func TestBadInputDefectScheduleBounds(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ body, want string }{
		{`{"start_at": "2031-01-01T00:00:00Z", "rrule": "FREQ=DAILY;COUNT=0"}`, "rrule: COUNT=0"},
		{`{"start_at": "2031-01-01T00:00:00Z", "rrule": "FREQ=DAILY;INTERVAL=0"}`, "rrule: INTERVAL=0"},
		{`{"start_at": "0000-01-01T00:00:00Z", "rrule": "FREQ=DAILY"}`, "start_at: 0000-01-01T00:00:00Z is outside"},
		{`{"start_at": "0000-01-01T00:00:00Z"}`, "start_at: 0000-01-01T00:00:00Z is outside"},
		// Found after the first run: a frequent rule started long ago held
		// the request for as long as walking every fire time since took.
		{`{"start_at": "2000-01-01T00:00:00Z", "rrule": "FREQ=MINUTELY;BYSECOND=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59"}`,
			"start_at: the rule fires more than 100000 times"},
		{`{"start_at": "2000-01-01T00:00:00Z", "rrule": "FREQ=MINUTELY;COUNT=100000000"}`, "start_at: the rule fires more than 100000 times"},
	} {
		w := e.do(t, "POST", "/api/v1/schedules/preview", c.body)
		if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), c.want) {
			t.Errorf("%s: %d %s, want 400 %q", c.body, w.Code, w.Body.String(), c.want)
		}
	}
	// A start in the past is fine while the walk from it is short.
	e.mustDo(t, "POST", "/api/v1/schedules/preview", `{"start_at": "2000-01-01T00:00:00Z", "rrule": "FREQ=DAILY"}`, http.StatusOK, nil)
}

// A webhook URL's password was shown to viewers; a secret of spaces was
// taken.
func TestBadInputDefectWebhookSecrets(t *testing.T) {
	e := newEnv(t)
	s := e.makeScan(t, makeFixtures(t, e))
	path := fmt.Sprintf("/api/v1/scans/%d/notifications", s.ID)
	w := e.do(t, "PUT", path, `{"webhook_url": "https://hook:pass-word-1@hooks.example.test/x", "webhook_secret": "                "}`)
	if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), "webhook_secret: ") {
		t.Fatalf("secret of spaces: %d %s", w.Code, w.Body.String())
	}
	e.mustDo(t, "PUT", path, `{"webhook_url": "https://hook:pass-word-1@hooks.example.test/x", "webhook_secret": "0123456789abcdef"}`, http.StatusOK, nil)
	for _, role := range []string{"viewer", "operator", "admin"} {
		w := e.doAs(t, e.userToken(t, accounts.Role(role)), "GET", path, "")
		if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "pass-word-1") || strings.Contains(w.Body.String(), "0123456789abcdef") ||
			!strings.Contains(w.Body.String(), "https://hook:xxxxx@hooks.example.test/x") {
			t.Errorf("as %s: %d %s", role, w.Code, w.Body.String())
		}
	}
	// Writing back what was read keeps the password.
	e.mustDo(t, "PUT", path, `{"webhook_url": "https://hook:xxxxx@hooks.example.test/x", "on_diff": false}`, http.StatusOK, nil)
	n, err := testStore.GetNotifications(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n.WebhookURL != "https://hook:pass-word-1@hooks.example.test/x" || n.OnDiff {
		t.Errorf("stored %+v", n)
	}
}

// shard_size above the maximum was silently lowered.
func TestBadInputDefectShardSizeAboveMax(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	body := func(size string) string {
		return fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "shard_size": %s}`, uniq("scan"), f.site.ID, f.profile.ID, f.agent.ID, size)
	}
	w := e.do(t, "POST", "/api/v1/scans", body("4294967297"))
	if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), "shard_size: ") {
		t.Fatalf("2^32+1: %d %s", w.Code, w.Body.String())
	}
	var s struct {
		ShardSize uint64 `json:"shard_size"`
	}
	e.mustDo(t, "POST", "/api/v1/scans", body("4294967296"), http.StatusCreated, &s)
	if s.ShardSize != 1<<32 {
		t.Errorf("shard_size %d stored, want 2^32", s.ShardSize)
	}
}

// Passwords of only spaces, or with NUL, were accepted.
func TestBadInputDefectBlankPasswords(t *testing.T) {
	e := newEnv(t)
	for _, pw := range []string{`"            "`, `"correct\u0000horse battery"`, `"correct\thorse battery"`} {
		w := e.do(t, "POST", "/api/v1/users", fmt.Sprintf(`{"name": %q, "role": "viewer", "password": %s}`, uniq("user"), pw))
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), "password: ") {
			t.Errorf("password %s: %d %s", pw, w.Code, w.Body.String())
		}
	}
}

// A 100 KB name on a failed login wrote a 100 KB log line; invalid UTF-8
// and control characters reached the log as they were.
func TestBadInputDefectLogValuesBounded(t *testing.T) {
	e := newEnv(t)
	w := e.doAs(t, "", "POST", "/api/v1/login", fmt.Sprintf(`{"name": %q, "password": "whatever-password"}`, strings.Repeat("n", 100_000)))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("login: %d %s", w.Code, w.Body.String())
	}
	e.doAs(t, "", "GET", "/api/v1/no%FFsuch%0Apath%00"+strings.Repeat("p", 50_000), "")
	logs := e.logs.String()
	if !strings.Contains(logs, "bytes in all)") || !strings.Contains(logs, `\xff`) {
		t.Errorf("long and invalid values are not marked in the log:\n%.2000s", logs)
	}
	for i, line := range strings.Split(logs, "\n") {
		if len(line) > 2*maxLogValue+1000 || !utf8.ValidString(line) {
			t.Errorf("log line %d: %d bytes, valid UTF-8 %v: %.300q", i, len(line), utf8.ValidString(line), line)
		}
	}
}

func TestLogValue(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\nb", `a\nb`},
		{"a\x00b", `a\x00b`},
		{"a\xffb", `a\xffb`},
		{"ünïcode", "ünïcode"},
		{strings.Repeat("x", maxLogValue+1), strings.Repeat("x", maxLogValue) + "…(301 bytes in all)"},
	} {
		if got := logValue(c.in); got != c.want {
			t.Errorf("logValue(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A body declared as UTF-16 was read as UTF-8.
func TestBadInputDefectCharset(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"application/json; charset=utf-16", "application/json; charset=UTF-16LE", "application/json; charset=latin1"} {
		req := httptest.NewRequest("POST", "/api/v1/sites", strings.NewReader(`{"name": "x", "targets": ["198.18.0.1"]}`))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+e.token)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != http.StatusUnsupportedMediaType || !strings.Contains(errorOf(t, w), "charset") {
			t.Errorf("%s: %d %s", ct, w.Code, w.Body.String())
		}
	}
	for _, ct := range []string{"application/json; charset=utf-8", "application/json; charset=UTF-8", "application/json"} {
		req := httptest.NewRequest("POST", "/api/v1/sites", strings.NewReader(fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.1"]}`, uniq("cs"))))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+e.token)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			t.Errorf("%s: %d %s", ct, w.Code, w.Body.String())
		}
	}
}

// What the body reader refuses, and the field it names.
func TestJSONBodyRefusals(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ name, body, want string }{
		{"invalid UTF-8", "{\"name\": \"a\xffb\", \"targets\": [\"198.18.0.1\"]}", "name: not valid UTF-8"},
		{"invalid UTF-8 in a list", "{\"name\": \"a\", \"targets\": [\"198.18.0.1\", \"\xfe\"]}", "targets[1]: not valid UTF-8"},
		{"raw control character", "{\"name\": \"a\x01b\", \"targets\": [\"198.18.0.1\"]}", "name: invalid JSON"},
		{"escaped control character", `{"name": "a", "description": "x\u001by", "targets": ["198.18.0.1"]}`, `description: contains the control character '\x1b'`},
		{"lone surrogate", `{"name": "a\ud800", "targets": ["198.18.0.1"]}`, "name: holds an unpaired UTF-16 surrogate"},
		{"duplicate key", `{"name": "a", "name": "b", "targets": ["198.18.0.1"]}`, "name: given twice"},
		{"deep nesting", `{"targets": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "nests deeper than 32 levels"},
		{"null body", `null`, "must be a JSON object, not null"},
	} {
		w := e.do(t, "POST", "/api/v1/sites", c.body)
		if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), c.want) {
			t.Errorf("%s: %d %s, want 400 %q", c.name, w.Code, w.Body.String(), c.want)
		}
	}
	// Tabs and newlines are free text's own; a literal U+FFFD is a character.
	e.mustDo(t, "POST", "/api/v1/sites", fmt.Sprintf(`{"name": %q, "description": "line\n\tnext \ufffd", "targets": ["198.18.0.1"]}`, uniq("ok")), http.StatusCreated, nil)
	// Path ids are digits only; query values printable UTF-8.
	for _, p := range []string{"/api/v1/sites/+1", "/api/v1/sites/%201", "/api/v1/scans?limit=abc", "/api/v1/runs?scan_id=%00", "/api/v1/assets?service=%FF"} {
		if w := e.do(t, "GET", p, ""); w.Code != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s", p, w.Code, w.Body.String())
		}
	}
}

// The UI's form posts re-run the API handlers through JSON, which turned
// invalid UTF-8 into U+FFFD before the body reader could see it: forms are
// checked before that.
func TestBadInputDefectFormInvalidUTF8(t *testing.T) {
	e := newEnv(t)
	_, session, csrf := e.sessionFor(t, accounts.Operator)
	for _, field := range []url.Values{
		{"name": {uniq("form")}, "targets": {"198.18.0.1"}, "description": {"a\xffb"}},
		{"name": {"a\x00b"}, "targets": {"198.18.0.1"}},
	} {
		w := e.form(t, session, csrf, "/sites", field)
		if w.Code != http.StatusBadRequest {
			t.Errorf("%q: %d, want 400", field.Encode(), w.Code)
		}
	}
	// A textarea's line breaks and tabs are free text.
	w := e.form(t, session, csrf, "/sites", url.Values{"name": {uniq("form")}, "targets": {"198.18.0.1\r\n198.18.0.2"}, "description": {"one\r\n\ttwo"}})
	if w.Code != http.StatusSeeOther {
		t.Errorf("line breaks: %d %s", w.Code, w.Body.String())
	}
}
