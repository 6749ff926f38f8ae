package scan

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBuildHistory(t *testing.T) {
	at := func(d int) time.Time { return time.Date(2030, 1, d, 0, 0, 0, 0, time.UTC) }
	ssh := func(state, version string) HistoryPort {
		return HistoryPort{Protocol: "tcp", Port: 22, State: state, ServiceInfo: ServiceInfo{Service: "ssh", Product: "OpenSSH", Version: version}}
	}
	web := HistoryPort{Protocol: "tcp", Port: 80, State: "open", ServiceInfo: ServiceInfo{Service: "http"}}
	run := func(id int64, site int64, d int, up bool, ports ...HistoryPort) HistoryRun {
		return HistoryRun{RunID: id, SiteID: site, Site: fmt.Sprint("site", site), At: at(d), Listed: true, Up: up, Ports: ports, Agent: "a1"}
	}
	// Given out of order: the fold orders by start.
	runs := []HistoryRun{
		run(3, 1, 3, true, ssh("open", "9.6")),
		run(1, 1, 1, true, ssh("open", "8.9"), web),
		run(2, 1, 2, true, ssh("open", "8.9")), // does not list 80: says nothing of it
		{RunID: 4, SiteID: 1, At: at(4), Listed: true, Up: true, Closed: []HistoryPort{{Protocol: "tcp", Port: 80}}},
		run(5, 1, 5, true, ssh("filtered", "")),
		{RunID: 6, SiteID: 1, At: at(6), Gone: true},
		run(7, 1, 7, true, ssh("open", "9.6")),
		run(8, 2, 2, true, web), // another site: its own history
	}
	var got []string
	for _, e := range BuildHistory(runs) {
		s := fmt.Sprintf("run %d site %d %s", e.RunID, e.SiteID, e.Kind)
		if e.Port != 0 {
			s += fmt.Sprintf(" %d/%s %s>%s", e.Port, e.Protocol, e.Before.Version, e.After.Version)
		}
		got = append(got, s)
	}
	want := []string{
		"run 1 site 1 host_up",
		"run 1 site 1 port_opened 22/tcp >8.9",
		"run 1 site 1 port_opened 80/tcp >",
		"run 8 site 2 host_up",
		"run 8 site 2 port_opened 80/tcp >",
		"run 3 site 1 service_changed 22/tcp 8.9>9.6",
		"run 4 site 1 port_closed 80/tcp >",
		"run 5 site 1 port_closed 22/tcp 9.6>",
		"run 6 site 1 host_gone",
		"run 7 site 1 host_up",
		"run 7 site 1 port_opened 22/tcp >9.6",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
