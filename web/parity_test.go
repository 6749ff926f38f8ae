package web

import (
	"html"
	"net/http"
	"net/url"
	"testing"

	"github.com/scantron/scantron/accounts"
)

// The API and the UI's forms are two faces of the same operations: the
// same bad input gets the same status and the same message from both, the
// API as JSON and the form beside the field the message names.
func TestAPIAndFormRefuseAlike(t *testing.T) {
	e := enrollEnv(t)
	_, session, csrf := e.sessionFor(t, accounts.Admin)
	for _, tt := range []struct {
		name      string
		apiMethod string
		apiPath   string
		apiBody   string
		formPath  string
		form      url.Values
		field     string
	}{
		{"site target", "POST", "/api/v1/sites", `{"name":"parity-site","targets":["198.18.0.1","198.18.0.0/33"]}`,
			"/sites", url.Values{"name": {"parity-site"}, "targets": {"198.18.0.1\n198.18.0.0/33"}}, "targets"},
		{"site name", "POST", "/api/v1/sites", `{"name":" ","targets":["198.18.0.1"]}`,
			"/sites", url.Values{"name": {" "}, "targets": {"198.18.0.1"}}, "name"},
		{"exclusion target", "POST", "/api/v1/exclusions", `{"target":"not-a-target!","note":""}`,
			"/exclusions", url.Values{"target": {"not-a-target!"}}, "target"},
		{"profile scanner", "POST", "/api/v1/profiles", `{"name":"parity-profile","scanner":"nosuchscanner","options":""}`,
			"/profiles", url.Values{"name": {"parity-profile"}, "scanner": {"nosuchscanner"}}, "scanner"},
		{"pool name", "POST", "/api/v1/pools", `{"name":"Not A Pool"}`,
			"/pools", url.Values{"name": {"Not A Pool"}}, "name"},
		{"scan site", "POST", "/api/v1/scans", `{"name":"parity-scan","enabled":true}`,
			"/scans", url.Values{"name": {"parity-scan"}, "enabled": {"on"}}, "site_id"},
		{"scan time zone", "POST", "/api/v1/scans", `{"name":"parity-scan","site_id":1,"profile_id":1,"agent_id":1,"time_zone":"Mars/Olympus","enabled":true}`,
			"/scans", url.Values{"name": {"parity-scan"}, "site_id": {"1"}, "profile_id": {"1"}, "agent_id": {"1"}, "time_zone": {"Mars/Olympus"}, "enabled": {"on"}}, "time_zone"},
		{"agent name", "POST", "/api/v1/agents", `{"name":"Not An Agent"}`,
			"/agents", url.Values{"name": {"Not An Agent"}}, "name"},
		{"join token ttl", "POST", "/api/v1/join-tokens", `{"agent_name":"parity-agent","ttl":"3d"}`,
			"/agents/join-tokens", url.Values{"agent_name": {"parity-agent"}, "ttl": {"3d"}}, "ttl"},
		{"user role", "POST", "/api/v1/users", `{"name":"parity-user","role":"king","password":"a long enough password"}`,
			"/users", url.Values{"name": {"parity-user"}, "role": {"king"}, "password": {"a long enough password"}}, "role"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := e.do(t, tt.apiMethod, tt.apiPath, tt.apiBody)
			if api.Code < 400 || api.Code >= 500 {
				t.Fatalf("API %s %s: %d %s, want a refusal", tt.apiMethod, tt.apiPath, api.Code, api.Body)
			}
			want := errorOf(t, api)
			page := e.form(t, session, csrf, tt.formPath, tt.form)
			if page.Code != api.Code {
				t.Errorf("form %s: %d, the API answered %d", tt.formPath, page.Code, api.Code)
			}
			got := html.UnescapeString(fieldError(page.Body.String(), tt.field))
			if got != want {
				t.Errorf("form %s shows %q beside %s; the API said %q", tt.formPath, got, tt.field, want)
			}
		})
	}
	if w := e.do(t, "GET", "/api/v1/sites?q=parity-site", ""); w.Code != http.StatusOK || w.Body.String() != "[]" {
		t.Errorf("a refused site was stored: %d %s", w.Code, w.Body)
	}
}
