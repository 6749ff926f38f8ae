package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// TestTwoStageScan: a two-stage profile's masscan finds a namespace host's
// listeners among the ports it sweeps, then nmap -sV looks at those ports
// alone and names their services; the run's results are nmap's.
func TestTwoStageScan(t *testing.T) {
	host := newTargetHostN(t, 6)
	if host.Namespace == "" || host.MAC == "" {
		t.Skip("masscan cannot scan loopback; this machine cannot make a namespace host")
	}
	e := newPoolEnv(t, 0)
	agent := e.startRawAgent("twostage", host)

	var site, profile, sc struct {
		ID int64 `json:"id"`
	}
	e.c.do("POST", "/sites", map[string]any{"name": uniqName("site"), "targets": []string{host.Addr}, "max_rate": 2000}, http.StatusCreated, &site)
	e.c.do("POST", "/profiles", map[string]any{"name": uniqName("profile"), "scanner": "nmap", "options": "-n -Pn -sT -sV --version-light",
		"discovery_scanner": "masscan", "discovery_options": "-p 7,9,2121,2222,8080 --rate 100000 --wait 2"}, http.StatusCreated, &profile)
	e.c.do("POST", "/scans", map[string]any{"name": uniqName("scan"), "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID}, http.StatusCreated, &sc)
	v := e.waitFinal(e.startRun(sc.ID), 3*time.Minute)
	if v.Status != scan.RunCompleted {
		t.Fatalf("two-stage run ended %s: %s", v.Status, v.Error)
	}
	var hosts []scan.HostRow
	e.c.do("GET", fmt.Sprintf("/runs/%d/hosts", v.ID), nil, http.StatusOK, &hosts)
	if len(hosts) != 1 || hosts[0].Address != host.Addr {
		t.Fatalf("hosts = %+v, want %s once", hosts, host.Addr)
	}
	// Only the ports masscan found open reach nmap: 7 and 9 (closed) are
	// not in its results at all.
	var got []int
	for _, p := range hosts[0].Ports {
		got = append(got, p.Port)
		if want := host.Ports[p.Port].Name; p.State != "open" || p.Service != want {
			t.Errorf("port %d: %s %q, want open %q", p.Port, p.State, p.Service, want)
		}
	}
	slices.Sort(got)
	if want := slices.Sorted(maps.Keys(host.Ports)); !slices.Equal(got, want) {
		t.Errorf("ports %v, want %v", got, want)
	}
	// The shard's result is the second stage's output, nmap's; its
	// discovery's is stored under its own (earlier) attempt.
	if len(v.Shards) != 1 || v.Shards[0].Raw == nil || !strings.HasSuffix(v.Shards[0].Raw.Key, "nmap.xml") || v.Shards[0].Attempt < 2 {
		t.Errorf("shards = %+v", v.Shards)
	}
}
