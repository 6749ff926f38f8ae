package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// TestZmapScan: an agent runs zmap against a namespace host, from the host
// side of its link with the operator's adapter settings (the agent finds
// zmap in PATH, /usr/sbin on Debian), and the server stores the one port it
// swept: open on the host, one host row.
func TestZmapScan(t *testing.T) {
	if _, err := exec.LookPath("zmap"); err != nil {
		t.Skip("zmap is not installed")
	}
	host := newTargetHostN(t, 3)
	if host.Namespace == "" || host.MAC == "" {
		t.Skip("zmap cannot scan loopback; this machine cannot make a namespace host")
	}
	e := newPoolEnv(t, 0)
	agent := e.startRawAgent("zmap", host)

	var site, profile, sc struct {
		ID int64 `json:"id"`
	}
	e.c.do("POST", "/sites", map[string]any{"name": uniqName("site"), "targets": []string{host.Addr}, "max_rate": 2000}, http.StatusCreated, &site)
	e.c.do("POST", "/profiles", map[string]any{"name": uniqName("profile"), "scanner": "zmap", "options": "-p 2222 --rate 100000 -c 1"}, http.StatusCreated, &profile)
	// What zmap may not be given is refused by name when the profile is
	// saved.
	var refused struct {
		Error string `json:"error"`
	}
	e.c.do("POST", "/profiles", map[string]any{"name": uniqName("profile"), "scanner": "zmap", "options": "-p 22 -b /dev/null"}, http.StatusBadRequest, &refused)
	if !strings.Contains(refused.Error, "-b") {
		t.Errorf("a zmap profile with -b: %q", refused.Error)
	}
	e.c.do("POST", "/scans", map[string]any{"name": uniqName("scan"), "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID}, http.StatusCreated, &sc)
	v := e.waitFinal(e.startRun(sc.ID), 2*time.Minute)
	if v.Status != scan.RunCompleted {
		t.Fatalf("zmap run ended %s: %s", v.Status, v.Error)
	}
	var hosts []scan.HostRow
	e.c.do("GET", fmt.Sprintf("/runs/%d/hosts", v.ID), nil, http.StatusOK, &hosts)
	if len(hosts) != 1 || hosts[0].Address != host.Addr || len(hosts[0].Ports) != 1 || hosts[0].Ports[0].Port != 2222 || hosts[0].Ports[0].State != "open" {
		t.Fatalf("hosts = %+v, want %s with 2222 open", hosts, host.Addr)
	}
	if len(v.Shards) != 1 || v.Shards[0].Raw == nil || !strings.HasSuffix(v.Shards[0].Raw.Key, "zmap.xml") {
		t.Errorf("shards = %+v", v.Shards)
	}
}
