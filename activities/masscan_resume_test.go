package activities_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/internal/targethost"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// openPorts is every open port of a masscan output, "addr tcp/port",
// sorted, each once; it fails the test if a port appears twice.
func openPorts(t *testing.T, ref scan.BlobRef) []string {
	t.Helper()
	body, err := objs.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	var out []string
	_, err = report.Parse(body, func(h report.Host) error {
		for _, p := range h.Ports {
			if p.State != "open" {
				continue
			}
			s := fmt.Sprintf("%s %s/%d", h.IP(), p.Protocol, p.Number)
			if slices.Contains(out, s) {
				return fmt.Errorf("port %s twice", s)
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("output %s: %v", ref.Key, err)
	}
	slices.Sort(out)
	return out
}

// TestRunScanResumesMasscan stops a masscan scan of a namespace host part
// way, as a lost agent would be, and runs the shard's retry with the last
// heartbeat the first attempt sent: the retry runs masscan with the same
// seed from the saved index, and its output has the open ports an
// undisturbed scan finds, each once.
func TestRunScanResumesMasscan(t *testing.T) {
	if _, err := exec.LookPath("masscan"); err != nil {
		t.Skip("masscan is not installed")
	}
	host := targethost.New(t, targethost.Options{Name: "mres", Net: 19, Index: 3})
	if host.Namespace == "" {
		t.Skip("masscan cannot scan loopback, and no namespace host could be made")
	}
	signer, verifier := newKeys(t)
	// masscan, recording its arguments.
	dir := t.TempDir()
	argLog := filepath.Join(dir, "args")
	wrapper := filepath.Join(dir, "masscan")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\necho \"$@\" >> "+argLog+"\nexec masscan \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// 6101 probes at 400 a second: about 15 s.
	options := []string{"-p2000-8100", "--wait=1"}
	base := func(id int64) scan.Spec {
		return scan.Spec{RunID: id, ShardID: id, Scanner: scan.Masscan, Options: options, Targets: []string{host.Addr}, Rate: 400}
	}
	spec := func(id int64) scan.Spec { return dispatchSpec(t, signer, base(id), 1, nil) }
	agent := &activities.Agent{Name: "a1", Binaries: map[scan.Scanner]string{scan.Masscan: wrapper}, HeartbeatEvery: 100 * time.Millisecond,
		PartialEvery: 300 * time.Millisecond, Verifier: verifier,
		Adapter: host.HostIf, AdapterIP: host.HostIP, RouterMAC: host.MAC}
	env := func(ctx context.Context, beats chan<- scan.Progress) *testsuite.TestActivityEnvironment {
		var s testsuite.WorkflowTestSuite
		e := s.NewTestActivityEnvironment()
		e.SetWorkerOptions(worker.Options{BackgroundActivityContext: ctx, Interceptors: []interceptor.WorkerInterceptor{&beatSpy{beats: beats}}})
		e.RegisterActivity(agent)
		return e
	}
	lastArgs := func() []string {
		b, err := os.ReadFile(argLog)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return strings.Fields(lines[len(lines)-1])
	}
	argValue := func(args []string, name string) string {
		if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
			return args[i+1]
		}
		return ""
	}

	undisturbed, err := execute[activities.RunScanResult](t, env(context.Background(), make(chan scan.Progress, 1000)), agent.RunScan, activities.RunScanInput{Spec: spec(990030)})
	if err != nil {
		t.Fatalf("undisturbed scan: %v", err)
	}
	want := openPorts(t, undisturbed.Raw)
	if len(want) < 3 {
		t.Fatalf("undisturbed scan found %v; the host has 3 open ports in range", want)
	}

	// The first attempt, stopped once its heartbeat carries an index well
	// into the scan.
	first := spec(990031)
	last := interruptAttempt(t, func(ctx context.Context, beats chan scan.Progress) error {
		_, err := execute[activities.RunScanResult](t, env(ctx, beats), agent.RunScan, activities.RunScanInput{Spec: first})
		return err
	}, func(p scan.Progress) bool { return p.MasscanIndex >= 2500 }, "a resume index")
	firstArgs := lastArgs()
	seed := argValue(firstArgs, "--seed")
	if seed == "" || seed != fmt.Sprint(last.MasscanSeed) || slices.Contains(firstArgs, "--resume-index") {
		t.Fatalf("first attempt ran masscan %q; heartbeat seed %d", firstArgs, last.MasscanSeed)
	}
	if last.Partial == nil || last.Partial.Key != scan.PartialKey(first.RunID, first.ShardID, 1) || last.MasscanIndex >= 6101 {
		t.Fatalf("last heartbeat %+v", last)
	}
	t.Logf("stopped at index %d of 6101 with %d ports saved", last.MasscanIndex, len(openPorts(t, *last.Partial)))

	// The retry.
	retryBeats := make(chan scan.Progress, 5000)
	retryEnv := env(context.Background(), retryBeats)
	// A Temporal retry of the same activity reads the last heartbeat.
	retryEnv.SetHeartbeatDetails(last)
	got, err := execute[activities.RunScanResult](t, retryEnv, agent.RunScan, activities.RunScanInput{Spec: dispatchSpec(t, signer, base(990031), 2, &last)})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	retryArgs := lastArgs()
	if argValue(retryArgs, "--seed") != seed || argValue(retryArgs, "--resume-index") != fmt.Sprint(last.MasscanIndex) {
		t.Errorf("retry ran masscan %q; want --seed %s --resume-index %d", retryArgs, seed, last.MasscanIndex)
	}
	if p := <-retryBeats; p.MasscanIndex != last.MasscanIndex || p.MasscanSeed != last.MasscanSeed || p.Partial == nil || *p.Partial != *last.Partial {
		t.Errorf("the retry's first heartbeat %+v does not carry the saved progress on", p)
	}
	if whole := openPorts(t, got.Raw); !slices.Equal(whole, want) {
		t.Errorf("retry's output has open ports %v, an undisturbed scan %v", whole, want)
	}

	// A saved state for another seed is not trusted: the retry scans the
	// whole shard, and still succeeds.
	bad := last
	bad.MasscanSeed++
	badEnv := env(context.Background(), make(chan scan.Progress, 5000))
	badEnv.SetHeartbeatDetails(bad)
	got, err = execute[activities.RunScanResult](t, badEnv, agent.RunScan, activities.RunScanInput{Spec: dispatchSpec(t, signer, base(990031), 3, &bad)})
	if err != nil {
		t.Fatalf("retry from an unusable state: %v", err)
	}
	if args := lastArgs(); slices.Contains(args, "--resume-index") || argValue(args, "--seed") != seed {
		t.Errorf("retry from an unusable state ran masscan %q", args)
	}
	if again := openPorts(t, got.Raw); !slices.Equal(again, want) {
		t.Errorf("retry from an unusable state found %v, want %v", again, want)
	}
}
