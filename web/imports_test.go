package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/workflows"
)

// importKeys are the keys of stored uploads.
func (f *fakeObjects) importKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for k := range f.data {
		if strings.HasPrefix(k, "imports/") {
			keys = append(keys, k)
		}
	}
	return keys
}

// postUpload sends a multipart body to path with a session or a token.
func (e *testEnv) postUpload(t *testing.T, session *http.Cookie, token, path string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+uploadBoundary)
	if session != nil {
		req.AddCookie(session)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

// TestImportForm: the site page's form works without script: a multipart
// post whose CSRF token comes first becomes a run, marked imported by the
// user, recorded by one import workflow; without the token, or with it
// after the file, nothing is stored.
func TestImportForm(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	user, session, csrf := e.sessionFor(t, accounts.Operator)
	sitePath := fmt.Sprintf("/sites/%d", f.site.ID)

	page := e.page(t, session, "GET", sitePath, nil).Body.String()
	form := regexp.MustCompile(`(?s)<form method="post" action="` + sitePath + `/import" enctype="multipart/form-data"[^>]*>(.*?)</form>`).FindStringSubmatch(page)
	if form == nil {
		t.Fatalf("the site page has no import form: %s", page)
	}
	if i, j := strings.Index(form[1], `name="csrf_token"`), strings.Index(form[1], `type="file" name="file"`); i < 0 || j < 0 || i > j {
		t.Fatalf("the form's CSRF token must come before its file: %s", form[1])
	}

	file := [3]string{"file", "scan.xml", importXML("198.18.0.3", "nmap")}
	for _, c := range []struct {
		what string
		body []byte
	}{
		{"no token", multipartBody(false, file)},
		{"token after the file", multipartBody(false, file, [3]string{csrfField, "", csrf})},
		{"wrong token", multipartBody(false, [3]string{csrfField, "", "x" + csrf}, file)},
	} {
		if w := e.postUpload(t, session, "", sitePath+"/import", c.body); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d %s", c.what, w.Code, w.Body.String())
		}
	}
	if keys := e.objects.importKeys(); len(keys) != 0 {
		t.Fatalf("refused uploads were stored: %v", keys)
	}

	w := e.postUpload(t, session, "", sitePath+"/import", multipartBody(false, [3]string{csrfField, "", csrf}, file))
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/runs/") {
		t.Fatalf("import: %d %s", w.Code, w.Body.String())
	}
	var runID int64
	fmt.Sscanf(strings.TrimPrefix(w.Header().Get("Location"), "/runs/"), "%d", &runID)
	ctx := context.Background()
	imp, found, err := testStore.LookupRunImport(ctx, runID)
	if err != nil || !found || imp.FileName != "scan.xml" || imp.ImportedBy != user {
		t.Fatalf("run %d import: %+v %v %v", runID, imp, found, err)
	}
	run, err := testStore.GetRun(ctx, runID)
	if err != nil || run.CreatedAt.Unix() != 1700000000 {
		t.Fatalf("run %d: %+v %v", runID, run, err)
	}
	if page := e.page(t, session, "GET", fmt.Sprintf("/runs/%d", runID), nil).Body.String(); !regexp.MustCompile(`id="run-import">from <code>scan.xml</code>.* by ` + regexp.QuoteMeta(user)).MatchString(page) {
		t.Errorf("the run page does not say the run was imported: %s", page)
	}
	var started *workflows.ImportInput
	for _, s := range e.temporal.starts {
		if in, ok := s.args[0].(workflows.ImportInput); ok && len(in.Runs) == 1 && in.Runs[0].RunID == runID {
			started = &in
		}
	}
	if started == nil || workflows.RunWorkflow(started.Runs[0].WorkflowID) != started.Runs[0].WorkflowID {
		t.Fatalf("no import workflow for run %d: %+v", runID, e.temporal.starts)
	}
	if keys := e.objects.importKeys(); len(keys) != 1 {
		t.Fatalf("stored uploads: %v", keys)
	}
}

// TestImportRefusesExcludedHosts: a host the site excludes counts as
// outside it, and a request of several files is refused as a whole, naming
// the file; an import waits for the site's import still being recorded.
func TestImportRefusesExcludedHosts(t *testing.T) {
	e := newEnv(t)
	var site struct {
		ID int64 `json:"id"`
	}
	e.mustDo(t, "POST", "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.0/28"], "exclusions": ["198.18.0.9"]}`, uniq("site")), http.StatusCreated, &site)
	body := multipartBody(false,
		[3]string{"file", "in.xml", importXML("198.18.0.2", "nmap")},
		[3]string{"file", "excluded.xml", importXML("198.18.0.9", "nmap")})
	w := e.postUpload(t, nil, e.token, fmt.Sprintf("/api/v1/sites/%d/imports", site.ID), body)
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "198.18.0.9") || !strings.Contains(w.Body.String(), "excluded.xml") {
		t.Fatalf("import of an excluded host: %d %s", w.Code, w.Body.String())
	}
	if keys := e.objects.importKeys(); len(keys) != 0 {
		t.Fatalf("a refused import kept %v", keys)
	}
	w = e.postUpload(t, nil, e.token, fmt.Sprintf("/api/v1/sites/%d/imports", site.ID), multipartBody(false, [3]string{"file", "in.xml", importXML("198.18.0.2", "nmap")}))
	if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), `"scanner":"nmap"`) {
		t.Fatalf("import in the site: %d %s", w.Code, w.Body.String())
	}
	// The fake Temporal records nothing: the run is still being recorded,
	// and another import of the site waits for it.
	w = e.postUpload(t, nil, e.token, fmt.Sprintf("/api/v1/sites/%d/imports", site.ID), multipartBody(false, [3]string{"file", "again.xml", importXML("198.18.0.3", "nmap")}))
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "still being recorded") {
		t.Fatalf("import while another is recorded: %d %s", w.Code, w.Body.String())
	}
	if keys := e.objects.importKeys(); len(keys) != 1 {
		t.Fatalf("stored uploads after a refused second import: %v", keys)
	}
}
