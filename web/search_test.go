package web

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan/report"
)

type searchPageJSON struct {
	Query  string `json:"query"`
	Run    int64  `json:"run"`
	Total  int    `json:"total"`
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
	Next   string `json:"next"`
	Hits   []struct {
		Site     string `json:"site"`
		Address  string `json:"address"`
		Protocol string `json:"protocol"`
		Port     int    `json:"port"`
		Product  string `json:"product"`
		RunID    *int64 `json:"run_id"`
		Scan     string `json:"scan"`
	} `json:"hits"`
}

func searchURL(path, q string, extra ...string) string {
	v := url.Values{"q": {q}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return path + "?" + v.Encode()
}

func TestSearchAPIAndPage(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	sc := e.makeScan(t, f)
	evil := openPort(443, "https", "=HYPERLINK(\"x\")", "1.0")
	r := completedRun(t, sc.ID, f.agent.ID,
		upHost("198.18.0.1", openPort(22, "ssh", "OpenSSH", "9.6"), openPort(80, "http", "nginx", "1.24")),
		upHost("198.18.0.2", evil, report.Port{Protocol: "tcp", Number: 8080, State: "closed"}))
	site := "site:" + f.site.Name

	var p searchPageJSON
	e.mustDo(t, "GET", searchURL("/api/v1/search", site+" service:http*"), "", http.StatusOK, &p)
	if p.Total != 2 || len(p.Hits) != 2 || p.Hits[0].Port != 80 || p.Hits[1].Port != 443 || p.Hits[0].Site != f.site.Name ||
		p.Hits[0].Scan != sc.Name || p.Hits[0].RunID == nil || *p.Hits[0].RunID != r.ID {
		t.Fatalf("service:http* = %+v", p)
	}
	e.mustDo(t, "GET", searchURL("/api/v1/search", site+" -port:22 OR port:22 proto:udp", "limit", "1"), "", http.StatusOK, &p)
	if p.Total != 2 || len(p.Hits) != 1 || p.Hits[0].Port != 80 || p.Next == "" {
		t.Fatalf("first page = %+v", p)
	}
	next := p.Next
	p = searchPageJSON{}
	e.mustDo(t, "GET", next, "", http.StatusOK, &p)
	if p.Offset != 1 || len(p.Hits) != 1 || p.Hits[0].Port != 443 || p.Next != "" {
		t.Fatalf("second page = %+v", p)
	}
	// A run: its closed port too.
	e.mustDo(t, "GET", searchURL("/api/v1/search", fmt.Sprintf("run:%d state:closed", r.ID)), "", http.StatusOK, &p)
	if p.Run != r.ID || p.Total != 1 || p.Hits[0].Port != 8080 {
		t.Fatalf("run search = %+v", p)
	}

	// Exports: every cell safe for spreadsheets.
	w := e.do(t, "GET", searchURL("/api/v1/search", site, "format", "csv"), "")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", w.Code, w.Body.String())
	}
	recs, err := csv.NewReader(w.Body).ReadAll()
	if err != nil || len(recs) != 4 || recs[0][0] != "site" || recs[3][7] != `'=HYPERLINK("x")` {
		t.Fatalf("csv records %q: %v", recs, err)
	}
	w = e.do(t, "GET", searchURL("/api/v1/search", site, "format", "jsonl"), "")
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
	if w.Code != http.StatusOK || len(lines) != 3 {
		t.Fatalf("jsonl: %d %q", w.Code, lines)
	}
	var hit struct{ Address string }
	if err := json.Unmarshal([]byte(lines[2]), &hit); err != nil || hit.Address != "198.18.0.2" {
		t.Fatalf("jsonl line %q: %v", lines[2], err)
	}

	// Bad input: 400 naming the column, or the parameter.
	for _, c := range []struct {
		url, want string
		col       int
	}{
		{searchURL("/api/v1/search", "port:80 prot:tcp"), `q: col 9: unknown field "prot"; did you mean proto?`, 9},
		{searchURL("/api/v1/search", `product:"nginx`), "q: col 9: this quote is never closed", 9},
		{searchURL("/api/v1/search", "port:80", "format", "xml"), `format: "xml" is not json, csv or jsonl`, 0},
		{searchURL("/api/v1/search", "port:80", "limit", "501"), "limit:", 0},
		// Every query parameter is checked before the parser sees it.
		{searchURL("/api/v1/search", "port:80\x01"), "q: contains a control character", 0},
		{searchURL("/api/v1/search", "port:80 \xff"), "q: not valid UTF-8", 0},
	} {
		w := e.do(t, "GET", c.url, "")
		var body struct {
			Error  string `json:"error"`
			Column int    `json:"column"`
		}
		decode(t, w, &body)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(body.Error, c.want) || body.Column != c.col {
			t.Errorf("%s: %d %+v, want 400 %q at col %d", c.url, w.Code, body, c.want, c.col)
		}
	}
	if w := e.do(t, "GET", searchURL("/api/v1/search", "run:999999999"), ""); w.Code != http.StatusNotFound {
		t.Errorf("missing run: %d %s", w.Code, w.Body.String())
	}

	// The page runs the same search and shows the same hits.
	w = e.do(t, "GET", searchURL("/search", site+" service:http*"), "")
	if w.Code != http.StatusOK {
		t.Fatalf("page: %d %s", w.Code, w.Body.String())
	}
	rows := regexp.MustCompile(`(?s)<tr>\s*<td><a href="/sites/\d+">[^<]*</a></td>\s*<td>([^<]+)`).FindAllStringSubmatch(w.Body.String(), -1)
	if len(rows) != 2 || rows[0][1] != "198.18.0.1" || rows[1][1] != "198.18.0.2" || !strings.Contains(w.Body.String(), `format=csv`) {
		t.Fatalf("page rows %q\n%s", rows, w.Body.String())
	}
	// A query that does not parse: 400, the message, a caret under col 9.
	w = e.do(t, "GET", searchURL("/search", "port:80 prot:tcp"), "")
	body := w.Body.String()
	if w.Code != http.StatusBadRequest || !strings.Contains(body, "port:80 prot:tcp\n        ^</pre>") ||
		!strings.Contains(body, "did you mean proto?") || !strings.Contains(body, `aria-invalid="true"`) {
		t.Fatalf("bad query page: %d\n%s", w.Code, body)
	}

	// The site and run pages carry a search box scoped to them.
	if b := e.do(t, "GET", fmt.Sprintf("/sites/%d", f.site.ID), "").Body.String(); !strings.Contains(b, `value="site:&#34;`+f.site.Name+`&#34; "`) {
		t.Errorf("site page lacks its search box")
	}
	if b := e.do(t, "GET", fmt.Sprintf("/runs/%d", r.ID), "").Body.String(); !strings.Contains(b, fmt.Sprintf(`value="run:%d "`, r.ID)) {
		t.Errorf("run page lacks its search box")
	}
}

func TestSearchPagePages(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	sc := e.makeScan(t, f)
	completedRun(t, sc.ID, f.agent.ID, upHost("198.18.0.3", openPort(22, "ssh", "", ""), openPort(80, "http", "", ""), openPort(443, "https", "", "")))
	q := "site:" + f.site.Name
	body := e.do(t, "GET", searchURL("/search", q, "limit", "1", "offset", "1"), "").Body.String()
	next := html.EscapeString(searchURL("/search", q, "limit", "1", "offset", "2"))
	prev := html.EscapeString(searchURL("/search", q, "limit", "1", "offset", "0"))
	if !strings.Contains(body, `href="`+next+`"`) || !strings.Contains(body, `href="`+prev+`"`) || !strings.Contains(body, "2–2 of") {
		t.Fatalf("page 2 of 3 lacks its links (%s, %s):\n%s", next, prev, body)
	}
}
