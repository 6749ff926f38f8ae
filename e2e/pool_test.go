package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
)

// poolEnv is a server with short agent timeouts and named agents polling a
// pool, all real processes against the dev stack.
type poolEnv struct {
	t      *testing.T
	c      api
	env    []string
	pool   string
	poolID int64
	agents map[string]*process
}

// Timeouts short enough for a test, long enough for a 2 s heartbeat.
var poolServerEnv = []string{
	"SCANTRON_HEARTBEAT_TIMEOUT=6s",
	"SCANTRON_AGENT_OFFLINE_AFTER=8s",
	"SCANTRON_SHARD_SIZE=1",
}

// newPoolEnv starts a server (with the pool settings, then serverEnv)
// and a pool of n agents.
func newPoolEnv(t *testing.T, agents int, serverEnv ...string) *poolEnv {
	t.Helper()
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	env := append(append(stackEnv(listen), poolServerEnv...), serverEnv...)
	server := startScantron(t, env, "server")
	base := "http://" + listen
	waitReady(t, base, server)
	e := &poolEnv{t: t, c: adminAPI(t, base), env: env, pool: uniqName("pool"), agents: map[string]*process{}}
	var p struct {
		ID int64 `json:"id"`
	}
	e.c.do("POST", "/pools", map[string]any{"name": e.pool}, http.StatusCreated, &p)
	e.poolID = p.ID
	for range agents {
		e.startAgent(uniqName("agent"))
	}
	e.waitPool(agents)
	return e
}

var nameSeq int

func uniqName(prefix string) string {
	nameSeq++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), nameSeq)
}

func (e *poolEnv) startAgent(name string, extraEnv ...string) {
	e.t.Helper()
	cred := e.register(name)
	env := append(e.env, "SCANTRON_AGENT_NAME="+name, "SCANTRON_AGENT_POOLS="+e.pool, "SCANTRON_AGENT_CAPACITY=1", "SCANTRON_AGENT_CREDENTIAL="+cred)
	e.agents[name] = startScantron(e.t, append(env, extraEnv...), "agent")
}

// startRawAgent starts an agent named for prefix that sends masscan's and
// zmap's packets from this side of host's link, and returns it as the
// server lists it.
func (e *poolEnv) startRawAgent(prefix string, host *targetHost, extraEnv ...string) scan.Agent {
	name := uniqName(prefix)
	e.startAgent(name, append([]string{"SCANTRON_MASSCAN_ADAPTER=" + host.HostIf, "SCANTRON_MASSCAN_ADAPTER_IP=" + host.HostIP, "SCANTRON_MASSCAN_ROUTER_MAC=" + host.MAC}, extraEnv...)...)
	var agents []scan.Agent
	e.c.do("GET", "/agents", nil, http.StatusOK, &agents)
	for _, a := range agents {
		if a.Name == name {
			return a
		}
	}
	e.t.Fatalf("agent %s is not listed", name)
	return scan.Agent{}
}

// register registers an agent and returns its credential.
func (e *poolEnv) register(name string) string {
	e.t.Helper()
	var a struct {
		Credential string `json:"credential"`
	}
	e.c.do("POST", "/agents", map[string]any{"name": name}, http.StatusCreated, &a)
	return a.Credential
}

// waitPool waits until n agents poll the pool's queue.
func (e *poolEnv) waitPool(n int) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var v struct {
			Members  []struct{ Name string } `json:"members"`
			Capacity int                     `json:"capacity"`
		}
		e.c.do("GET", fmt.Sprintf("/pools/%d", e.poolID), nil, http.StatusOK, &v)
		if len(v.Members) >= n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("pool %s has %d members after a minute, want %d", e.pool, len(v.Members), n)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// makeScan defines a site of the hosts and a scan of it on the pool, one
// host per shard. The scan delay stretches each shard to about 15 s, so an
// agent can be killed in the middle of one.
func (e *poolEnv) makeScan(hosts []*targetHost, options string) int64 {
	e.t.Helper()
	var targets []string
	for _, h := range hosts {
		targets = append(targets, h.Addr)
	}
	var site, profile, sc struct {
		ID int64 `json:"id"`
	}
	e.c.do("POST", "/sites", map[string]any{"name": uniqName("site"), "targets": targets}, http.StatusCreated, &site)
	e.c.do("POST", "/profiles", map[string]any{"name": uniqName("profile"), "scanner": "nmap", "options": options}, http.StatusCreated, &profile)
	e.c.do("POST", "/scans", map[string]any{"name": uniqName("scan"), "site_id": site.ID, "profile_id": profile.ID, "pool_id": e.poolID}, http.StatusCreated, &sc)
	return sc.ID
}

const slowProfile = "-n -Pn -sT --scan-delay 40ms -p 1-360,2121,2222,8080"

func (e *poolEnv) startRun(scanID int64) int64 {
	e.t.Helper()
	var run scan.Run
	e.c.do("POST", fmt.Sprintf("/scans/%d/runs", scanID), nil, http.StatusAccepted, &run)
	return run.ID
}

type poolRunView struct {
	runView
	Progress []struct {
		scan.Progress
		Attempt int32 `json:"attempt"`
	} `json:"progress"`
}

func (e *poolEnv) view(runID int64) poolRunView {
	e.t.Helper()
	var v poolRunView
	e.c.do("GET", fmt.Sprintf("/runs/%d", runID), nil, http.StatusOK, &v)
	return v
}

// waitScanning waits until n shards of the run are scanning and returns
// the agents scanning them.
func (e *poolEnv) waitScanning(runID int64, n int) []string {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v := e.view(runID)
		var agents []string
		for _, p := range v.Progress {
			if p.Agent != "" && p.Phase == "scanning" {
				agents = append(agents, p.Agent)
			}
		}
		if len(agents) >= n {
			return agents
		}
		if v.Status.Final() || time.Now().After(deadline) {
			e.t.Fatalf("run %d: %d shards scanning (status %s %s), want %d", runID, len(agents), v.Status, v.Error, n)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (e *poolEnv) waitFinal(runID int64, within time.Duration) poolRunView {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := e.view(runID)
		if v.Status.Final() {
			return v
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("run %d still %s after %s", runID, v.Status, within)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// results renders a run's stored hosts and ports in a canonical form, and
// fails the test if a host is stored twice.
func (e *poolEnv) results(runID int64) string {
	e.t.Helper()
	var hosts []scan.HostRow
	e.c.do("GET", fmt.Sprintf("/runs/%d/hosts?limit=500", runID), nil, http.StatusOK, &hosts)
	var lines []string
	seen := map[string]bool{}
	for _, h := range hosts {
		if seen[h.Address] {
			e.t.Errorf("run %d stores host %s twice", runID, h.Address)
		}
		seen[h.Address] = true
		line := h.Address + " " + h.Status
		for _, p := range h.Ports {
			line += fmt.Sprintf(" %d/%s:%s:%s", p.Port, p.Protocol, p.State, p.Service)
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestPoolScanSurvivesAnAgentKilledMidShard: three agents share a pool scan
// of two namespace hosts, one shard each. One agent scanning a shard is
// killed with SIGKILL; its heartbeat stops, the shard is re-run by another
// member, and the run's results equal those of an undisturbed run of the
// same scan, with no host stored twice.
func TestPoolScanSurvivesAnAgentKilledMidShard(t *testing.T) {
	hosts := []*targetHost{newTargetHostN(t, 1), newTargetHostN(t, 2)}
	e := newPoolEnv(t, 3)
	scanID := e.makeScan(hosts, slowProfile)

	runID := e.startRun(scanID)
	scanning := e.waitScanning(runID, 2)
	victim := scanning[0]
	time.Sleep(2 * time.Second) // well into the shard
	e.agents[victim].Stop(syscall.SIGKILL)
	t.Logf("killed agent %s mid-shard (agents scanning: %v)", victim, scanning)

	killed := e.waitFinal(runID, 3*time.Minute)
	if killed.Status != scan.RunCompleted {
		t.Fatalf("run with a killed agent ended %s: %s", killed.Status, killed.Error)
	}
	retried := 0
	for _, sh := range killed.Shards {
		if sh.RanBy == victim {
			t.Errorf("shard %d's stored output is from the killed agent", sh.Index)
		}
		if sh.Attempt > 1 {
			retried++
		}
		if sh.Status != scan.ShardCompleted || sh.Raw == nil || sh.RanBy == "" {
			t.Errorf("shard %+v", sh)
		}
	}
	if len(killed.Shards) != 2 || retried != 1 {
		t.Errorf("%d shards, %d retried; want 2 shards, the killed agent's retried", len(killed.Shards), retried)
	}

	calm := e.waitFinal(e.startRun(scanID), 3*time.Minute)
	if calm.Status != scan.RunCompleted {
		t.Fatalf("undisturbed run ended %s: %s", calm.Status, calm.Error)
	}
	got, want := e.results(killed.ID), e.results(calm.ID)
	t.Logf("results of both runs:\n%s", got)
	if got != want || got == "" {
		t.Errorf("results with a killed agent:\n%s\nundisturbed:\n%s", got, want)
	}
	for _, h := range hosts {
		for port := range h.Ports {
			if !strings.Contains(got, fmt.Sprintf("%d/tcp:open", port)) || !strings.Contains(got, h.Addr) {
				t.Errorf("results lack %s port %d open:\n%s", h.Addr, port, got)
			}
		}
	}
}

// TestOfflineAgentFailsTheRun: a scan pinned to an agent that is not
// running, and a scan on a pool with no member, fail with a message naming
// the agent or pool once ScheduleToStart passes, instead of waiting forever.
func TestOfflineAgentFailsTheRun(t *testing.T) {
	host := newTargetHostN(t, 3)
	e := newPoolEnv(t, 0)
	ghost := uniqName("ghost")
	var agent struct {
		ID int64 `json:"id"`
	}
	e.c.do("POST", "/agents", map[string]any{"name": ghost}, http.StatusCreated, &agent)
	poolScan := e.makeScan([]*targetHost{host}, "-n -Pn -sT -p 2121")
	var pinned struct {
		ID int64 `json:"id"`
	}
	var sc scan.Scan
	e.c.do("GET", fmt.Sprintf("/scans/%d", poolScan), nil, http.StatusOK, &sc)
	e.c.do("POST", "/scans", map[string]any{"name": uniqName("scan"), "site_id": sc.SiteID, "profile_id": sc.ProfileID, "agent_id": agent.ID}, http.StatusCreated, &pinned)

	for _, tt := range []struct {
		scanID int64
		want   string
	}{
		{pinned.ID, fmt.Sprintf("agent %q is offline", ghost)},
		{poolScan, fmt.Sprintf("pool %q is offline", e.pool)},
	} {
		v := e.waitFinal(e.startRun(tt.scanID), time.Minute)
		if v.Status != scan.RunFailed || !strings.Contains(v.Error, tt.want) {
			t.Errorf("run ended %s %q, want failed with %q", v.Status, v.Error, tt.want)
		}
	}
}

// TestCancelStopsScannersOnEveryAgent: cancelling a pool run in the middle
// stops the scanners on both agents within seconds, marks the run cancelled
// and partial, and keeps the hosts nmap had finished: each of two shards
// scans two hosts one after the other (--max-hostgroup 1), and the run is
// cancelled once a first host is done.
func TestCancelStopsScannersOnEveryAgent(t *testing.T) {
	hosts := []*targetHost{newTargetHostN(t, 0), newTargetHostN(t, 1), newTargetHostN(t, 2), newTargetHostN(t, 3)}
	e := newPoolEnv(t, 0)
	work := t.TempDir()
	for range 2 {
		e.startAgent(uniqName("agent"), "SCANTRON_WORK_DIR="+work)
	}
	e.waitPool(2)
	scanID := e.makeScan(hosts, slowProfile+" --max-hostgroup 1")
	var sc map[string]any
	e.c.do("GET", fmt.Sprintf("/scans/%d", scanID), nil, http.StatusOK, &sc)
	sc["shard_size"] = 2 // hosts 0 and 1 in one shard, 2 and 3 in the other
	for _, k := range []string{"id", "created_at", "agent_id", "time_zone", "pause_note", "schedule", "recent_runs", "next_fire"} {
		delete(sc, k)
	}
	e.c.do("PUT", fmt.Sprintf("/scans/%d", scanID), sc, http.StatusOK, nil)
	runID := e.startRun(scanID)
	e.waitScanning(runID, 2)

	// Cancel once nmap has written the first host of the two-host shard.
	deadline := time.Now().Add(2 * time.Minute)
	for hostsWritten(work) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("nmap wrote no host in 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := scannersOf(hosts); n != 2 {
		t.Fatalf("%d nmap processes scan the hosts, want 2", n)
	}
	e.c.do("POST", fmt.Sprintf("/runs/%d/cancel", runID), nil, http.StatusAccepted, nil)
	stop := time.Now().Add(time.Minute)
	for scannersOf(hosts) > 0 {
		if time.Now().After(stop) {
			t.Fatalf("nmap still scanning a minute after the cancel")
		}
		time.Sleep(200 * time.Millisecond)
	}
	v := e.waitFinal(runID, 2*time.Minute)
	if v.Status != scan.RunCancelled || !v.Partial {
		t.Errorf("run ended %s (partial %v), want cancelled and partial", v.Status, v.Partial)
	}
	for _, sh := range v.Shards {
		if sh.Status != scan.ShardCancelled {
			t.Errorf("shard %d is %s, want cancelled", sh.Index, sh.Status)
		}
	}
	// The first host of a shard, if finished, is kept whole; the second
	// host of each shard was cut off and is not stored.
	kept := e.results(runID)
	t.Logf("kept after the cancel:\n%s", kept)
	if kept == "" {
		t.Fatal("nothing kept, though nmap had written a host")
	}
	for _, line := range strings.Split(kept, "\n") {
		addr := strings.Fields(line)[0]
		if addr != hosts[0].Addr && addr != hosts[2].Addr {
			t.Errorf("kept %s, which nmap had not finished", addr)
		}
		for port := range hosts[0].Ports {
			if !strings.Contains(line, fmt.Sprintf("%d/tcp:open", port)) {
				t.Errorf("kept host lacks its open port %d: %s", port, line)
			}
		}
	}
}

// hostsWritten counts the complete hosts in the XML files nmap is writing
// under dir.
func hostsWritten(dir string) int {
	n := 0
	files, _ := filepath.Glob(filepath.Join(dir, "*", "out.xml"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		n += strings.Count(string(b), "</host>")
	}
	return n
}

// scannersOf counts nmap processes whose command line names one of the
// hosts.
func scannersOf(hosts []*targetHost) int {
	n := 0
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil || !strings.Contains(string(b), "nmap") {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for _, h := range hosts {
			if slices.Contains(args, h.Addr) {
				n++
				break
			}
		}
	}
	return n
}

// TestMasscanScan: an agent runs masscan against a namespace host, from the
// host side of its link with the operator's adapter settings, and the
// server stores the open ports it found, one host row for the host.
func TestMasscanScan(t *testing.T) {
	host := newTargetHostN(t, 3)
	if host.Namespace == "" || host.MAC == "" {
		t.Skip("masscan cannot scan loopback; this machine cannot make a namespace host")
	}
	e := newPoolEnv(t, 0)
	agent := e.startRawAgent("masscan", host)

	var site, profile, sc struct {
		ID int64 `json:"id"`
	}
	e.c.do("POST", "/sites", map[string]any{"name": uniqName("site"), "targets": []string{host.Addr}, "max_rate": 2000}, http.StatusCreated, &site)
	e.c.do("POST", "/profiles", map[string]any{"name": uniqName("profile"), "scanner": "masscan", "options": "-p 2121,2222,8080,9,7 --rate 100000 --wait 2"}, http.StatusCreated, &profile)
	e.c.do("POST", "/scans", map[string]any{"name": uniqName("scan"), "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID}, http.StatusCreated, &sc)
	v := e.waitFinal(e.startRun(sc.ID), 2*time.Minute)
	if v.Status != scan.RunCompleted {
		t.Fatalf("masscan run ended %s: %s", v.Status, v.Error)
	}
	var hosts []scan.HostRow
	e.c.do("GET", fmt.Sprintf("/runs/%d/hosts", v.ID), nil, http.StatusOK, &hosts)
	if len(hosts) != 1 || hosts[0].Address != host.Addr {
		t.Fatalf("hosts = %+v, want %s once", hosts, host.Addr)
	}
	var got []int
	for _, p := range hosts[0].Ports {
		if p.State == "open" {
			got = append(got, p.Port)
		}
	}
	slices.Sort(got)
	want := slices.Sorted(maps.Keys(host.Ports))
	if !slices.Equal(got, want) {
		t.Errorf("masscan found open %v, want %v", got, want)
	}
	if len(v.Shards) != 1 || v.Shards[0].Raw == nil || !strings.HasSuffix(v.Shards[0].Raw.Key, "masscan.xml") {
		t.Errorf("shards = %+v", v.Shards)
	}
}

// TestPauseAndResumeRun: pausing a pool run stops nmap on both agents and
// shows the run paused; nothing scans while it is; resuming runs the
// stopped shards again and the run completes with every host's ports.
func TestPauseAndResumeRun(t *testing.T) {
	hosts := []*targetHost{newTargetHostN(t, 4), newTargetHostN(t, 5)}
	e := newPoolEnv(t, 2)
	runID := e.startRun(e.makeScan(hosts, slowProfile))
	e.waitScanning(runID, 2)

	e.c.do("POST", fmt.Sprintf("/runs/%d/pause", runID), nil, http.StatusAccepted, nil)
	deadline := time.Now().Add(time.Minute)
	for scannersOf(hosts) > 0 || e.view(runID).Status != scan.RunPaused {
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the pause: %d nmap processes, run %s", scannersOf(hosts), e.view(runID).Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // nothing is dispatched while paused
	if n, v := scannersOf(hosts), e.view(runID); n > 0 || v.Status != scan.RunPaused {
		t.Fatalf("while paused: %d nmap processes, run %s", n, v.Status)
	}

	e.c.do("POST", fmt.Sprintf("/runs/%d/resume", runID), nil, http.StatusAccepted, nil)
	v := e.waitFinal(runID, 3*time.Minute)
	if v.Status != scan.RunCompleted {
		t.Fatalf("resumed run ended %s: %s", v.Status, v.Error)
	}
	got := e.results(runID)
	for _, h := range hosts {
		for port := range h.Ports {
			if !strings.Contains(got, h.Addr) || !strings.Contains(got, fmt.Sprintf("%d/tcp:open", port)) {
				t.Errorf("results lack %s port %d:\n%s", h.Addr, port, got)
			}
		}
	}
}

// TestPinnedScanWaitsForItsAgent: a scan pinned to one agent whose agent is
// killed mid-shard is retried on that agent's queue, and completes when the
// agent comes back, with the same results as before.
func TestPinnedScanWaitsForItsAgent(t *testing.T) {
	host := newTargetHostN(t, 6)
	e := newPoolEnv(t, 0)
	name := uniqName("pinned")
	cred := e.register(name)
	env := append(e.env, "SCANTRON_AGENT_NAME="+name, "SCANTRON_AGENT_CREDENTIAL="+cred)
	agent := startScantron(t, env, "agent")

	var agents []scan.Agent
	e.c.do("GET", "/agents", nil, http.StatusOK, &agents)
	var agentID int64
	for _, a := range agents {
		if a.Name == name {
			agentID = a.ID
		}
	}
	poolScan := e.makeScan([]*targetHost{host}, slowProfile)
	var sc scan.Scan
	e.c.do("GET", fmt.Sprintf("/scans/%d", poolScan), nil, http.StatusOK, &sc)
	var pinned struct {
		ID int64 `json:"id"`
	}
	e.c.do("POST", "/scans", map[string]any{"name": uniqName("scan"), "site_id": sc.SiteID, "profile_id": sc.ProfileID, "agent_id": agentID}, http.StatusCreated, &pinned)

	runID := e.startRun(pinned.ID)
	e.waitScanning(runID, 1)
	time.Sleep(2 * time.Second)
	agent.Stop(syscall.SIGKILL)
	// Past the heartbeat timeout the shard waits on the agent's queue.
	time.Sleep(8 * time.Second)
	if v := e.view(runID); v.Status.Final() {
		t.Fatalf("run ended %s (%s) while its agent was away", v.Status, v.Error)
	}
	startScantron(t, env, "agent")
	v := e.waitFinal(runID, 2*time.Minute)
	if v.Status != scan.RunCompleted || len(v.Shards) != 1 || v.Shards[0].Attempt != 2 || v.Shards[0].RanBy != name {
		t.Fatalf("run ended %s (%s), shards %+v; want completed by %s on attempt 2", v.Status, v.Error, v.Shards, name)
	}
	got := e.results(runID)
	for port := range host.Ports {
		if !strings.Contains(got, fmt.Sprintf("%d/tcp:open", port)) {
			t.Errorf("results lack port %d:\n%s", port, got)
		}
	}
}
