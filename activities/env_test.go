package activities_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// TestScannerEnvironmentIsMinimal reads the environment of a running nmap
// started by RunScan while the agent's own environment holds Scantron
// settings and secrets: the scanner gets none of them, and its HOME and
// TMPDIR are the shard's private work directory.
func TestScannerEnvironmentIsMinimal(t *testing.T) {
	f := newFixture(t, "")
	const secret = "s3cr3t-value-that-must-not-leak"
	t.Setenv("SCANTRON_AGENT_CREDENTIAL", secret)
	t.Setenv("SCANTRON_TEMPORAL_API_KEY", secret)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("DATABASE_PASSWORD", secret)
	f.agent.WorkDir = t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: ctx})
	env.RegisterActivity(f.agent)
	marker := fmt.Sprintf("%d-%d", 41000+os.Getpid()%1000, 41199+os.Getpid()%1000)
	spec := f.dispatched(t, scan.Spec{RunID: 990010, ShardID: 990010, Scanner: scan.Nmap,
		Options: []string{"-n", "-Pn", "-sT", "--scan-delay", "1s", "-p", marker}, Targets: []string{"127.0.0.1"}})
	errc := make(chan error, 1)
	go func() {
		_, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: spec})
		errc <- err
	}()
	stop := sync.OnceValue(func() bool {
		cancel()
		select {
		case <-errc:
			return true
		case <-time.After(30 * time.Second):
			return false
		}
	})
	t.Cleanup(func() { stop() })

	var pid int
	deadline := time.Now().Add(30 * time.Second)
	for pid == 0 {
		out, _ := exec.Command("pgrep", "-f", "nmap.*"+marker).Output()
		if fields := strings.Fields(string(out)); len(fields) > 0 {
			pid, _ = strconv.Atoi(fields[0])
		}
		if pid == 0 && time.Now().After(deadline) {
			t.Fatal("nmap never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, kv := range bytes.Split(bytes.TrimRight(raw, "\x00"), []byte{0}) {
		k, v, _ := strings.Cut(string(kv), "=")
		vars[k] = v
		if strings.HasPrefix(k, "SCANTRON_") || strings.Contains(v, secret) {
			t.Errorf("the scanner's environment holds %s", kv)
		}
	}
	for k := range vars {
		switch k {
		case "PATH", "LANG", "HOME", "TMPDIR":
		default:
			t.Errorf("the scanner's environment has %s, want only PATH, LANG, HOME and TMPDIR", k)
		}
	}
	home := vars["HOME"]
	if home == "" || home != vars["TMPDIR"] || filepath.Dir(home) != f.agent.WorkDir || vars["PATH"] == "" || vars["LANG"] == "" {
		t.Fatalf("scanner environment %v: want HOME = TMPDIR = a work directory in %s", vars, f.agent.WorkDir)
	}
	if st, err := os.Stat(home); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("work directory %s: %v, %v; want private (0700)", home, st, err)
	}
	if !stop() {
		t.Fatal("RunScan did not return after cancel")
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("work directory %s left behind: %v", home, err)
	}
}
