//go:build linux

package nmap

import (
	"github.com/scantron/scantron/scan/driver"

	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// fakeRun runs testdata/fake_nmap.sh in mode through sh (so that the file
// needs no execute bit) and returns its error, its progress and the PID of
// its process group.
type fakeResult struct {
	err      error
	progress []Progress
	stdout   string
	pgid     int
	xmlPath  string
	start    time.Time
	elapsed  time.Duration
}

func fakeRun(t *testing.T, ctx context.Context, mode string, grace time.Duration, onProgress func(Progress)) fakeResult {
	t.Helper()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	xmlPath := filepath.Join(dir, "out.xml")
	args, err := SpecArgs(testSpec([]string{"-sV"}, "198.18.0.0/30"), xmlPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		res fakeResult
		out bytes.Buffer
	)
	start := time.Now()
	res.start = start
	res.err = Run(ctx, RunOptions{
		Binary: "sh",
		Args:   append([]string{filepath.Join("testdata", "fake_nmap.sh")}, args...),
		Env: append(os.Environ(), "FAKE_NMAP_MODE="+mode, "FAKE_NMAP_PIDFILE="+pidFile,
			"FAKE_NMAP_FIXTURE="+filepath.Join("..", "report", "testdata", "nmap_sv.xml")),
		Stdout: &out,
		Grace:  grace,
		OnProgress: func(p Progress) {
			mu.Lock()
			res.progress = append(res.progress, p)
			mu.Unlock()
			if onProgress != nil {
				onProgress(p)
			}
		},
	})
	res.elapsed = time.Since(start)
	res.stdout = out.String()
	res.xmlPath = xmlPath
	if b, err := os.ReadFile(pidFile); err == nil {
		res.pgid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return res
}

func testSpec(options []string, targets ...string) scan.Spec {
	return scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Nmap, Options: options, Targets: targets}
}

// groupMembers lists the live (not zombie) processes in process group pgid.
func groupMembers(t *testing.T, pgid int) []string {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(fields) < 3 || fields[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(fields[2]); g == pgid {
			out = append(out, f+": "+s)
		}
	}
	return out
}

// assertGroupGone waits for SIGKILL to land (generously: a busy machine
// may take its time), then fails if anything of the group is alive.
func assertGroupGone(t *testing.T, pgid int) {
	t.Helper()
	if pgid <= 0 {
		t.Fatal("the fake scanner wrote no PID")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := groupMembers(t, pgid)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d outlived Run: %q", pgid, left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunFakeSuccess(t *testing.T) {
	res := fakeRun(t, t.Context(), "ok", 0, nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.progress) != 3 {
		t.Fatalf("progress = %+v, want 3 reports", res.progress)
	}
	p := res.progress[1]
	// The ETC is "3 s remaining" from when the line was read, which was
	// during the run, however long the run took.
	if p.Task != "SYN Stealth Scan" || p.Percent != 42.86 || p.Elapsed != time.Second || p.HostsUp != 1 ||
		p.ETC.Before(res.start.Add(2*time.Second)) || p.ETC.After(res.start.Add(res.elapsed+3*time.Second)) {
		t.Errorf("progress[1] = %+v", p)
	}
	if last := res.progress[2]; last.Task != "Service scan" || last.Percent != 100 || last.HostsCompleted != 3 {
		t.Errorf("progress[2] = %+v", last)
	}
	if !strings.Contains(res.stdout, "Starting Nmap") || !strings.Contains(res.stdout, "Nmap done") {
		t.Errorf("stdout copy = %q", res.stdout)
	}
	f, err := os.Open(res.xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	if _, err := report.Parse(f, func(report.Host) error { n++; return nil }); err != nil || n != 3 {
		t.Errorf("the XML written to the -oX path parses to %d hosts, %v", n, err)
	}
	assertGroupGone(t, res.pgid)
}

func TestRunFakeFailure(t *testing.T) {
	res := fakeRun(t, t.Context(), "fail", 0, nil)
	if !errors.Is(res.err, driver.ErrScannerFailed) {
		t.Fatalf("err = %v, want ErrScannerFailed", res.err)
	}
	msg := res.err.Error()
	for _, want := range []string{"exited with status 3", "dnet: Failed to open device lo0\nQUITTING!", "warning line 199"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "warning line 1:") || len(msg) > 4096+200 {
		t.Errorf("error holds more than the tail of stderr (%d bytes)", len(msg))
	}
	if len(res.progress) != 2 {
		t.Errorf("progress before the failure = %+v", res.progress)
	}
}

func TestRunFakeCancel(t *testing.T) {
	tests := []struct {
		mode        string
		grace       time.Duration
		min, max    time.Duration // time from the cancel to Run's return
		description string
	}{
		// The fake's children sleep 1000 s, so any bound well under that
		// shows they were killed; it is generous for a busy machine.
		{"hang", 300 * time.Millisecond, 300 * time.Millisecond, 60 * time.Second, "ignores SIGTERM: SIGKILL after the grace period"},
		{"orphan", 10 * time.Second, 0, 2*time.Second + 60*time.Second, "exits on SIGTERM, leaves a child that holds stdout: killed with the group"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var cancelled time.Time
			var once sync.Once
			res := fakeRun(t, ctx, tt.mode, tt.grace, func(p Progress) {
				if p.Percent > 0 {
					once.Do(func() { cancelled = time.Now(); cancel() })
				}
			})
			if !errors.Is(res.err, context.Canceled) || errors.Is(res.err, driver.ErrScannerFailed) {
				t.Fatalf("err = %v, want context.Canceled", res.err)
			}
			if d := time.Since(cancelled); d < tt.min || d > tt.max {
				t.Errorf("Run returned %v after the cancel, want within [%v, %v]", d, tt.min, tt.max)
			}
			assertGroupGone(t, res.pgid)
		})
	}
}

func TestRunDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	res := fakeRun(t, ctx, "hang", 100*time.Millisecond, nil)
	if !errors.Is(res.err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", res.err)
	}
	assertGroupGone(t, res.pgid)
}

func TestRunNotFound(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "nmap")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{"scantron-no-such-scanner", filepath.Join(t.TempDir(), "missing", "nmap"), notExec} {
		t.Run(filepath.Base(filepath.Dir(bin))+"/"+filepath.Base(bin), func(t *testing.T) {
			err := Run(t.Context(), RunOptions{Binary: bin})
			if !errors.Is(err, driver.ErrScannerNotFound) {
				t.Errorf("err = %v, want ErrScannerNotFound", err)
			}
		})
	}
}

func TestRunContextAlreadyDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Run(ctx, RunOptions{Binary: "sh", Args: []string{"-c", "echo started > " + filepath.Join(t.TempDir(), "x")}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// Stderr gets a copy of standard error, as the failure's tail still does.
func TestRunCopiesStderr(t *testing.T) {
	var errOut bytes.Buffer
	err := Run(context.Background(), RunOptions{
		Binary: "sh",
		Args:   []string{"-c", `printf 'rate: 1%% done\rrate: 2%% done\r' >&2; echo boom >&2; exit 3`},
		Stderr: &errOut,
	})
	if want := "rate: 1% done\rrate: 2% done\rboom\n"; errOut.String() != want {
		t.Errorf("Stderr got %q, want %q", errOut.String(), want)
	}
	if !errors.Is(err, driver.ErrScannerFailed) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Run = %v, want a failure naming boom", err)
	}
}
