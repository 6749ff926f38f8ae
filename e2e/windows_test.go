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

// TestRunWaitsForItsWindow: a scan whose window opens a few seconds after
// its run starts waits, shown as "waiting for window until" that time, and
// then scans the host through the real server, Temporal and agent.
func TestRunWaitsForItsWindow(t *testing.T) {
	target := newTargetHost(t)
	_, c, agent := startServerAndAgent(t, "e2e-window-agent")
	var site scan.Site
	c.do("POST", "/sites", map[string]any{"name": "window-lab", "targets": []string{target.Addr}}, http.StatusCreated, &site)
	ports := slices.Sorted(maps.Keys(target.Ports))
	var portList []string
	for _, p := range ports {
		portList = append(portList, fmt.Sprint(p))
	}
	var profile scan.Profile
	c.do("POST", "/profiles", map[string]any{"name": "window-tcp", "scanner": "nmap",
		"options": "-n -Pn -sT -p " + strings.Join(portList, ",")}, http.StatusCreated, &profile)

	// A window from a few seconds from now, for ten minutes, to the second.
	opens := time.Now().UTC().Truncate(time.Second).Add(15 * time.Second)
	closes := opens.Add(10 * time.Minute)
	window := opens.Format("15:04:05") + "-" + closes.Format("15:04:05")
	var sc struct {
		scan.Scan
		WindowState struct {
			Open  bool      `json:"open"`
			Until time.Time `json:"until"`
		} `json:"window_state"`
	}
	c.do("POST", "/scans", map[string]any{"name": "window-scan", "site_id": site.ID, "profile_id": profile.ID,
		"agent_id": agent.ID, "time_zone": "UTC", "windows": []string{window}}, http.StatusCreated, &sc)
	if sc.WindowState.Open || !sc.WindowState.Until.Equal(opens) {
		t.Fatalf("window %q: state %+v, want closed until %s", window, sc.WindowState, opens)
	}

	var run scan.Run
	c.do("POST", fmt.Sprintf("/scans/%d/runs", sc.ID), nil, http.StatusAccepted, &run)
	want := "waiting for window until " + opens.Format("2006-01-02 15:04:05 UTC")
	for {
		var v struct {
			scan.Run
			StatusDetail string `json:"status_detail"`
		}
		c.do("GET", fmt.Sprintf("/runs/%d", run.ID), nil, http.StatusOK, &v)
		if v.StatusDetail == want && v.Status == scan.RunPaused && v.WindowOpensAt != nil && v.WindowOpensAt.Equal(opens) {
			break
		}
		if v.Status.Final() || time.Now().After(opens) {
			t.Fatalf("run never said %q before its window opened: %+v, detail %q", want, v.Run, v.StatusDetail)
		}
		time.Sleep(200 * time.Millisecond)
	}

	c.waitRun(run.ID, 3*time.Minute, nil)
	var view scan.Run // fresh: waitRun's keeps fields the end left out
	c.do("GET", fmt.Sprintf("/runs/%d", run.ID), nil, http.StatusOK, &view)
	if view.Status != scan.RunCompleted || view.HostsUp != 1 || view.OpenPorts != len(ports) || view.WindowOpensAt != nil {
		t.Fatalf("run ended %s (%s): %d hosts up, %d open ports, window_opens_at %v; want completed, 1, %d, none",
			view.Status, view.Error, view.HostsUp, view.OpenPorts, view.WindowOpensAt, len(ports))
	}
	var hosts []scan.HostRow
	c.do("GET", fmt.Sprintf("/runs/%d/hosts", run.ID), nil, http.StatusOK, &hosts)
	// nmap's start time is to the second.
	if len(hosts) != 1 || hosts[0].StartedAt == nil || hosts[0].StartedAt.Before(opens.Add(-time.Second)) {
		t.Fatalf("hosts %+v: the scan did not wait for the window opening at %s", hosts, opens)
	}
}
