package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// TestScanWithWorkerTokenOnly runs a scan end to end through the
// authorizing Temporal server: the agent holds no Temporal access but the
// short-lived worker token it fetches from the server with its credential
// (its workflow worker disabled), and the server uses a token of its own.
func TestScanWithWorkerTokenOnly(t *testing.T) {
	a := authStackFor(t)
	target := newTargetHost(t)
	c := adminAPI(t, a.base)
	name := fmt.Sprintf("tok-%d", os.Getpid()%100000)
	// The agent is enrolled with a join token and runs from the file that
	// wrote, and nothing else: no storage keys, only its own credential,
	// which it trades for its worker token.
	var join struct {
		Token string `json:"token"`
	}
	c.do("POST", "/join-tokens", map[string]any{"agent_name": name, "ttl": "10m"}, http.StatusCreated, &join)
	conf := filepath.Join(t.TempDir(), "agent.conf")
	machine := cli{t: t, config: t.TempDir()}
	machine.must("", "agent", "enroll", "--server", a.base, "--token", join.Token, "--config", conf)
	if b, err := os.ReadFile(conf); err != nil || !strings.Contains(string(b), "SCANTRON_TEMPORAL_AUTH=true") ||
		strings.Contains(string(b), "SCANTRON_S3_") {
		t.Fatalf("enrolled config (%v):\n%s", err, b)
	}
	agentProc := startScantron(t, nil, "agent", "--config", conf)
	var agents []scan.Agent
	c.do("GET", "/agents", nil, http.StatusOK, &agents)
	i := slices.IndexFunc(agents, func(ag scan.Agent) bool { return ag.Name == name })
	if i < 0 {
		t.Fatalf("enrolled agent %q not listed", name)
	}
	agent := agents[i]

	var site scan.Site
	c.do("POST", "/sites", map[string]any{"name": "tok-" + name, "targets": []string{target.Addr}}, http.StatusCreated, &site)
	var profile scan.Profile
	c.do("POST", "/profiles", map[string]any{"name": "tok-" + name, "scanner": "nmap",
		"options": "-n -Pn -T4 -sT -p 1-3000,8000-8100"}, http.StatusCreated, &profile)
	var sc scan.Scan
	c.do("POST", "/scans", map[string]any{"name": "tok-" + name, "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID}, http.StatusCreated, &sc)
	var run scan.Run
	c.do("POST", fmt.Sprintf("/scans/%d/runs", sc.ID), nil, http.StatusAccepted, &run)

	view := c.waitRun(run.ID, 4*time.Minute, a.serverLog)
	if view.Status != scan.RunCompleted {
		t.Fatalf("run ended %s: %s\n%s", view.Status, view.Error, a.serverLog())
	}
	var ports []scan.PortRow
	c.do("GET", fmt.Sprintf("/runs/%d/ports?state=open", run.ID), nil, http.StatusOK, &ports)
	var got []int
	for _, p := range ports {
		if p.Address == target.Addr {
			got = append(got, p.Port)
		}
	}
	if want := slices.Sorted(maps.Keys(target.Ports)); !slices.Equal(got, want) {
		t.Fatalf("open ports = %v, want %v", got, want)
	}
	// The agent's worker made no call its token does not allow.
	if logs := agentProc.Logs(); strings.Contains(logs, "Request unauthorized") {
		t.Errorf("the agent was refused a call:\n%s", logs)
	}
}
