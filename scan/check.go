package scan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The rules in this file decide whether a scan can run as it is defined:
// saving a scan, a site, a profile or a global exclusion runs them and
// refuses what fails; a scan's plan shows what they find; a run's start
// runs them again and fails at once, before any shard is dispatched. Each
// rule is one function, so that all three agree.

// Subject is the part of a scan's definition a finding is about. Each save
// path names it by its own request field (a scan's profile_id, a site's
// exclusions, an exclusion's target).
type Subject string

// Subjects of findings.
const (
	SubjectTargets          Subject = "targets"           // the site's targets
	SubjectExclusions       Subject = "exclusions"        // the site's exclusions
	SubjectGlobalExclusions Subject = "global_exclusions" // the global exclusions
	SubjectOptions          Subject = "options"           // the profile's options
	SubjectAgent            Subject = "agent"             // the agent the scan is pinned to
	SubjectPool             Subject = "pool"              // the pool the scan uses
	SubjectSchedule         Subject = "schedule"          // start_at, time_zone and rrule
)

// Rules, as findings name them.
const (
	RuleTargets       = "targets"        // the targets resolve (address cap, something left)
	RuleOptions       = "options"        // the profile's options parse
	RuleHostNames     = "host_names"     // the scanner can resolve the host names it is given
	RuleAddressFamily = "address_family" // the profile's family matches the targets'
	RuleRawSockets    = "raw_sockets"    // the agents can open the raw sockets the profile needs
	RuleRate          = "rate"           // the profile's rate is within the ceilings
	RulePoolSeen      = "pool_seen"      // the pool has had a member
	// RuleSchedule is scan/schedule.Parse: a schedule fires again. Saving
	// a scan refuses one that never does; a plan warns of a stored one
	// that has run its course.
	RuleSchedule = "schedule"
)

// Finding is one thing a rule found: an error stops the scan from being
// saved or run; a warning is shown on its plan.
type Finding struct {
	Rule    string  `json:"rule"`
	Subject Subject `json:"subject"`
	Message string  `json:"message"`
	Warning bool    `json:"warning,omitempty"`
	// cause is the error the finding reports, when it has one of its
	// own (ErrTooManyAddresses, ErrNoTargets …).
	cause error
}

func (f Finding) Error() string { return f.Message }

// Unwrap lets errors.Is see the cause of a finding.
func (f Finding) Unwrap() error {
	if f.cause != nil {
		return f.cause
	}
	return ErrInvalidSpec
}

// AgentCaps is what a live agent announces of itself (see
// workflows.AgentPoller).
type AgentCaps struct {
	Name     string  `json:"name"`
	Capacity int     `json:"capacity"`
	MaxRate  float64 `json:"max_rate,omitempty"` // 0: no cap of its own
	// RawKnown says the agent announced which scanners can open raw
	// sockets; RawSockets lists them.
	RawKnown   bool      `json:"raw_sockets_known"`
	RawSockets []Scanner `json:"raw_sockets"`
}

// CheckInput is what the rules look at: a scan's profile, site and the
// global exclusions, the server's limits, and the live agents that would
// take its shards.
type CheckInput struct {
	Profile          Profile
	Site             Site
	GlobalExclusions []string
	MaxAddresses     uint64  // 0: DefaultMaxAddresses
	ServerMaxRate    float64 // 0: no ceiling
	// Agent is the name of the agent the scan is pinned to, Pool the
	// name of its pool (exactly one is set).
	Agent, Pool string
	// Online are the agents polling the scan's task queue now, as they
	// announce themselves (when they could be asked).
	Online []AgentCaps
	// PoolSeen: some agent has been recorded as a member of Pool.
	PoolSeen bool
	// Stored: the scan is checked as stored (its plan, a run's start)
	// rather than as it is being saved. A rate above the server's ceiling
	// is then no error: the ceiling may have been lowered since, and the
	// run caps the rate to it.
	Stored bool
}

// Check runs every rule. Resolved is the site's target set less the
// exclusions (zero when they do not resolve, which is then a finding).
func Check(in CheckInput) (Resolved, []Finding) {
	var out []Finding
	resolved, err := ResolveSite(in.Site, in.GlobalExclusions, in.MaxAddresses)
	if err != nil {
		out = append(out, Finding{Rule: RuleTargets, Subject: SubjectTargets, Message: fmt.Sprintf("site %q: %v", in.Site.Name, err), cause: err})
	}
	out = append(out, CheckHostNames(in.Profile.Scanner, in.Site, in.GlobalExclusions)...)
	set, err := ParseOptionSet(in.Profile.Scanner, in.Profile.Options)
	if err != nil {
		out = append(out, Finding{Rule: RuleOptions, Subject: SubjectOptions, Message: fmt.Sprintf("profile %q: %v", in.Profile.Name, err), cause: err})
		return resolved, out
	}
	if len(resolved.Targets) > 0 {
		out = append(out, CheckAddressFamily(set, resolved)...)
	}
	out = append(out, CheckRawSockets(set, in.Agent, in.Online)...)
	out = append(out, CheckRates(set, in.ServerMaxRate, in.Agent, in.Online, in.Stored)...)
	// A two-stage profile's discovery scanner is what the shards run
	// first, over every target: its rules apply too.
	if disc := in.Profile.DiscoveryScanner; disc != "" {
		out = append(out, CheckHostNames(disc, in.Site, in.GlobalExclusions)...)
		dset, err := ParseOptionSet(disc, in.Profile.DiscoveryOptions)
		if err != nil {
			out = append(out, Finding{Rule: RuleOptions, Subject: SubjectOptions, Message: fmt.Sprintf("profile %q: discovery: %v", in.Profile.Name, err), cause: err})
		} else {
			out = append(out, CheckRawSockets(dset, in.Agent, in.Online)...)
			out = append(out, CheckRates(dset, in.ServerMaxRate, in.Agent, in.Online, in.Stored)...)
		}
	}
	out = append(out, CheckPoolSeen(in.Pool, in.Online, in.PoolSeen)...)
	return resolved, out
}

// FirstError is the first finding that is an error, or nil.
func FirstError(fs []Finding) error {
	for _, f := range fs {
		if !f.Warning {
			return f
		}
	}
	return nil
}

// hostNamesIn lists the host names among targets.
func hostNamesIn(list []string) []string {
	var out []string
	for _, s := range list {
		if t, err := ParseTarget(s); err == nil && t.Kind == KindHost {
			out = append(out, t.Host)
		}
	}
	return out
}

// CheckHostNames refuses host names given to a scanner that cannot resolve
// them (Scanner.AcceptsHostNames) as targets or as exclusions, the site's
// or the global ones: every host-name exclusion reaches the scanner (it
// might resolve into any target), so one in the global list breaks every
// scan by such a scanner.
func CheckHostNames(scanner Scanner, site Site, global []string) []Finding {
	if scanner.AcceptsHostNames() {
		return nil
	}
	var out []Finding
	for _, c := range []struct {
		subject Subject
		what    string
		list    []string
	}{
		{SubjectTargets, fmt.Sprintf("site %q has host-name targets", site.Name), site.Targets},
		{SubjectExclusions, fmt.Sprintf("site %q has host-name exclusions", site.Name), site.Exclusions},
		{SubjectGlobalExclusions, "the global exclusions have host names", global},
	} {
		if names := hostNamesIn(c.list); len(names) > 0 {
			out = append(out, Finding{Rule: RuleHostNames, Subject: c.subject,
				Message: fmt.Sprintf("%s (%s) and %s cannot resolve host names: every %s run would fail; give addresses or use %s", c.what, strings.Join(names, ", "), scanner, scanner, DefaultScanner)})
		}
	}
	return out
}

// CheckAddressFamily refuses a profile that pins one address family (nmap
// -6 or -4) with targets of the other: nmap would skip them and still
// succeed. Host names count for neither (nmap resolves them in the
// family it is given).
func CheckAddressFamily(set OptionSet, r Resolved) []Finding {
	var v4, v6 []string
	for _, t := range r.Targets {
		tgt, err := ParseTarget(t)
		if err != nil || tgt.Kind == KindHost {
			continue
		}
		if tgt.From.Is4() {
			v4 = append(v4, t)
		} else {
			v6 = append(v6, t)
		}
	}
	var out []Finding
	if set.Has("-6") && len(v4) > 0 {
		out = append(out, Finding{Rule: RuleAddressFamily, Subject: SubjectOptions,
			Message: fmt.Sprintf("the profile has -6 (IPv6 only) but the site has IPv4 targets (%s)", clipList(v4))})
	}
	if set.Has("-4") && len(v6) > 0 {
		out = append(out, Finding{Rule: RuleAddressFamily, Subject: SubjectOptions,
			Message: fmt.Sprintf("the profile has -4 (IPv4 only) but the site has IPv6 targets (%s)", clipList(v6))})
	}
	return out
}

func clipList(list []string) string {
	if len(list) > 3 {
		return strings.Join(list[:3], ", ") + fmt.Sprintf(" and %d more", len(list)-3)
	}
	return strings.Join(list, ", ")
}

// CheckRawSockets refuses a profile that needs raw sockets on the agent a
// scan is pinned to when that agent announced that its scanner has none,
// and warns of the members of a pool that have none (a shard they take
// fails; the others run). Agents that are offline or did not say are
// not judged.
func CheckRawSockets(set OptionSet, agent string, online []AgentCaps) []Finding {
	need := set.RawSocketOptions()
	if len(need) == 0 {
		return nil
	}
	var lacking []string
	for _, a := range online {
		if a.RawKnown && !slices.Contains(a.RawSockets, set.Scanner()) {
			lacking = append(lacking, a.Name)
		}
	}
	if len(lacking) == 0 {
		return nil
	}
	if agent != "" {
		return []Finding{{Rule: RuleRawSockets, Subject: SubjectAgent,
			Message: fmt.Sprintf("the profile needs raw sockets (%s) and agent %q announced that its %s cannot open them; pick another agent or a connect scan (-sT)", strings.Join(need, " "), agent, set.Scanner())}}
	}
	return []Finding{{Rule: RuleRawSockets, Subject: SubjectPool, Warning: true,
		Message: fmt.Sprintf("the profile needs raw sockets (%s) and pool members %s announced that their %s cannot open them: a shard one of them takes fails", strings.Join(need, " "), strings.Join(lacking, ", "), set.Scanner())}}
}

// profileRate is the highest packet rate the profile's options ask for
// (0: none).
func profileRate(set OptionSet) float64 {
	var top float64
	for _, it := range set.items {
		if pol := policies[set.scanner]; pol == nil || !slices.Contains(pol.rateOptions, it.Name) {
			continue
		}
		if r, err := strconv.ParseFloat(it.Value, 64); err == nil && r > top {
			top = r
		}
	}
	return top
}

// CheckRates refuses a profile whose rate is above the server's ceiling or
// above the ceiling the pinned agent announces (which would lower it
// anyway, so the profile does not say what runs). For a stored scan (its
// plan, a run's start) the server's ceiling only warns: the run caps the
// rate to it. Pool members with a lower ceiling are a warning.
func CheckRates(set OptionSet, serverMax float64, agent string, online []AgentCaps, stored bool) []Finding {
	rate := profileRate(set)
	if rate == 0 {
		return nil
	}
	var out []Finding
	if serverMax > 0 && rate > serverMax {
		f := Finding{Rule: RuleRate, Subject: SubjectOptions,
			Message: fmt.Sprintf("the profile's rate of %s packets/s is above the server's ceiling of %s", formatRate(rate), formatRate(serverMax))}
		if stored {
			f.Warning, f.Message = true, f.Message+"; runs cap it to the ceiling"
		}
		out = append(out, f)
	}
	var lower []string
	for _, a := range online {
		if a.MaxRate > 0 && rate > a.MaxRate {
			lower = append(lower, fmt.Sprintf("%s (%s)", a.Name, formatRate(a.MaxRate)))
		}
	}
	if len(lower) == 0 {
		return out
	}
	if agent != "" {
		return append(out, Finding{Rule: RuleRate, Subject: SubjectAgent, Warning: stored,
			Message: fmt.Sprintf("the profile's rate of %s packets/s is above the ceiling agent %s announces", formatRate(rate), lower[0])})
	}
	return append(out, Finding{Rule: RuleRate, Subject: SubjectPool, Warning: true,
		Message: fmt.Sprintf("the profile's rate of %s packets/s is above the ceiling of pool members %s, which scan slower", formatRate(rate), strings.Join(lower, ", "))})
}

// CheckPoolSeen warns of a pool that no agent has ever been a member of:
// its runs wait for one until their shards time out.
func CheckPoolSeen(pool string, online []AgentCaps, seen bool) []Finding {
	if pool == "" || seen || len(online) > 0 {
		return nil
	}
	return []Finding{{Rule: RulePoolSeen, Subject: SubjectPool, Warning: true,
		Message: fmt.Sprintf("no agent has ever been a member of pool %q: its runs wait until an agent started with --pools %s takes them", pool, pool)}}
}

// CheckInput is the input of Check for a loaded scan, against the server's
// limits; the caller adds the live agents and whether its pool was seen.
func (p Plan) CheckInput(maxAddresses uint64, maxRate float64) CheckInput {
	return CheckInput{Profile: p.Profile, Site: p.Site, GlobalExclusions: p.GlobalExclusions,
		MaxAddresses: maxAddresses, ServerMaxRate: maxRate, Agent: p.Agent.Name, Pool: p.Pool.Name, PoolSeen: true}
}
