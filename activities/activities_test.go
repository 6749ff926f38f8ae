package activities_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
	"github.com/scantron/scantron/scan/signing"
	"github.com/scantron/scantron/storage/objects"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

var (
	pg   *devstack.Postgres
	s3   *devstack.S3
	objs *objects.Store
	dbN  atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "scantron-activities-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if pg, err = devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: dir + "/pg"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	if s3, err = devstack.StartS3(ctx, devstack.S3Options{Dir: dir + "/s3", Bucket: "scantron"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s3.Stop()
	objs, err = objects.New(objects.Config{Endpoint: s3.Endpoint, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: s3.Bucket})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// newStore gives each test a database of its own.
func newStore(t testing.TB) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	admin, err := postgres.Open(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("activities_%d_%d", os.Getpid(), dbN.Add(1))
	if _, err := admin.Pool().Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	st, err := postgres.Open(ctx, pg.DSNFor(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// listen opens TCP listeners on a loopback address that answer with a
// banner, and returns their ports.
func listen(t *testing.T, addr string, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", addr+":0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.2p1\r\n"))
				c.Close()
			}
		}()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

type fixture struct {
	signer  *signing.Signer
	store   *postgres.Store
	results *activities.Results
	agent   *activities.Agent
	scanID  int64
	ports4  []int // open on 127.0.0.1
	ports6  []int // open on ::1
}

// newFixture defines a site of both loopback addresses (and an excluded
// IPv4 neighbour), a profile that scans only the listeners' ports, an agent
// and a scan, all in PostgreSQL.
func newFixture(t *testing.T, options string) *fixture {
	t.Helper()
	ctx := context.Background()
	st := newStore(t)
	ports4 := listen(t, "127.0.0.1", 2)
	slices.Sort(ports4)
	ports6 := listen(t, "[::1]", 1)
	if options == "" {
		options = fmt.Sprintf("-n -Pn -sT -p %d,%d,%d", ports4[0], ports4[1], ports6[0])
	}
	site, err := st.CreateSite(ctx, scan.Site{Name: "loopback", Targets: []string{"127.0.0.1-127.0.0.2", "::1"}, Exclusions: []string{"127.0.0.2"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateExclusion(ctx, scan.Exclusion{Target: "198.18.255.0/24", Note: "never"}); err != nil {
		t.Fatal(err)
	}
	prof, err := st.CreateProfile(ctx, scan.Profile{Name: "connect", Scanner: scan.Nmap, Options: options})
	if err != nil {
		t.Fatal(err)
	}
	ag, err := st.CreateAgent(ctx, scan.Agent{Name: "a1", TaskQueue: workflows.AgentTaskQueue("a1")})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := st.CreateScan(ctx, scan.Scan{Name: "loop", SiteID: site.ID, ProfileID: prof.ID, AgentID: ag.ID})
	if err != nil {
		t.Fatal(err)
	}
	signer, verifier := newKeys(t)
	return &fixture{
		signer:  signer,
		store:   st,
		results: &activities.Results{Store: st, Objects: objs, Signer: signer, AgentObjects: objs},
		agent:   &activities.Agent{Name: "a1", HeartbeatEvery: time.Second, Verifier: verifier},
		scanID:  sc.ID,
		ports4:  ports4,
		ports6:  ports6,
	}
}

// testQueue is the task queue the Temporal test activity environment runs
// activities from.
const testQueue = "default-test-taskqueue"

// dispatched signs spec as the server does when it dispatches its first
// attempt to testQueue, for a shard that has no row in PostgreSQL.
func (f *fixture) dispatched(t *testing.T, spec scan.Spec) scan.Spec {
	t.Helper()
	return dispatchSpec(t, f.signer, spec, 1, nil)
}

// dispatchSpec is spec dispatched as attempt to testQueue, with presigned
// URLs of that attempt's objects and a read of the resume state prev
// names, signed by signer.
func dispatchSpec(t *testing.T, signer *signing.Signer, spec scan.Spec, attempt int, prev *scan.Progress) scan.Spec {
	t.Helper()
	ctx := context.Background()
	presign := func(put bool, key string) string {
		t.Helper()
		u, err := objs.PresignGet(ctx, key, time.Hour)
		if put {
			u, err = objs.PresignPut(ctx, key, time.Hour)
		}
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	urls := scan.ShardURLs{Bucket: objs.Bucket(),
		OutputPut: presign(true, scan.RawKey(spec.RunID, spec.ShardID, attempt, spec.Scanner)),
		ResumePut: presign(true, scan.PartialKey(spec.RunID, spec.ShardID, attempt))}
	if prev != nil && prev.Partial != nil {
		urls.ResumeKey, urls.ResumeGet = prev.Partial.Key, presign(false, prev.Partial.Key)
	}
	spec.Dispatch = &scan.Dispatch{TaskQueue: testQueue, Attempt: attempt, Nonce: fmt.Sprintf("test-%d", time.Now().UnixNano()), Objects: urls}
	return signer.Sign(spec, time.Now().Add(time.Hour))
}

// dispatch runs DispatchShard for attempt of spec's shard, to testQueue.
func (f *fixture) dispatch(t *testing.T, env *testsuite.TestActivityEnvironment, start activities.StartRunResult, spec scan.Spec, attempt int) activities.DispatchShardResult {
	t.Helper()
	in := activities.DispatchShardInput{RunID: start.RunID, Spec: spec, Attempt: attempt, TaskQueue: testQueue, Agent: start.AgentName, Pool: start.PoolName}
	d, err := execute[activities.DispatchShardResult](t, env, f.results.DispatchShard, in)
	if err != nil {
		t.Fatalf("DispatchShard: %v", err)
	}
	return d
}

// startRun runs StartRun as the workflow does: specs left for DispatchShard
// to sign.
func (f *fixture) startRun(t *testing.T, env *testsuite.TestActivityEnvironment, wf string) activities.StartRunResult {
	t.Helper()
	start, err := execute[activities.StartRunResult](t, env, f.results.StartRun, activities.StartRunInput{ScanID: f.scanID, WorkflowID: wf})
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	return start
}

// newKeys makes a server key pair: the server's signer, the agent's verifier.
func newKeys(t *testing.T) (*signing.Signer, *signing.Verifier) {
	t.Helper()
	key, err := signing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := signing.NewVerifier(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return signer, verifier
}

func execute[T any](t *testing.T, env *testsuite.TestActivityEnvironment, fn any, in any) (T, error) {
	t.Helper()
	var out T
	val, err := env.ExecuteActivity(fn, in)
	if err == nil {
		err = val.Get(&out)
	}
	return out, err
}

func newEnv(f *fixture) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.results)
	env.RegisterActivity(f.agent)
	return env
}

// TestPipeline runs every activity of a scan in order against real
// PostgreSQL, S3 and nmap, as the workflow would: an IPv4 and an IPv6 shard,
// each scanned, stored and parsed (twice, as a retry would), then one export.
func TestPipeline(t *testing.T) {
	f := newFixture(t, "")
	env := newEnv(f)
	ctx := context.Background()

	start := f.startRun(t, env, "wf-pipeline")
	if len(start.Specs) != 2 {
		t.Fatalf("specs = %+v, want one per address family", start.Specs)
	}
	v4, v6 := start.Specs[0], start.Specs[1]
	if strings.Join(v4.Targets, ",") != "127.0.0.1" || strings.Join(v4.Excludes, ",") != "127.0.0.2" ||
		strings.Join(v6.Targets, ",") != "::1" || len(v6.Excludes) != 0 {
		t.Errorf("specs: v4 %v minus %v, v6 %v minus %v", v4.Targets, v4.Excludes, v6.Targets, v6.Excludes)
	}
	if start.TaskQueue != "agent.a1" || start.AgentName != "a1" {
		t.Errorf("dispatch to %q/%q", start.AgentName, start.TaskQueue)
	}
	again, err := execute[activities.StartRunResult](t, env, f.results.StartRun, activities.StartRunInput{ScanID: f.scanID, WorkflowID: "wf-pipeline"})
	if err != nil || again.RunID != start.RunID || again.Specs[0].ShardID != v4.ShardID || again.Specs[1].ShardID != v6.ShardID {
		t.Errorf("a retried StartRun made another run or shard: %+v, %v", again, err)
	}
	run, _ := f.store.GetRun(ctx, start.RunID)
	if run.Status != scan.RunRunning || run.Addresses != 2 {
		t.Errorf("run after StartRun: %+v", run)
	}

	for _, spec := range start.Specs {
		if len(spec.Signature) != 0 {
			t.Fatalf("StartRun signed %+v: only a dispatch signs", spec)
		}
		d := f.dispatch(t, env, start, spec, 1)
		scanned, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: d.Spec})
		if err != nil {
			t.Fatalf("RunScan %v: %v", spec.Targets, err)
		}
		if scanned.Raw.Key != scan.RawKey(start.RunID, spec.ShardID, 1, scan.Nmap) || scanned.Raw.Size == 0 {
			t.Errorf("raw ref %+v", scanned.Raw)
		}
		body, err := objs.Get(ctx, scanned.Raw)
		if err != nil {
			t.Fatal(err)
		}
		xml, err := io.ReadAll(body)
		body.Close()
		if err != nil || !bytes.Contains(xml, []byte(`<nmaprun`)) || !bytes.Contains(xml, []byte(`addr="`+spec.Targets[0]+`"`)) {
			t.Fatalf("stored XML (%v): %.300s", err, xml)
		}
		parseIn := activities.ParseResultsInput{RunID: start.RunID, ShardID: spec.ShardID, Attempt: scanned.Attempt, Raw: scanned.Raw, Agent: scanned.Agent, Signature: scanned.Signature, Nonce: d.Nonce}
		for i := range 2 { // twice: a retried parse must not duplicate rows
			parsed, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, parseIn)
			if err != nil {
				t.Fatalf("ParseResults #%d: %v", i+1, err)
			}
			if parsed.Hosts != 1 || parsed.Ports != 3 {
				t.Errorf("ParseResults #%d of %v stored %+v, want 1 host and 3 ports", i+1, spec.Targets, parsed)
			}
		}
		// Another attempt's output is not the current dispatch's: refused.
		late := parseIn
		late.Attempt = scanned.Attempt - 1
		parsed, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, late)
		if !isNonRetryable(err, activities.ErrTypeUntrusted) || parsed.Hosts != 0 {
			t.Errorf("late attempt: %+v, %v", parsed, err)
		}
	}
	rows, err := f.store.Pool().Query(ctx, `SELECT host(h.address), p.port FROM ports p JOIN hosts h ON h.id = p.host_id
		WHERE p.run_id = $1 AND p.state = 'open' ORDER BY h.address, p.port`, start.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for rows.Next() {
		var addr string
		var port int
		if err := rows.Scan(&addr, &port); err != nil {
			t.Fatal(err)
		}
		open = append(open, fmt.Sprintf("%s:%d", addr, port))
	}
	want := []string{fmt.Sprintf("127.0.0.1:%d", f.ports4[0]), fmt.Sprintf("127.0.0.1:%d", f.ports4[1]), fmt.Sprintf("::1:%d", f.ports6[0])}
	if !slices.Equal(open, want) {
		t.Errorf("open ports in PostgreSQL = %v, want %v", open, want)
	}

	dir := t.TempDir()
	f.results.ExportTargets = []activities.ExportTarget{activities.DirTarget{Dir: dir}, activities.PrefixTarget{Objects: objs, Prefix: fmt.Sprintf("forward-%d", start.RunID)}}
	exported, err := execute[activities.ExportResultsResult](t, env, f.results.ExportResults, activities.ExportResultsInput{RunID: start.RunID})
	if err != nil {
		t.Fatalf("ExportResults: %v", err)
	}
	checkExports(t, start.RunID, exported, want, dir)
	csvBody, err := objs.Get(ctx, exported.CSV)
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(csvBody).ReadAll()
	csvBody.Close()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(records[0], ",") != strings.Join(activities.CSVHeader, ",") || exported.Rows != 6 || len(records) != 7 {
		t.Fatalf("CSV = %v (rows %d)", records, exported.Rows)
	}
	var csvOpen []string
	for _, r := range records[1:] {
		if r[2] != "loopback" || r[3] != "loop" || r[7] != "tcp" {
			t.Errorf("CSV row %v", r)
		}
		// The old Scantron's columns.
		if r[14] != "yes" || r[15] != "a1" || r[16] != "nmap" || r[17] != r[4] || r[18] != r[9] {
			t.Errorf("CSV row %v: old Scantron columns", r)
		}
		if r[8] == "open" {
			csvOpen = append(csvOpen, r[4]+":"+r[6])
		}
	}
	if !slices.Equal(csvOpen, want) {
		t.Errorf("open ports in the CSV = %v, want %v", csvOpen, want)
	}

	done, err := execute[scan.Run](t, env, f.results.FinishRun, activities.FinishRunInput{WorkflowID: "wf-pipeline", Status: scan.RunCompleted, CSV: &exported.CSV})
	if err != nil {
		t.Fatalf("FinishRun: %v", err)
	}
	if done.Status != scan.RunCompleted || done.HostsUp != 2 || done.OpenPorts != 3 || done.FinishedAt == nil {
		t.Errorf("finished run %+v", done)
	}
	shards, _ := f.store.ListShards(ctx, start.RunID)
	if len(shards) != 2 || shards[0].Status != scan.ShardCompleted || shards[1].Status != scan.ShardCompleted || shards[1].Raw == nil {
		t.Errorf("shards %+v", shards)
	}

	// Parsing the completed run again from its stored output gives the same
	// rows, however often it is done.
	if _, err := f.store.Pool().Exec(ctx, `DELETE FROM hosts WHERE shard_id = $1`, shards[0].ID); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		re, err := execute[activities.ReparseRunResult](t, env, f.results.ReparseRun, activities.ReparseRunInput{RunID: start.RunID})
		if err != nil || re.Shards != 2 || re.Hosts != 2 || re.Ports != 6 || re.WorkflowID != "wf-pipeline" {
			t.Fatalf("ReparseRun #%d = %+v, %v", i+1, re, err)
		}
		var hosts, ports int
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(f.store.Pool().QueryRow(ctx, `SELECT count(*) FROM hosts WHERE run_id = $1`, start.RunID).Scan(&hosts))
		must(f.store.Pool().QueryRow(ctx, `SELECT count(*) FROM ports WHERE run_id = $1`, start.RunID).Scan(&ports))
		if hosts != 2 || ports != 6 {
			t.Fatalf("after ReparseRun #%d: %d hosts, %d ports", i+1, hosts, ports)
		}
	}
}

// checkExports reads the JSON Lines and merged XML exports back, and their
// copies in the export targets.
func checkExports(t *testing.T, runID int64, exported activities.ExportResultsResult, wantOpen []string, dir string) {
	t.Helper()
	ctx := context.Background()
	read := func(ref scan.BlobRef) []byte {
		body, err := objs.Get(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var open []string
	jsonl := read(exported.JSONL)
	lines := bytes.Split(bytes.TrimSpace(jsonl), []byte("\n"))
	for _, line := range lines {
		var l activities.JSONLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("JSON line %s: %v", line, err)
		}
		if l.Run != runID || l.Scan != "loop" || l.Site != "loopback" || l.Status != "up" || l.Ports == nil {
			t.Errorf("JSON line %s", line)
		}
		for _, p := range l.Ports {
			if p.State == "open" {
				open = append(open, fmt.Sprintf("%s:%d", l.Address, p.Port))
			}
		}
	}
	if len(lines) != 2 || !slices.Equal(open, wantOpen) {
		t.Errorf("JSON Lines: %d lines, open %v, want 2 and %v", len(lines), open, wantOpen)
	}

	merged := read(exported.XML)
	var addrs []string
	info, err := report.Parse(bytes.NewReader(merged), func(h report.Host) error {
		addrs = append(addrs, h.IP())
		return nil
	})
	if err != nil || info.HostsUp != 2 || info.Exit != "success" || !slices.Equal(addrs, []string{"127.0.0.1", "::1"}) {
		t.Errorf("merged XML: %+v, hosts %v, %v", info, addrs, err)
	}

	for name, want := range map[string][]byte{scan.JSONLExport: jsonl, scan.XMLExport: merged, scan.CSVExport: read(exported.CSV)} {
		file := scan.ExportFileName(runID, name)
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s in the export directory: %d bytes, %v", file, len(got), err)
		}
		obj, size, err := objs.Open(ctx, fmt.Sprintf("forward-%d/%s", runID, file))
		if err != nil || size != int64(len(want)) {
			t.Errorf("%s under the export prefix: %d bytes, %v", file, size, err)
		} else {
			obj.Close()
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("export directory holds %d entries, want 3 (no temporary files)", len(entries))
	}
}

func isNonRetryable(err error, errType string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable() && app.Type() == errType
}

func TestStartRunRefusesWhatCannotRun(t *testing.T) {
	tests := []struct {
		name    string
		options string
		message string
	}{
		{"refused option", "-n -iL /etc/shadow", "-iL"},
		{"unbalanced quote", "-n --script-args 'x", "quote"},
		// Stored without the flag (before it existed, or around the API).
		{"intrusive profile not marked", "-n --script ssh-brute", "ssh-brute"},
		{"hidden file key", `-n --script-args 'a="}",userdb=/etc/shadow'`, "userdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.options)
			env := newEnv(f)
			_, err := execute[activities.StartRunResult](t, env, f.results.StartRun, activities.StartRunInput{ScanID: f.scanID, WorkflowID: "wf-bad"})
			if !isNonRetryable(err, activities.ErrTypeInvalidSpec) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("StartRun error = %v, want non-retryable InvalidSpec naming %q", err, tt.message)
			}
			// FinishRun can still close the run, found by its workflow ID.
			run, err := execute[scan.Run](t, env, f.results.FinishRun, activities.FinishRunInput{WorkflowID: "wf-bad", Status: scan.RunFailed, Error: err.Error()})
			if err != nil || run.Status != scan.RunFailed {
				t.Fatalf("FinishRun: %+v, %v", run, err)
			}
		})
	}
}

// TestStartRunRefusesTooManyAddresses: the size limit holds per scan,
// after exclusions, before anything is dispatched.
func TestStartRunRefusesTooManyAddresses(t *testing.T) {
	f := newFixture(t, "")
	f.results.MaxAddresses = 1 // the site is 127.0.0.1 and ::1
	env := newEnv(f)
	start, err := execute[activities.StartRunResult](t, env, f.results.StartRun, activities.StartRunInput{ScanID: f.scanID, WorkflowID: "wf-big"})
	if !isNonRetryable(err, activities.ErrTypeInvalidSpec) || !strings.Contains(err.Error(), "2 addresses, the limit is 1") || len(start.Specs) != 0 {
		t.Fatalf("StartRun = %+v, %v; want non-retryable InvalidSpec over the limit", start, err)
	}
}

// TestFinishRunKeepsTheFirstEnding: a run that has ended stays as it ended,
// whatever a late second FinishRun says, and that call does not fail (it
// would otherwise be retried for nothing).
func TestReparseRunRefusesUnfinishedRuns(t *testing.T) {
	f := newFixture(t, "")
	env := newEnv(f)
	start, err := execute[activities.StartRunResult](t, env, f.results.StartRun, activities.StartRunInput{ScanID: f.scanID, WorkflowID: "wf-reparse-running"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = execute[activities.ReparseRunResult](t, env, f.results.ReparseRun, activities.ReparseRunInput{RunID: start.RunID})
	if !isNonRetryable(err, activities.ErrTypeInvalidSpec) || !strings.Contains(err.Error(), "only completed or failed runs") {
		t.Fatalf("ReparseRun of a running run: %v", err)
	}
}

func TestFinishRunKeepsTheFirstEnding(t *testing.T) {
	f := newFixture(t, "")
	env := newEnv(f)
	if _, err := execute[activities.StartRunResult](t, env, f.results.StartRun, activities.StartRunInput{ScanID: f.scanID, WorkflowID: "wf-twice"}); err != nil {
		t.Fatal(err)
	}
	first, err := execute[scan.Run](t, env, f.results.FinishRun, activities.FinishRunInput{WorkflowID: "wf-twice", Status: scan.RunCancelled, Error: "cancelled"})
	if err != nil || first.Status != scan.RunCancelled {
		t.Fatalf("first FinishRun: %+v, %v", first, err)
	}
	second, err := execute[scan.Run](t, env, f.results.FinishRun, activities.FinishRunInput{WorkflowID: "wf-twice", Status: scan.RunFailed, Error: "late"})
	if err != nil || second.Status != scan.RunCancelled || second.Error != "cancelled" {
		t.Fatalf("second FinishRun: %+v, %v; want the cancelled run unchanged", second, err)
	}
	shards, _ := f.store.ListShards(context.Background(), second.ID)
	for _, s := range shards {
		if s.Status != scan.ShardCancelled {
			t.Errorf("shard %d is %s, want cancelled", s.ID, s.Status)
		}
	}
}

func TestRunScanRefusesAlteredSpec(t *testing.T) {
	f := newFixture(t, "")
	env := newEnv(f)
	// IDs of no other test's run: the bucket is shared.
	// Signed, as if by a server with a bug: the agent still checks.
	spec := scan.Spec{RunID: 990001, ShardID: 990001, Scanner: scan.Nmap, Options: []string{"-n", "-oN", "/etc/cron.d/x"}, Targets: []string{"127.0.0.1"}}
	spec = f.dispatched(t, spec)
	_, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: spec})
	if !isNonRetryable(err, activities.ErrTypeInvalidSpec) || !strings.Contains(err.Error(), "-oN") {
		t.Fatalf("RunScan error = %v, want non-retryable InvalidSpec naming -oN", err)
	}
	if _, _, err := objs.Open(context.Background(), scan.RawKey(spec.RunID, spec.ShardID, 1, scan.Nmap)); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("something was uploaded for a refused spec: %v", err)
	}
}

// TestRunScanRefusesUnsignedSpecs: what DispatchShard signed runs only as
// signed, unaltered, unexpired, and by the agent of the same server.
func TestRunScanRefusesUnsignedSpecs(t *testing.T) {
	f := newFixture(t, "")
	env := newEnv(f)
	start := f.startRun(t, env, "wf-signed")
	before := time.Now()
	good := f.dispatch(t, env, start, start.Specs[0], 1).Spec
	// Defaults: 10 min to start, 24 h to run.
	if longest := before.Add(10*time.Minute + 24*time.Hour + activities.DispatchSkew); len(good.Signature) == 0 ||
		!good.Expires.After(before.Add(24*time.Hour)) || good.Expires.After(longest) {
		t.Fatalf("DispatchShard signed %+v: want a signature valid for one attempt, until %s at most", good, longest)
	}
	// The same shard dispatched to another queue (another agent's).
	elsewhere := f.dispatch(t, env, start, start.Specs[0], 2).Spec
	elsewhere.Dispatch.TaskQueue = "agent.other"
	elsewhere = f.signer.Sign(elsewhere, time.Now().Add(time.Hour))
	_, otherVerifier := newKeys(t)
	tests := []struct {
		name   string
		change func(*scan.Spec)
		agent  *activities.Agent
		want   string
	}{
		{"unsigned", func(s *scan.Spec) { s.Signature, s.Expires = nil, time.Time{} }, f.agent, "not signed"},
		{"target added", func(s *scan.Spec) { s.Targets = append(slices.Clone(s.Targets), "127.0.0.3") }, f.agent, "does not verify"},
		{"exclusion dropped", func(s *scan.Spec) { s.Excludes = nil }, f.agent, "does not verify"},
		{"options changed", func(s *scan.Spec) { s.Options = []string{"-n", "-Pn", "-sT", "-p", "1-65535"} }, f.agent, "does not verify"},
		{"expired", func(s *scan.Spec) {
			*s = f.signer.Sign(*s, time.Now().Add(-time.Second))
		}, f.agent, "expired"},
		{"another server's agent", func(*scan.Spec) {}, &activities.Agent{Name: "a1", Verifier: otherVerifier}, "does not verify"},
		{"dispatched to another queue", func(s *scan.Spec) { *s = elsewhere }, f.agent, "another task queue"},
		{"queue rewritten", func(s *scan.Spec) { s.Dispatch.TaskQueue = "agent.other" }, f.agent, "does not verify"},
		{"upload URL swapped", func(s *scan.Spec) { s.Dispatch.Objects.OutputPut = "http://127.0.0.1:1/elsewhere" }, f.agent, "does not verify"},
		{"dispatch dropped", func(s *scan.Spec) { s.Dispatch = nil }, f.agent, "does not verify"},
		{"signed without a dispatch", func(s *scan.Spec) {
			s.Dispatch = nil
			*s = f.signer.Sign(*s, time.Now().Add(time.Hour))
		}, f.agent, "not bound to a dispatch"},
		{"agent without a key", func(*scan.Spec) {}, &activities.Agent{Name: "a1"}, "no server public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := good
			d := *good.Dispatch // changed in place by some cases
			spec.Dispatch = &d
			tt.change(&spec)
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.RegisterActivity(tt.agent)
			_, err := execute[activities.RunScanResult](t, env, tt.agent.RunScan, activities.RunScanInput{Spec: spec})
			if !isNonRetryable(err, activities.ErrTypeInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("RunScan error = %v, want non-retryable InvalidSpec saying %q", err, tt.want)
			}
		})
	}
}

// TestRunScanUsesAgentInterface: the interface comes from the agent's
// configuration, never from a profile, and reaches nmap as -e.
func TestRunScanUsesAgentInterface(t *testing.T) {
	f := newFixture(t, "")
	f.agent.Interface = "lo"
	env := newEnv(f)
	start := f.startRun(t, env, "wf-iface")
	d := f.dispatch(t, env, start, start.Specs[0], 1)
	scanned, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: d.Spec})
	if err != nil {
		t.Fatal(err)
	}
	body, err := objs.Get(context.Background(), scanned.Raw)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	xml, _ := io.ReadAll(body)
	if !bytes.Contains(xml, []byte(" -e lo ")) || !bytes.Contains(xml, []byte(`portid="`+fmt.Sprint(f.ports4[0])+`"`)) {
		t.Errorf("nmap did not scan through lo: %.400s", xml)
	}
}

// The agent's own SCANTRON_AGENT_MAX_RATE reaches the real nmap's command line
// (nmap records it in its XML) whatever the spec asks.
func TestRunScanAppliesAgentMaxRate(t *testing.T) {
	f := newFixture(t, "")
	f.agent.MaxRate = 750
	t.Cleanup(func() { f.agent.MaxRate = 0 })
	env := newEnv(f)
	start := f.startRun(t, env, "wf-maxrate")
	d := f.dispatch(t, env, start, start.Specs[0], 1)
	scanned, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: d.Spec})
	if err != nil {
		t.Fatal(err)
	}
	body, err := objs.Get(context.Background(), scanned.Raw)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	xml, _ := io.ReadAll(body)
	if !bytes.Contains(xml, []byte("max-rate 750 ")) {
		t.Errorf("nmap ran without the agent's --max-rate: %.400s", xml)
	}
}

// TestRunScanCancelKillsScanner cancels a slow scan and checks that no nmap
// process of it is left.
func TestRunScanCancelKillsScanner(t *testing.T) {
	f := newFixture(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: ctx})
	env.RegisterActivity(f.agent)
	// --scan-delay makes 200 ports take minutes; the marker port list lets
	// the test find exactly this nmap process.
	marker := fmt.Sprintf("%d-%d", 40000+os.Getpid()%1000, 40199+os.Getpid()%1000)
	spec := scan.Spec{RunID: 990002, ShardID: 990002, Scanner: scan.Nmap, Options: []string{"-n", "-Pn", "-sT", "--scan-delay", "1s", "-p", marker}, Targets: []string{"127.0.0.1"}}
	spec = f.dispatched(t, spec)

	errc := make(chan error, 1)
	go func() {
		_, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: spec})
		errc <- err
	}()
	deadline := time.Now().Add(time.Minute)
	for !nmapRunning(marker) {
		if time.Now().After(deadline) {
			t.Fatal("nmap never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("a cancelled scan reported success")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("RunScan did not return after cancel")
	}
	if nmapRunning(marker) {
		t.Error("nmap is still running after the activity was cancelled")
	}
}

func nmapRunning(marker string) bool {
	out, _ := exec.Command("pgrep", "-f", "nmap.*"+marker).Output()
	return len(bytes.TrimSpace(out)) > 0
}

// flakyTransport fails its first fails requests, as object storage does
// while it restarts, then sends them on.
type flakyTransport struct {
	mu    sync.Mutex
	fails int
	calls int
}

func (f *flakyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.calls++
	fail := f.calls <= f.fails
	f.mu.Unlock()
	if fail {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errors.New("dial tcp: connect: connection refused")
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestRunScanRetriesUpload: a finished scan's output survives an object
// storage outage: the upload is retried, not the scan, up to the attempt's
// deadline (less UploadMargin). An outage past it fails the attempt,
// retryably, with the attempt's progress for the next one.
func TestRunScanRetriesUpload(t *testing.T) {
	f := newFixture(t, "")
	run := func(agent *activities.Agent, id int64) (activities.RunScanResult, error) {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(agent)
		spec := scan.Spec{RunID: id, ShardID: id, Scanner: scan.Nmap, Options: []string{"-n", "-Pn", "-sT", "-p", fmt.Sprint(f.ports4[0])}, Targets: []string{"127.0.0.1"}}
		return execute[activities.RunScanResult](t, env, agent.RunScan, activities.RunScanInput{Spec: f.dispatched(t, spec)})
	}

	flaky := &flakyTransport{fails: 2}
	// Only the output's uploads go through flaky: no resume state saved.
	agent := &activities.Agent{Name: "a1", HeartbeatEvery: time.Second, Verifier: f.agent.Verifier,
		PartialEvery: -1, HTTPClient: &http.Client{Transport: flaky}}
	got, err := run(agent, 990003)
	if err != nil {
		t.Fatalf("RunScan through a short outage: %v", err)
	}
	if flaky.calls != 3 {
		t.Errorf("%d uploads, want 2 failed and 1 stored", flaky.calls)
	}
	body, err := objs.Get(context.Background(), got.Raw)
	if err != nil {
		t.Fatalf("stored output: %v", err)
	}
	xml, _ := io.ReadAll(body)
	body.Close()
	if !bytes.Contains(xml, []byte(`portid="`+fmt.Sprint(f.ports4[0])+`"`)) {
		t.Errorf("stored output lacks the scanned port: %.300s", xml)
	}

	// The test environment gives an attempt 10 minutes: a margin of all but
	// 3 s of them leaves 3 s of retries.
	down := &flakyTransport{fails: 1 << 30}
	agent.HTTPClient, agent.UploadMargin = &http.Client{Transport: down}, 10*time.Minute-3*time.Second
	_, err = run(agent, 990004)
	var app *temporal.ApplicationError
	if err == nil || !errors.As(err, &app) || app.NonRetryable() || app.Type() != activities.ErrTypeAttemptFailed || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("RunScan through a long outage: %v; want a retryable upload error", err)
	}
	var last scan.Progress
	if err := app.Details(&last); err != nil || last.Phase != "uploading" {
		t.Errorf("the failure carries progress %+v (%v), want the upload's", last, err)
	}
	if down.calls < 2 {
		t.Errorf("%d uploads in a 3 s outage, want retries", down.calls)
	}
}
