package scan

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
)

// DefaultMaxAddresses is the largest target set one scan may cover unless
// configured otherwise: a /16.
const DefaultMaxAddresses = 1 << 16

// Resolved is a scan's target set after exclusions: what the scanner is told
// to scan, and the exclusions it is told to honour again on its side.
type Resolved struct {
	// Targets are minimal CIDR blocks, single addresses and host names.
	Targets []string `json:"targets"`
	// Excludes are passed to the scanner's own exclude option, so that host
	// names that resolve into an excluded block are still skipped. Like
	// Targets, they are addresses, CIDR blocks and host names only.
	Excludes []string `json:"excludes"`
	// Addresses counts the addresses in Targets, a host name counting as one.
	Addresses uint64 `json:"addresses"`
}

type span struct{ from, to netip.Addr }

// Resolve removes exclusions (site and global alike) from targets and checks
// the result against maxAddresses (0 means DefaultMaxAddresses).
func Resolve(targets, exclusions []Target, maxAddresses uint64) (Resolved, error) {
	if maxAddresses == 0 {
		maxAddresses = DefaultMaxAddresses
	}
	var spans, excl []span
	hosts := map[string]bool{}
	excludedHosts := map[string]bool{}
	for _, t := range exclusions {
		if t.Kind == KindHost {
			excludedHosts[t.Host] = true
			continue
		}
		excl = append(excl, span{t.From, t.To})
	}
	var hostOrder []string
	for _, t := range targets {
		if t.Kind == KindHost {
			if !hosts[t.Host] && !excludedHosts[t.Host] {
				hosts[t.Host] = true
				hostOrder = append(hostOrder, t.Host)
			}
			continue
		}
		spans = append(spans, span{t.From, t.To})
	}
	original := merge(spans)
	remaining := subtract(original, merge(excl))

	var res Resolved
	for _, s := range remaining {
		res.Addresses = addSat(res.Addresses, rangeSize(s.from, s.to))
		res.Targets = append(res.Targets, blocks(s.from, s.to)...)
	}
	res.Targets = append(res.Targets, hostOrder...)
	res.Addresses = addSat(res.Addresses, uint64(len(hostOrder)))
	if len(res.Targets) == 0 {
		return Resolved{}, ErrNoTargets
	}
	if res.Addresses > maxAddresses {
		return Resolved{}, fmt.Errorf("%w: %s addresses, the limit is %d", ErrTooManyAddresses, countText(res.Addresses), maxAddresses)
	}
	for _, t := range exclusions {
		// An exclusion matters to the scanner if a host name could resolve
		// into it, or if it touches an address the scan was asked to cover.
		if t.Kind == KindHost || len(hostOrder) > 0 || overlapsAny(span{t.From, t.To}, original) {
			res.Excludes = append(res.Excludes, t.Blocks()...)
		}
	}
	res.Excludes = slices.Compact(res.Excludes)
	return res, nil
}

func countText(n uint64) string {
	if n == math.MaxUint64 {
		return "more than 18446744073709551614"
	}
	return fmt.Sprint(n)
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// merge sorts spans and joins overlapping or adjacent ones. IPv4 sorts before
// IPv6, and the two families never join.
func merge(in []span) []span {
	if len(in) == 0 {
		return nil
	}
	s := slices.Clone(in)
	slices.SortFunc(s, func(a, b span) int { return a.from.Compare(b.from) })
	out := []span{s[0]}
	for _, cur := range s[1:] {
		last := &out[len(out)-1]
		adjacent := last.to.Next().IsValid() && last.to.Next() == cur.from
		if last.from.Is4() == cur.from.Is4() && (!last.to.Less(cur.from) || adjacent) {
			if last.to.Less(cur.to) {
				last.to = cur.to
			}
			continue
		}
		out = append(out, cur)
	}
	return out
}

// subtract removes merged exclusion spans from merged target spans.
func subtract(targets, excl []span) []span {
	var out []span
	for _, t := range targets {
		pieces := []span{t}
		for _, e := range excl {
			var next []span
			for _, p := range pieces {
				next = append(next, cut(p, e)...)
			}
			pieces = next
		}
		out = append(out, pieces...)
	}
	return out
}

// cut returns what is left of p once e is removed: zero, one or two spans.
func cut(p, e span) []span {
	if p.from.Is4() != e.from.Is4() || e.to.Less(p.from) || p.to.Less(e.from) {
		return []span{p}
	}
	var out []span
	if p.from.Less(e.from) {
		out = append(out, span{p.from, e.from.Prev()})
	}
	if e.to.Less(p.to) {
		out = append(out, span{e.to.Next(), p.to})
	}
	return out
}

func overlapsAny(e span, spans []span) bool {
	for _, s := range spans {
		if len(cut(s, e)) != 1 || cut(s, e)[0] != s {
			return true
		}
	}
	return false
}

// ByFamily splits a resolved target set into the parts one scanner run can
// take, as nmap scans one address family per run: IPv4 addresses with the
// host names (which nmap resolves to IPv4), then IPv6 addresses. Each part
// keeps the exclusions of its family and every host-name exclusion. An empty
// family is left out.
func (r Resolved) ByFamily() []Resolved {
	var v4, v6 Resolved
	for _, t := range r.Targets {
		tgt, err := ParseTarget(t)
		switch {
		case err != nil, tgt.Kind == KindHost, tgt.From.Is4():
			v4.Targets = append(v4.Targets, t)
			v4.Addresses = addSat(v4.Addresses, tgt.Addresses())
		default:
			v6.Targets = append(v6.Targets, t)
			v6.Addresses = addSat(v6.Addresses, tgt.Addresses())
		}
	}
	v4.Excludes, v6.Excludes = FamilyExcludes(r.Excludes, false), FamilyExcludes(r.Excludes, true)
	var out []Resolved
	for _, part := range []Resolved{v4, v6} {
		if len(part.Targets) > 0 {
			out = append(out, part)
		}
	}
	return out
}

// FamilyExcludes are the exclusions that a scanner run of one address
// family (IPv6 when v6, else IPv4 and host names) takes: those of the
// family and every host name.
func FamilyExcludes(excludes []string, v6 bool) []string {
	var out []string
	for _, e := range excludes {
		tgt, err := ParseTarget(e)
		if err != nil || tgt.Kind == KindHost || tgt.From.Is4() != v6 {
			out = append(out, e)
		}
	}
	return out
}

// TargetIsIPv6 says whether a resolved target is an IPv6 address or block
// (a host name counts as IPv4, as in ByFamily): which family's shard it is
// in.
func TargetIsIPv6(t string) bool {
	tgt, err := ParseTarget(t)
	return err == nil && tgt.Kind != KindHost && !tgt.From.Is4()
}

// ResolveSite resolves a site's targets less its own exclusions and the
// global ones, checked against maxAddresses (0 means DefaultMaxAddresses).
// Saving a site and starting a run both call it, so that a site the server
// accepts is one its runs can start with.
func ResolveSite(site Site, globalExclusions []string, maxAddresses uint64) (Resolved, error) {
	targets, err := ParseTargets(site.Targets)
	if err != nil {
		return Resolved{}, fmt.Errorf("targets: %w", err)
	}
	exclusions, err := ParseTargets(append(append([]string{}, site.Exclusions...), globalExclusions...))
	if err != nil {
		return Resolved{}, fmt.Errorf("exclusions: %w", err)
	}
	return Resolve(targets, exclusions, maxAddresses)
}
