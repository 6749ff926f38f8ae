package activities_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// countingListener answers TCP connections on addr and counts them.
func countingListener(t *testing.T, addr string) (int, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, &n
}

// portStates is what a scan found: address -> "tcp/port state" lines.
func portStates(t *testing.T, ref scan.BlobRef) (map[string][]string, report.RunInfo) {
	t.Helper()
	body, err := objs.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	out := map[string][]string{}
	info, err := report.Parse(body, func(h report.Host) error {
		if _, dup := out[h.IP()]; dup {
			return fmt.Errorf("host %s twice", h.IP())
		}
		out[h.IP()] = []string{}
		for _, p := range h.Ports {
			out[h.IP()] = append(out[h.IP()], fmt.Sprintf("%s/%d %s", p.Protocol, p.Number, p.State))
		}
		return nil
	})
	if err != nil && !errors.Is(err, report.ErrTruncated) {
		t.Fatalf("output %s: %v", ref.Key, err)
	}
	return out, info
}

// TestRunScanResumes kills an nmap scan of four loopback hosts part way,
// as a lost agent would be, and runs the shard's retry with the last
// heartbeat the first attempt sent: the retry does not touch the hosts the
// first attempt finished (their listeners see no new connection), and its
// output has every host once, as an undisturbed scan finds them.
func TestRunScanResumes(t *testing.T) {
	signer, verifier := newKeys(t)
	addrs := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}
	counts := map[string]*atomic.Int64{}
	var ports []string
	for _, a := range addrs {
		p, n := countingListener(t, a)
		counts[a] = n
		ports = append(ports, fmt.Sprint(p))
	}
	// One host at a time, each taking seconds: the first attempt is
	// stopped with some hosts finished and some not.
	options := []string{"-n", "-Pn", "-sT", "--max-hostgroup", "1", "--scan-delay", "300ms", "-p", strings.Join(ports, ",")}
	base := func(id int64) scan.Spec {
		return scan.Spec{RunID: id, ShardID: id, Scanner: scan.Nmap, Options: options, Targets: []string{"127.0.0.1-127.0.0.4"}}
	}
	spec := func(id int64) scan.Spec { return dispatchSpec(t, signer, base(id), 1, nil) }
	agent := &activities.Agent{Name: "a1", HeartbeatEvery: 100 * time.Millisecond,
		PartialEvery: 200 * time.Millisecond, Verifier: verifier}

	// env runs one attempt; every heartbeat's progress goes to beats.
	env := func(ctx context.Context, beats chan<- scan.Progress) *testsuite.TestActivityEnvironment {
		var s testsuite.WorkflowTestSuite
		e := s.NewTestActivityEnvironment()
		e.SetWorkerOptions(worker.Options{BackgroundActivityContext: ctx, Interceptors: []interceptor.WorkerInterceptor{&beatSpy{beats: beats}}})
		e.RegisterActivity(agent)
		return e
	}

	// An undisturbed scan, for comparison.
	undisturbed, err := execute[activities.RunScanResult](t, env(context.Background(), make(chan scan.Progress, 1000)), agent.RunScan, activities.RunScanInput{Spec: spec(990020)})
	if err != nil {
		t.Fatalf("undisturbed scan: %v", err)
	}
	want, _ := portStates(t, undisturbed.Raw)
	if len(want) != len(addrs) {
		t.Fatalf("undisturbed scan found %v", want)
	}

	// The first attempt, stopped once two hosts are saved.
	first := spec(990021)
	last := interruptAttempt(t, func(ctx context.Context, beats chan scan.Progress) error {
		_, err := execute[activities.RunScanResult](t, env(ctx, beats), agent.RunScan, activities.RunScanInput{Spec: first})
		return err
	}, func(p scan.Progress) bool { return p.HostsDone >= 2 }, "two saved hosts")
	if last.Partial == nil || last.Partial.Key != scan.PartialKey(first.RunID, first.ShardID, 1) {
		t.Fatalf("last heartbeat %+v names no saved hosts", last)
	}
	saved, info := portStates(t, *last.Partial)
	if len(saved) != last.HostsDone || len(saved) >= len(addrs) || !info.Complete {
		t.Fatalf("saved hosts %v (heartbeat says %d, complete %v)", saved, last.HostsDone, info.Complete)
	}
	before := map[string]int64{}
	for _, a := range addrs {
		before[a] = counts[a].Load()
	}

	// The retry.
	retryBeats := make(chan scan.Progress, 1000)
	retryEnv := env(context.Background(), retryBeats)
	// The workflow dispatches the retry with the last attempt's progress
	// and a read of the state it names.
	got, err := execute[activities.RunScanResult](t, retryEnv, agent.RunScan,
		activities.RunScanInput{Spec: dispatchSpec(t, signer, base(990021), 2, &last), Resume: &last})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if p := <-retryBeats; p.Partial == nil || *p.Partial != *last.Partial || p.HostsDone != len(saved) {
		t.Errorf("the retry's first heartbeat %+v does not carry the saved hosts on", p)
	}
	for _, a := range addrs {
		fresh := counts[a].Load() - before[a]
		if _, done := saved[a]; done && fresh != 0 {
			t.Errorf("the retry connected to finished host %s %d times", a, fresh)
		} else if !done && fresh == 0 {
			t.Errorf("the retry did not scan unfinished host %s", a)
		}
	}
	whole, info := portStates(t, got.Raw)
	if !info.Complete || info.Exit != "success" || info.HostsUp != len(addrs) {
		t.Errorf("retry's output: %+v", info)
	}
	for _, a := range addrs {
		if !slices.Equal(whole[a], want[a]) {
			t.Errorf("host %s: retry's output has %v, an undisturbed scan %v", a, whole[a], want[a])
		}
	}
	if len(whole) != len(want) {
		t.Errorf("retry's output has hosts %v, want %v", whole, want)
	}

	// Saved hosts that do not match their checksum are not trusted: the
	// retry scans the whole shard, and still succeeds.
	bad := last
	ref := *last.Partial
	ref.SHA256 = strings.Repeat("0", 64)
	bad.Partial = &ref
	for _, a := range addrs {
		before[a] = counts[a].Load()
	}
	badEnv := env(context.Background(), make(chan scan.Progress, 1000))
	got, err = execute[activities.RunScanResult](t, badEnv, agent.RunScan,
		activities.RunScanInput{Spec: dispatchSpec(t, signer, base(990021), 3, &bad), Resume: &bad})
	if err != nil {
		t.Fatalf("retry from unusable saved hosts: %v", err)
	}
	for _, a := range addrs {
		if counts[a].Load() == before[a] {
			t.Errorf("the retry from unusable saved hosts skipped %s", a)
		}
	}
	if again, _ := portStates(t, got.Raw); len(again) != len(want) {
		t.Errorf("retry from unusable saved hosts found %v", again)
	}
}

// beatSpy hands the test every progress an activity records in a
// heartbeat; the test environment's own listener sees only some.
type beatSpy struct {
	interceptor.WorkerInterceptorBase
	beats chan<- scan.Progress
}

func (s *beatSpy) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	in := &beatSpyIn{beats: s.beats}
	in.Next = next
	return in
}

type beatSpyIn struct {
	interceptor.ActivityInboundInterceptorBase
	beats chan<- scan.Progress
}

func (i *beatSpyIn) Init(out interceptor.ActivityOutboundInterceptor) error {
	o := &beatSpyOut{beats: i.beats}
	o.Next = out
	return i.Next.Init(o)
}

type beatSpyOut struct {
	interceptor.ActivityOutboundInterceptorBase
	beats chan<- scan.Progress
}

func (o *beatSpyOut) RecordHeartbeat(ctx context.Context, details ...any) {
	if len(details) == 1 {
		if p, ok := details[0].(scan.Progress); ok {
			select {
			case o.beats <- p:
			default:
			}
		}
	}
	o.Next.RecordHeartbeat(ctx, details...)
}

// interruptAttempt runs a scan attempt until one of its heartbeats satisfies
// enough, then cancels it as a lost agent would be lost, and returns the last
// heartbeat that reached the server: what the retry is given.
func interruptAttempt(t *testing.T, run func(context.Context, chan scan.Progress) error, enough func(scan.Progress) bool, what string) scan.Progress {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	beats := make(chan scan.Progress, 5000)
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, beats) }()
	var last scan.Progress
	deadline := time.After(3 * time.Minute)
wait:
	for {
		select {
		case p := <-beats:
			last = p
			if enough(p) {
				break wait
			}
		case err := <-errc:
			t.Fatalf("the first attempt ended before its heartbeat carried %s: %v", what, err)
		case <-deadline:
			t.Fatalf("no heartbeat carried %s", what)
		}
	}
	cancel()
	select {
	case err := <-errc:
		var canceled *temporal.CanceledError
		if err != nil && !errors.As(err, &canceled) && !errors.Is(err, context.Canceled) {
			t.Fatalf("stopped attempt: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first attempt did not stop")
	}
	for len(beats) > 0 {
		last = <-beats
	}
	return last
}
