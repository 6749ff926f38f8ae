package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

type runJSON struct {
	scan.Run
	TemporalURL string       `json:"temporal_url"`
	Shards      []scan.Shard `json:"shards"`
}

func (e *testEnv) startRun(t *testing.T, scanID int64) runJSON {
	t.Helper()
	var r runJSON
	e.mustDo(t, "POST", fmt.Sprintf("/api/v1/scans/%d/runs", scanID), "", http.StatusAccepted, &r)
	return r
}

func TestStartRun(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)

	w := e.do(t, "POST", fmt.Sprintf("/api/v1/scans/%d/runs", s.ID), "")
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	var r runJSON
	decode(t, w, &r)
	wid := workflows.ScanRunWorkflowID(s.ID, e.now)
	if r.ID <= 0 || r.ScanID != s.ID || r.WorkflowID != wid || r.Status != scan.RunPending {
		t.Errorf("run %+v, want pending run of scan %d with workflow %q", r.Run, s.ID, wid)
	}
	if got, want := w.Header().Get("Location"), fmt.Sprintf("/api/v1/runs/%d", r.ID); got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	if want := "http://127.0.0.1:8233/namespaces/default/workflows/" + wid; r.TemporalURL != want {
		t.Errorf("temporal_url %q, want %q", r.TemporalURL, want)
	}

	if len(e.temporal.starts) != 1 {
		t.Fatalf("%d workflows started, want 1", len(e.temporal.starts))
	}
	st := e.temporal.starts[0]
	if st.opts.ID != wid || st.opts.TaskQueue != workflows.ServerTaskQueue {
		t.Errorf("start options %+v", st.opts)
	}
	if st.opts.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE || !st.opts.WorkflowExecutionErrorWhenAlreadyStarted {
		t.Errorf("start options do not refuse a duplicate ID: %+v", st.opts)
	}
	if reflect.ValueOf(st.workflow).Pointer() != reflect.ValueOf(workflows.ScanWorkflow).Pointer() {
		t.Errorf("started %T, want workflows.ScanWorkflow", st.workflow)
	}
	if len(st.args) != 1 || st.args[0] != (workflows.ScanInput{ScanID: s.ID}) {
		t.Errorf("workflow args %#v", st.args)
	}

	var got runJSON
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/runs/%d", r.ID), "", http.StatusOK, &got)
	if got.ID != r.ID || got.TemporalURL != r.TemporalURL || got.Shards == nil {
		t.Errorf("GET run: %+v", got)
	}
	var list []runJSON
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/runs?scan_id=%d&limit=10", s.ID), "", http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != r.ID || list[0].TemporalURL == "" {
		t.Errorf("list: %+v", list)
	}
}

func TestStartRunTemporalDown(t *testing.T) {
	e := newEnv(t)
	s := e.makeScan(t, makeFixtures(t, e))
	e.temporal.startErr = errors.New("dial tcp 127.0.0.1:7233: connection refused")

	w := e.do(t, "POST", fmt.Sprintf("/api/v1/scans/%d/runs", s.ID), "")
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", w.Code, w.Body.String())
	}
	if msg := errorOf(t, w); !strings.Contains(msg, "no run was created") || strings.Contains(msg, "7233") {
		t.Errorf("error %q", msg)
	}
	runs, err := testStore.ListRuns(context.Background(), postgres.RunFilter{ScanID: s.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 0 {
		t.Errorf("a run was left behind: %+v", runs)
	}
	if !strings.Contains(e.logs.String(), "connection refused") {
		t.Errorf("the cause is not logged:\n%s", e.logs.String())
	}
}

// TestStartRunStartedDespiteError: a start that reports an error (a timeout)
// but did start the workflow keeps its run and answers 202, so the operator
// does not start the scan a second time.
func TestStartRunStartedDespiteError(t *testing.T) {
	e := newEnv(t)
	s := e.makeScan(t, makeFixtures(t, e))
	e.temporal.startErr = errors.New("context deadline exceeded")
	e.temporal.startedDespiteErr = true

	var r runView
	e.mustDo(t, "POST", fmt.Sprintf("/api/v1/scans/%d/runs", s.ID), "", http.StatusAccepted, &r)
	runs, err := testStore.ListRuns(context.Background(), postgres.RunFilter{ScanID: s.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != r.ID || runs[0].WorkflowID != r.WorkflowID {
		t.Errorf("runs = %+v, want the one run that was answered", runs)
	}
}

func TestStartRunWorkflowIDTaken(t *testing.T) {
	e := newEnv(t)
	s := e.makeScan(t, makeFixtures(t, e))
	e.temporal.startErr = serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", "")
	w := e.do(t, "POST", fmt.Sprintf("/api/v1/scans/%d/runs", s.ID), "")
	if w.Code != http.StatusConflict {
		t.Fatalf("status %d, want 409: %s", w.Code, w.Body.String())
	}
	errorOf(t, w)
}

func TestCancelRun(t *testing.T) {
	e := newEnv(t)
	s := e.makeScan(t, makeFixtures(t, e))
	r := e.startRun(t, s.ID)

	var ack map[string]any
	e.mustDo(t, "POST", fmt.Sprintf("/api/v1/runs/%d/cancel", r.ID), "", http.StatusAccepted, &ack)
	if len(e.temporal.cancels) != 1 || e.temporal.cancels[0] != r.WorkflowID {
		t.Errorf("cancelled %q, want [%q]", e.temporal.cancels, r.WorkflowID)
	}

	tests := []struct {
		name      string
		final     scan.RunStatus
		cancelErr error
		status    int
		want      string
	}{
		{"workflow gone", "", serviceerror.NewNotFound("workflow not found"), 409, "is not running"},
		{"temporal down", "", errors.New("connection refused"), 503, "could not ask Temporal"},
		{"already final", scan.RunCompleted, nil, 409, "is already completed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.now = e.now.Add(time.Second)
			r := e.startRun(t, s.ID)
			if tc.final != "" {
				if err := testStore.SetRunStatus(context.Background(), r.ID, tc.final, ""); err != nil {
					t.Fatal(err)
				}
			}
			e.temporal.cancelErr = tc.cancelErr
			defer func() { e.temporal.cancelErr = nil }()
			w := e.do(t, "POST", fmt.Sprintf("/api/v1/runs/%d/cancel", r.ID), "")
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body.String())
			}
			if msg := errorOf(t, w); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
		})
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestRunResults(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	r := e.startRun(t, s.ID)
	runPath := fmt.Sprintf("/api/v1/runs/%d", r.ID)

	// Nothing to download before the run has produced anything.
	for _, p := range []string{runPath + "/raw", runPath + "/csv", runPath + "/jsonl", runPath + "/xml"} {
		w := e.do(t, "GET", p, "")
		if w.Code != http.StatusNotFound {
			t.Fatalf("GET %s: %d, want 404", p, w.Code)
		}
		if msg := errorOf(t, w); !strings.Contains(msg, "not available yet") {
			t.Errorf("GET %s: %q", p, msg)
		}
	}

	sh, err := testStore.CreateShard(ctx, r.ID, 0, f.agent.ID, []string{"198.18.0.0/28"})
	if err != nil {
		t.Fatal(err)
	}
	if w := e.do(t, "GET", runPath+"/raw", ""); w.Code != http.StatusNotFound {
		t.Fatalf("raw of a running shard: %d, want 404", w.Code)
	}
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err = testStore.ReplaceShardResults(ctx, r.ID, sh.ID, 0, func(emit func(report.Host) error) error {
		return emit(report.Host{
			Addresses: []report.Address{{Addr: "198.18.0.5", Type: "ipv4"}},
			Status:    "up", Start: start, End: start.Add(time.Minute),
			Ports: []report.Port{
				{Protocol: "tcp", Number: 22, State: "open", Service: report.Service{Name: "ssh", Product: "OpenSSH", Version: "9.6"}},
				{Protocol: "tcp", Number: 80, State: "closed"},
			},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	rawKey := fmt.Sprintf("runs/%d/0/1.xml", r.ID)
	if err := testStore.UpdateShard(ctx, scan.ShardUpdate{ID: sh.ID, Status: scan.ShardCompleted, Attempt: 1,
		Raw: &scan.BlobRef{Bucket: "b", Key: rawKey, Size: 9, SHA256: sha}}); err != nil {
		t.Fatal(err)
	}
	csvKey := fmt.Sprintf("runs/%d/export.csv", r.ID)
	if _, err := testStore.CompleteRun(ctx, r.ID, scan.BlobRef{Bucket: "b", Key: csvKey, Size: 4, SHA256: sha}); err != nil {
		t.Fatal(err)
	}

	t.Run("object missing from storage", func(t *testing.T) {
		w := e.do(t, "GET", runPath+"/raw", "")
		if w.Code != http.StatusNotFound {
			t.Fatalf("status %d, want 404", w.Code)
		}
		if msg := errorOf(t, w); !strings.Contains(msg, "missing from object storage") {
			t.Errorf("error %q", msg)
		}
	})

	e.objects.put(rawKey, []byte("<nmaprun/>"))
	e.objects.put(csvKey, []byte("a,b\n"))

	t.Run("detail", func(t *testing.T) {
		var got runJSON
		e.mustDo(t, "GET", runPath, "", http.StatusOK, &got)
		if got.Status != scan.RunCompleted || got.HostsUp != 1 || got.OpenPorts != 1 || got.CSV == nil {
			t.Errorf("run %+v", got.Run)
		}
		if len(got.Shards) != 1 || got.Shards[0].Raw == nil || got.Shards[0].Raw.Key != rawKey {
			t.Errorf("shards %+v", got.Shards)
		}
	})
	t.Run("hosts with ports", func(t *testing.T) {
		var hosts []scan.HostRow
		e.mustDo(t, "GET", runPath+"/hosts", "", http.StatusOK, &hosts)
		if len(hosts) != 1 || hosts[0].Address != "198.18.0.5" || len(hosts[0].Ports) != 2 {
			t.Fatalf("hosts %+v", hosts)
		}
		e.mustDo(t, "GET", runPath+"/hosts?offset=1", "", http.StatusOK, &hosts)
		if len(hosts) != 0 {
			t.Errorf("offset=1: %+v", hosts)
		}
	})
	t.Run("open ports", func(t *testing.T) {
		var ports []scan.PortRow
		e.mustDo(t, "GET", runPath+"/ports?state=open", "", http.StatusOK, &ports)
		if len(ports) != 1 || ports[0].Port != 22 || ports[0].Product != "OpenSSH" {
			t.Errorf("ports %+v", ports)
		}
		e.mustDo(t, "GET", runPath+"/ports", "", http.StatusOK, &ports)
		if len(ports) != 2 {
			t.Errorf("all ports: %+v", ports)
		}
		w := e.do(t, "GET", runPath+"/ports?state=ajar", "")
		if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), `state: "ajar" is not a port state`) {
			t.Errorf("bad state: %d %s", w.Code, w.Body.String())
		}
	})
	t.Run("raw", func(t *testing.T) {
		for _, p := range []string{runPath + "/raw", runPath + "/raw?shard=0"} {
			w := e.do(t, "GET", p, "")
			if w.Code != http.StatusOK || w.Body.String() != "<nmaprun/>" {
				t.Fatalf("GET %s: %d %q", p, w.Code, w.Body.String())
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := w.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
				t.Errorf("Content-Disposition %q", cd)
			}
		}
		w := e.do(t, "GET", runPath+"/raw?shard=3", "")
		if w.Code != http.StatusNotFound || !strings.Contains(errorOf(t, w), "has no shard 3") {
			t.Errorf("shard=3: %d %s", w.Code, w.Body.String())
		}
		w = e.do(t, "GET", runPath+"/raw?shard=x", "")
		if w.Code != http.StatusBadRequest {
			t.Errorf("shard=x: %d", w.Code)
		}
	})
	t.Run("csv", func(t *testing.T) {
		w := e.do(t, "GET", runPath+"/csv", "")
		if w.Code != http.StatusOK || w.Body.String() != "a,b\n" {
			t.Fatalf("%d %q", w.Code, w.Body.String())
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type %q", ct)
		}
		if cd, want := w.Header().Get("Content-Disposition"), fmt.Sprintf(`attachment; filename="scantron-run-%d.csv"`, r.ID); cd != want {
			t.Errorf("Content-Disposition %q, want %q", cd, want)
		}
		if w.Header().Get("Content-Length") != "4" {
			t.Errorf("Content-Length %q", w.Header().Get("Content-Length"))
		}
	})
	t.Run("jsonl and xml", func(t *testing.T) {
		w := e.do(t, "GET", runPath+"/xml", "")
		if w.Code != http.StatusNotFound || !strings.Contains(errorOf(t, w), "missing from object storage") {
			t.Fatalf("xml before it is stored: %d %s", w.Code, w.Body.String())
		}
		e.objects.put(scan.ExportKey(r.ID, scan.JSONLExport), []byte("{}\n"))
		e.objects.put(scan.ExportKey(r.ID, scan.XMLExport), []byte("<nmaprun></nmaprun>"))
		for path, want := range map[string][3]string{
			"/jsonl": {"{}\n", "application/jsonl", fmt.Sprintf("scantron-run-%d.jsonl", r.ID)},
			"/xml":   {"<nmaprun></nmaprun>", "application/xml", fmt.Sprintf("scantron-run-%d.xml", r.ID)},
		} {
			w := e.do(t, "GET", runPath+path, "")
			if w.Code != http.StatusOK || w.Body.String() != want[0] || w.Header().Get("Content-Type") != want[1] ||
				w.Header().Get("Content-Disposition") != fmt.Sprintf("attachment; filename=%q", want[2]) {
				t.Errorf("GET %s: %d %q %v", path, w.Code, w.Body.String(), w.Header())
			}
		}
	})
	t.Run("several shards need a choice", func(t *testing.T) {
		if _, err := testStore.CreateShard(ctx, r.ID, 1, f.agent.ID, []string{"198.18.0.16/28"}); err != nil {
			t.Fatal(err)
		}
		w := e.do(t, "GET", runPath+"/raw", "")
		if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), "choose one with ?shard=") {
			t.Errorf("%d %s", w.Code, w.Body.String())
		}
	})
}

// addPorts gives a run one finished shard whose host has two open ports.
func addPorts(t *testing.T, runID, agentID int64) {
	t.Helper()
	ctx := context.Background()
	sh, err := testStore.CreateShard(ctx, runID, 0, agentID, []string{"198.18.0.0/28"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = testStore.ReplaceShardResults(ctx, runID, sh.ID, 0, func(emit func(report.Host) error) error {
		return emit(report.Host{
			Addresses: []report.Address{{Addr: "198.18.0.7", Type: "ipv4"}},
			Status:    "up",
			Ports: []report.Port{
				{Protocol: "tcp", Number: 22, State: "open", Service: report.Service{Name: "ssh", Product: "OpenSSH"}},
				{Protocol: "tcp", Number: 443, State: "open", Service: report.Service{Name: "https"}},
			},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	raw := &scan.BlobRef{Bucket: "b", Key: fmt.Sprintf("runs/%d/0/1.xml", runID), Size: 1, SHA256: sha}
	if err := testStore.UpdateShard(ctx, scan.ShardUpdate{ID: sh.ID, Status: scan.ShardCompleted, Attempt: 1, Raw: raw}); err != nil {
		t.Fatal(err)
	}
}

func TestRetryRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	r := e.startRun(t, s.ID)
	path := fmt.Sprintf("/api/v1/runs/%d/retry", r.ID)

	w := e.do(t, "POST", path, "")
	if w.Code != http.StatusConflict || !strings.Contains(errorOf(t, w), "only failed or cancelled runs are retried") {
		t.Fatalf("retry of a pending run: %d %s", w.Code, w.Body.String())
	}
	if err := testStore.SetRunStatus(ctx, r.ID, scan.RunFailed, "agent lost"); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Second)
	var again runJSON
	e.mustDo(t, "POST", path, "", http.StatusAccepted, &again)
	if again.ID == r.ID || again.ScanID != s.ID || again.WorkflowID != workflows.ScanRunWorkflowID(s.ID, e.now) || again.Status != scan.RunPending {
		t.Errorf("retry made %+v", again.Run)
	}
	if n := len(e.temporal.starts); n != 2 || e.temporal.starts[1].opts.ID != again.WorkflowID {
		t.Fatalf("%d workflow starts", n)
	}
	old, err := testStore.GetRun(ctx, r.ID)
	if err != nil || old.Status != scan.RunFailed || old.Error != "agent lost" {
		t.Errorf("the failed run changed: %+v, %v", old, err)
	}
	if w := e.do(t, "POST", "/api/v1/runs/999999/retry", ""); w.Code != http.StatusNotFound {
		t.Errorf("retry of a missing run: %d", w.Code)
	}
}

// storeOutput gives run a shard whose scanner output is stored, as
// ParseResults records it.
func storeOutput(t *testing.T, f fixtures, runID int64) {
	t.Helper()
	ctx := context.Background()
	sh, err := testStore.CreateShard(ctx, runID, 0, f.agent.ID, []string{"198.18.0.0/28"})
	if err != nil {
		t.Fatal(err)
	}
	raw := scan.BlobRef{Bucket: "b", Key: scan.RawKey(runID, sh.ID, 1, scan.Nmap), Size: 1, SHA256: sha}
	if err := testStore.UpdateShard(ctx, scan.ShardUpdate{ID: sh.ID, Status: scan.ShardCompleted, Attempt: 1, Raw: &raw}); err != nil {
		t.Fatal(err)
	}
}

// TestReparseRun: completed and failed runs with stored scanner output are
// parsed again; runs in progress, cancelled runs and runs without output
// are refused with the reason.
func TestReparseRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	r := e.startRun(t, s.ID)
	path := fmt.Sprintf("/api/v1/runs/%d/reparse", r.ID)

	w := e.do(t, "POST", path, "")
	if w.Code != http.StatusConflict || !strings.Contains(errorOf(t, w), "only completed or failed runs") {
		t.Fatalf("reparse of a pending run: %d %s", w.Code, w.Body.String())
	}
	if _, err := testStore.CompleteRun(ctx, r.ID, scan.BlobRef{Bucket: "b", Key: "k", Size: 1, SHA256: sha}); err != nil {
		t.Fatal(err)
	}
	w = e.do(t, "POST", path, "")
	if w.Code != http.StatusConflict || !strings.Contains(errorOf(t, w), "no stored scanner output") {
		t.Fatalf("reparse of a run without output: %d %s", w.Code, w.Body.String())
	}
	storeOutput(t, f, r.ID)
	var got struct {
		RunID      int64  `json:"run_id"`
		WorkflowID string `json:"workflow_id"`
	}
	e.mustDo(t, "POST", path, "", http.StatusAccepted, &got)
	if got.RunID != r.ID || got.WorkflowID != workflows.ReparseWorkflowID(r.ID) {
		t.Errorf("answer %+v", got)
	}
	st := e.temporal.starts[len(e.temporal.starts)-1]
	if st.opts.ID != got.WorkflowID || st.opts.TaskQueue != workflows.ServerTaskQueue ||
		len(st.args) != 1 || st.args[0] != (workflows.ReparseInput{RunID: r.ID}) {
		t.Errorf("started %+v", st)
	}

	e.temporal.startErr = serviceerror.NewWorkflowExecutionAlreadyStarted("running", "", "")
	w = e.do(t, "POST", path, "")
	if w.Code != http.StatusConflict || !strings.Contains(errorOf(t, w), "already being parsed again") {
		t.Errorf("second reparse: %d %s", w.Code, w.Body.String())
	}
	e.temporal.startErr = errors.New("connection refused")
	if w := e.do(t, "POST", path, ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("Temporal down: %d", w.Code)
	}
	e.temporal.startErr = nil

	for _, status := range []scan.RunStatus{scan.RunFailed, scan.RunCancelled} {
		e.now = e.now.Add(time.Minute)
		r := e.startRun(t, s.ID)
		storeOutput(t, f, r.ID)
		if err := testStore.SetRunStatus(ctx, r.ID, status, "agent lost"); err != nil {
			t.Fatal(err)
		}
		w := e.do(t, "POST", fmt.Sprintf("/api/v1/runs/%d/reparse", r.ID), "")
		want := http.StatusAccepted
		if status == scan.RunCancelled {
			want = http.StatusConflict
		}
		if w.Code != want {
			t.Errorf("reparse of a %s run with output: %d %s, want %d", status, w.Code, w.Body.String(), want)
		}
	}
}
