package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/scantron/scantron/scan"
)

func TestDashboardPage(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	r := e.startRun(t, s.ID)
	var weekly scan.Scan
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "start_at": "2030-01-07T09:00:00+01:00", "time_zone": "Europe/Paris", "rrule": "FREQ=WEEKLY;BYDAY=MO"}`,
		uniq("weekly"), f.site.ID, f.profile.ID, f.agent.ID), http.StatusCreated, &weekly)
	var evil scan.Site
	e.mustDo(t, "POST", "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.9.9"]}`, "<script>alert(1)</script>"+uniq("")), http.StatusCreated, &evil)

	// The scans section holds a page of the scans: this one is searched for.
	w := e.do(t, "GET", "/?q="+url.QueryEscape(s.Name), "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	body := w.Body.String()
	for _, want := range []string{
		f.site.Name, f.profile.Name, f.agent.Name, s.Name,
		fmt.Sprintf(`href="/runs/%d"`, r.ID),
		`href="http://127.0.0.1:8233/namespaces/default/workflows/` + r.WorkflowID + `"`,
		"pending",
		`href="/static/style.css"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	// The dashboard shows a page of the scans: the weekly one is found by name.
	weeklyRow := e.do(t, "GET", "/?q="+url.QueryEscape(weekly.Name), "").Body.String()
	for _, want := range []string{"<code>FREQ=WEEKLY;BYDAY=MO</code> (Europe/Paris)", "2030-01-07 09:00:00 CET"} {
		if !strings.Contains(weeklyRow, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("a site name is not HTML-escaped")
	}
}

func TestRunPage(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	r := e.startRun(t, s.ID)

	w := e.do(t, "GET", fmt.Sprintf("/runs/%d", r.ID), "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	body := w.Body.String()
	for _, want := range []string{
		fmt.Sprintf("Run #%d of %s", r.ID, s.Name),
		r.WorkflowID,
		"open in Temporal Web",
		"CSV export: not available yet",
		"No ports recorded yet",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}

	t.Run("missing run", func(t *testing.T) {
		w := e.do(t, "GET", "/runs/987654321", "")
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "run 987654321 not found") {
			t.Errorf("%d %s", w.Code, w.Body.String())
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("unknown page", func(t *testing.T) {
		w := e.do(t, "GET", "/nowhere", "")
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "There is no page at this address") {
			t.Errorf("%d %s", w.Code, w.Body.String())
		}
	})
	t.Run("stylesheet", func(t *testing.T) {
		w := e.do(t, "GET", "/static/style.css", "")
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") || w.Body.Len() == 0 {
			t.Errorf("%d %q", w.Code, w.Header().Get("Content-Type"))
		}
	})
}

func TestRunPageWithPorts(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	r := e.startRun(t, e.makeScan(t, f).ID)
	addPorts(t, r.ID, f.agent.ID)
	w := e.do(t, "GET", fmt.Sprintf("/runs/%d", r.ID), "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	body := w.Body.String()
	for _, want := range []string{"198.18.0.7", "OpenSSH", ">443<", fmt.Sprintf(`/api/v1/runs/%d/raw?shard=0`, r.ID)} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	if strings.Contains(body, "/jsonl") {
		t.Error("the run page links exports before the run completed")
	}
	if _, err := testStore.CompleteRun(context.Background(), r.ID, scan.BlobRef{Bucket: "b", Key: "k", Size: 1, SHA256: sha}); err != nil {
		t.Fatal(err)
	}
	body = e.do(t, "GET", fmt.Sprintf("/runs/%d", r.ID), "").Body.String()
	for _, want := range []string{"/csv", "/jsonl", "/xml"} {
		if !strings.Contains(body, fmt.Sprintf("/api/v1/runs/%d%s", r.ID, want)) {
			t.Errorf("completed run page lacks a link to %s", want)
		}
	}
}

func TestMissingTemplateFailsFast(t *testing.T) {
	fsys := fstest.MapFS{
		"templates/layout.html":    {Data: []byte(`{{define "layout"}}{{template "content" .}}{{end}}`)},
		"templates/partials.html":  {Data: []byte(``)},
		"templates/inventory.html": {Data: []byte(``)},
		"templates/dashboard.html": {Data: []byte(`{{define "content"}}x{{end}}`)},
		"templates/error.html":     {Data: []byte(`{{define "content"}}x{{end}}`)},
	}
	if _, err := parsePages(fsys, temporalLinks{}); err == nil || !strings.Contains(err.Error(), "run") {
		t.Fatalf("parsePages without run.html: %v", err)
	}
	fsys["templates/run.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{.Nope}{{end}}`)}
	if _, err := parsePages(fsys, temporalLinks{}); err == nil {
		t.Fatal("parsePages accepted a broken template")
	}
	for _, name := range pageNames {
		fsys["templates/"+name+".html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}ok{{end}}`)}
	}
	if _, err := parsePages(fsys, temporalLinks{}); err != nil {
		t.Fatal(err)
	}
}
