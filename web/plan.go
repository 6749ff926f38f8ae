package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// PlanStore is what a scan's plan and the checks of a save read.
type PlanStore interface {
	LoadPlan(ctx context.Context, scanID int64) (scan.Plan, error)
	// PoolMember's any says whether the pool has ever had a member.
	PoolMember(ctx context.Context, pool, agent string) (member, any bool, err error)
	ListScans(ctx context.Context) ([]scan.Scan, error)
	ListExclusions(ctx context.Context) ([]scan.Exclusion, error)
	ListRuns(ctx context.Context, f postgres.RunFilter) ([]scan.Run, error)
	GetSite(ctx context.Context, id int64) (scan.Site, error)
	GetProfile(ctx context.Context, id int64) (scan.Profile, error)
	GetAgent(ctx context.Context, id int64) (scan.Agent, error)
	GetPool(ctx context.Context, id int64) (scan.Pool, error)
}

// checker runs the rules of scan.Check for the save paths (scans, sites,
// profiles, global exclusions) and builds scans' plans: one set of rules,
// which a run's start (activities.DraftRun) runs again.
type checker struct {
	base
	store    PlanStore
	presence AgentPresence
	limits   activities.RunLimits
	now      func() time.Time
}

// online lists the agents polling a task queue now, as they announce
// themselves; nil when Temporal cannot be asked (the rules that read
// announcements are then skipped).
func (k *checker) online(ctx context.Context, queue string) []scan.AgentCaps {
	if k.presence == nil || queue == "" {
		return nil
	}
	resp, err := k.presence.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if err != nil {
		k.log.Warn("describe task queue for the scan checks", "task_queue", queue, "error", err)
		return nil
	}
	out := []scan.AgentCaps{}
	for _, a := range workflows.LiveAgents(resp.GetPollers(), k.now(), onlineWithin) {
		out = append(out, a.Caps())
	}
	return out
}

// poolSeen says whether the pool has ever had a member (true when it
// cannot be learnt, so that no warning is made up).
func (k *checker) poolSeen(ctx context.Context, p scan.Plan) bool {
	if p.Pool.Name == "" {
		return true
	}
	_, seen, err := k.store.PoolMember(ctx, p.Pool.Name, "")
	return err != nil || seen
}

func taskQueueOf(p scan.Plan) string {
	if p.Scan.PoolID != 0 {
		return p.Pool.TaskQueue
	}
	return p.Agent.TaskQueue
}

// planOf assembles the plan of a scan that is being saved (not stored yet,
// or stored as it was). Its references exist (checkRefs).
func (k *checker) planOf(ctx context.Context, s scan.Scan) (scan.Plan, error) {
	p := scan.Plan{Scan: s}
	var err error
	if p.Site, err = k.store.GetSite(ctx, s.SiteID); err != nil {
		return p, err
	}
	if p.Profile, err = k.store.GetProfile(ctx, s.ProfileID); err != nil {
		return p, err
	}
	if s.PoolID != 0 {
		p.Pool, err = k.store.GetPool(ctx, s.PoolID)
	} else {
		p.Agent, err = k.store.GetAgent(ctx, s.AgentID)
	}
	if err != nil {
		return p, err
	}
	excl, err := k.store.ListExclusions(ctx)
	if err != nil {
		return p, err
	}
	for _, e := range excl {
		p.GlobalExclusions = append(p.GlobalExclusions, e.Target)
	}
	return p, nil
}

// scanFields names, for each subject of a finding, the field of a scan
// request at fault: what the scan would change to be runnable.
var scanFields = map[scan.Subject]string{
	scan.SubjectTargets: "site_id", scan.SubjectExclusions: "site_id",
	scan.SubjectGlobalExclusions: "profile_id", scan.SubjectOptions: "profile_id",
	scan.SubjectAgent: "agent_id", scan.SubjectPool: "pool_id",
}

// checkScan refuses (400, naming the field) a scan being saved that one of
// the rules says can never run.
func (k *checker) checkScan(ctx context.Context, s scan.Scan) error {
	p, err := k.planOf(ctx, s)
	if err != nil {
		return storeWriteErr(err, s)
	}
	in := p.CheckInput(k.limits.MaxAddresses, k.limits.MaxRate)
	in.Online = k.online(ctx, taskQueueOf(p))
	in.PoolSeen = k.poolSeen(ctx, p)
	_, findings := scan.Check(in)
	var f scan.Finding
	if err := scan.FirstError(findings); errors.As(err, &f) {
		return badRequest("%s: %s", scanFields[f.Subject], f.Message)
	}
	return nil
}

// siteRules are the rules a change of a site's targets or exclusions, or
// of the global exclusions, can break.
var siteRules = []string{scan.RuleTargets, scan.RuleHostNames, scan.RuleAddressFamily}

// checkUsers refuses a change that would break stored scans: every scan
// that uses says it is affected is checked with change applied to its
// plan, against rules only, and counts as broken when a rule fails that
// did not before; the answer (status: 400 for a save, 409 for a delete)
// names the field at fault (field of the first finding) and every scan the
// change would break.
func (k *checker) checkUsers(ctx context.Context, status int, field func(scan.Finding) string, uses func(scan.Scan) bool, change func(*scan.Plan), rules []string) error {
	scans, err := k.store.ListScans(ctx)
	if err != nil {
		return err
	}
	var broken []string
	var first *scan.Finding
	for _, s := range scans {
		if !uses(s) {
			continue
		}
		p, err := k.store.LoadPlan(ctx, s.ID)
		if err != nil {
			if errors.Is(err, postgres.ErrNotFound) {
				continue // deleted meanwhile
			}
			return err
		}
		// A scan that fails a rule already is not broken by this change
		// (it is refused when it runs, and its plan says why).
		failing := map[string]bool{}
		_, before := scan.Check(p.CheckInput(k.limits.MaxAddresses, k.limits.MaxRate))
		for _, f := range before {
			failing[f.Rule+"/"+string(f.Subject)] = !f.Warning
		}
		change(&p)
		_, findings := scan.Check(p.CheckInput(k.limits.MaxAddresses, k.limits.MaxRate))
		for _, f := range findings {
			if !f.Warning && slices.Contains(rules, f.Rule) && !failing[f.Rule+"/"+string(f.Subject)] {
				broken = append(broken, fmt.Sprintf("%q", s.Name))
				if first == nil {
					first = &f
				}
				break
			}
		}
	}
	if len(broken) == 0 {
		return nil
	}
	return errorf(status, "%s: it would break scan %s, which could never run: %s", field(*first), strings.Join(broken, ", "), first.Message)
}

// planShard is one shard of a plan: its part of the targets and the
// command line an agent runs for it.
type planShard struct {
	Index     int      `json:"index"`
	Family    string   `json:"family"` // ipv4 (with host names) or ipv6
	Addresses uint64   `json:"addresses"`
	Targets   []string `json:"targets"`
	Excludes  []string `json:"excludes"`
	// Rate is masscan's packets/s for the shard (0: masscan's default or
	// nmap, whose rate is in its options).
	Rate float64 `json:"rate,omitempty"`
	// Command is the command line of the shard's first attempt, as the
	// scan's agent runs it (for a pool: a member without a rate cap of
	// its own), with $SHARD_DIR and $SEED for the attempt's work
	// directory and masscan's derived seed.
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
func (k *checker) plan(ctx context.Context, scanID int64) (scanPlan, error) {
	p, err := k.store.LoadPlan(ctx, scanID)
	if err != nil {
		return scanPlan{}, mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", scanID)
	}
	online := k.online(ctx, taskQueueOf(p))
	draft, derr := activities.DraftRun(p, k.limits, online, k.poolSeen(ctx, p))
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
	runner := &activities.Agent{NmapPath: "nmap", MasscanPath: "masscan"}
	if p.Scan.PoolID == 0 && len(online) > 0 {
		runner.MaxRate = online[0].MaxRate
	}
	for i, spec := range draft.Specs {
		// Ids of their own: a run gives them when it starts; they only
		// shape the masscan seed, which the command shows as $SEED.
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
				capped, err := (&activities.Agent{NmapPath: "nmap", MasscanPath: "masscan", MaxRate: a.MaxRate}).CommandLine(spec, activities.ShardDirToken, false)
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
func (k *checker) estimate(ctx context.Context, p scan.Plan, out scanPlan, specs []scan.Spec) *scan.Estimate {
	if out.Addresses == 0 {
		return nil
	}
	runs, err := k.store.ListRuns(ctx, postgres.RunFilter{ScanID: p.Scan.ID, Limit: 20})
	if err == nil {
		if e, ok := scan.EstimateFromRuns(runs, out.Addresses); ok {
			return &e
		}
	}
	var rate float64
	if len(specs) > 0 {
		rate = specs[0].Rate
		if p.Profile.Scanner == scan.Masscan && rate == 0 {
			rate = 100 // masscan's default
		}
		if set, err := scan.ParseOptionArgs(p.Profile.Scanner, specs[0].Options); err == nil && p.Profile.Scanner == scan.Nmap {
			for _, it := range set.Items() {
				if r, err := strconv.ParseFloat(it.Value, 64); it.Name == "--max-rate" && err == nil {
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
	p, err := h.check.plan(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, p)
	return nil
}
