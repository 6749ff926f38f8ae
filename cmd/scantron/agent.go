package main

import (
	"context"
	"io"
	"os"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/metrics"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/scanners"
	"github.com/scantron/scantron/scan/signing"
	"github.com/scantron/scantron/temporalauth"
	"github.com/scantron/scantron/workers"
	"github.com/scantron/scantron/workflows"
)

// runAgent checks that this machine can scan, then polls the agent's own task
// queue and its pools' queues. It needs outbound connections to Temporal and S3 only, and no
// S3 credentials: each spec carries presigned URLs for its own objects.
func runAgent(ctx context.Context, cfg Config, _, stderr io.Writer) error {
	log := cfg.logger(stderr).With("agent", cfg.AgentName)
	verifier, err := signing.NewVerifier(cfg.ServerPublicKey)
	if err != nil {
		return err
	}
	// A required scanner (nmap) must be there; without another (or
	// without raw sockets) the agent runs the rest and refuses that
	// scanner's specs with a clear error. A scanner may open raw sockets
	// if the agent may, or if its binary has the capability itself (as
	// the Dockerfile gives them).
	versions := map[scan.Scanner]string{}
	noRaw := map[scan.Scanner]bool{}
	rawSockets := map[scan.Scanner]string{}
	for _, d := range scanners.All() {
		name, bin := d.Scanner(), cfg.ScannerPaths[d.Scanner()]
		v, err := workers.Preflight(ctx, d, bin)
		switch {
		case err != nil && d.Required():
			return err
		case err != nil:
			log.Warn(string(name)+" scans will fail on this agent", "error", err)
		}
		versions[name] = v
		if bin == "" {
			bin = string(name)
		}
		raw := driver.RawSocketAccess(bin)
		rawSockets[name] = raw.String()
		if raw.OK() {
			continue
		}
		noRaw[name] = true
		log.Warn("raw-socket scans will be refused on this agent", "scanner", name,
			"refused", "those needing raw sockets (nmap -sS/-sU/-O and the like, and every scan of a scanner that always sends raw packets)", "fix", driver.RawSocketHelp)
	}
	// Announced in the agent's identity, so that the server refuses a
	// raw-socket profile for this agent when it is saved, not when it runs.
	var canRaw []string
	for _, d := range scanners.All() {
		if !noRaw[d.Scanner()] {
			canRaw = append(canRaw, string(d.Scanner()))
		}
	}
	announceRaw := strings.Join(canRaw, ",")
	if announceRaw == "" {
		announceRaw = "none"
	}
	reg := metrics.New()
	metricsLn, err := listenMetrics(cfg, reg, log)
	if err != nil {
		return err
	}
	var creds client.Credentials
	if cfg.TemporalAuth {
		// The token names only this agent's queue and the pools the server
		// put it in; it is renewed well before it expires.
		creds = temporalauth.NewSource(temporalauth.AgentFetcher(cfg.ServerURL, cfg.AgentName, cfg.AgentCred, nil)).Credentials()
	}
	tc, err := dialTemporal(ctx, cfg, log, "scantron-agent-"+cfg.AgentName, creds, reg)
	if err != nil {
		return err
	}
	defer tc.Close()
	mctx, stopMetrics := context.WithCancel(ctx)
	metricsDone := make(chan error, 1)
	go func() { metricsDone <- metricsLn.serve(mctx) }()
	defer func() { stopMetrics(); <-metricsDone }()

	agent := &activities.Agent{
		Name:     cfg.AgentName,
		Binaries: cfg.ScannerPaths,
		WorkDir:  cfg.WorkDir,
		Verifier: verifier,
		// Profiles cannot pick an interface; the agent's operator can.
		Interface: cfg.ScanInterface,

		Adapter:      cfg.MasscanAdapter,
		AdapterIP:    cfg.MasscanAdapterIP,
		RouterMAC:    cfg.MasscanRouterMAC,
		NoRawSockets: noRaw,
		Credential:   cfg.AgentCred,
		MaxRate:      cfg.AgentMaxRate,
	}
	if cfg.AgentCred == "" {
		log.Warn("no --credential: this agent's results are accepted only if it was registered before credentials existed")
	}
	host, _ := os.Hostname()
	log.Info("scantron agent ready", "task_queue", workflows.AgentTaskQueue(cfg.AgentName), "pools", cfg.AgentPools,
		"capacity", cfg.AgentCapacity, "max_rate", cfg.AgentMaxRate, "scanners", versions, "raw_sockets", rawSockets, "version", version)
	err = workers.RunAgent(ctx, tc, agent, workers.AgentOptions{
		Capacity: cfg.AgentCapacity,
		Pools:    cfg.AgentPools,
		Identity: workflows.AgentPoller{Name: cfg.AgentName, Host: host, Version: version, Capacity: cfg.AgentCapacity, MaxRate: cfg.AgentMaxRate, RawSockets: announceRaw}.Identity(),
	})
	log.Info("scantron agent stopped")
	return err
}
