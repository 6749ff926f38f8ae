package web

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
)

// TestDashboardLatestChanges: the dashboard lists the newest runs whose
// results differ from their scan's previous run, with the counts and a
// link to the run's changes; a run that changed nothing is not listed.
func TestDashboardLatestChanges(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	hosts := upHost("198.18.0.2", openPort(22, "ssh", "OpenSSH", "9.6"), openPort(80, "http", "nginx", ""))
	r1 := completedRun(t, s.ID, f.agent.ID, hosts)
	same := completedRun(t, s.ID, f.agent.ID, hosts)
	closed := completedRun(t, s.ID, f.agent.ID, upHost("198.18.0.2", openPort(22, "ssh", "OpenSSH", "9.6")),
		upHost("198.18.0.9", openPort(443, "https", "", "")))
	_, viewer, _ := e.sessionFor(t, accounts.Viewer)
	body := e.page(t, viewer, "GET", "/", nil).Body.String()
	section := regexp.MustCompile(`(?s)<section id="latest-changes">.*?</section>`).FindString(body)
	cases := []struct {
		name   string
		want   string
		listed bool
	}{
		{"the changed run, linked to its changes", fmt.Sprintf(`<a href="/runs/%d#changes">#%d</a>`, closed.ID, closed.ID), true},
		{"its counts: 1 new host, 0 gone, 1 opened, 1 closed, 0 changed", `<td class="num">1</td>
  <td class="num">0</td>
  <td class="num">1</td>
  <td class="num">1</td>
  <td class="num">0</td>`, true},
		{"the run it is compared with", fmt.Sprintf(`<a href="/runs/%d">#%d</a>`, same.ID, same.ID), true},
		{"its scan", fmt.Sprintf(`<a href="/scans/%d">%s</a>`, s.ID, s.Name), true},
		{"the run without changes", fmt.Sprintf(`<a href="/runs/%d#changes">`, same.ID), false},
		{"the first run", fmt.Sprintf(`<a href="/runs/%d#changes">`, r1.ID), false},
	}
	for _, c := range cases {
		if strings.Contains(section, c.want) != c.listed {
			t.Errorf("%s: listed %v, want %v; section %s", c.name, !c.listed, c.listed, section)
		}
	}
	// The link lands on the run page's changes.
	if body := e.page(t, viewer, "GET", fmt.Sprintf("/runs/%d", closed.ID), nil).Body.String(); !strings.Contains(body, `<h2 id="changes">Changes since <a href="/runs/`+fmt.Sprint(same.ID)) {
		t.Error("the run page has no changes section to link to")
	}
}
