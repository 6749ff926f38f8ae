package web

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
)

// TestRequestErrors checks that every refused request gets the right status
// and a JSON error that names the field and the offending value.
func TestRequestErrors(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	scanBody := func(site, profile, agent int64, extra string) string {
		return fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d%s}`, uniq("scan"), site, profile, agent, extra)
	}
	const missing = 987654321
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // substring of the error message
	}{
		// Decoding.
		{"bad JSON", "POST", "/api/v1/sites", `{"name": "x",`, 400, "invalid JSON"},
		{"syntax error", "POST", "/api/v1/sites", `{"name" "x"}`, 400, "invalid JSON at byte"},
		{"unknown field", "POST", "/api/v1/sites", `{"name": "x", "targets": ["198.18.0.1"], "colour": "red"}`, 400, `unknown field "colour"`},
		{"read-only field", "POST", "/api/v1/agents", `{"name": "a", "task_queue": "q"}`, 400, `unknown field "task_queue"`},
		{"wrong type", "POST", "/api/v1/sites", `{"name": 5, "targets": []}`, 400, "name: expected a string, got number"},
		{"wrong id type", "POST", "/api/v1/scans", `{"name": "s", "site_id": "one"}`, 400, "site_id: expected an integer, got string"},
		{"not an object", "POST", "/api/v1/sites", `["198.18.0.1"]`, 400, "must be a JSON object"},
		{"no body, no Content-Type", "POST", "/api/v1/profiles", "", 415, "Content-Type must be application/json"},
		{"two objects", "POST", "/api/v1/agents", `{"name": "a"} {"name": "b"}`, 400, "a single JSON object"},

		// Sites.
		{"site name missing", "POST", "/api/v1/sites", `{"name": "  ", "targets": ["198.18.0.1"]}`, 400, "name: required"},
		{"site name too long", "POST", "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.1"]}`, strings.Repeat("n", 101)), 400, "is 101 characters long, the limit is 100"},
		{"site name control char", "POST", "/api/v1/sites", `{"name": "a\u0007b", "targets": ["198.18.0.1"]}`, 400, `name: contains the control character '\a'`},
		{"site without targets", "POST", "/api/v1/sites", `{"name": "s", "targets": []}`, 400, "targets: at least one target is required"},
		{"site bad target", "POST", "/api/v1/sites", `{"name": "s", "targets": ["198.18.0.1", "scanme.example", "198.18.0.300"]}`, 400, `targets[2]: invalid target "198.18.0.300"`},
		{"site empty target", "POST", "/api/v1/sites", `{"name": "s", "targets": [""]}`, 400, "targets[0]: invalid target"},
		{"site bad exclusion", "POST", "/api/v1/sites", `{"name": "s", "targets": ["198.18.0.0/24"], "exclusions": ["198.18.0.9-198.18.0.1"]}`, 400, `exclusions[0]: invalid target "198.18.0.9-198.18.0.1": range end is before its start`},
		{"site fully excluded", "POST", "/api/v1/sites", `{"name": "s", "targets": ["198.18.0.0/25"], "exclusions": ["198.18.0.0/24"]}`, 400, "exclusions: they leave none"},
		{"site update bad target", "PUT", fmt.Sprintf("/api/v1/sites/%d", f.site.ID), `{"name": "s", "targets": ["bad host!"]}`, 400, `targets[0]: invalid target "bad host!"`},

		// Exclusions.
		{"exclusion bad target", "POST", "/api/v1/exclusions", `{"target": "198.18.0.0/33"}`, 400, `target: invalid target "198.18.0.0/33"`},
		{"exclusion missing target", "POST", "/api/v1/exclusions", `{"note": "x"}`, 400, "target: invalid target: empty target"},

		// Profiles.
		{"profile no scanner", "POST", "/api/v1/profiles", `{"name": "p", "options": "-sT"}`, 400, "scanner: required"},
		{"profile bad scanner", "POST", "/api/v1/profiles", `{"name": "p", "scanner": "nessus"}`, 400, `scanner: invalid scanner options: unknown scanner "nessus"`},
		{"profile refused option", "POST", "/api/v1/profiles", `{"name": "p", "scanner": "nmap", "options": "-sV -oX /tmp/out.xml"}`, 400, "options: invalid scanner options: option -oX is not allowed in a profile"},
		{"profile refused glued option", "POST", "/api/v1/profiles", `{"name": "p", "scanner": "nmap", "options": "-iL/etc/hosts"}`, 400, "option -iL is not allowed"},
		{"profile masscan option", "POST", "/api/v1/profiles", `{"name": "p", "scanner": "masscan", "options": "--rate 100 --conf x"}`, 400, "option --conf is not allowed"},
		{"profile script path", "POST", "/api/v1/profiles", `{"name": "p", "scanner": "nmap", "options": "--script=../x.nse"}`, 400, "option --script: value"},
		{"profile unterminated quote", "POST", "/api/v1/profiles", `{"name": "p", "scanner": "nmap", "options": "--script 'default"}`, 400, "options: invalid scanner options: unterminated ' quote"},

		// Agents.
		{"agent name missing", "POST", "/api/v1/agents", `{"description": "d"}`, 400, "name: required"},
		{"agent name upper case", "POST", "/api/v1/agents", `{"name": "Agent One"}`, 400, `name: "Agent One" is not a valid agent name`},
		{"agent name leading dash", "POST", "/api/v1/agents", `{"name": "-agent"}`, 400, `name: "-agent" is not a valid agent name`},
		{"agent name too long", "POST", "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, strings.Repeat("a", 64)), 400, "is not a valid agent name"},

		// Scans.
		{"scan missing site", "POST", "/api/v1/scans", scanBody(missing, f.profile.ID, f.agent.ID, ""), 400, fmt.Sprintf("site_id: site %d does not exist", missing)},
		{"scan missing profile", "POST", "/api/v1/scans", scanBody(f.site.ID, missing, f.agent.ID, ""), 400, fmt.Sprintf("profile_id: profile %d does not exist", missing)},
		{"scan missing agent", "POST", "/api/v1/scans", scanBody(f.site.ID, f.profile.ID, missing, ""), 400, fmt.Sprintf("agent_id: agent %d does not exist", missing)},
		{"scan no site id", "POST", "/api/v1/scans", `{"name": "s", "profile_id": 1, "agent_id": 1}`, 400, "site_id: required"},
		{"scan negative id", "POST", "/api/v1/scans", `{"name": "s", "site_id": -4, "profile_id": 1, "agent_id": 1}`, 400, "site_id: -4 is not a valid id"},
		{"scan bad time zone", "POST", "/api/v1/scans", scanBody(f.site.ID, f.profile.ID, f.agent.ID, `, "time_zone": "Mars/Olympus_Mons"`), 400, `time_zone: "Mars/Olympus_Mons" is not a known IANA time zone`},
		{"scan local time zone", "POST", "/api/v1/scans", scanBody(f.site.ID, f.profile.ID, f.agent.ID, `, "time_zone": "Local"`), 400, `time_zone: "Local"`},
		{"scan bad start", "POST", "/api/v1/scans", scanBody(f.site.ID, f.profile.ID, f.agent.ID, `, "start_at": "tomorrow"`), 400, `start_at: "tomorrow" is not an RFC 3339 time`},
		{"scan rrule without start", "POST", "/api/v1/scans", scanBody(f.site.ID, f.profile.ID, f.agent.ID, `, "rrule": "FREQ=WEEKLY;BYDAY=MO"`), 400, "start_at: required with rrule"},
		{"scan bad overlap", "POST", "/api/v1/scans", scanBody(f.site.ID, f.profile.ID, f.agent.ID, `, "overlap": "sometimes"`), 400, `overlap: "sometimes" is not one of skip, buffer_one`},
		{"scan tiny catch-up window", "POST", "/api/v1/scans", scanBody(f.site.ID, f.profile.ID, f.agent.ID, `, "catchup_window_seconds": 3`), 400, "catchup_window_seconds: 3 is outside 10 to 604800"},
		{"scan update missing", "PUT", fmt.Sprintf("/api/v1/scans/%d", missing), scanBody(f.site.ID, f.profile.ID, f.agent.ID, ""), 404, fmt.Sprintf("scan %d not found", missing)},

		// Ids, pagination and unknown routes.
		{"bad id", "GET", "/api/v1/sites/abc", "", 400, `id: "abc" is not a valid id`},
		{"zero id", "GET", "/api/v1/profiles/0", "", 400, `id: "0" is not a valid id`},
		{"site not found", "GET", fmt.Sprintf("/api/v1/sites/%d", missing), "", 404, fmt.Sprintf("site %d not found", missing)},
		{"profile not found", "GET", fmt.Sprintf("/api/v1/profiles/%d", missing), "", 404, "not found"},
		{"agent not found", "GET", fmt.Sprintf("/api/v1/agents/%d", missing), "", 404, "not found"},
		{"scan not found", "GET", fmt.Sprintf("/api/v1/scans/%d", missing), "", 404, "not found"},
		{"delete missing site", "DELETE", fmt.Sprintf("/api/v1/sites/%d", missing), "", 404, "not found"},
		{"delete missing exclusion", "DELETE", fmt.Sprintf("/api/v1/exclusions/%d", missing), "", 404, "not found"},
		{"update missing site", "PUT", fmt.Sprintf("/api/v1/sites/%d", missing), `{"name": "s", "targets": ["198.18.0.1"]}`, 404, "not found"},
		{"run not found", "GET", fmt.Sprintf("/api/v1/runs/%d", missing), "", 404, fmt.Sprintf("run %d not found", missing)},
		{"limit too big", "GET", "/api/v1/runs?limit=501", "", 400, `limit: "501" is not an integer from 1 to 500`},
		{"negative offset", "GET", "/api/v1/runs?offset=-1", "", 400, "offset:"},
		{"bad scan_id", "GET", "/api/v1/runs?scan_id=x", "", 400, `scan_id: "x" is not a valid id`},
		{"start run of missing scan", "POST", fmt.Sprintf("/api/v1/scans/%d/runs", missing), "", 404, fmt.Sprintf("scan %d not found", missing)},
		{"unknown endpoint", "GET", "/api/v1/nothing", "", 404, "no such endpoint"},
		{"method not allowed", "PATCH", "/api/v1/sites", "", 405, "method PATCH is not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, tc.method, tc.path, tc.body)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body.String())
			}
			if msg := errorOf(t, w); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
		})
	}
}

func TestContentType(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		contentType, body string
		status            int
		want              string
	}{
		{"text/plain", `{"name":"a"}`, 415, `Content-Type must be application/json, not "text/plain"`},
		{"application/x-www-form-urlencoded", `name=a`, 415, "Content-Type must be application/json"},
		{"application/json", "", 400, "request body is empty"},
		{"application/json", "   ", 400, "request body is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.contentType+" "+tc.body, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/v1/agents", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("Authorization", "Bearer "+e.token)
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if msg := errorOf(t, w); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
		})
	}
	t.Run("charset parameter is fine", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/api/v1/agents", strings.NewReader(fmt.Sprintf(`{"name": %q}`, uniq("agent"))))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Authorization", "Bearer "+e.token)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}

// TestSecurityHeaders: every answer, whatever the route or status, carries
// the headers that stop sniffing, framing, referrer leaks and script.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		csp                      string
	}{
		{"health", "GET", "/healthz", "", http.StatusOK, apiCSP},
		{"readiness", "GET", "/readyz", "", http.StatusOK, apiCSP},
		{"API list", "GET", "/api/v1/sites", "", http.StatusOK, apiCSP},
		{"API error", "POST", "/api/v1/sites", `{"name": ""}`, http.StatusBadRequest, apiCSP},
		{"not found", "GET", "/api/v1/nothing", "", http.StatusNotFound, apiCSP},
		{"too large", "POST", "/api/v1/sites", `{"name": "` + strings.Repeat("x", MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, apiCSP},
		{"stylesheet", "GET", "/static/style.css", "", http.StatusOK, apiCSP},
		{"UI page", "GET", "/", "", http.StatusOK, "default-src 'none'; script-src 'self'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, tt.method, tt.path, tt.body)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body.String())
			}
			want := map[string]string{
				"X-Content-Type-Options":       "nosniff",
				"X-Frame-Options":              "DENY",
				"Referrer-Policy":              "no-referrer",
				"Cross-Origin-Opener-Policy":   "same-origin",
				"Cross-Origin-Resource-Policy": "same-origin",
			}
			for k, v := range want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			csp := w.Header().Get("Content-Security-Policy")
			if !strings.HasPrefix(csp, tt.csp) || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy = %q, want it to start %q and forbid framing", csp, tt.csp)
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	big := `{"name": "` + strings.Repeat("x", MaxBodyBytes) + `"}`
	t.Run("declared length", func(t *testing.T) {
		w := e.do(t, "POST", "/api/v1/sites", big)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", w.Code)
		}
		if msg := errorOf(t, w); !strings.Contains(msg, "larger than 1048576 bytes") {
			t.Errorf("error %q", msg)
		}
	})
	t.Run("streamed", func(t *testing.T) {
		// No Content-Length: the limit is met while decoding.
		req := httptest.NewRequest("POST", "/api/v1/sites", io.MultiReader(strings.NewReader(big)))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.token)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413; body %s", w.Code, w.Body.String())
		}
		errorOf(t, w)
	})
}

func TestConflicts(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)

	tests := []struct {
		name, method, path, body string
		want                     string
	}{
		{"duplicate site", "POST", "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.1"]}`, f.site.Name), fmt.Sprintf("name: a site named %q already exists", f.site.Name)},
		{"duplicate site name after trimming", "POST", "/api/v1/sites", fmt.Sprintf(`{"name": "  %s ", "targets": ["198.18.0.1"]}`, f.site.Name), "already exists"},
		{"duplicate profile", "POST", "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "masscan"}`, f.profile.Name), "name: a profile named"},
		{"duplicate agent", "POST", "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, f.agent.Name), fmt.Sprintf("name: an agent named %q already exists", f.agent.Name)},
		{"duplicate scan", "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d}`, s.Name, f.site.ID, f.profile.ID, f.agent.ID), "name: a scan named"},
		{"rename site onto another", "PUT", fmt.Sprintf("/api/v1/sites/%d", f.site.ID), fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.1"]}`, makeFixtures(t, e).site.Name), "already exists"},
		{"delete site in use", "DELETE", fmt.Sprintf("/api/v1/sites/%d", f.site.ID), "", fmt.Sprintf("site %d is used by a scan", f.site.ID)},
		{"delete profile in use", "DELETE", fmt.Sprintf("/api/v1/profiles/%d", f.profile.ID), "", "is used by a scan"},
		{"delete agent in use", "DELETE", fmt.Sprintf("/api/v1/agents/%d", f.agent.ID), "", "is used by a scan"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, tc.method, tc.path, tc.body)
			if w.Code != http.StatusConflict {
				t.Fatalf("status %d, want 409; body %s", w.Code, w.Body.String())
			}
			if msg := errorOf(t, w); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
		})
	}

	t.Run("delete scan with runs", func(t *testing.T) {
		e.mustDo(t, "POST", fmt.Sprintf("/api/v1/scans/%d/runs", s.ID), "", http.StatusAccepted, nil)
		w := e.do(t, "DELETE", fmt.Sprintf("/api/v1/scans/%d", s.ID), "")
		if w.Code != http.StatusConflict {
			t.Fatalf("status %d, want 409; body %s", w.Code, w.Body.String())
		}
		if msg := errorOf(t, w); !strings.Contains(msg, "has runs") {
			t.Errorf("error %q", msg)
		}
	})
}

func TestSiteLifecycle(t *testing.T) {
	e := newEnv(t)
	name := uniq("site")
	var created scan.Site
	w := e.do(t, "POST", "/api/v1/sites", fmt.Sprintf(`{"name": "  %s  ", "description": "lab", "targets": [" 198.18.0.0/24 ", "scanme.example"], "exclusions": ["198.18.0.1-9"]}`, name))
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body.String())
	}
	decode(t, w, &created)
	if created.ID <= 0 || created.Name != name || created.CreatedAt.IsZero() {
		t.Fatalf("created %+v", created)
	}
	if got, want := w.Header().Get("Location"), fmt.Sprintf("/api/v1/sites/%d", created.ID); got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	if strings.Join(created.Targets, ",") != "198.18.0.0/24,scanme.example" || strings.Join(created.Exclusions, ",") != "198.18.0.1-9" {
		t.Errorf("targets %q exclusions %q", created.Targets, created.Exclusions)
	}

	var got scan.Site
	e.mustDo(t, "GET", w.Header().Get("Location"), "", http.StatusOK, &got)
	if got.Name != name || len(got.Targets) != 2 {
		t.Errorf("get %+v", got)
	}

	var updated scan.Site
	e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/sites/%d", created.ID), fmt.Sprintf(`{"name": %q, "targets": ["198.18.1.0/24"]}`, name+"-b"), http.StatusOK, &updated)
	if updated.ID != created.ID || updated.Name != name+"-b" || len(updated.Targets) != 1 || len(updated.Exclusions) != 0 {
		t.Errorf("updated %+v", updated)
	}

	var list []scan.Site
	e.mustDo(t, "GET", "/api/v1/sites", "", http.StatusOK, &list)
	found := false
	for _, s := range list {
		found = found || s.ID == created.ID
	}
	if !found {
		t.Errorf("site %d missing from the list", created.ID)
	}

	if w := e.do(t, "DELETE", fmt.Sprintf("/api/v1/sites/%d", created.ID), ""); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", w.Code, w.Body.String())
	}
	if w := e.do(t, "GET", fmt.Sprintf("/api/v1/sites/%d", created.ID), ""); w.Code != http.StatusNotFound {
		t.Fatalf("get after delete: %d", w.Code)
	}
}

func TestProfileAgentExclusionScan(t *testing.T) {
	e := newEnv(t)

	var p scan.Profile
	e.mustDo(t, "POST", "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sV --script 'default and safe'", "intrusive": true}`, uniq("profile")), http.StatusCreated, &p)
	if p.Scanner != scan.Nmap || p.Options != "-sV --script 'default and safe'" {
		t.Errorf("profile %+v", p)
	}
	e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/profiles/%d", p.ID), fmt.Sprintf(`{"name": %q, "scanner": "masscan", "options": "--rate 1000 -p80"}`, p.Name), http.StatusOK, &p)
	if p.Scanner != scan.Masscan {
		t.Errorf("updated profile %+v", p)
	}

	var a scan.Agent
	name := uniq("agent.x_y")
	e.mustDo(t, "POST", "/api/v1/agents", fmt.Sprintf(`{"name": %q, "description": "rack 4"}`, name), http.StatusCreated, &a)
	if a.TaskQueue != "agent."+name {
		t.Errorf("agent task queue %q", a.TaskQueue)
	}

	var x scan.Exclusion
	e.mustDo(t, "POST", "/api/v1/exclusions", `{"target": " 198.18.255.0/24 ", "note": "printers"}`, http.StatusCreated, &x)
	if x.Target != "198.18.255.0/24" || x.Note != "printers" {
		t.Errorf("exclusion %+v", x)
	}
	var xs []scan.Exclusion
	e.mustDo(t, "GET", "/api/v1/exclusions", "", http.StatusOK, &xs)
	if len(xs) == 0 {
		t.Error("no exclusions listed")
	}
	if w := e.do(t, "DELETE", fmt.Sprintf("/api/v1/exclusions/%d", x.ID), ""); w.Code != http.StatusNoContent {
		t.Errorf("delete exclusion: %d", w.Code)
	}

	f := makeFixtures(t, e)
	var s scan.Scan
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "time_zone": "Europe/Paris", "enabled": false}`,
		uniq("scan"), f.site.ID, p.ID, a.ID), http.StatusCreated, &s)
	if s.TimeZone != "Europe/Paris" || s.RRule != "" || s.Enabled || s.StartAt != nil {
		t.Errorf("scan %+v", s)
	}
	var s2 scan.Scan
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d}`, uniq("scan"), f.site.ID, p.ID, a.ID), http.StatusCreated, &s2)
	if s2.TimeZone != "UTC" || !s2.Enabled || s2.StartAt != nil {
		t.Errorf("defaults: %+v", s2)
	}
	e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/scans/%d", s2.ID), fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "enabled": false}`, s2.Name, f.site.ID, f.profile.ID, f.agent.ID), http.StatusOK, &s2)
	if s2.Enabled || s2.ProfileID != f.profile.ID {
		t.Errorf("updated scan %+v", s2)
	}
	if w := e.do(t, "DELETE", fmt.Sprintf("/api/v1/scans/%d", s2.ID), ""); w.Code != http.StatusNoContent {
		t.Errorf("delete scan: %d %s", w.Code, w.Body.String())
	}
	// Once no scan uses them, they can go.
	if w := e.do(t, "DELETE", fmt.Sprintf("/api/v1/scans/%d", s.ID), ""); w.Code != http.StatusNoContent {
		t.Errorf("delete scan: %d %s", w.Code, w.Body.String())
	}
	for _, path := range []string{fmt.Sprintf("/api/v1/profiles/%d", p.ID), fmt.Sprintf("/api/v1/agents/%d", a.ID)} {
		if w := e.do(t, "DELETE", path, ""); w.Code != http.StatusNoContent {
			t.Errorf("DELETE %s: %d %s", path, w.Code, w.Body.String())
		}
	}
}

func TestEmptyListsAreArrays(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "GET", "/api/v1/runs?scan_id=987654321", "")
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Fatalf("got %d %s, want 200 []", w.Code, w.Body.String())
	}
}

func TestInternalErrorsAreGeneric(t *testing.T) {
	for _, panics := range []bool{false, true} {
		t.Run(fmt.Sprintf("panic=%v", panics), func(t *testing.T) {
			e := newEnv(t, withStore(failingStore{Store: testStore, panic: panics}))
			w := e.do(t, "GET", "/api/v1/sites", "")
			if w.Code != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", w.Code)
			}
			if msg := errorOf(t, w); msg != "internal server error" {
				t.Errorf("error %q leaks detail", msg)
			}
			logs := e.logs.String()
			want := errDatabaseOnFire.Error()
			if panics {
				want = "panic=boom"
			}
			if !strings.Contains(logs, want) {
				t.Errorf("log does not record %q:\n%s", want, logs)
			}
		})
	}
}

func TestHealthzAndRequestLog(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "GET", "/healthz", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Fatalf("healthz: %d %s", w.Code, w.Body.String())
	}
	e.do(t, "GET", "/api/v1/sites", "")
	if logs := e.logs.String(); !strings.Contains(logs, "path=/api/v1/sites") || !strings.Contains(logs, "status=200") {
		t.Errorf("request not logged:\n%s", logs)
	}
}

func TestNewRefusesMissingDeps(t *testing.T) {
	if _, err := New(Config{}, Deps{Store: testStore}); err == nil {
		t.Error("New accepted missing Objects and Temporal")
	}
	if _, err := New(Config{TemporalUIURL: "not a url"}, Deps{Store: testStore, Objects: &fakeObjects{}, Temporal: &fakeTemporal{}}); err == nil {
		t.Error("New accepted a relative TemporalUIURL")
	}
}

func TestListPages(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		e.mustDo(t, "POST", "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sT"}`, uniq("page")), http.StatusCreated, nil)
	}
	w := e.do(t, "GET", "/api/v1/profiles", "")
	var all []scan.Profile
	decode(t, w, &all)
	total := w.Header().Get("X-Total-Count")
	if total != fmt.Sprint(len(all)) || len(all) < 3 {
		t.Fatalf("X-Total-Count %q for %d rows", total, len(all))
	}
	var pg []scan.Profile
	w = e.do(t, "GET", "/api/v1/profiles?limit=2&offset=1", "")
	decode(t, w, &pg)
	if len(pg) != 2 || pg[0].ID != all[1].ID || pg[1].ID != all[2].ID || w.Header().Get("X-Total-Count") != total {
		t.Errorf("page limit=2 offset=1: %+v", pg)
	}
	decode(t, e.do(t, "GET", fmt.Sprintf("/api/v1/profiles?offset=%d", len(all)), ""), &pg)
	if len(pg) != 0 {
		t.Errorf("offset past the end: %+v", pg)
	}
	if w := e.do(t, "GET", "/api/v1/sites?limit=0", ""); w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), "limit") {
		t.Errorf("limit=0: %d", w.Code)
	}
}
