package main

import (
	"context"
	"io"
	"os"
	"os/exec"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workers"
	"github.com/scantron/scantron/workflows"
)

// runAgent checks that this machine can scan, then polls the agent's own task
// queue and its pools' queues. It needs outbound connections to Temporal and S3 only.
func runAgent(ctx context.Context, cfg Config, _, stderr io.Writer) error {
	log := cfg.logger(stderr).With("agent", cfg.AgentName)
	nmapVersion, err := workers.Preflight(ctx, cfg.NmapPath)
	if err != nil {
		return err
	}
	// masscan is optional: without it (or without raw sockets) the agent
	// runs nmap scans and refuses masscan ones with a clear error.
	masscanVersion, merr := workers.PreflightMasscan(ctx, cfg.MasscanPath)
	if merr != nil {
		log.Warn("masscan scans will fail on this agent", "error", merr)
	}
	// A scanner may open raw sockets if the agent may, or if its binary
	// has the capability itself (as the Dockerfile gives them).
	noRaw := map[scan.Scanner]bool{}
	agentRaw := workers.RawSockets()
	for scanner, bin := range map[scan.Scanner]string{scan.Nmap: cfg.NmapPath, scan.Masscan: cfg.MasscanPath} {
		path, err := exec.LookPath(bin)
		if agentRaw || (err == nil && workers.FileRawSockets(path)) {
			continue
		}
		noRaw[scanner] = true
		log.Warn("raw-socket scans will be refused on this agent: neither it nor the scanner has CAP_NET_RAW; run it as root or give the binary the capability (setcap cap_net_raw,cap_net_admin+eip)",
			"scanner", scanner, "refused", "masscan, and nmap -sS/-sU/-O and the like")
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

		MasscanPath:      cfg.MasscanPath,
		MasscanAdapter:   cfg.MasscanAdapter,
		MasscanAdapterIP: cfg.MasscanAdapterIP,
		MasscanRouterMAC: cfg.MasscanRouterMAC,
		NoRawSockets:     noRaw,
		Credential:       cfg.AgentCred,
	}
	if cfg.AgentCred == "" {
		log.Warn("no --credential: this agent's results are accepted only if it was registered before credentials existed")
	}
	host, _ := os.Hostname()
	log.Info("scantron agent ready", "task_queue", workflows.AgentTaskQueue(cfg.AgentName), "pools", cfg.AgentPools,
		"capacity", cfg.AgentCapacity, "scanner", nmapVersion, "masscan", masscanVersion, "raw_sockets", agentRaw, "version", version)
	err = workers.RunAgent(ctx, tc, agent, workers.AgentOptions{
		Capacity: cfg.AgentCapacity,
		Pools:    cfg.AgentPools,
		Identity: workflows.AgentIdentity(cfg.AgentName, host, version, cfg.AgentCapacity),
	})
	log.Info("scantron agent stopped")
	return err
}
