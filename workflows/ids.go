package workflows

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	taskqueuepb "go.temporal.io/api/taskqueue/v1"

	"github.com/scantron/scantron/scan"
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
	// RawSockets lists, comma-separated, the scanners that can open raw
	// sockets on the agent ("none" when none can; "" when the agent
	// does not say, as agents before the announcement).
	RawSockets string `json:"raw_sockets,omitempty"`
}

// RawSocketsKnown says whether the agent announced which scanners can open
// raw sockets.
func (p AgentPoller) RawSocketsKnown() bool { return p.RawSockets != "" }

// HasRawSockets says whether the agent announced that scanner can open raw
// sockets.
func (p AgentPoller) HasRawSockets(scanner string) bool {
	return slices.Contains(strings.Split(p.RawSockets, ","), scanner)
}

// Caps is what the rules of scan.Check read of a live agent.
func (p AgentPoller) Caps() scan.AgentCaps {
	c := scan.AgentCaps{Name: p.Name, Capacity: p.Capacity, MaxRate: p.MaxRate, RawKnown: p.RawSocketsKnown(), RawSockets: []scan.Scanner{}}
	for _, s := range scan.Scanners() {
		if p.HasRawSockets(string(s)) {
			c.RawSockets = append(c.RawSockets, s)
		}
	}
	return c
}

// LiveAgents reads a task queue's pollers: each distinct one that polled
// within fresh of now, as its identity announces it (a poller of another
// form counts as an agent of capacity one that says nothing more).
func LiveAgents(pollers []*taskqueuepb.PollerInfo, now time.Time, fresh time.Duration) []AgentPoller {
	out := []AgentPoller{}
	seen := map[string]bool{}
	for _, p := range pollers {
		if now.Sub(p.GetLastAccessTime().AsTime()) > fresh || seen[p.GetIdentity()] {
			continue
		}
		seen[p.GetIdentity()] = true
		a, ok := ParseAgentIdentity(p.GetIdentity())
		if !ok {
			a = AgentPoller{Name: p.GetIdentity(), Capacity: 1}
		}
		out = append(out, a)
	}
	return out
}

// rawSocketsAnnounce is the form of the raw= field: scanner names or none.
var rawSocketsAnnounce = regexp.MustCompile(`^(none|[a-z0-9]+(,[a-z0-9]+)*)$`)

// Identity is the Temporal identity that announces p (AgentIdentity, with
// max-rate=N after the capacity when the agent caps its scanners, and
// raw=LIST when it says which scanners can open raw sockets).
func (p AgentPoller) Identity() string {
	id := fmt.Sprintf("scantron-agent-%s@%s version=%s capacity=%d", p.Name, p.Host, p.Version, p.Capacity)
	if p.MaxRate > 0 {
		id += " max-rate=" + strconv.FormatFloat(p.MaxRate, 'f', -1, 64)
	}
	if p.RawSockets != "" {
		id += " raw=" + p.RawSockets
	}
	return id
}

// ParseAgentIdentity reverses AgentIdentity. Identities of other forms (an
// older agent, another client) give ok false.
func ParseAgentIdentity(id string) (p AgentPoller, ok bool) {
	fields := strings.Fields(id)
	if len(fields) < 3 || len(fields) > 5 {
		return AgentPoller{}, false
	}
	// Optional fields follow the capacity, each at most once, in order.
	rest := fields[3:]
	if len(rest) > 0 && strings.HasPrefix(rest[0], "max-rate=") {
		rate, err := strconv.ParseFloat(strings.TrimPrefix(rest[0], "max-rate="), 64)
		if err != nil || !(rate > 0) || rate > 1e8 {
			return AgentPoller{}, false
		}
		p.MaxRate = rate
		rest = rest[1:]
	}
	if len(rest) > 0 {
		raw, ok := strings.CutPrefix(rest[0], "raw=")
		if !ok || !rawSocketsAnnounce.MatchString(raw) {
			return AgentPoller{}, false
		}
		p.RawSockets = raw
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return AgentPoller{}, false
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

// ScanShardsWorkflowID names the child workflow of a run (by its own
// workflow's ID) that holds shards from to to-1.
func ScanShardsWorkflowID(runWorkflowID string, from, to int) string {
	return fmt.Sprintf("%s-shards-%d-%d", runWorkflowID, from, to-1)
}
