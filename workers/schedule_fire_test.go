package workers

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/internal/targethost"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/signing"
	"github.com/scantron/scantron/schedules"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// fireHarness is the whole scheduled path in one process: PostgreSQL, S3
// and a Temporal dev server; the server worker and an agent worker running
// real nmap (through a wrapper that notes the instant it was exec'd) against
// a loopback listener; and a scan whose Temporal Schedule fires every
// `every` seconds, created from PostgreSQL as the server does.
type fireHarness struct {
	store  *postgres.Store
	tc     client.Client
	scanID int64
	execs  string // the wrapper's log: "<unix ns> <nmap args>" per exec
}

func startFireHarness(tb testing.TB, ctx context.Context, every int) *fireHarness {
	tb.Helper()
	nmapPath, err := exec.LookPath("nmap")
	if err != nil {
		tb.Skip("nmap is not installed")
	}
	_, store, objs, tc := startStack(tb, ctx)

	port := targethost.Loopback(tb, nil)

	dir := tb.TempDir()
	h := &fireHarness{store: store, tc: tc, execs: filepath.Join(dir, "execs.log")}
	wrapper := filepath.Join(dir, "nmap")
	script := fmt.Sprintf("#!/bin/sh\necho \"$(date +%%s%%N) $*\" >> %s\nexec %s \"$@\"\n", h.execs, nmapPath)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		tb.Fatal(err)
	}

	key, err := signing.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := signing.NewSigner(key)
	if err != nil {
		tb.Fatal(err)
	}
	verifier, err := signing.NewVerifier(signer.PublicKey())
	if err != nil {
		tb.Fatal(err)
	}

	wctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	tb.Cleanup(func() { cancel(); <-done; <-done })
	go func() {
		defer func() { done <- struct{}{} }()
		results := &activities.Results{Store: store, Objects: objs, AgentObjects: objs, Signer: signer, Timeouts: activities.Timeouts{
			ScheduleToStart: time.Minute, StartToClose: time.Minute, Heartbeat: 30 * time.Second}}
		if err := RunServer(wctx, tc, results, &activities.Changes{Store: store}, &activities.Notifier{Store: store}); err != nil && wctx.Err() == nil {
			tb.Error(err)
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		agent := &activities.Agent{Name: "bench", Binaries: map[scan.Scanner]string{scan.Nmap: wrapper}, WorkDir: dir, Verifier: verifier}
		if err := RunAgent(wctx, tc, agent, AgentOptions{Capacity: 1}); err != nil && wctx.Err() == nil {
			tb.Error(err)
		}
	}()

	site, err := store.CreateSite(ctx, scan.Site{Name: "loopback", Targets: []string{"127.0.0.1"}})
	if err != nil {
		tb.Fatal(err)
	}
	prof, err := store.CreateProfile(ctx, scan.Profile{Name: "connect", Scanner: scan.Nmap, Options: fmt.Sprintf("-n -Pn -sT -p %d", port)})
	if err != nil {
		tb.Fatal(err)
	}
	agent, err := store.CreateAgent(ctx, scan.Agent{Name: "bench", TaskQueue: workflows.AgentTaskQueue("bench")})
	if err != nil {
		tb.Fatal(err)
	}
	var secs []string
	for s := 0; s < 60; s += every {
		secs = append(secs, strconv.Itoa(s))
	}
	start := time.Now().UTC().Truncate(time.Minute)
	sc, err := store.CreateScan(ctx, scan.Scan{Name: "fires", SiteID: site.ID, ProfileID: prof.ID, AgentID: agent.ID,
		StartAt: &start, TimeZone: "UTC", RRule: "FREQ=MINUTELY;BYSECOND=" + strings.Join(secs, ","), Enabled: true})
	if err != nil {
		tb.Fatal(err)
	}
	h.scanID = sc.ID
	if _, err := schedules.Sync(ctx, tc.ScheduleClient(), sc, schedules.Defaults{CatchupWindow: time.Minute}, time.Now()); err != nil {
		tb.Fatal(err)
	}
	return h
}

var runDirRE = regexp.MustCompile(`scantron-run(\d+)-shard`)

// fire is one schedule fire that reached the scanner.
type fire struct {
	runID    int64
	workflow string
	fireTime time.Time // the schedule's nominal time, from the workflow ID
	execTime time.Time // when the scanner process was exec'd
}

// waitFires waits until n scanners were started by the schedule.
func (h *fireHarness) waitFires(tb testing.TB, ctx context.Context, n int) []fire {
	tb.Helper()
	prefix := workflows.ScanScheduledWorkflowID(h.scanID) + "-"
	for {
		var out []fire
		if f, err := os.Open(h.execs); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				ns, args, _ := strings.Cut(sc.Text(), " ")
				m := runDirRE.FindStringSubmatch(args)
				t, err := strconv.ParseInt(ns, 10, 64)
				if m == nil || err != nil {
					continue
				}
				runID, _ := strconv.ParseInt(m[1], 10, 64)
				run, err := h.store.GetRun(ctx, runID)
				if err != nil {
					tb.Fatal(err)
				}
				stamp, ok := strings.CutPrefix(run.WorkflowID, prefix)
				if !ok {
					tb.Fatalf("run %d has workflow ID %q, not one of the schedule's", runID, run.WorkflowID)
				}
				ft, err := time.Parse(time.RFC3339, stamp)
				if err != nil {
					tb.Fatalf("workflow ID %q: %v", run.WorkflowID, err)
				}
				out = append(out, fire{runID: runID, workflow: run.WorkflowID, fireTime: ft, execTime: time.Unix(0, t)})
			}
			f.Close()
		}
		if len(out) >= n {
			return out[:n]
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("only %d of %d fires reached the scanner", len(out), n)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestScheduledRunsEndToEnd: runs started by a schedule (workflow IDs that
// Temporal suffixes with the fire time) get their run rows, run real nmap
// on the agent and complete, just like runs started by hand.
func TestScheduledRunsEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h := startFireHarness(t, ctx, 5)
	fires := h.waitFires(t, ctx, 2)
	for _, f := range fires {
		var run scan.Run
		for {
			var err error
			if run, err = h.store.GetRun(ctx, f.runID); err != nil {
				t.Fatal(err)
			}
			if run.Status.Final() || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if run.Status != scan.RunCompleted || run.HostsUp != 1 || run.OpenPorts != 1 || run.CSV == nil {
			t.Errorf("scheduled run %+v did not complete with the loopback listener found", run)
		}
		if f.fireTime.Second()%5 != 0 || f.execTime.Before(f.fireTime) {
			t.Errorf("fire %s at %v, scanner at %v", f.workflow, f.fireTime, f.execTime)
		}
	}
}

// BenchmarkScheduleFireToScanner measures, over 30 fires of a real
// schedule, the time from the schedule's fire time to the exec of nmap on
// the agent, and prints it beside the old Scantron's model (a 60 s
// scheduler cron and a 60 s agent poll: 0 to 120 s, 60 s on average).
// One iteration is the whole measurement.
func BenchmarkScheduleFireToScanner(b *testing.B) {
	const fires = 30
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h := startFireHarness(b, ctx, 3)
	b.ResetTimer()
	got := h.waitFires(b, ctx, fires)
	b.StopTimer()
	lat := make([]time.Duration, 0, len(got))
	for _, f := range got {
		lat = append(lat, f.execTime.Sub(f.fireTime))
	}
	slices.Sort(lat)
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
	fmt.Printf("schedule fire -> scanner exec over %d fires: p50 %v, p99 %v, min %v, max %v\n",
		len(lat), p50.Round(time.Millisecond), p99.Round(time.Millisecond), lat[0].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	// Two independent phases, each uniform over 60 s, add up to a
	// triangular distribution on [0, 120 s]: median 60 s, and p99 where
	// (120-x)^2 / (2*60^2) = 0.01, x = 120 - 60*sqrt(0.02) = 111.5 s.
	fmt.Printf("old Scantron (60 s scheduler cron + 60 s agent poll): 0 to 120 s, p50 60 s, p99 111.5 s\n")
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
