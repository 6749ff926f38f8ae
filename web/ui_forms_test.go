package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// form posts fields with the session's CSRF token.
func (e *testEnv) form(t *testing.T, session *http.Cookie, csrf, path string, fields url.Values) *httptest.ResponseRecorder {
	t.Helper()
	if fields == nil {
		fields = url.Values{}
	}
	fields.Set(csrfField, csrf)
	return e.page(t, session, "POST", path, fields)
}

// fieldError returns the message shown under a form field, or "".
func fieldError(body, field string) string {
	m := regexp.MustCompile(`<p class="field-error" id="` + regexp.QuoteMeta(field) + `-error">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestSiteForms(t *testing.T) {
	e := newEnv(t)
	_, session, csrf := e.sessionFor(t, accounts.Operator)
	name := uniq("ui-site")

	// A bad target is refused beside the targets field, the input is kept,
	// and nothing is created.
	w := e.form(t, session, csrf, "/sites", url.Values{"name": {name}, "targets": {"198.18.0.1\n198.18.0.0/33"}})
	if w.Code != http.StatusBadRequest {
		t.Fatalf("bad target: %d", w.Code)
	}
	body := w.Body.String()
	if msg := fieldError(body, "targets"); !strings.Contains(msg, "targets[1]") {
		t.Errorf("targets error %q; page %s", msg, body)
	}
	if !strings.Contains(body, "198.18.0.0/33</textarea>") || !strings.Contains(body, `value="`+name+`"`) {
		t.Error("the refused input is not shown again")
	}
	if sites, _ := testStore.ListSites(context.Background()); containsSite(sites, name) {
		t.Fatal("a refused site was created")
	}

	w = e.form(t, session, csrf, "/sites", url.Values{"name": {name}, "targets": {"198.18.0.0/28, 198.18.1.1"}, "exclusions": {"198.18.0.1"}})
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/sites/") {
		t.Fatalf("create: %d %s", w.Code, w.Body.String())
	}
	sitePath := w.Header().Get("Location")
	body = e.page(t, session, "GET", sitePath, nil).Body.String()
	if !strings.Contains(body, "198.18.0.0/28\n198.18.1.1</textarea>") {
		t.Errorf("site page lacks the targets: %s", body)
	}
	if !strings.Contains(e.page(t, session, "GET", "/sites?q="+url.QueryEscape(name), nil).Body.String(), name) {
		t.Error("sites page lacks the new site")
	}

	// An edit whose exclusions leave nothing shows the error by that field.
	w = e.form(t, session, csrf, sitePath, url.Values{"name": {name}, "targets": {"198.18.2.1"}, "exclusions": {"198.18.2.0/24"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "exclusions"), "leave none") {
		t.Errorf("edit leaving nothing: %d %q", w.Code, fieldError(w.Body.String(), "exclusions"))
	}
	w = e.form(t, session, csrf, sitePath, url.Values{"name": {name}, "targets": {"198.18.2.1"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", w.Code, w.Body.String())
	}
	w = e.form(t, session, csrf, sitePath+"/delete", nil)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", w.Code, w.Body.String())
	}
	if w := e.page(t, session, "GET", sitePath, nil); w.Code != http.StatusNotFound {
		t.Errorf("deleted site page: %d", w.Code)
	}

	// A viewer sees sites but no form.
	_, viewer, _ := e.sessionFor(t, accounts.Viewer)
	body = e.page(t, viewer, "GET", "/sites", nil).Body.String()
	if strings.Contains(body, `id="site-form"`) || !strings.Contains(body, "<h1>Sites</h1>") {
		t.Error("a viewer is offered the site form")
	}
}

func TestProfileExclusionAgentForms(t *testing.T) {
	e := newEnv(t)
	_, session, csrf := e.sessionFor(t, accounts.Admin)

	w := e.form(t, session, csrf, "/profiles", url.Values{"name": {uniq("p")}, "scanner": {"nmap"}, "options": {"-iL /etc/passwd"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "options"), "-iL") {
		t.Errorf("bad options: %d %q", w.Code, fieldError(w.Body.String(), "options"))
	}
	pname := uniq("p")
	if w := e.form(t, session, csrf, "/profiles", url.Values{"name": {pname}, "scanner": {"nmap"}, "options": {"-sT -p 22"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("profile: %d %s", w.Code, w.Body.String())
	}
	if !strings.Contains(e.page(t, session, "GET", "/profiles?q="+url.QueryEscape(pname), nil).Body.String(), pname) {
		t.Error("profiles page lacks the new profile")
	}

	w = e.form(t, session, csrf, "/exclusions", url.Values{"target": {"not an address!"}})
	if w.Code != http.StatusBadRequest || fieldError(w.Body.String(), "target") == "" {
		t.Errorf("bad exclusion: %d %s", w.Code, w.Body.String())
	}
	note := uniq("note")
	if w := e.form(t, session, csrf, "/exclusions", url.Values{"target": {"198.18.77.7"}, "note": {note}}); w.Code != http.StatusSeeOther {
		t.Fatalf("exclusion: %d %s", w.Code, w.Body.String())
	}
	body := e.page(t, session, "GET", "/exclusions?q="+url.QueryEscape(note), nil).Body.String()
	m := regexp.MustCompile(`action="/exclusions/(\d+)/delete"[^>]*>\s*<input[^>]*>\s*<button[^>]*data-confirm="Remove the exclusion of 198.18.77.7\?"`).FindAllStringSubmatch(body, -1)
	if !strings.Contains(body, note) || m == nil {
		t.Fatalf("exclusions page lacks the new exclusion")
	}
	for _, x := range m {
		if w := e.form(t, session, csrf, "/exclusions/"+x[1]+"/delete", nil); w.Code != http.StatusSeeOther {
			t.Errorf("delete exclusion: %d", w.Code)
		}
	}

	w = e.form(t, session, csrf, "/agents", url.Values{"name": {"Bad Agent"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "name"), "not a valid agent name") {
		t.Errorf("bad agent: %d %q", w.Code, fieldError(w.Body.String(), "name"))
	}
	aname := uniq("agent")
	// Registering answers the agent's credential, once, on the page.
	if w := e.form(t, session, csrf, "/agents", url.Values{"name": {aname}}); w.Code != http.StatusCreated ||
		!strings.Contains(w.Body.String(), `id="new-credential">sct1_`) {
		t.Fatalf("agent: %d %s", w.Code, w.Body.String())
	}
	if !strings.Contains(e.page(t, session, "GET", "/agents?q="+url.QueryEscape(aname), nil).Body.String(), "agent."+aname) {
		t.Error("agents page lacks the new agent's task queue")
	}
}

func TestScanFormsAndRuns(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	_, session, csrf := e.sessionFor(t, accounts.Operator)

	body := e.page(t, session, "GET", "/scans", nil).Body.String()
	if !strings.Contains(body, fmt.Sprintf(`<option value="%d">%s</option>`, f.site.ID, f.site.Name)) {
		t.Fatalf("scan form does not offer the site")
	}
	name := uniq("ui-scan")
	w := e.form(t, session, csrf, "/scans", url.Values{"name": {name}, "profile_id": {fmt.Sprint(f.profile.ID)}, "agent_id": {fmt.Sprint(f.agent.ID)}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "site_id"), "required") {
		t.Errorf("scan without a site: %d %q", w.Code, fieldError(w.Body.String(), "site_id"))
	}
	if !strings.Contains(w.Body.String(), fmt.Sprintf(`<option value="%d" selected>`, f.profile.ID)) {
		t.Error("the chosen profile is not kept after a refusal")
	}
	if !strings.Contains(body, `name="enabled" value="on" checked`) {
		t.Error("a new scan is not enabled by default")
	}
	w = e.form(t, session, csrf, "/scans", url.Values{"name": {name}, "site_id": {fmt.Sprint(f.site.ID)},
		"profile_id": {fmt.Sprint(f.profile.ID)}, "agent_id": {fmt.Sprint(f.agent.ID)}, "enabled": {"on"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("scan: %d %s", w.Code, w.Body.String())
	}
	body = e.page(t, session, "GET", "/scans?q="+url.QueryEscape(name), nil).Body.String()
	m := regexp.MustCompile(`action="/scans/(\d+)/run"`).FindAllStringSubmatch(body, -1)
	if !strings.Contains(body, name) || m == nil {
		t.Fatal("scans page lacks the scan or its run button")
	}
	scanID := m[len(m)-1][1]

	// Run now starts the workflow and shows the run, with a cancel button
	// that asks Temporal to cancel it.
	w = e.form(t, session, csrf, "/scans/"+scanID+"/run", nil)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/runs/") {
		t.Fatalf("run now: %d %s", w.Code, w.Body.String())
	}
	runPath := w.Header().Get("Location")
	body = e.page(t, session, "GET", runPath, nil).Body.String()
	if !strings.Contains(body, `id="cancel-run"`) || !strings.Contains(body, `data-status="pending"`) || !strings.Contains(body, `src="/static/app.js"`) {
		t.Errorf("run page lacks the cancel button, live status or script: %s", body)
	}
	if w := e.form(t, session, csrf, runPath+"/cancel", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("cancel: %d %s", w.Code, w.Body.String())
	}
	e.temporal.mu.Lock()
	cancels := len(e.temporal.cancels)
	e.temporal.mu.Unlock()
	if cancels != 1 {
		t.Errorf("%d cancels reached Temporal, want 1", cancels)
	}
	body = e.page(t, session, "GET", "/runs?scan_id="+scanID, nil).Body.String()
	if !strings.Contains(body, `href="`+runPath+`"`) {
		t.Error("runs page lacks the run")
	}
	if body := e.page(t, session, "GET", "/", nil).Body.String(); !strings.Contains(body, `data-run-id="`+strings.TrimPrefix(runPath, "/runs/")+`"`) {
		t.Error("dashboard does not list the run in progress")
	}

	// The script is served from the binary with a script type.
	js := e.page(t, session, "GET", "/static/app.js", nil)
	if js.Code != http.StatusOK || !strings.HasPrefix(js.Header().Get("Content-Type"), "text/javascript") || !strings.Contains(js.Body.String(), "/api/v1/runs/") {
		t.Errorf("app.js: %d %s", js.Code, js.Header().Get("Content-Type"))
	}
}

func containsSite(sites []scan.Site, name string) bool {
	for _, s := range sites {
		if s.Name == name {
			return true
		}
	}
	return false
}

func TestUserForms(t *testing.T) {
	e := newEnv(t)
	_, session, csrf := e.sessionFor(t, accounts.Admin)
	name := uniq("dave")

	w := e.form(t, session, csrf, "/users", url.Values{"name": {name}, "role": {"operator"}, "password": {"tooshort"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "password"), "at least 12") {
		t.Errorf("short password: %d %q", w.Code, fieldError(w.Body.String(), "password"))
	}
	if strings.Contains(w.Body.String(), "tooshort") {
		t.Error("the refused password is echoed back")
	}
	if w := e.form(t, session, csrf, "/users", url.Values{"name": {name}, "role": {"operator"}, "password": {testPassword}}); w.Code != http.StatusSeeOther {
		t.Fatalf("create: %d %s", w.Code, w.Body.String())
	}
	u, err := testStore.GetUserByName(context.Background(), name)
	if err != nil || u.Role != accounts.Operator {
		t.Fatalf("created user %+v %v", u, err)
	}
	// The new user can log in with the password the admin set.
	if w := e.login(t, name, testPassword, "/"); w.Code != http.StatusSeeOther {
		t.Fatalf("new user's login: %d", w.Code)
	}
	path := fmt.Sprintf("/users/%d", u.ID)
	if w := e.form(t, session, csrf, path, url.Values{"role": {"viewer"}, "password": {""}}); w.Code != http.StatusSeeOther {
		t.Fatalf("role change: %d %s", w.Code, w.Body.String())
	}
	if u, _ = testStore.GetUserByName(context.Background(), name); u.Role != accounts.Viewer {
		t.Errorf("role after change: %s", u.Role)
	}
	w = e.form(t, session, csrf, path, url.Values{"role": {"root"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), fmt.Sprintf("user %d: role:", u.ID)) {
		t.Errorf("bad role: %d", w.Code)
	}
	if w := e.form(t, session, csrf, path+"/delete", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("delete: %d", w.Code)
	}
	if _, err := testStore.GetUserByName(context.Background(), name); err == nil {
		t.Error("user not deleted")
	}
}

func TestRunPortFilterAndSiteChart(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	r := e.startRun(t, s.ID)
	addPorts(t, r.ID, f.agent.ID)
	if _, err := testStore.CompleteRun(context.Background(), r.ID, scan.BlobRef{Bucket: "b", Key: "x.csv", Size: 1, SHA256: sha}); err != nil {
		t.Fatal(err)
	}
	runPath := fmt.Sprintf("/runs/%d", r.ID)
	if body := e.do(t, "GET", runPath+"?state=open", "").Body.String(); !strings.Contains(body, "OpenSSH") || !strings.Contains(body, `<option value="open" selected>`) {
		t.Errorf("open ports filter lacks OpenSSH or the chosen state")
	}
	if body := e.do(t, "GET", runPath+"?state=closed", "").Body.String(); strings.Contains(body, "OpenSSH") || !strings.Contains(body, "No ports recorded") {
		t.Errorf("closed ports filter shows the open port")
	}
	if w := e.do(t, "GET", runPath+"?state=ajar", ""); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "not a port state") {
		t.Errorf("bad state: %d", w.Code)
	}

	// The site's page charts the completed run's open ports.
	body := e.do(t, "GET", fmt.Sprintf("/sites/%d", f.site.ID), "").Body.String()
	if !strings.Contains(body, `id="exposure-chart"`) || !strings.Contains(body, `<a href="`+runPath+`"><circle`) ||
		!strings.Contains(body, fmt.Sprintf("run #%d, ", r.ID)) || !strings.Contains(body, ": 2 open ports</title>") {
		t.Errorf("site page lacks the chart of the run: %s", body)
	}
}

func TestProfileAndScanEditPages(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	_, session, csrf := e.sessionFor(t, accounts.Operator)
	ctx := context.Background()

	ppath := fmt.Sprintf("/profiles/%d", f.profile.ID)
	body := e.page(t, session, "GET", ppath, nil).Body.String()
	if !strings.Contains(body, `value="-sT -p 22,80"`) || !strings.Contains(body, `<option value="nmap" selected>`) {
		t.Fatalf("profile page lacks the current options: %s", body)
	}
	w := e.form(t, session, csrf, ppath, url.Values{"name": {f.profile.Name}, "scanner": {"nmap"}, "options": {"-oN /tmp/x"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "options"), "-oN") {
		t.Errorf("bad options: %d %q", w.Code, fieldError(w.Body.String(), "options"))
	}
	if w := e.form(t, session, csrf, ppath, url.Values{"name": {f.profile.Name}, "scanner": {"nmap"}, "options": {"-sT -p 443"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("profile edit: %d %s", w.Code, w.Body.String())
	}
	if p, err := testStore.GetProfile(ctx, f.profile.ID); err != nil || p.Options != "-sT -p 443" {
		t.Errorf("profile after edit: %+v %v", p, err)
	}

	spath := fmt.Sprintf("/scans/%d", s.ID)
	body = e.page(t, session, "GET", spath, nil).Body.String()
	if !strings.Contains(body, fmt.Sprintf(`<option value="%d" selected>%s</option>`, f.site.ID, f.site.Name)) {
		t.Fatalf("scan page does not select the scan's site")
	}
	fields := url.Values{"name": {s.Name + "-x"}, "site_id": {fmt.Sprint(f.site.ID)}, "profile_id": {"987654321"}, "agent_id": {fmt.Sprint(f.agent.ID)}}
	if w := e.form(t, session, csrf, spath, fields); w.Code != http.StatusNotFound && w.Code != http.StatusBadRequest {
		t.Errorf("scan with a missing profile: %d", w.Code)
	}
	fields.Set("profile_id", fmt.Sprint(f.profile.ID))
	if w := e.form(t, session, csrf, spath, fields); w.Code != http.StatusSeeOther {
		t.Fatalf("scan edit: %d %s", w.Code, w.Body.String())
	}
	if got, err := testStore.GetScan(ctx, s.ID); err != nil || got.Name != s.Name+"-x" || got.Enabled {
		t.Errorf("scan after an edit without the enabled box: %+v %v", got, err)
	}
	if body := e.page(t, session, "GET", spath, nil).Body.String(); strings.Contains(body, `value="on" checked`) {
		t.Error("a disabled scan shows as enabled")
	}
	fields.Set("enabled", "on")
	if w := e.form(t, session, csrf, spath, fields); w.Code != http.StatusSeeOther {
		t.Fatalf("scan edit: %d", w.Code)
	}
	if got, _ := testStore.GetScan(ctx, s.ID); !got.Enabled {
		t.Error("scan not enabled again")
	}
}
