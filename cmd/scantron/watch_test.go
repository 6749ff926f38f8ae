package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/web"
)

// noProgress is a Temporal that knows no workflow: runs' progress is not
// what these tests follow.
type noProgress struct{ web.WorkflowClient }

func (noProgress) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return nil, errors.New("no Temporal in this test")
}

// watchStack is a real server over a real database, a viewer's token, and
// a way to make pending runs.
func watchStack(t testing.TB) (base, token string, st *postgres.Store, newRun func() scan.Run) {
	t.Helper()
	ctx := context.Background()
	st = migratedStore(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	prof, err := st.CreateProfile(ctx, scan.Profile{Name: "tcp", Scanner: scan.Nmap, Options: "-sT -p 22"})
	must(err)
	agent, err := st.CreateAgent(ctx, scan.Agent{Name: "edge-1", TaskQueue: "agent.edge-1"})
	must(err)
	site, err := st.CreateSite(ctx, scan.Site{Name: "lab", Targets: []string{"198.18.0.0/28"}})
	must(err)
	sc, err := st.CreateScan(ctx, scan.Scan{Name: "lab", SiteID: site.ID, ProfileID: prof.ID, AgentID: agent.ID, Enabled: true})
	must(err)
	base, token = serveForViewer(t, st, noProgress{})
	n := 0
	newRun = func() scan.Run {
		n++
		r, err := st.CreateRun(ctx, sc.ID, fmt.Sprintf("wf-watch-%d", n))
		must(err)
		return r
	}
	return base, token, st, newRun
}

// migratedStore is a store over a new, migrated database.
func migratedStore(t testing.TB) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, startPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// serveForViewer serves the web server over st (with tc for Temporal, and
// neither schedules nor objects) and makes a viewer with an API token.
func serveForViewer(t testing.TB, st *postgres.Store, tc web.WorkflowClient) (base, token string) {
	t.Helper()
	srv, err := web.New(web.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		web.Deps{Store: st, Objects: noObjects{}, Temporal: tc, Schedules: noSchedules{}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)
	t.Cleanup(srv.CloseStreams)
	ctx := context.Background()
	u, err := st.CreateUser(ctx, accounts.User{Name: "viewer", Role: accounts.Viewer, PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	token = accounts.NewToken()
	if _, err := st.CreateToken(ctx, u.ID, "test", token[:8], accounts.HashSecret(token), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return hs.URL, token
}

// signalWriter is a stderr that says when anything was first written to
// it: the watch has read the run's state, so its stream listens.
type signalWriter struct {
	mu      sync.Mutex
	b       bytes.Buffer
	once    sync.Once
	written chan struct{}
}

func newSignalWriter() *signalWriter { return &signalWriter{written: make(chan struct{})} }

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.written) })
	return w.b.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestRunWatchReturnsWhenTheRunEnds: `scantron run watch` follows a run's
// status changes and returns once the run ends: 0 when it completed, an
// error with the run's error when it failed. A completed run's watch
// returns once the run's diff is recorded (as the workflow does right
// after completing it), so that a script can ask for the diff next.
func TestRunWatchReturnsWhenTheRunEnds(t *testing.T) {
	base, token, st, newRun := watchStack(t)
	vars := map[string]string{"SCANTRON_URL": base, "SCANTRON_TOKEN": token, "HOME": t.TempDir()}
	ctx := context.Background()
	for _, c := range []struct {
		end      scan.RunStatus
		errMsg   string
		wantCode int
		wantOut  string
	}{
		{scan.RunCompleted, "", 0, "completed: 0 hosts up, 0 open ports"},
		{scan.RunFailed, "the agent went away", 1, "run %d failed: the agent went away"},
	} {
		t.Run(string(c.end), func(t *testing.T) {
			r := newRun()
			stderr := newSignalWriter()
			var stdout bytes.Buffer
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"run", "watch", fmt.Sprint(r.ID)}, env(vars), strings.NewReader(""), &stdout, stderr)
			}()
			select {
			case <-stderr.written:
			case <-time.After(30 * time.Second):
				t.Fatal("the watch showed nothing within 30s")
			}
			for _, s := range []scan.RunStatus{scan.RunRunning, scan.RunParsing} {
				if err := st.SetRunStatus(ctx, r.ID, s, ""); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.SetRunStatus(ctx, r.ID, c.end, c.errMsg); err != nil {
				t.Fatal(err)
			}
			if c.end == scan.RunCompleted {
				select {
				case code := <-done:
					t.Fatalf("the watch returned (exit %d) before the completed run's diff was recorded", code)
				case <-time.After(time.Second):
				}
				if _, err := st.SaveDiff(ctx, scan.Diff{DiffSummary: scan.DiffSummary{RunID: r.ID, ScanID: r.ScanID}}); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case code := <-done:
				all := stdout.String() + stderr.String()
				if code != c.wantCode || !strings.Contains(all, strings.ReplaceAll(c.wantOut, "%d", fmt.Sprint(r.ID))) {
					t.Errorf("exit %d, want %d; output:\n%s", code, c.wantCode, all)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("the watch did not return after the run ended; stderr:\n%s", stderr.String())
			}
		})
	}
	// A run that does not exist is an error at once, not a wait.
	var out bytes.Buffer
	if code := run(ctx, []string{"run", "watch", "999999"}, env(vars), strings.NewReader(""), &out, &out); code == 0 || !strings.Contains(out.String(), "not found") {
		t.Errorf("watching a missing run: exit %d, output %q", code, out.String())
	}
}

// BenchmarkRunWatchSeesTheEnd measures how long `scantron run watch` takes
// to return after a run's end is recorded: from the status update (sent
// to PostgreSQL) to watchRun's return, over a real server and database.
// It reports the median and the 95th percentile.
func BenchmarkRunWatchSeesTheEnd(b *testing.B) {
	base, token, st, newRun := watchStack(b)
	api := newAPIClient(credentials{URL: base, Token: token})
	ctx := context.Background()
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		r := newRun()
		stderr := newSignalWriter()
		done := make(chan time.Time, 1)
		go func() {
			if err := watchRun(ctx, api, r.ID, false, io.Discard, stderr); err != nil {
				b.Error(err)
			}
			done <- time.Now()
		}()
		<-stderr.written
		// The diff first, as if recorded at once: the watch then returns
		// on the completed status itself.
		if _, err := st.SaveDiff(ctx, scan.Diff{DiffSummary: scan.DiffSummary{RunID: r.ID, ScanID: r.ScanID}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if err := st.SetRunStatus(ctx, r.ID, scan.RunCompleted, ""); err != nil {
			b.Fatal(err)
		}
		took = append(took, (<-done).Sub(t0))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-p50-record-to-seen")
	b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "ms-p95-record-to-seen")
}
