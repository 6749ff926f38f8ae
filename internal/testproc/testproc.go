// Package testproc runs a program (the scantron binary) as a child process
// of a test: its output collected for the test to read, stopped by the
// test's Cleanup, and startable again after it was stopped or killed, as
// fault-injection tests need.
package testproc

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scantron/scantron/devstack"
)

// Process is one program with its arguments and environment; each Start
// runs a new incarnation of it.
type Process struct {
	t      testing.TB
	binary string
	args   []string
	env    []string
	logs   syncBuffer // every incarnation's output

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs binary with args, the test's environment plus env. The
// process dies with the test binary, is stopped with SIGTERM by the test's
// Cleanup, and its output is logged if the test failed.
func Start(t testing.TB, binary string, env []string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, binary: binary, args: args, env: env}
	p.Start()
	t.Cleanup(func() {
		p.Stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("%s %s output:\n%s", binary, strings.Join(args, " "), p.Logs())
		}
	})
	return p
}

// Start runs a new incarnation; the previous one must have ended.
func (p *Process) Start() {
	p.t.Helper()
	cmd := exec.Command(p.binary, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = &p.logs, &p.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(&p.logs, "=== start %s\n", strings.Join(p.args, " "))
	waited, err := devstack.StartCommand(cmd)
	if err != nil {
		p.t.Fatalf("start %s %v: %v", p.binary, p.args, err)
	}
	done := make(chan struct{})
	go func() { <-waited; close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
}

// Stop sends sig and waits for the incarnation to end (SIGKILL after 15 s).
// Stopping an ended one does nothing.
func (p *Process) Stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	select {
	case <-done:
		return
	default:
	}
	fmt.Fprintf(&p.logs, "=== signal %v\n", sig)
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Exited is closed when the current incarnation ends.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// WaitHTTP polls url until it answers 200 OK, failing the test when the
// current incarnation exits first or limit passes; a server's /readyz, say.
func (p *Process) WaitHTTP(url string, limit time.Duration) {
	p.t.Helper()
	exited := p.Exited()
	deadline := time.Now().Add(limit)
	last := "no answer"
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not answer 200 within %s (last: %s):\n%s", url, limit, last, p.Logs())
		}
		select {
		case <-exited:
			p.t.Fatalf("%s %s exited while waiting for %s:\n%s", p.binary, strings.Join(p.args, " "), url, p.Logs())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Logs is the output of every incarnation so far.
func (p *Process) Logs() string { return p.logs.String() }

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
