package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/internal/targethost"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// TestTwoStageScan: a two-stage profile's masscan finds two namespace
// hosts' listeners among the ports it sweeps (one host with a listener
// fewer), then nmap -sV looks at each host's found ports alone and names
// their services; the run's results are nmap's.
func TestTwoStageScan(t *testing.T) {
	net := targethost.NewSubnet(t, targethost.Options{Name: "twostage", Net: 18}, 2)
	if net.MAC == "" {
		t.Skip("masscan needs the namespace side's MAC")
	}
	all, fewer := net.Hosts[0], net.Hosts[1]
	fewer.ClosePort(8080)
	wantPorts := map[string][]int{
		all.Addr:   slices.Sorted(maps.Keys(all.Ports)),
		fewer.Addr: slices.DeleteFunc(slices.Sorted(maps.Keys(fewer.Ports)), func(p int) bool { return p == 8080 }),
	}
	e := newPoolEnv(t, 0)
	agent := e.startRawAgent("twostage", all)

	var site, profile, sc struct {
		ID int64 `json:"id"`
	}
	e.c.do("POST", "/sites", map[string]any{"name": uniqName("site"), "targets": []string{all.Addr, fewer.Addr}, "max_rate": 2000}, http.StatusCreated, &site)
	e.c.do("POST", "/profiles", map[string]any{"name": uniqName("profile"), "scanner": "nmap", "options": "-n -Pn -sT -sV --version-light",
		"discovery_scanner": "masscan", "discovery_options": "-p 7,9,2121,2222,8080 --rate 100000 --wait 2"}, http.StatusCreated, &profile)
	e.c.do("POST", "/scans", map[string]any{"name": uniqName("scan"), "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID,
		"shard_size": 256}, http.StatusCreated, &sc) // both hosts in one shard: two port groups

	v := e.waitFinal(e.startRun(sc.ID), 3*time.Minute)
	if v.Status != scan.RunCompleted {
		t.Fatalf("two-stage run ended %s: %s", v.Status, v.Error)
	}
	var hosts []scan.HostRow
	e.c.do("GET", fmt.Sprintf("/runs/%d/hosts", v.ID), nil, http.StatusOK, &hosts)
	if len(hosts) != 2 {
		t.Fatalf("hosts = %+v, want %s and %s", hosts, all.Addr, fewer.Addr)
	}
	// Each host reaches nmap with the ports masscan found open on it
	// alone: 7 and 9 (closed everywhere) are in no results, and 8080,
	// open on one host only, is not probed on the other (nmap would
	// report it closed there).
	for _, h := range hosts {
		var got []int
		for _, p := range h.Ports {
			got = append(got, p.Port)
			if want := all.Ports[p.Port].Name; p.State != "open" || p.Service != want {
				t.Errorf("%s port %d: %s %q, want open %q", h.Address, p.Port, p.State, p.Service, want)
			}
		}
		slices.Sort(got)
		if want, ok := wantPorts[h.Address]; !ok || !slices.Equal(got, want) {
			t.Errorf("%s ports %v, want %v", h.Address, got, want)
		}
	}
	// The stored nmap XML says the same: one document for the shard,
	// each host with exactly the ports scanned on it.
	scanned := map[string][]int{}
	if _, err := report.Parse(bytes.NewReader(e.c.download(fmt.Sprintf("/runs/%d/raw", v.ID))), func(h report.Host) error {
		for _, p := range h.Ports {
			scanned[h.IP()] = append(scanned[h.IP()], p.Number)
		}
		return nil
	}); err != nil {
		t.Fatalf("stored output: %v", err)
	}
	for addr := range scanned {
		slices.Sort(scanned[addr])
	}
	if fmt.Sprint(scanned) != fmt.Sprint(wantPorts) {
		t.Errorf("stored nmap output: ports %v, want %v", scanned, wantPorts)
	}
	// The shard's result is the second stage's output, nmap's; its
	// discovery's is stored under its own (earlier) attempt.
	if len(v.Shards) != 1 || v.Shards[0].Raw == nil || !strings.HasSuffix(v.Shards[0].Raw.Key, "nmap.xml") || v.Shards[0].Attempt < 2 {
		t.Errorf("shards = %+v", v.Shards)
	}
}
