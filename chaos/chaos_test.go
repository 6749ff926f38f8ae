// Package chaos injects faults into running scans: the real scantron binary
// (server and agent as separate processes) against a real Temporal dev
// server (persistent SQLite), PostgreSQL and S3 server, scanning a host the
// suite creates. Each fault hits a run while it is in flight; the run must
// complete with exactly the rows of an undisturbed run of the same scan.
//
// The suite runs only when SCANTRON_CHAOS is set (`make chaos`), so that
// `go test ./...` does not run it alongside the unit tests.
package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/internal/runtree"
	"github.com/scantron/scantron/internal/targethost"
	"github.com/scantron/scantron/internal/testproc"
	"github.com/scantron/scantron/scan"
)

var (
	stack    *devstack.Stack
	scantron string // the built binary
	figures  []figure
)

// figure is one line of the summary the suite prints.
type figure struct {
	fault      string
	injected   bool
	completed  bool
	lost       int // baseline rows the run lacks
	extra      int // rows the run has that the baseline lacks
	duplicated int
	took       time.Duration
	attempts   string
}

func TestMain(m *testing.M) {
	if os.Getenv("SCANTRON_CHAOS") == "" {
		fmt.Println("chaos: skipped (set SCANTRON_CHAOS=1, or run `make chaos`)")
		os.Exit(0)
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "scantron-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	scantron = filepath.Join(dir, "scantron")
	build := exec.CommandContext(ctx, "go", "build", "-o", scantron, "../cmd/scantron")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build scantron: %v\n%s", err, out)
		return 1
	}
	// Durable: Temporal keeps its state in a SQLite file, so it can be
	// restarted under a run.
	stack, err = devstack.Start(ctx, devstack.Options{Dir: filepath.Join(dir, "stack"), Durable: true, TemporalHeadless: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the dev stack:", err)
		return 1
	}
	defer stack.Stop()
	code := m.Run()
	printFigures(os.Stdout)
	return code
}

func printFigures(w io.Writer) {
	if len(figures) == 0 {
		return
	}
	injected, completed, lost, dup := 0, 0, 0, 0
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\tinjected\tcompleted\trows lost\trows extra\trows duplicated\ttime to completion\tattempts")
	for _, f := range figures {
		if f.injected {
			injected++
		}
		if f.completed {
			completed++
		}
		lost += f.lost
		dup += f.duplicated
		fmt.Fprintf(tw, "%s\t%v\t%v\t%d\t%d\t%d\t%s\t%s\n", f.fault, f.injected, f.completed, f.lost, f.extra, f.duplicated, f.took.Round(100*time.Millisecond), f.attempts)
	}
	tw.Flush()
	fmt.Fprintf(w, "chaos: faults injected %d, runs completed %d of %d, rows lost %d, rows duplicated %d\n", injected, completed, len(figures), lost, dup)
}

// process is a scantron subcommand that the suite kills and restarts.
type process = testproc.Process

func startScantron(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	return testproc.Start(t, scantron, env, args...)
}

// suite is what every fault shares: one server, one agent, one scan.
type suite struct {
	t      *testing.T
	base   string // http://host:port of the server
	env    []string
	server *process
	agent  *process
	// workDir is the agent's SCANTRON_WORK_DIR.
	workDir string
	target  *targetHost
	scanID  int64
	db      *pgx.Conn // reopened after PostgreSQL restarts
	token   string    // an admin's API token
}

const agentName = "chaos-agent"

func newSuite(t *testing.T) *suite {
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	s := &suite{t: t, base: "http://" + listen, target: newTargetHost(t)}
	// The default heartbeat timeout (30 s) applies: a killed agent's shard is
	// retried after 30 s of silence. A much shorter one is fragile on a busy
	// machine, since the SDK sends heartbeats only every 80% of it.
	s.env = append(stack.Env(), "SCANTRON_LISTEN="+listen, "SCANTRON_LOG_LEVEL=debug",
		"SCANTRON_ADMIN_USER=chaos-admin", "SCANTRON_ADMIN_PASSWORD=chaos admin password")
	s.server = startScantron(t, s.env, "server")
	s.waitReady()
	var login struct {
		Token string `json:"token"`
	}
	s.api("POST", "/login", map[string]any{"name": "chaos-admin", "password": "chaos admin password", "token_name": "chaos"}, http.StatusCreated, &login)
	s.token = login.Token

	// The agent signs its results with the credential its registration gave.
	var agent struct {
		scan.Agent
		Credential string `json:"credential"`
	}
	s.api("POST", "/agents", map[string]any{"name": agentName}, http.StatusCreated, &agent)
	// The agent gets no S3 settings: presigned URLs come with each shard.
	// The agent's own work directory: its scanners' output paths, and so
	// their command lines, are this suite's alone (see waitScanner).
	s.workDir = t.TempDir()
	s.agent = startScantron(t, append(stack.AgentEnv(), "SCANTRON_LOG_LEVEL=debug", "SCANTRON_AGENT_NAME="+agentName,
		"SCANTRON_AGENT_CREDENTIAL="+agent.Credential, "SCANTRON_WORK_DIR="+s.workDir), "agent")
	var site scan.Site
	s.api("POST", "/sites", map[string]any{"name": "chaos-lab", "targets": []string{s.target.Addr}}, http.StatusCreated, &site)
	// A slow, deterministic scan: a connect scan of 2,300 ports, 5 ms apart
	// (about 12 s), and version detection of the three open ones.
	var profile scan.Profile
	s.api("POST", "/profiles", map[string]any{
		"name": "chaos-slow", "scanner": "nmap",
		"options": "-n -Pn -sT -sV --version-light --scan-delay 5ms -p 1-2300,8080",
	}, http.StatusCreated, &profile)
	var sc scan.Scan
	s.api("POST", "/scans", map[string]any{"name": "chaos", "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID}, http.StatusCreated, &sc)
	s.scanID = sc.ID
	t.Cleanup(func() {
		if s.db != nil {
			s.db.Close(context.Background())
		}
	})
	return s
}

// waitReady waits until the server's /readyz passes, as after a restart.
func (s *suite) waitReady() {
	s.t.Helper()
	s.server.WaitHTTP(s.base+"/readyz", 90*time.Second)
}

// call does one API request; it returns an error instead of failing, for
// polls that must ride out an outage.
func (s *suite) call(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+"/api/v1"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s = %d %s, want %d", method, path, resp.StatusCode, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode %s: %w", method, path, data, err)
		}
	}
	return nil
}

func (s *suite) api(method, path string, body any, want int, out any) {
	s.t.Helper()
	if err := s.call(method, path, body, want, out); err != nil {
		s.t.Fatal(err)
	}
}

type runView struct {
	scan.Run
	Shards []scan.Shard `json:"shards"`
}

// waitRun polls the run until it has ended, riding out API errors while a
// service is down.
func (s *suite) waitRun(t *testing.T, id int64, limit time.Duration) runView {
	t.Helper()
	deadline := time.Now().Add(limit)
	var view runView
	var lastErr error
	for {
		var v runView
		if err := s.call("GET", fmt.Sprintf("/runs/%d", id), nil, http.StatusOK, &v); err != nil {
			lastErr = err
		} else {
			view = v
			if v.Status.Final() {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d still %q after %v (last error: %v); shards %+v", id, view.Status, limit, lastErr, view.Shards)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// scanner is an nmap process the agent runs for a run.
type scanner struct{ pid int }

// waitScanner waits until the agent runs nmap for the run, and for the
// process to have scanned for a while (its output file exists), so that a
// fault lands mid-scan. The process is found by its output path, in the
// suite's agent's work directory: other test binaries running at the same
// time number their runs alike, and their nmap processes must not count.
func (s *suite) waitScanner(t *testing.T, runID int64, limit time.Duration) scanner {
	t.Helper()
	marker := filepath.Join(s.workDir, fmt.Sprintf("scantron-run%d-shard", runID))
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil {
				continue
			}
			args := strings.Split(string(cmdline), "\x00")
			if filepath.Base(args[0]) == "nmap" && strings.Contains(string(cmdline), marker) {
				return scanner{pid: pid}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no nmap process for run %d within %v", runID, limit)
	return scanner{}
}

// running reports whether the scanner process is still alive (not a zombie).
func (sc scanner) running() bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", sc.pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

func (sc scanner) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for sc.running() {
		if time.Now().After(deadline) {
			t.Fatalf("nmap %d still running after %v", sc.pid, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// row is one port of a run as PostgreSQL holds it.
type row struct {
	Address, Protocol string
	Port              int32
	State             string
	Service, Product  string
}

func (s *suite) conn(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	if s.db != nil && s.db.Ping(ctx) == nil {
		return s.db
	}
	if s.db != nil {
		s.db.Close(ctx)
	}
	c, err := pgx.Connect(ctx, stack.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	s.db = c
	return c
}

// rows returns the run's hosts' ports, and how many host and port rows
// repeat another of the run.
func (s *suite) rows(t *testing.T, runID int64) (map[row]bool, int) {
	t.Helper()
	ctx := context.Background()
	db := s.conn(t)
	q, _ := db.Query(ctx, `SELECT host(h.address), p.protocol, p.port, p.state, p.service, p.product
		FROM ports p JOIN hosts h ON h.id = p.host_id WHERE h.run_id = $1`, runID)
	list, err := pgx.CollectRows(q, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	set := map[row]bool{}
	for _, r := range list {
		set[r] = true
	}
	var hostDup, portDup int
	if err := db.QueryRow(ctx, `SELECT count(*) - count(DISTINCT address) FROM hosts WHERE run_id = $1`, runID).Scan(&hostDup); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT count(*) - count(DISTINCT (h.address, p.protocol, p.port))
		FROM ports p JOIN hosts h ON h.id = p.host_id WHERE h.run_id = $1`, runID).Scan(&portDup); err != nil {
		t.Fatal(err)
	}
	return set, hostDup + portDup
}

// checkObjects checks that the run's raw output and its exports are stored.
func (s *suite) checkObjects(t *testing.T, view runView) {
	t.Helper()
	mc, err := stack.S3.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var keys []string
	for _, sh := range view.Shards {
		if sh.Raw == nil {
			t.Errorf("shard %d has no raw output", sh.ID)
			continue
		}
		keys = append(keys, sh.Raw.Key)
	}
	for _, name := range []string{scan.CSVExport, scan.JSONLExport, scan.XMLExport} {
		keys = append(keys, scan.ExportKey(view.ID, name))
	}
	for _, k := range keys {
		if info, err := mc.StatObject(ctx, stack.S3.Bucket, k, minio.StatObjectOptions{}); err != nil || info.Size == 0 {
			t.Errorf("object %s: %v (size %d)", k, err, info.Size)
		}
	}
}

// attempts reads from the run's workflow history how many attempts each
// activity type took: the most Temporal attempts of any of its activities,
// or, where the workflow dispatches each attempt itself (RunScan), how
// often it was scheduled (the suite's scan has one shard).
func attempts(t *testing.T, workflowID string) map[string]int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := stack.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type eventKey struct {
		workflow string
		id       int64
	}
	names := map[eventKey]string{}
	most, scheduled := map[string]int32{}, map[string]int32{}
	// The run's workflow and the children it fans out to, which hold its
	// shards' activities.
	err = runtree.Walk(ctx, c, workflowID, func(wf string, ev *historypb.HistoryEvent) error {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			names[eventKey{wf, ev.GetEventId()}] = a.GetActivityType().GetName()
			scheduled[a.GetActivityType().GetName()]++
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			name := names[eventKey{wf, a.GetScheduledEventId()}]
			most[name] = max(most[name], a.GetAttempt())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("history of %s: %v", workflowID, err)
	}
	most["RunScan"] = max(most["RunScan"], scheduled["RunScan"])
	return most
}

func formatAttempts(tries map[string]int32) string {
	return fmt.Sprintf("scan %d, parse %d", tries["RunScan"], tries["ParseResults"])
}

// agentTrouble returns the warnings and errors the agent has logged.
func (s *suite) agentTrouble() string {
	var out []string
	for line := range strings.SplitSeq(s.agent.Logs(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.HasPrefix(line, "=== chaos") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func (s *suite) workflowID(t *testing.T, runID int64) string {
	t.Helper()
	var v runView
	s.api("GET", fmt.Sprintf("/runs/%d", runID), nil, http.StatusOK, &v)
	return v.WorkflowID
}

// waitRetryQueued waits until the workflow's scan activity is pending again
// on a later attempt (its agent went silent past the heartbeat timeout): a
// RunScan waits for an agent, and it is not the first one scheduled.
func waitRetryQueued(t *testing.T, workflowID string, limit time.Duration) {
	t.Helper()
	waitRetry(t, workflowID, "RunScan", true, limit)
}

// waitRetry waits until the workflow's activity of the type is pending on
// a later attempt: an attempt failed. With queued, the retry must also be
// waiting for a worker (not backing off or running).
func waitRetry(t *testing.T, workflowID, activity string, queued bool, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c, err := stack.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var seen []string // what was pending at the last look, for the failure message
	for {
		pending, err := runtree.Pending(ctx, c, workflowID, activity, 64)
		if err == nil {
			seen = seen[:0]
			for _, pa := range pending {
				if (pa.GetAttempt() >= 2 || attempts(t, workflowID)[activity] >= 2) &&
					(!queued || pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED) {
					return
				}
				seen = append(seen, fmt.Sprintf("%s attempt %d %s (last heartbeat %v, last failure %q)",
					pa.GetActivityType().GetName(), pa.GetAttempt(), pa.GetState(),
					pa.GetLastHeartbeatTime().AsTime().Format(time.TimeOnly), pa.GetLastFailure().GetMessage()))
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s of %s was not pending for another attempt within %v (last error: %v); pending at the last look: %v; attempts so far: %v",
				activity, workflowID, limit, err, seen, attempts(t, workflowID))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// fault is injected while a run is in flight; it returns once the fault is
// over (the service is back).
type fault struct {
	name string
	// limit is how long the run may take (0: 4 minutes).
	limit  time.Duration
	inject func(t *testing.T, s *suite, runID int64)
	// check, if set, checks from the activities' attempts that the fault
	// hit what it was meant to.
	check func(t *testing.T, s *suite, tries map[string]int32)
}

// uploadFailed is what the agent logs when an upload to S3 fails and it
// tries again.
const uploadFailed = "upload of scanner output failed; retrying"

var faults = []fault{
	{"agent killed (kill -9) mid-scan, back once the retry waits", 0, func(t *testing.T, s *suite, runID int64) {
		s.waitScanner(t, runID, time.Minute)
		s.agent.Stop(syscall.SIGKILL)
		// The agent stays away until the shard's next attempt waits for it:
		// 30 s of silence, 5 s before the dispatch again, then the dispatch.
		// Five minutes is a bound for a machine busy with other work.
		waitRetryQueued(t, s.workflowID(t, runID), 5*time.Minute)
		s.agent.Start()
	}, func(t *testing.T, s *suite, tries map[string]int32) {
		if tries["RunScan"] < 2 {
			t.Errorf("the scan took %d attempts; the killed one should have been retried", tries["RunScan"])
		}
	}},
	{"server restarted mid-scan", 0, func(t *testing.T, s *suite, runID int64) {
		sc := s.waitScanner(t, runID, time.Minute)
		s.server.Stop(syscall.SIGTERM)
		s.server.Start()
		s.waitReady()
		if !sc.running() {
			t.Log("note: the scan ended while the server restarted")
		}
	}, nil},
	{"PostgreSQL stopped 30 s from mid-scan through parsing", 0, func(t *testing.T, s *suite, runID int64) {
		sc := s.waitScanner(t, runID, time.Minute)
		workflowID := s.workflowID(t, runID) // the API cannot say while PostgreSQL is down
		down := time.Now()
		if err := stack.Postgres.Stop(); err != nil {
			t.Fatal(err)
		}
		if !sc.running() {
			t.Fatal("the scan ended before PostgreSQL was down: the fault missed the parse")
		}
		// Parsing can start only once the scan is over and uploaded. Keep
		// PostgreSQL down until parsing has failed once (on a busy machine
		// that can be well past 30 s), and for 30 s at least.
		sc.wait(t, 2*time.Minute)
		waitRetry(t, workflowID, "ParseResults", false, 3*time.Minute)
		time.Sleep(time.Until(down.Add(30 * time.Second)))
		if err := stack.Postgres.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
	}, func(t *testing.T, s *suite, tries map[string]int32) {
		if tries["ParseResults"] < 2 {
			t.Errorf("parsing took %d attempts: the outage missed it", tries["ParseResults"])
		}
	}},
	{"S3 stopped through the agent's upload", 0, s3Outage(5 * time.Second), s3OutageCheck},
	{"S3 stopped 10 minutes through the agent's upload", 15 * time.Minute, s3Outage(10 * time.Minute), s3OutageCheck},
	{"Temporal dev server restarted mid-scan", 0, func(t *testing.T, s *suite, runID int64) {
		sc := s.waitScanner(t, runID, time.Minute)
		if err := stack.Temporal.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !sc.running() {
			t.Log("note: the scan ended while Temporal restarted")
		}
	}, nil},
}

// s3Outage stops S3 mid-scan and keeps it down for the given time after
// nmap has exited, so that the agent's upload of the finished scan fails
// for that long.
func s3Outage(after time.Duration) func(t *testing.T, s *suite, runID int64) {
	return func(t *testing.T, s *suite, runID int64) {
		sc := s.waitScanner(t, runID, time.Minute)
		if err := stack.S3.Stop(); err != nil {
			t.Fatal(err)
		}
		if !sc.running() {
			t.Fatal("the scan ended before S3 was down: the fault missed the upload")
		}
		failedBefore := strings.Count(s.agent.Logs(), uploadFailed)
		sc.wait(t, 2*time.Minute)
		exited := time.Now()
		// Keep S3 down until an upload has failed, however long the agent
		// takes to get there, and for the outage's length at least.
		deadline := time.Now().Add(time.Minute)
		for strings.Count(s.agent.Logs(), uploadFailed) == failedBefore {
			if time.Now().After(deadline) {
				t.Fatal("the agent logged no failed upload a minute after nmap exited: the outage missed it")
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Until(exited.Add(after)))
		if err := stack.S3.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// s3OutageCheck: the agent kept the finished output and retried its upload
// through the outage; the scan did not run again (one RunScan, so one nmap
// for the shard).
func s3OutageCheck(t *testing.T, s *suite, tries map[string]int32) {
	if tries["RunScan"] != 1 {
		t.Errorf("the scan took %d attempts; want 1, its upload retried", tries["RunScan"])
	}
	if !strings.Contains(s.agent.Logs(), uploadFailed) {
		t.Error("the agent logged no failed upload: the outage missed it")
	}
}

// TestFaults runs the scan undisturbed once, then once under each fault,
// and compares every faulted run's rows with the undisturbed run's.
func TestFaults(t *testing.T) {
	s := newSuite(t)

	startRun := func(t *testing.T) scan.Run {
		var run scan.Run
		s.api("POST", fmt.Sprintf("/scans/%d/runs", s.scanID), nil, http.StatusAccepted, &run)
		return run
	}
	began := time.Now()
	run := startRun(t)
	view := s.waitRun(t, run.ID, 3*time.Minute)
	if view.Status != scan.RunCompleted {
		t.Fatalf("baseline run ended %s: %s", view.Status, view.Error)
	}
	baseline, dup := s.rows(t, run.ID)
	var open []int
	for r := range baseline {
		if r.State == "open" {
			open = append(open, int(r.Port))
			if r.Address != s.target.Addr || r.Service != targethost.Services[int(r.Port)].Name {
				t.Errorf("baseline row %+v", r)
			}
		}
	}
	slices.Sort(open)
	if fmt.Sprint(open) != "[2121 2222 8080]" || dup != 0 {
		t.Fatalf("baseline run: open ports %v, %d duplicate rows; want the target's 2121, 2222, 8080 and none", open, dup)
	}
	s.checkObjects(t, view)
	figures = append(figures, figure{fault: "none (baseline)", completed: true, duplicated: dup,
		took: time.Since(began), attempts: formatAttempts(attempts(t, view.WorkflowID))})

	for _, f := range faults {
		ok := t.Run(f.name, func(t *testing.T) {
			fig := figure{fault: f.name}
			defer func() { figures = append(figures, fig) }()
			began := time.Now()
			run := startRun(t)
			f.inject(t, s, run.ID)
			fig.injected = true
			limit := f.limit
			if limit == 0 {
				limit = 4 * time.Minute
			}
			view := s.waitRun(t, run.ID, limit)
			fig.took = time.Since(began)
			if view.Status != scan.RunCompleted {
				t.Fatalf("run ended %s: %s", view.Status, view.Error)
			}
			fig.completed = true
			got, dup := s.rows(t, run.ID)
			fig.duplicated = dup
			for r := range baseline {
				if !got[r] {
					fig.lost++
					t.Errorf("row lost: %+v", r)
				}
			}
			for r := range got {
				if !baseline[r] {
					fig.extra++
					t.Errorf("row not in the undisturbed run: %+v", r)
				}
			}
			if dup != 0 {
				t.Errorf("%d duplicate rows", dup)
			}
			s.checkObjects(t, view)
			tries := attempts(t, view.WorkflowID)
			fig.attempts = formatAttempts(tries)
			t.Logf("completed in %v (%s)", fig.took.Round(100*time.Millisecond), fig.attempts)
			if f.check != nil {
				f.check(t, s, tries)
			}
			if tries["RunScan"] > 2 {
				// The last attempt: the run would have failed had it not
				// worked. Show why the others did not.
				t.Logf("NOTE: the scan took %d attempts; the agent's warnings and errors:\n%s", tries["RunScan"], s.agentTrouble())
			}
		})
		if !ok {
			// Later faults need a healthy stack; bring back whatever the
			// failed one left down.
			s.recover(t)
		}
	}
}

// recover restarts any service or process a failed fault left stopped.
func (s *suite) recover(t *testing.T) {
	ctx := context.Background()
	for name, svc := range map[string]struct {
		done    <-chan struct{}
		restart func(context.Context) error
	}{
		"postgres": {stack.Postgres.Done(), stack.Postgres.Restart},
		"s3":       {stack.S3.Done(), stack.S3.Restart},
		"temporal": {stack.Temporal.Done(), stack.Temporal.Restart},
	} {
		select {
		case <-svc.done:
			if err := svc.restart(ctx); err != nil {
				t.Fatalf("bring back %s: %v", name, err)
			}
		default:
		}
	}
	for _, p := range []*process{s.server, s.agent} {
		select {
		case <-p.Exited():
			p.Start()
		default:
		}
	}
}
