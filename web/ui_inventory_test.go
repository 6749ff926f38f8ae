package web

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/query"
)

// inventoryWorld is a site whose host 198.18.0.13 has port 22 open
// (OpenSSH 8.9), then 22 at 9.6, then 22 closed (the third run finds only
// port 80 open; its diff closes 22), over three completed runs.
type inventoryWorld struct {
	e      *testEnv
	f      fixtures
	s      scan.Scan
	runs   [3]scan.Run
	host   string
	siteQ  string // the site's name as a search term
	agentN string
}

func newInventoryWorld(t *testing.T) *inventoryWorld {
	e := newEnv(t)
	w := &inventoryWorld{e: e, f: makeFixtures(t, e), host: "198.18.0.13"}
	w.s = e.makeScan(t, w.f)
	w.runs[0] = completedRun(t, w.s.ID, w.f.agent.ID, upHost(w.host, openPort(22, "ssh", "OpenSSH", "8.9"), openPort(80, "http", "nginx", "")))
	w.runs[1] = completedRun(t, w.s.ID, w.f.agent.ID, upHost(w.host, openPort(22, "ssh", "OpenSSH", "9.6"), openPort(80, "http", "nginx", "")))
	w.runs[2] = completedRun(t, w.s.ID, w.f.agent.ID, upHost(w.host, openPort(80, "http", "nginx", "")))
	w.siteQ = "site:" + query.Quote(w.f.site.Name)
	w.agentN = w.f.agent.Name
	return w
}

// TestHostHistoryAPIAndPage: the history of a host whose port opens,
// changes version and closes over three runs, by the API and on the host
// page, with the run and agent of each change.
func TestHostHistoryAPIAndPage(t *testing.T) {
	w := newInventoryWorld(t)
	e, r := w.e, w.runs
	var h scan.HostHistory
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/assets/%s/history?site=%d", w.host, w.f.site.ID), "", http.StatusOK, &h)
	var got []string
	for _, ev := range h.Events {
		got = append(got, fmt.Sprintf("%d %s %d %s>%s %s", ev.RunID, ev.Kind, ev.Port, ev.Before.Version, ev.After.Version, ev.Agent))
	}
	want := []string{
		fmt.Sprintf("%d host_up 0 > %s", r[0].ID, w.agentN),
		fmt.Sprintf("%d port_opened 22 >8.9 %s", r[0].ID, w.agentN),
		fmt.Sprintf("%d port_opened 80 > %s", r[0].ID, w.agentN),
		fmt.Sprintf("%d service_changed 22 8.9>9.6 %s", r[1].ID, w.agentN),
		fmt.Sprintf("%d port_closed 22 9.6> %s", r[2].ID, w.agentN),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || h.Runs != 3 || h.Address != w.host {
		t.Errorf("history (%d runs):\n%s\nwant\n%s", h.Runs, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, tt := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/v1/assets/198.18.0.300/history", http.StatusBadRequest, "ip: "},
		{"/api/v1/assets/fe80::1%25eth0/history", http.StatusBadRequest, "ip: "},
		{"/api/v1/assets/" + w.host + "/history?site=0", http.StatusBadRequest, "site: "},
		{"/api/v1/assets/" + w.host + "/history?runs=5001", http.StatusBadRequest, "runs: "},
		{"/api/v1/assets/198.18.0.14/history", http.StatusNotFound, "no completed run saw 198.18.0.14"},
		{fmt.Sprintf("/api/v1/assets/%s/history?site=%d", w.host, w.f.site.ID+100000), http.StatusNotFound, "on site"},
	} {
		resp := e.do(t, "GET", tt.path, "")
		if resp.Code != tt.status || !strings.Contains(errorOf(t, resp), tt.msg) {
			t.Errorf("GET %s: %d %s, want %d %q", tt.path, resp.Code, resp.Body.String(), tt.status, tt.msg)
		}
	}

	page := e.do(t, "GET", fmt.Sprintf("/assets/%s?site=%d", w.host, w.f.site.ID), "")
	body := page.Body.String()
	if page.Code != http.StatusOK {
		t.Fatalf("host page: %d %s", page.Code, body)
	}
	events := regexp.MustCompile(`(?s)<table id="events">.*?</table>`).FindString(body)
	rows := regexp.MustCompile(`(?s)<tr class="event-[a-z_]+">.*?</tr>`).FindAllString(events, -1)
	if len(rows) != 5 {
		t.Fatalf("host page has %d events, want 5: %s", len(rows), events)
	}
	// Newest first: the close, then the version change.
	for i, want := range [][]string{
		{"port closed", "22/tcp", "ssh OpenSSH 9.6", fmt.Sprintf(`<a href="/runs/%d">#%d</a>`, r[2].ID, r[2].ID), w.agentN, html.EscapeString(w.s.Name)},
		{"version changed", "22/tcp", "ssh OpenSSH 8.9", "ssh OpenSSH 9.6", fmt.Sprintf(`<a href="/runs/%d">`, r[1].ID)},
	} {
		for _, s := range want {
			if !strings.Contains(rows[i], s) {
				t.Errorf("event %d lacks %q: %s", i, s, rows[i])
			}
		}
	}
	now := regexp.MustCompile(`(?s)<section id="now">.*?</section>`).FindString(body)
	if !strings.Contains(now, "OpenSSH") || !strings.Contains(now, `state-closed">closed`) || !strings.Contains(now, html.EscapeString(w.f.site.Name)) {
		t.Errorf("host page's now: %s", now)
	}
	if resp := e.do(t, "GET", "/assets/nope", ""); resp.Code != http.StatusBadRequest || !strings.Contains(resp.Body.String(), "is not an IP address") {
		t.Errorf("host page of a bad address: %d", resp.Code)
	}
}

// TestAssetsPage: the assets of every site and of one, searched with the
// search language, each host linked to its history; a query that does not
// parse is shown with its caret, by the page and the API.
func TestAssetsPage(t *testing.T) {
	w := newInventoryWorld(t)
	e := w.e
	q := url.QueryEscape(w.siteQ + " port:80")
	resp := e.do(t, "GET", "/assets?q="+q, "")
	body := resp.Body.String()
	table := regexp.MustCompile(`(?s)<table id="assets">.*?</table>`).FindString(body)
	link := fmt.Sprintf(`<a href="/assets/%s?site=%d">%s</a>`, w.host, w.f.site.ID, w.host)
	if resp.Code != http.StatusOK || !strings.Contains(table, link) || !strings.Contains(table, html.EscapeString(w.f.site.Name)) ||
		!strings.Contains(table, `80/tcp</span> http nginx`) || !strings.Contains(body, `<span id="total">1</span> hosts`) {
		t.Errorf("estate assets page: %d %s", resp.Code, body)
	}
	// Without a port term, the host shows its closed port too.
	resp = e.do(t, "GET", fmt.Sprintf("/sites/%d/assets?q=%s", w.f.site.ID, url.QueryEscape("ip:"+w.host)), "")
	table = regexp.MustCompile(`(?s)<table id="assets">.*?</table>`).FindString(resp.Body.String())
	if resp.Code != http.StatusOK || !strings.Contains(table, link) || !strings.Contains(table, "<small>22/tcp ssh (last seen") || strings.Contains(table, "<th>Site</th>") {
		t.Errorf("site assets page: %d %s", resp.Code, table)
	}
	// Nothing on this site is on port 443.
	resp = e.do(t, "GET", fmt.Sprintf("/sites/%d/assets?q=port:443", w.f.site.ID), "")
	if !strings.Contains(resp.Body.String(), "No assets match") {
		t.Errorf("port 443: %s", resp.Body.String())
	}
	resp = e.do(t, "GET", "/assets?q="+url.QueryEscape("prot:tcp"), "")
	if body := resp.Body.String(); resp.Code != http.StatusBadRequest || !strings.Contains(body, "prot:tcp\n^") || !strings.Contains(body, "did you mean proto?") {
		t.Errorf("a query that does not parse: %d %s", resp.Code, body)
	}
	var page assetPageJSON
	e.mustDo(t, "GET", "/api/v1/assets?q="+q, "", http.StatusOK, &page)
	if page.Total != 1 || page.Assets[0].Address != w.host || len(page.Assets[0].Ports) != 1 || page.Assets[0].Ports[0].Port != 80 {
		t.Errorf("API: %+v", page)
	}
	resp = e.do(t, "GET", "/api/v1/assets?q="+url.QueryEscape("port:22 OR"), "")
	if resp.Code != http.StatusBadRequest || !strings.Contains(resp.Body.String(), `"column":`) {
		t.Errorf("API, a query that does not parse: %d %s", resp.Code, resp.Body.String())
	}
}

// TestExposureCharts: the site page and the dashboard draw hosts up, open
// ports, new and gone per run and the breakdown by service as SVG with a
// title and the numbers as a table; the site's points are its runs'.
func TestExposureCharts(t *testing.T) {
	w := newInventoryWorld(t)
	e, r := w.e, w.runs
	resp := e.do(t, "GET", fmt.Sprintf("/sites/%d", w.f.site.ID), "")
	body := resp.Body.String()
	if resp.Code != http.StatusOK {
		t.Fatalf("site page: %d %s", resp.Code, body)
	}
	// x by finish time from 40 to 710; one scale, 0 at y 190 and the
	// largest value (2 open ports) at y 10.
	t0, t2 := *r[0].FinishedAt, *r[2].FinishedAt
	x1 := 40 + int(670*float64(r[1].FinishedAt.Sub(t0))/float64(t2.Sub(t0)))
	series := func(chart, name string) string {
		svg := regexp.MustCompile(`(?s)<svg class="chart" id="` + chart + `".*?</svg>`).FindString(body)
		if svg == "" {
			t.Fatalf("no %s on the page: %s", chart, body)
		}
		m := regexp.MustCompile(`(?s)<g class="series" data-series="` + regexp.QuoteMeta(name) + `">\s*<polyline points="([^"]*)"`).FindStringSubmatch(svg)
		if m == nil {
			t.Fatalf("%s has no series %q: %s", chart, name, svg)
		}
		return m[1]
	}
	for _, tt := range []struct{ chart, series, want string }{
		{"exposure-chart", "open ports", fmt.Sprintf("40,10 %d,10 710,100", x1)},
		{"exposure-chart", "hosts up", fmt.Sprintf("40,100 %d,100 710,100", x1)},
		{"changes-chart", "closed ports", fmt.Sprintf("40,190 %d,190 710,10", x1)},
		{"services-chart", "http", fmt.Sprintf("40,10 %d,10 710,10", x1)},
		{"services-chart", "ssh", fmt.Sprintf("40,10 %d,10 710,190", x1)},
	} {
		if got := series(tt.chart, tt.series); got != tt.want {
			t.Errorf("%s %s: points %q, want %q", tt.chart, tt.series, got, tt.want)
		}
	}
	for _, want := range []string{
		`<title id="exposure-chart-title">Hosts up and open ports per run</title>`,
		`aria-labelledby="services-chart-title services-chart-desc"`,
		fmt.Sprintf(`<a href="/runs/%d"><circle`, r[2].ID),
		fmt.Sprintf(`<tr><td><a href="/runs/%d">#%d</a></td>`, r[2].ID, r[2].ID),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("site page lacks %q", want)
		}
	}
	dash := e.do(t, "GET", "/", "").Body.String()
	if !strings.Contains(dash, `<svg class="chart" id="exposure-chart"`) || !strings.Contains(dash, `id="changes-chart"`) || !strings.Contains(dash, "The numbers, run by run") {
		t.Errorf("the dashboard has no exposure charts")
	}
}
