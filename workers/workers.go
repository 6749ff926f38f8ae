// Package workers wires Scantron's Temporal workers: the orchestrator inside
// `scantron server`, which runs workflows and result activities, and the
// scanning agent, which polls only its own task queue.
package workers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/workflows"
)

// DialOptions say how to reach Temporal.
type DialOptions struct {
	HostPort  string
	Namespace string
	Identity  string
	Logger    *slog.Logger
	// TLS, when set, secures the connection (a Temporal cluster with TLS,
	// or Temporal Cloud).
	TLS *tls.Config
	// APIKey authenticates to Temporal Cloud (or a cluster set up for API
	// keys); it implies TLS.
	APIKey string
	// Wait is how long to keep trying while Temporal is not up yet, as when
	// the whole stack starts at once.
	Wait time.Duration
}

// Dial connects to Temporal, retrying until opt.Wait has passed.
func Dial(ctx context.Context, opt DialOptions) (client.Client, error) {
	copts := client.Options{
		HostPort:          opt.HostPort,
		Namespace:         opt.Namespace,
		Identity:          opt.Identity,
		Logger:            tlog.NewStructuredLogger(opt.Logger),
		ConnectionOptions: client.ConnectionOptions{TLS: opt.TLS},
	}
	if opt.APIKey != "" {
		copts.Credentials = client.NewAPIKeyStaticCredentials(opt.APIKey)
		if copts.ConnectionOptions.TLS == nil {
			copts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	deadline := time.Now().Add(opt.Wait)
	for {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := client.DialContext(dctx, copts)
		cancel()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w", opt.HostPort, opt.Namespace, err)
		}
		opt.Logger.Info("waiting for Temporal", "address", opt.HostPort, "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// RunServer runs the orchestrator worker until ctx is done. more are
// further activity structs of the server (the run follow-ups: changes,
// notifications).
func RunServer(ctx context.Context, c client.Client, results *activities.Results, more ...any) error {
	w := worker.New(c, workflows.ServerTaskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.ScanWorkflow)
	w.RegisterWorkflow(workflows.ReparseWorkflow)
	w.RegisterActivity(results)
	for _, a := range more {
		w.RegisterActivity(a)
	}
	return run(ctx, w)
}

// AgentOptions configure an agent worker.
type AgentOptions struct {
	// Capacity is how many scans the agent runs at once.
	Capacity int
}

// agentHeartbeatEvery is how often a scanning agent reports progress.
const agentHeartbeatEvery = 2 * time.Second

// RunAgent runs an agent worker on the agent's own task queue until ctx is
// done. Only scanner activities are registered: an agent never runs
// workflows or touches the database.
func RunAgent(ctx context.Context, c client.Client, agent *activities.Agent, opt AgentOptions) error {
	if opt.Capacity <= 0 {
		opt.Capacity = 1
	}
	if agent.HeartbeatEvery <= 0 || agent.HeartbeatEvery > agentHeartbeatEvery {
		agent.HeartbeatEvery = agentHeartbeatEvery
	}
	w := worker.New(c, workflows.AgentTaskQueue(agent.Name), worker.Options{
		MaxConcurrentActivityExecutionSize: opt.Capacity,
		// A scan runs for minutes or hours; on shutdown give the activity a
		// moment to kill its scanner and report, rather than vanishing.
		WorkerStopTimeout: 10 * time.Second,
		// A cancel reaches a running activity only in the answer to a
		// heartbeat. The SDK would hold heartbeats back for up to 80% of
		// the heartbeat timeout; sending them at most this far apart lets
		// a cancelled scan stop within seconds.
		MaxHeartbeatThrottleInterval:     agentHeartbeatEvery,
		DefaultHeartbeatThrottleInterval: agentHeartbeatEvery,
	})
	w.RegisterActivity(agent)
	return run(ctx, w)
}

func run(ctx context.Context, w worker.Worker) error {
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// ErrPreflight marks an agent that cannot run scans on this machine.
var ErrPreflight = errors.New("agent preflight failed")

// Preflight checks before an agent polls for work that its scanner is
// installed and runs, so a broken agent fails at start with a clear message
// instead of failing every scan it picks up.
func Preflight(ctx context.Context, nmapPath string) (string, error) {
	path, err := exec.LookPath(nmapPath)
	if err != nil {
		return "", fmt.Errorf("%w: nmap not found (%q): install it (Debian: apt-get install nmap) or set SCANTRON_NMAP_PATH: %v", ErrPreflight, nmapPath, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s --version: %v", ErrPreflight, path, err)
	}
	if info, err := os.Stat(path); err != nil || info.IsDir() {
		return "", fmt.Errorf("%w: %s is not a file", ErrPreflight, path)
	}
	first := string(out)
	for i, c := range first {
		if c == '\n' {
			first = first[:i]
			break
		}
	}
	return first, nil
}
