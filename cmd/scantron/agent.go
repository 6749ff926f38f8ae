package main

import (
	"context"
	"io"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan/nmap"
	"github.com/scantron/scantron/scan/signing"
	"github.com/scantron/scantron/workers"
	"github.com/scantron/scantron/workflows"
)

// runAgent checks that this machine can scan, then polls the agent's own task
// queue. It needs outbound connections to Temporal and S3 only.
func runAgent(ctx context.Context, cfg Config, _, stderr io.Writer) error {
	log := cfg.logger(stderr).With("agent", cfg.AgentName)
	nmapVersion, err := workers.Preflight(ctx, cfg.NmapPath)
	if err != nil {
		return err
	}
	verifier, err := signing.NewVerifier(cfg.ServerPublicKey)
	if err != nil {
		return err
	}
	// Raw sockets are needed by SYN, UDP and OS scans only: without them the
	// agent still runs connect scans, and refuses the others by name.
	if raw := nmap.RawSocketAccess(cfg.NmapPath); raw.OK() {
		log.Info("scanner has raw sockets", "nmap", cfg.NmapPath, "how", raw.String())
	} else {
		log.Warn("scanner has no raw sockets: profiles with SYN, UDP or OS scans will be refused",
			"nmap", cfg.NmapPath, "fix", nmap.RawSocketHelp)
	}
	objs, err := openObjects(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	tc, err := dialTemporal(ctx, cfg, log, "scantron-agent-"+cfg.AgentName)
	if err != nil {
		return err
	}
	defer tc.Close()

	agent := &activities.Agent{
		Name:     cfg.AgentName,
		Objects:  objs,
		NmapPath: cfg.NmapPath,
		WorkDir:  cfg.WorkDir,
		Verifier: verifier,
		// Profiles cannot pick an interface; the agent's operator can.
		Interface: cfg.ScanInterface,
	}
	log.Info("scantron agent ready", "task_queue", workflows.AgentTaskQueue(cfg.AgentName),
		"capacity", cfg.AgentCapacity, "scanner", nmapVersion)
	err = workers.RunAgent(ctx, tc, agent, workers.AgentOptions{Capacity: cfg.AgentCapacity})
	log.Info("scantron agent stopped")
	return err
}
