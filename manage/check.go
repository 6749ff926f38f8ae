package manage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/scantron/scantron/scan"
)

// CheckStore is what the checks of a save read: the scans a change could
// break, and what each one's plan is made of.
type CheckStore interface {
	LoadPlan(ctx context.Context, scanID int64) (scan.Plan, error)
	// PoolMember's any says whether the pool has ever had a member.
	PoolMember(ctx context.Context, pool, agent string) (member, any bool, err error)
	ListScans(ctx context.Context) ([]scan.Scan, error)
	ListExclusions(ctx context.Context) ([]scan.Exclusion, error)
	GetSite(ctx context.Context, id int64) (scan.Site, error)
	GetProfile(ctx context.Context, id int64) (scan.Profile, error)
	GetAgent(ctx context.Context, id int64) (scan.Agent, error)
	GetPool(ctx context.Context, id int64) (scan.Pool, error)
}

// Checker runs the rules of scan.Check when scans, sites, profiles and
// global exclusions are saved, so that nothing is stored that could never
// run: one set of rules, which a run's start (activities.DraftRun) runs
// again. A nil *Checker checks nothing.
type Checker struct {
	Store CheckStore
	// Online lists the agents polling a task queue now, as they announce
	// themselves; nil, or a nil answer, when that is not known (the rules
	// that read announcements are then skipped).
	Online func(ctx context.Context, taskQueue string) []scan.AgentCaps
	// MaxAddresses and MaxRate are the server's limits, as a run's start
	// applies them.
	MaxAddresses uint64
	MaxRate      float64
}

// AgentsOnline lists the agents that poll the plan's task queue now (nil
// when not known).
func (k *Checker) AgentsOnline(ctx context.Context, p scan.Plan) []scan.AgentCaps {
	q := p.TaskQueue()
	if k.Online == nil || q == "" {
		return nil
	}
	return k.Online(ctx, q)
}

// PoolSeen says whether the plan's pool has ever had a member (true for a
// scan pinned to an agent, and when it cannot be learnt, so that no
// warning is made up).
func (k *Checker) PoolSeen(ctx context.Context, p scan.Plan) bool {
	if p.Pool.Name == "" {
		return true
	}
	_, seen, err := k.Store.PoolMember(ctx, p.Pool.Name, "")
	return err != nil || seen
}

// planOf assembles the plan of a scan that is being saved (not stored yet,
// or stored as it was). Its references exist (checkRefs).
func (k *Checker) planOf(ctx context.Context, s scan.Scan) (scan.Plan, error) {
	p := scan.Plan{Scan: s}
	var err error
	if p.Site, err = k.Store.GetSite(ctx, s.SiteID); err != nil {
		return p, err
	}
	if p.Profile, err = k.Store.GetProfile(ctx, s.ProfileID); err != nil {
		return p, err
	}
	if s.PoolID != 0 {
		p.Pool, err = k.Store.GetPool(ctx, s.PoolID)
	} else {
		p.Agent, err = k.Store.GetAgent(ctx, s.AgentID)
	}
	if err != nil {
		return p, err
	}
	excl, err := k.Store.ListExclusions(ctx)
	if err != nil {
		return p, err
	}
	for _, e := range excl {
		p.GlobalExclusions = append(p.GlobalExclusions, e.Target)
	}
	return p, nil
}

// scanFields names, for each subject of a finding, the field of a scan
// input at fault: what the scan would change to be runnable.
var scanFields = map[scan.Subject]string{
	scan.SubjectTargets: "site_id", scan.SubjectExclusions: "site_id",
	scan.SubjectGlobalExclusions: "profile_id", scan.SubjectOptions: "profile_id",
	scan.SubjectAgent: "agent_id", scan.SubjectPool: "pool_id",
}

// Scan refuses (Invalid, naming the field) a scan being saved that one of
// the rules says can never run.
func (k *Checker) Scan(ctx context.Context, s scan.Scan) error {
	if k == nil {
		return nil
	}
	p, err := k.planOf(ctx, s)
	if err != nil {
		return writeErr(err, s)
	}
	in := p.CheckInput(k.MaxAddresses, k.MaxRate)
	in.Online = k.AgentsOnline(ctx, p)
	in.PoolSeen = k.PoolSeen(ctx, p)
	_, findings := scan.Check(in)
	var f scan.Finding
	if err := scan.FirstError(findings); errors.As(err, &f) {
		field := scanFields[f.Subject]
		return invalid(field, "%s", f.Message)
	}
	return nil
}

// siteRules are the rules a change of a site's targets or exclusions, or
// of the global exclusions, can break.
var siteRules = []string{scan.RuleTargets, scan.RuleHostNames, scan.RuleAddressFamily}

// change is a change to what stored scans are made of, to check before it
// is saved.
type change struct {
	uses  func(scan.Scan) bool      // the scans it affects
	apply func(*scan.Plan)          // the change, applied to such a scan's plan
	rules []string                  // the rules it can break
	field func(scan.Finding) string // the input field at fault, for a finding
}

// users refuses a change that would break stored scans: every scan the
// change affects is checked with it applied to its plan, against its rules
// only, and counts as broken when a rule fails that did not before. The
// refusal (of kind) names the field at fault (that of the first finding)
// and every scan the change would break.
func (k *Checker) users(ctx context.Context, kind Kind, c change) error {
	if k == nil {
		return nil
	}
	scans, err := k.Store.ListScans(ctx)
	if err != nil {
		return err
	}
	var broken []string
	var first *scan.Finding
	for _, s := range scans {
		if !c.uses(s) {
			continue
		}
		p, err := k.Store.LoadPlan(ctx, s.ID)
		if err != nil {
			if errors.Is(err, scan.ErrNotFound) {
				continue // deleted meanwhile
			}
			return err
		}
		// A scan that fails a rule already is not broken by this change
		// (it is refused when it runs, and its plan says why).
		failing := map[string]bool{}
		_, before := scan.Check(p.CheckInput(k.MaxAddresses, k.MaxRate))
		for _, f := range before {
			failing[f.Rule+"/"+string(f.Subject)] = !f.Warning
		}
		c.apply(&p)
		_, findings := scan.Check(p.CheckInput(k.MaxAddresses, k.MaxRate))
		for _, f := range findings {
			if !f.Warning && slices.Contains(c.rules, f.Rule) && !failing[f.Rule+"/"+string(f.Subject)] {
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
	field := c.field(*first)
	return refuse(kind, field, "%s: it would break scan %s, which could never run: %s", field, strings.Join(broken, ", "), first.Message)
}

// SiteChange refuses new targets and exclusions of site id that some scan
// of the site could never run with.
func (k *Checker) SiteChange(ctx context.Context, id int64, s scan.Site) error {
	return k.users(ctx, Invalid, change{
		uses:  func(sc scan.Scan) bool { return sc.SiteID == id },
		apply: func(pl *scan.Plan) { pl.Site.Targets, pl.Site.Exclusions = s.Targets, s.Exclusions },
		rules: siteRules,
		field: func(f scan.Finding) string {
			if f.Subject == scan.SubjectExclusions {
				return "exclusions"
			}
			return "targets"
		},
	})
}

// ProfileChange refuses a new scanner or options of profile id that some
// scan of the profile could never run with, given its site.
func (k *Checker) ProfileChange(ctx context.Context, id int64, p scan.Profile) error {
	return k.users(ctx, Invalid, change{
		uses:  func(s scan.Scan) bool { return s.ProfileID == id },
		apply: func(pl *scan.Plan) { pl.Profile = p },
		rules: []string{scan.RuleHostNames, scan.RuleAddressFamily},
		field: func(f scan.Finding) string {
			if f.Rule == scan.RuleHostNames {
				return "scanner"
			}
			return "options"
		},
	})
}

// ExclusionAdded refuses a global exclusion (every scan takes them) that
// would leave a scan nothing to scan, or give masscan a host name.
func (k *Checker) ExclusionAdded(ctx context.Context, target string) error {
	return k.users(ctx, Invalid, change{
		uses:  func(scan.Scan) bool { return true },
		apply: func(pl *scan.Plan) { pl.GlobalExclusions = append(pl.GlobalExclusions, target) },
		rules: siteRules,
		field: func(scan.Finding) string { return "target" },
	})
}

// ExclusionRemoved refuses (Conflict) to remove global exclusion id
// (target) when that would put a scan over the address limit: a run of it
// would fail.
func (k *Checker) ExclusionRemoved(ctx context.Context, id int64, target string) error {
	err := k.users(ctx, Conflict, change{
		uses: func(scan.Scan) bool { return true },
		apply: func(pl *scan.Plan) {
			if j := slices.Index(pl.GlobalExclusions, target); j >= 0 {
				pl.GlobalExclusions = slices.Delete(pl.GlobalExclusions, j, j+1)
			}
		},
		rules: []string{scan.RuleTargets},
		field: func(scan.Finding) string { return "" },
	})
	// A delete has no input field: the refusal names the exclusion.
	var e *Error
	if errors.As(err, &e) {
		e.Msg = fmt.Sprintf("exclusion %d (%s)%s", id, target, e.Msg)
	}
	return err
}
