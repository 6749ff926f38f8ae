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
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
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
	// Credentials, when set, authenticate every call (a Temporal token
	// source, see temporalauth); they replace APIKey.
	Credentials client.Credentials
	// Wait is how long to keep trying while Temporal is not up yet, as when
	// the whole stack starts at once.
	Wait time.Duration
	// Metrics receives the SDK's metrics; nil: none.
	Metrics client.MetricsHandler
}

// Dial connects to Temporal, retrying until opt.Wait has passed.
func Dial(ctx context.Context, opt DialOptions) (client.Client, error) {
	copts := client.Options{
		HostPort:          opt.HostPort,
		Namespace:         opt.Namespace,
		Identity:          opt.Identity,
		Logger:            tlog.NewStructuredLogger(opt.Logger),
		ConnectionOptions: client.ConnectionOptions{TLS: opt.TLS},
		MetricsHandler:    opt.Metrics,
	}
	if opt.APIKey != "" {
		copts.Credentials = client.NewAPIKeyStaticCredentials(opt.APIKey)
		if copts.ConnectionOptions.TLS == nil {
			copts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	if opt.Credentials != nil {
		copts.Credentials = opt.Credentials
		// Token credentials would turn TLS on by themselves; TLS follows
		// the TLS settings alone.
		copts.ConnectionOptions.TLSDisabled = opt.TLS == nil
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

// serverPollers is how many long polls the orchestrator worker keeps open
// per kind of task.
const serverPollers = 8

// RunServer runs the orchestrator worker until ctx is done. more are
// further activity structs of the server (the run follow-ups: changes,
// notifications).
func RunServer(ctx context.Context, c client.Client, results *activities.Results, more ...any) error {
	w := worker.New(c, workflows.ServerTaskQueue, worker.Options{
		// A burst of scheduled runs is several workflow tasks and server
		// activities each; with the SDK's two pollers per kind the tasks
		// wait in Temporal, one round trip at a time, while the worker idles.
		MaxConcurrentWorkflowTaskPollers: serverPollers,
		MaxConcurrentActivityTaskPollers: serverPollers,
	})
	w.RegisterWorkflow(workflows.ScanWorkflow)
	w.RegisterWorkflow(workflows.ScanShardsWorkflow)
	w.RegisterWorkflow(workflows.ReparseWorkflow)
	w.RegisterWorkflow(workflows.ImportWorkflow)
	w.RegisterActivity(results)
	for _, a := range more {
		w.RegisterActivity(a)
	}
	return run(ctx, w)
}

// AgentOptions configure an agent worker.
type AgentOptions struct {
	// Capacity is how many scans the agent runs at once, over its own
	// queue and its pools together.
	Capacity int
	// Pools are the pools whose shards the agent also takes.
	Pools []string
	// Identity is what the agent's workers poll as; it should come from
	// workflows.AgentIdentity so the server can read the agent's version
	// and capacity back ("" keeps the client's).
	Identity string
}

// agentHeartbeatEvery is how often a scanning agent reports progress.
const agentHeartbeatEvery = activities.DefaultHeartbeatEvery

// RunAgent runs an agent's workers until ctx is done: one on the agent's own
// task queue and one on each of its pools' queues, sharing one capacity.
// Only scanner activities are registered: an agent never runs workflows or
// touches the database.
func RunAgent(ctx context.Context, c client.Client, agent *activities.Agent, opt AgentOptions) error {
	if opt.Capacity <= 0 {
		opt.Capacity = 1
	}
	if agent.HeartbeatEvery <= 0 || agent.HeartbeatEvery > agentHeartbeatEvery {
		agent.HeartbeatEvery = agentHeartbeatEvery
	}
	slots := newSharedSlots(opt.Capacity)
	queues := []string{workflows.AgentTaskQueue(agent.Name)}
	for _, p := range opt.Pools {
		queues = append(queues, workflows.PoolTaskQueue(p))
	}
	var started []worker.Worker
	defer func() {
		for _, w := range started {
			w.Stop()
		}
	}()
	for _, q := range queues {
		tuner, err := agentTuner(slots)
		if err != nil {
			return err
		}
		w := worker.New(c, q, worker.Options{
			Identity: opt.Identity,
			Tuner:    tuner,
			// An agent runs activities only; its Temporal token would not
			// let it poll workflow tasks anyway.
			DisableWorkflowWorker: true,
			// One poll per queue at a time, each waiting for a free slot,
			// so that an agent never holds more tasks than it can run.
			MaxConcurrentActivityTaskPollers: 1,
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
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker on %s: %w", q, err)
		}
		started = append(started, w)
	}
	<-ctx.Done()
	return nil
}

// agentTuner gives a worker the agent's shared scan slots. The agent runs
// no workflows, local activities or Nexus tasks; those get a token slot.
func agentTuner(slots *sharedSlots) (worker.WorkerTuner, error) {
	one := func() worker.SlotSupplier {
		s, _ := worker.NewFixedSizeSlotSupplier(1)
		return s
	}
	return worker.NewCompositeTuner(worker.CompositeTunerOptions{
		WorkflowSlotSupplier:        one(),
		ActivitySlotSupplier:        slots,
		LocalActivitySlotSupplier:   one(),
		NexusSlotSupplier:           one(),
		SessionActivitySlotSupplier: one(),
	})
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

// Preflight checks before an agent polls for work that a scanner is
// installed and runs, so a broken agent fails at start (or refuses that
// scanner's specs) with a clear message instead of failing every scan it
// picks up. It returns the scanner's version line.
func Preflight(ctx context.Context, d driver.Driver, binary string) (string, error) {
	if binary == "" {
		binary = string(d.Scanner())
	}
	path, err := exec.LookPath(binary)
	if err != nil {
		return "", fmt.Errorf("%w: %s not found (%q): install it (%s) or set %s: %v", ErrPreflight, d.Scanner(), binary, d.Install(), ScannerPathEnv(d.Scanner()), err)
	}
	return scannerVersion(ctx, path)
}

// ScannerPathFlag and ScannerPathEnv name the agent setting of a scanner's
// binary: --nmap, SCANTRON_NMAP_PATH.
func ScannerPathFlag(s scan.Scanner) string { return string(s) }

// ScannerPathEnv: see ScannerPathFlag.
func ScannerPathEnv(s scan.Scanner) string {
	return "SCANTRON_" + strings.ToUpper(string(s)) + "_PATH"
}

// scannerVersion runs path --version and returns the first non-empty line.
func scannerVersion(ctx context.Context, path string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, path, "--version")
	cmd.Env = activities.ScannerEnv(os.TempDir())
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && strings.Contains(strings.ToLower(string(out)), "version") {
		err = nil // masscan 1.3 prints its version and exits 1
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s --version: %v", ErrPreflight, path, err)
	}
	if info, err := os.Stat(path); err != nil || info.IsDir() {
		return "", fmt.Errorf("%w: %s is not a file", ErrPreflight, path)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line, nil
		}
	}
	return "", nil
}
