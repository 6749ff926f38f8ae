package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// TestRunPortFilters: a run's ports are filtered by address or CIDR block,
// port, protocol and service, alike in GET /api/v1/runs/:id/ports and on
// the run page, which keeps the filter in its form, and its hosts (in GET
// /api/v1/runs/:id/hosts) by the same; bad filters are 400s naming the
// parameter.
func TestRunPortFilters(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	r := completedRun(t, s.ID, f.agent.ID,
		upHost("198.18.0.2", openPort(22, "ssh", "OpenSSH", "9.6"), openPort(80, "http", "nginx", "")),
		upHost("198.18.0.9", openPort(443, "https", "", "")))
	_, session, _ := e.sessionFor(t, accounts.Viewer)
	cases := []struct {
		query string
		want  []string // address:port, sorted
		err   string
	}{
		{"", []string{"198.18.0.2:22", "198.18.0.2:80", "198.18.0.9:443"}, ""},
		{"ip=198.18.0.2", []string{"198.18.0.2:22", "198.18.0.2:80"}, ""},
		{"ip=198.18.0.8/29", []string{"198.18.0.9:443"}, ""},
		{"port=22", []string{"198.18.0.2:22"}, ""},
		{"service=SSH", []string{"198.18.0.2:22"}, ""},
		{"ip=198.18.0.0/24&service=http&protocol=tcp&state=open", []string{"198.18.0.2:80"}, ""},
		{"protocol=udp", nil, ""},
		{"ip=198.19.0.0/16", nil, ""},
		{"ip=198.18.0.300", nil, `ip: "198.18.0.300" is neither an IP address nor a CIDR block`},
		{"port=70000", nil, "port"},
		{"protocol=icmp", nil, `protocol: "icmp" is not tcp, udp or sctp`},
		{"state=ajar", nil, "not a port state"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			api := fmt.Sprintf("/api/v1/runs/%d/ports?%s", r.ID, c.query)
			page := fmt.Sprintf("/runs/%d?%s", r.ID, c.query)
			if c.err != "" {
				if w := e.do(t, "GET", api, ""); w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), c.err) {
					t.Errorf("API: %d %s", w.Code, w.Body.String())
				}
				if w := e.do(t, "GET", fmt.Sprintf("/api/v1/runs/%d/hosts?%s", r.ID, c.query), ""); !strings.HasPrefix(c.query, "state=") &&
					(w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), c.err)) {
					t.Errorf("hosts API: %d %s", w.Code, w.Body.String())
				}
				if w := e.page(t, session, "GET", page, nil); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), c.err[:4]) {
					t.Errorf("page: %d", w.Code)
				}
				return
			}
			var ports []scan.PortRow
			e.mustDo(t, "GET", api, "", http.StatusOK, &ports)
			var got []string
			for _, p := range ports {
				got = append(got, fmt.Sprintf("%s:%d", p.Address, p.Port))
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("API ports %v, want %v", got, c.want)
			}
			// Hosts are those with a matching port (all ports here are
			// open, so state, which selects ports only, changes nothing).
			var hosts []scan.HostRow
			e.mustDo(t, "GET", fmt.Sprintf("/api/v1/runs/%d/hosts?%s", r.ID, c.query), "", http.StatusOK, &hosts)
			wantHosts := map[string]bool{}
			for _, p := range c.want {
				addr, _, _ := strings.Cut(p, ":")
				wantHosts[addr] = true
			}
			if len(hosts) != len(wantHosts) {
				t.Errorf("API hosts %+v, want %v", hosts, wantHosts)
			}
			for _, h := range hosts {
				if !wantHosts[h.Address] || len(h.Ports) == 0 {
					t.Errorf("API host %s (%d ports) not wanted: %v", h.Address, len(h.Ports), wantHosts)
				}
			}
			w := e.page(t, session, "GET", page, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("page: %d", w.Code)
			}
			body := w.Body.String()
			_, table, _ := strings.Cut(body, "<h2>Ports</h2>")
			for _, p := range []string{"198.18.0.2:22", "198.18.0.2:80", "198.18.0.9:443"} {
				addr, port, _ := strings.Cut(p, ":")
				row := fmt.Sprintf("<td>%s</td>\n  <td class=\"num\">%s</td>", addr, port)
				listed := strings.Contains(strings.Join(c.want, " "), p)
				if strings.Contains(table, row) != listed {
					t.Errorf("page lists %s: %v, want %v", p, !listed, listed)
				}
			}
			if strings.Contains(c.query, "ip=198.18.0.8/29") && !strings.Contains(body, `name="ip" value="198.18.0.8/29"`) {
				t.Error("the page does not keep the filter")
			}
		})
	}
}
