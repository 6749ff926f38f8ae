package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
	"github.com/scantron/scantron/workflows"
)

// PlanStore is what a scan's plan reads, besides what the checks of a
// save read (manage.CheckStore).
type PlanStore interface {
	manage.CheckStore
	ListRuns(ctx context.Context, f scan.RunFilter) ([]scan.Run, error)
}

// liveAgents reads who polls a task queue from Temporal, for the checks of
// saves and for plans.
type liveAgents struct {
	base
	presence AgentPresence
	now      func() time.Time
}

// online lists the agents polling a task queue now, as they announce
// themselves; nil when Temporal cannot be asked (the rules that read
// announcements are then skipped).
func (l liveAgents) online(ctx context.Context, queue string) []scan.AgentCaps {
	if l.presence == nil || queue == "" {
		return nil
	}
	resp, err := l.presence.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if err != nil {
		l.log.Warn("describe task queue for the scan checks", "task_queue", queue, "error", err)
		return nil
	}
	out := []scan.AgentCaps{}
	for _, a := range workflows.LiveAgents(resp.GetPollers(), l.now(), onlineWithin) {
		out = append(out, a.Caps())
	}
	return out
}

// planner builds scans' plans: a read, which runs the checks a save runs
// (manage.Checker) and drafts the run a start would make
// (activities.DraftRun).
type planner struct {
	base
	store  PlanStore
	check  *manage.Checker
	limits activities.RunLimits
	now    func() time.Time
}

// planShard is one shard of a plan: its part of the targets and the
// command line an agent runs for it.
type planShard struct {
	Index     int      `json:"index"`
	Family    string   `json:"family"` // ipv4 (with host names) or ipv6
	Addresses uint64   `json:"addresses"`
	Targets   []string `json:"targets"`
	Excludes  []string `json:"excludes"`
	// Rate is the packets/s of a scanner whose rate travels beside its
	// options (0: the scanner's default, or a rate in its options).
	Rate float64 `json:"rate,omitempty"`
	// Command is the command line of the shard's first attempt, as the
	// scan's agent runs it (for a pool: a member without a rate cap of
	// its own), with $SHARD_DIR and $SEED for the attempt's work
	// directory and values derived from the run.
	Command []string `json:"command"`
	// AgentCommands are the command lines of the live agents whose rate
	// cap changes it, by agent name.
	AgentCommands map[string][]string `json:"agent_commands,omitempty"`
}

// planAgent is a live agent that could take the shards.
type planAgent struct {
	scan.AgentCaps
	// CanRun says whether the agent can run the profile (raw sockets it
	// needs), as far as it announced; Why says why not.
	CanRun bool   `json:"can_run"`
	Why    string `json:"why,omitempty"`
}

// scanPlan is a dry run of a scan: what a run started now would do.
type scanPlan struct {
	ScanID  int64        `json:"scan_id"`
	Scan    string       `json:"scan"`
	Scanner scan.Scanner `json:"scanner"`
	Profile string       `json:"profile"`
	Options string       `json:"options"`
	Agent   string       `json:"agent,omitempty"`
	Pool    string       `json:"pool,omitempty"`
	// Runnable: no rule fails; Error is the one that does (what a run
	// would fail with) when one does.
	Runnable bool   `json:"runnable"`
	Error    string `json:"error,omitempty"`
	// Targets are the site's, Exclusions its own and GlobalExclusions the
	// server's; Resolved is what is left, in the form the scanner gets.
	Targets          []string       `json:"targets"`
	Exclusions       []string       `json:"exclusions"`
	GlobalExclusions []string       `json:"global_exclusions"`
	Resolved         scan.Resolved  `json:"resolved"`
	Addresses        uint64         `json:"addresses"`
	Ports            int            `json:"ports"`
	ShardSize        uint64         `json:"shard_size"`
	TaskQueue        string         `json:"task_queue"`
	Shards           []planShard    `json:"shards"`
	Agents           []planAgent    `json:"agents"`
	Capacity         int            `json:"capacity"`
	Estimate         *scan.Estimate `json:"estimate,omitempty"`
	Findings         []scan.Finding `json:"findings"`
}

// plan builds the plan of a stored scan without running anything.
func (k *planner) plan(ctx context.Context, scanID int64) (scanPlan, error) {
	p, err := k.store.LoadPlan(ctx, scanID)
	if err != nil {
		return scanPlan{}, mapErr(err, scan.ErrNotFound, http.StatusNotFound, "scan %d not found", scanID)
	}
	online := k.check.AgentsOnline(ctx, p)
	draft, derr := activities.DraftRun(p, k.limits, online, k.check.PoolSeen(ctx, p))
	out := scanPlan{ScanID: p.Scan.ID, Scan: p.Scan.Name, Scanner: p.Profile.Scanner, Profile: p.Profile.Name, Options: p.Profile.Options,
		Agent: p.Agent.Name, Pool: p.Pool.Name, Runnable: derr == nil,
		Targets: nonNil(p.Site.Targets), Exclusions: nonNil(p.Site.Exclusions), GlobalExclusions: nonNil(p.GlobalExclusions),
		Resolved: draft.Resolved, Addresses: draft.Resolved.Addresses, ShardSize: draft.ShardSize, TaskQueue: draft.TaskQueue,
		Shards: []planShard{}, Agents: []planAgent{}, Findings: nonNil(draft.Findings)}
	if derr != nil {
		out.Error = derr.Error()
	}
	// The schedule is checked when it is saved; one that has run its
	// course since is shown, not refused.
	if _, err := schedule.Parse(p.Scan.StartAt, p.Scan.TimeZone, p.Scan.RRule, k.now()); err != nil {
		out.Findings = append(out.Findings, scan.Finding{Rule: scan.RuleSchedule, Subject: scan.SubjectSchedule, Warning: true,
			Message: "the schedule never fires again: " + err.Error() + "; the scan runs only when started by hand"})
	}
	set, serr := scan.ParseOptionSet(p.Profile.Scanner, p.Profile.Options)
	if serr == nil {
		out.Ports = scan.PortCount(set)
	}
	for _, a := range online {
		pa := planAgent{AgentCaps: a, CanRun: true}
		if serr == nil {
			if need := set.RawSocketOptions(); len(need) > 0 && a.RawKnown && !slices.Contains(a.RawSockets, set.Scanner()) {
				pa.CanRun, pa.Why = false, fmt.Sprintf("its %s cannot open raw sockets (%s)", set.Scanner(), strings.Join(need, " "))
			}
		}
		if pa.CanRun {
			out.Capacity += a.Capacity
		}
		out.Agents = append(out.Agents, pa)
	}
	// The command as the scan's agent runs it: a pinned agent's own cap,
	// or none for a pool (members with a cap get their own line).
	runner := &activities.Agent{}
	if p.Scan.PoolID == 0 && len(online) > 0 {
		runner.MaxRate = online[0].MaxRate
	}
	for i, spec := range draft.Specs {
		// Ids of their own: a run gives them when it starts; they only
		// shape values derived from them (a seed), which the command
		// shows as $SEED.
		spec.RunID, spec.ShardID = 1, int64(i+1)
		part := draft.Shards[i]
		sh := planShard{Index: i, Family: "ipv4", Addresses: part.Addresses, Targets: part.Targets, Excludes: nonNil(part.Excludes), Rate: spec.Rate}
		if t, err := scan.ParseTarget(part.Targets[0]); err == nil && t.Kind != scan.KindHost && !t.From.Is4() {
			sh.Family = "ipv6"
		}
		cmd, err := runner.CommandLine(spec, activities.ShardDirToken, false)
		if err != nil {
			out.Runnable, out.Error = false, err.Error()
		}
		sh.Command = nonNil(cmd)
		if p.Scan.PoolID != 0 {
			for _, a := range online {
				if a.MaxRate <= 0 {
					continue
				}
				capped, err := (&activities.Agent{MaxRate: a.MaxRate}).CommandLine(spec, activities.ShardDirToken, false)
				if err == nil && !slices.Equal(capped, cmd) {
					if sh.AgentCommands == nil {
						sh.AgentCommands = map[string][]string{}
					}
					sh.AgentCommands[a.Name] = capped
				}
			}
		}
		out.Shards = append(out.Shards, sh)
	}
	out.Estimate = k.estimate(ctx, p, out, draft.Specs)
	return out, nil
}

// estimate is the expected duration of a run: from the scan's earlier
// runs, or else from its address count, ports and rate.
func (k *planner) estimate(ctx context.Context, p scan.Plan, out scanPlan, specs []scan.Spec) *scan.Estimate {
	if out.Addresses == 0 {
		return nil
	}
	runs, err := k.store.ListRuns(ctx, scan.RunFilter{ScanID: p.Scan.ID, Limit: 20})
	if err == nil {
		if e, ok := scan.EstimateFromRuns(runs, out.Addresses); ok {
			return &e
		}
	}
	var rate float64
	if len(specs) > 0 {
		rate = specs[0].Rate
		if rate == 0 {
			rate = p.Profile.Scanner.DefaultRate()
		}
		// A scanner whose rate stays in its options (nmap's --max-rate,
		// which the driver lowers or adds) goes at most that fast.
		if set, err := scan.ParseOptionArgs(p.Profile.Scanner, specs[0].Options); err == nil {
			if v, ok := set.Last("--max-rate"); ok {
				if r, err := strconv.ParseFloat(v, 64); err == nil {
					rate = r
				}
			}
		}
	}
	e := scan.EstimateFromCount(out.Addresses, max(out.Ports, 1), rate, min(max(out.Capacity, 1), max(len(specs), 1)))
	return &e
}

// plan answers GET /api/v1/scans/:id/plan.
func (h *scanHandlers) plan(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	p, err := h.planner.plan(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, p)
	return nil
}
