package workflows

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ServerTaskQueue is polled by the orchestrator worker inside `scantron server`:
// workflows and result activities run there.
const ServerTaskQueue = "scantron.server"

// AgentTaskQueue is the task queue that only the named agent polls.
func AgentTaskQueue(agentName string) string {
	return "agent." + agentName
}

// PoolTaskQueue is the task queue every member of the named pool polls, next
// to its own.
func PoolTaskQueue(poolName string) string {
	return "pool." + poolName
}

// Signals a running ScanWorkflow accepts (no payload).
const (
	// SignalPause stops dispatching shards and stops the ones in flight;
	// they run again, from the start, on resume. The run shows "paused".
	SignalPause = "pause"
	// SignalResume dispatches shards again after a pause.
	SignalResume = "resume"
)

// versionShardWindow marks runs that keep at most StartRunResult.Parallel
// shards in flight; older histories dispatched every shard at once.
const versionShardWindow = "shard-window"

// versionKeepPartial marks runs that, when cancelled or failed, parse what
// their stopped scanners had written before closing the run.
const versionKeepPartial = "keep-partial"

// versionDispatch marks runs whose shards' attempts are each dispatched by
// the workflow (activities.Results.DispatchShard: a spec signed for one
// attempt on one task queue, with presigned URLs for its objects), rather
// than signed all at once up front and retried by Temporal.
const versionDispatch = "dispatch-per-attempt"

// versionTwoStage marks runs of two-stage profiles that run each shard's
// discovery stage, then its second stage on the pairs found, as separate
// dispatches (StartRunResult.Follow).
const versionTwoStage = "two-stage-discovery"

// versionReparseAny marks parses again that take failed runs too and then
// work out the run's diff, its successor's diff and their assets again;
// older ones only exported and recounted a completed run.
const versionReparseAny = "reparse-any-finished-run"

// AgentIdentity is the Temporal identity an agent's workers poll with. It
// carries the agent's version and capacity, which the server reads back
// from a task queue's pollers.
func AgentIdentity(name, host, version string, capacity int) string {
	return AgentPoller{Name: name, Host: host, Version: version, Capacity: capacity}.Identity()
}

// AgentPoller is what an agent's identity says about it.
type AgentPoller struct {
	Name     string `json:"name"`
	Host     string `json:"host"`
	Version  string `json:"version"`
	Capacity int    `json:"capacity"`
	// MaxRate is the packets per second the agent lets any scanner send
	// (its SCANTRON_AGENT_MAX_RATE; 0 = no cap of its own).
	MaxRate float64 `json:"max_rate,omitempty"`
}

// Identity is the Temporal identity that announces p (AgentIdentity, with
// max-rate=N after the capacity when the agent caps its scanners).
func (p AgentPoller) Identity() string {
	id := fmt.Sprintf("scantron-agent-%s@%s version=%s capacity=%d", p.Name, p.Host, p.Version, p.Capacity)
	if p.MaxRate > 0 {
		id += " max-rate=" + strconv.FormatFloat(p.MaxRate, 'f', -1, 64)
	}
	return id
}

// ParseAgentIdentity reverses AgentIdentity. Identities of other forms (an
// older agent, another client) give ok false.
func ParseAgentIdentity(id string) (p AgentPoller, ok bool) {
	fields := strings.Fields(id)
	if len(fields) != 3 && len(fields) != 4 {
		return AgentPoller{}, false
	}
	if len(fields) == 4 {
		r, ok := strings.CutPrefix(fields[3], "max-rate=")
		rate, err := strconv.ParseFloat(r, 64)
		if !ok || err != nil || !(rate > 0) || rate > 1e8 {
			return AgentPoller{}, false
		}
		p.MaxRate = rate
	}
	who, ok := strings.CutPrefix(fields[0], "scantron-agent-")
	if !ok {
		return AgentPoller{}, false
	}
	p.Name, p.Host, _ = strings.Cut(who, "@")
	v, ok1 := strings.CutPrefix(fields[1], "version=")
	c, ok2 := strings.CutPrefix(fields[2], "capacity=")
	n, err := strconv.Atoi(c)
	if !ok1 || !ok2 || err != nil || n < 1 || p.Name == "" {
		return AgentPoller{}, false
	}
	p.Version, p.Capacity = v, n
	return p, true
}

// AgentNameFromTaskQueue reverses AgentTaskQueue.
func AgentNameFromTaskQueue(q string) (string, bool) {
	return strings.CutPrefix(q, "agent.")
}

// ScanRunWorkflowID names the workflow of a run started by hand at t. Runs
// started by a schedule get their ID from Temporal (schedule ID + fire time).
func ScanRunWorkflowID(scanID int64, t time.Time) string {
	return fmt.Sprintf("scan-%d-run-%s", scanID, t.UTC().Format("20060102T150405.000000000Z"))
}

// ScanScheduleID names the Temporal Schedule of a scan.
func ScanScheduleID(scanID int64) string {
	return fmt.Sprintf("scan-%d-schedule", scanID)
}

// ScanScheduledWorkflowID is the workflow ID of runs a schedule starts;
// Temporal appends the fire time ("-2030-01-02T03:04:05Z").
func ScanScheduledWorkflowID(scanID int64) string {
	return fmt.Sprintf("scan-%d-scheduled", scanID)
}
