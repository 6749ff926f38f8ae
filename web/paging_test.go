package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// The web tests share one database, so each test names its rows with a
// prefix of its own and searches for it to know the total.

// makeNamedScans creates scans named prefix+suffix, one per suffix.
func (e *testEnv) makeNamedScans(t *testing.T, f fixtures, prefix string, suffixes ...string) []scan.Scan {
	t.Helper()
	out := make([]scan.Scan, 0, len(suffixes))
	for _, sfx := range suffixes {
		var s scan.Scan
		e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d}`,
			prefix+sfx, f.site.ID, f.profile.ID, f.agent.ID), http.StatusCreated, &s)
		out = append(out, s)
	}
	return out
}

// listNames GETs a list and returns the names of its rows and its total.
func listNames(t *testing.T, e *testEnv, path string) ([]string, string) {
	t.Helper()
	w := e.do(t, "GET", path, "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String())
	}
	var rows []struct {
		Name string `json:"name"`
	}
	decode(t, w, &rows)
	names := make([]string, 0, len(rows))
	for _, r := range rows {
		names = append(names, r.Name)
	}
	return names, w.Header().Get("X-Total-Count")
}

// TestScansPageAndSearch: GET /api/v1/scans pages by name in the database,
// X-Total-Count counts what q selects, and q matches literally (a % or _
// in it is no wildcard) and ignoring case.
func TestScansPageAndSearch(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	p := uniq("pgscan")
	e.makeNamedScans(t, f, p, "-a", "-b", "-c", "-d", "-100%_x")
	q := url.QueryEscape(p)
	cases := []struct {
		name, query string
		want        []string
		total       string
	}{
		{"first page", "q=" + q + "&limit=2", []string{p + "-100%_x", p + "-a"}, "5"},
		{"middle page", "q=" + q + "&limit=2&offset=2", []string{p + "-b", p + "-c"}, "5"},
		{"last, short page", "q=" + q + "&limit=2&offset=4", []string{p + "-d"}, "5"},
		{"past the end", "q=" + q + "&limit=2&offset=5", []string{}, "5"},
		{"whole search, default page", "q=" + q, []string{p + "-100%_x", p + "-a", p + "-b", p + "-c", p + "-d"}, "5"},
		{"ignoring case", "q=" + url.QueryEscape(strings.ToUpper(p)+"-B"), []string{p + "-b"}, "1"},
		{"% and _ are literal", "q=" + url.QueryEscape(p+"-100%_"), []string{p + "-100%_x"}, "1"},
		{"a _ is not any character", "q=" + url.QueryEscape(p+"-_"), []string{}, "0"},
		{"a % is not any text", "q=" + url.QueryEscape(p+"%d"), []string{}, "0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			names, total := listNames(t, e, "/api/v1/scans?"+c.query)
			if strings.Join(names, ",") != strings.Join(c.want, ",") || total != c.total {
				t.Errorf("got %q total %s, want %q total %s", names, total, c.want, c.total)
			}
		})
	}
}

// TestRunsPageTotal: GET /api/v1/runs pages newest first and counts the
// runs of the scan in X-Total-Count.
func TestRunsPageTotal(t *testing.T) {
	e := newEnv(t)
	s := e.makeScan(t, makeFixtures(t, e))
	var ids []int64
	for range 3 {
		r, err := testStore.CreateRun(context.Background(), s.ID, uniq("wf"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append([]int64{r.ID}, ids...) // newest first
	}
	for _, c := range []struct {
		query string
		want  []int64
	}{
		{"limit=2", ids[:2]},
		{"limit=2&offset=2", ids[2:]},
		{"offset=3", nil},
	} {
		w := e.do(t, "GET", fmt.Sprintf("/api/v1/runs?scan_id=%d&%s", s.ID, c.query), "")
		var runs []scan.Run
		decode(t, w, &runs)
		var got []int64
		for _, r := range runs {
			got = append(got, r.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) || w.Header().Get("X-Total-Count") != "3" {
			t.Errorf("%s: runs %v total %q, want %v total 3", c.query, got, w.Header().Get("X-Total-Count"), c.want)
		}
	}
}

// TestConfigListsSearch: the lists held in memory take q, limit and
// offset the same way, and count what q selects.
func TestConfigListsSearch(t *testing.T) {
	e := newEnv(t)
	p := uniq("pgcfg")
	for _, sfx := range []string{"-x", "-y", "-z"} {
		e.mustDo(t, "POST", "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.0/30"]}`, p+sfx), http.StatusCreated, nil)
		e.mustDo(t, "POST", "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sT"}`, p+sfx), http.StatusCreated, nil)
		e.mustDo(t, "POST", "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, p+sfx), http.StatusCreated, nil)
		e.mustDo(t, "POST", "/api/v1/pools", fmt.Sprintf(`{"name": %q}`, p+sfx), http.StatusCreated, nil)
	}
	for _, list := range []string{"sites", "profiles", "agents", "pools"} {
		t.Run(list, func(t *testing.T) {
			names, total := listNames(t, e, "/api/v1/"+list+"?q="+url.QueryEscape(strings.ToUpper(p)))
			if len(names) != 3 || total != "3" {
				t.Errorf("search: %q total %s", names, total)
			}
			names, total = listNames(t, e, "/api/v1/"+list+"?limit=1&offset=1&q="+url.QueryEscape(p))
			if len(names) != 1 || names[0] != p+"-y" || total != "3" {
				t.Errorf("page 2 of 1: %q total %s", names, total)
			}
		})
	}
}

// TestListBadPaging: every list refuses a bad limit, offset or q with a
// 400 naming the parameter.
func TestListBadPaging(t *testing.T) {
	e := newEnv(t)
	lists := []string{"scans", "runs", "sites", "profiles", "agents", "pools", "exclusions", "users", "tokens", "join-tokens"}
	bad := []struct{ query, param string }{
		{"limit=0", "limit"}, {"limit=501", "limit"}, {"limit=ten", "limit"}, {"offset=-1", "offset"},
		{"offset=1e3", "offset"}, {"q=" + strings.Repeat("a", 201), "q"}, {"q=%07bell", "q"},
	}
	for _, l := range lists {
		for _, b := range bad {
			if l == "runs" && b.param == "q" {
				continue // runs have no name to search
			}
			w := e.do(t, "GET", "/api/v1/"+l+"?"+b.query, "")
			if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), b.param+":") {
				t.Errorf("%s?%s: %d %s, want 400 naming %s", l, b.query, w.Code, w.Body.String(), b.param)
			}
		}
	}
}

var pagerLink = regexp.MustCompile(`<a href="([^"]*)" rel="(prev|next)">`)

// pagerLinks returns a page's previous and next links, decoded.
func pagerLinks(t *testing.T, body string) map[string]url.Values {
	t.Helper()
	out := map[string]url.Values{}
	for _, m := range pagerLink.FindAllStringSubmatch(body, -1) {
		u, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatalf("pager link %q: %v", m[1], err)
		}
		out[m[2]] = u.Query()
	}
	return out
}

// TestListPagesPaginate: the dashboard and the list pages show a page of
// rows with where it sits among all, a search box holding the search, and
// previous and next links that keep the search; a bad limit is a 400 page.
func TestListPagesPaginate(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	p := uniq("pgui")
	scans := e.makeNamedScans(t, f, p, "-a", "-b", "-c")
	for _, sfx := range []string{"-a", "-b", "-c"} {
		e.mustDo(t, "POST", "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.0/30"]}`, p+sfx), http.StatusCreated, nil)
		e.mustDo(t, "POST", "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sT"}`, p+sfx), http.StatusCreated, nil)
		e.mustDo(t, "POST", "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, p+sfx), http.StatusCreated, nil)
		e.mustDo(t, "POST", "/api/v1/pools", fmt.Sprintf(`{"name": %q}`, p+sfx), http.StatusCreated, nil)
		e.mustDo(t, "POST", "/api/v1/exclusions", fmt.Sprintf(`{"target": "198.18.9.9", "note": %q}`, p+sfx), http.StatusCreated, nil)
	}
	for range 3 {
		if _, err := testStore.CreateRun(context.Background(), scans[0].ID, uniq("wf")); err != nil {
			t.Fatal(err)
		}
	}
	_, viewer, _ := e.sessionFor(t, accounts.Viewer)
	q := url.QueryEscape(p)
	for _, path := range []string{"/", "/scans", "/sites", "/profiles", "/agents", "/pools", "/exclusions",
		fmt.Sprintf("/runs?scan_id=%d", scans[0].ID)} {
		t.Run(path, func(t *testing.T) {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			first := e.page(t, viewer, "GET", path+sep+"q="+q+"&limit=2", nil)
			body := first.Body.String()
			if first.Code != http.StatusOK {
				t.Fatalf("status %d: %s", first.Code, body)
			}
			links := pagerLinks(t, body)
			if !strings.Contains(body, "1–2 of 3") || links["prev"] != nil || links["next"].Get("offset") != "2" ||
				links["next"].Get("limit") != "2" {
				t.Errorf("first page: links %v; body %s", links, body)
			}
			if !strings.HasPrefix(path, "/runs") {
				if links["next"].Get("q") != p || !strings.Contains(body, `name="q" value="`+p+`"`) {
					t.Errorf("the search is not kept: links %v", links)
				}
			}
			next := e.page(t, viewer, "GET", path+sep+links["next"].Encode(), nil).Body.String()
			links = pagerLinks(t, next)
			if !strings.Contains(next, "3–3 of 3") || links["next"] != nil || links["prev"].Get("offset") != "0" {
				t.Errorf("second page: links %v", links)
			}
			if w := e.page(t, viewer, "GET", path+sep+"limit=0", nil); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "limit:") {
				t.Errorf("limit=0: %d", w.Code)
			}
		})
	}
}

// TestResultListsTotal: a run's hosts and ports and a scan's diffs say in
// X-Total-Count how many the request's filters select, whatever the page.
func TestResultListsTotal(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	completedRun(t, s.ID, f.agent.ID, upHost("198.18.0.2", openPort(22, "ssh", "", "")))
	r := completedRun(t, s.ID, f.agent.ID,
		upHost("198.18.0.2", openPort(22, "ssh", "", ""), openPort(80, "http", "", "")),
		upHost("198.18.0.3", openPort(22, "ssh", "", "")),
		upHost("198.18.0.4", openPort(443, "https", "", "")))
	for _, c := range []struct {
		path      string
		rows      int
		wantTotal string
	}{
		{fmt.Sprintf("/api/v1/runs/%d/hosts?limit=2", r.ID), 2, "3"},
		{fmt.Sprintf("/api/v1/runs/%d/hosts?limit=2&offset=2", r.ID), 1, "3"},
		{fmt.Sprintf("/api/v1/runs/%d/hosts?port=22", r.ID), 2, "2"},
		{fmt.Sprintf("/api/v1/runs/%d/hosts?ip=198.18.0.4/31", r.ID), 1, "1"},
		{fmt.Sprintf("/api/v1/runs/%d/ports?limit=1", r.ID), 1, "4"},
		{fmt.Sprintf("/api/v1/runs/%d/ports?service=SSH&limit=1&offset=1", r.ID), 1, "2"},
		{fmt.Sprintf("/api/v1/scans/%d/diffs?limit=1", s.ID), 1, "2"},
	} {
		w := e.do(t, "GET", c.path, "")
		var rows []map[string]any
		decode(t, w, &rows)
		if len(rows) != c.rows || w.Header().Get("X-Total-Count") != c.wantTotal {
			t.Errorf("GET %s: %d rows, total %q; want %d, %s", c.path, len(rows), w.Header().Get("X-Total-Count"), c.rows, c.wantTotal)
		}
	}
}
