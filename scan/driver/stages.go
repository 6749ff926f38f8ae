package driver

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// A profile may run in two stages: a fast first stage that only finds open
// host:port pairs (a Discoverer), then a second that looks closer at those
// pairs alone (a PairScanner). Which scanner may be which is the drivers'
// to say, never the caller's.

// Discoverer is a driver whose scanner can be a profile's first stage: its
// output lists the open host:port pairs it found, which Parse reads.
type Discoverer interface {
	Driver
	// Discovers marks the capability.
	Discovers()
}

// PairScanner is a driver whose scanner can be a profile's second stage: it
// is given the hosts and the ports the first stage found.
type PairScanner interface {
	Driver
	// PortOptions are options (as Dispatch returned them) with ports, in
	// the scanner's syntax, as the ports to scan. Options that choose
	// ports themselves are refused: the first stage chooses them.
	PortOptions(options []string, ports []uint16) ([]string, error)
	// CheckSecondStage refuses a profile's options that cannot be a second
	// stage's (those that choose ports).
	CheckSecondStage(set scan.OptionSet) error
}

// ErrStagePorts is a second stage's option that chooses ports: the first
// stage chooses them.
var ErrStagePorts = errors.New("after a discovery stage the ports scanned are the ones it found; leave the ports to the discovery options")

// Stages are the drivers of a two-stage profile.
type Stages struct {
	Discover Discoverer
	Follow   PairScanner
}

// StagesOf checks that discover can be a first stage and follow a second,
// and that follow's options leave the ports to the first stage.
func (r *Registry) StagesOf(discover, follow scan.Scanner, followSet scan.OptionSet) (Stages, error) {
	d, err := r.Lookup(discover)
	if err != nil {
		return Stages{}, err
	}
	f, err := r.Lookup(follow)
	if err != nil {
		return Stages{}, err
	}
	dd, ok := d.(Discoverer)
	if !ok {
		return Stages{}, fmt.Errorf("%w: %s cannot be a discovery stage (want one of %s)", scan.ErrInvalidOptions, discover, strings.Join(r.names(func(d Driver) bool { _, ok := d.(Discoverer); return ok }), ", "))
	}
	ff, ok := f.(PairScanner)
	if !ok {
		return Stages{}, fmt.Errorf("%w: %s cannot follow a discovery stage (want one of %s)", scan.ErrInvalidOptions, follow, strings.Join(r.names(func(d Driver) bool { _, ok := d.(PairScanner); return ok }), ", "))
	}
	if err := ff.CheckSecondStage(followSet); err != nil {
		return Stages{}, err
	}
	return Stages{Discover: dd, Follow: ff}, nil
}

func (r *Registry) names(keep func(Driver) bool) []string {
	var out []string
	for _, d := range r.order {
		if keep(d) {
			out = append(out, string(d.Scanner()))
		}
	}
	return out
}

// Pair is one open port of one host, as a first stage found it.
type Pair struct {
	Addr string `json:"addr"`
	Port uint16 `json:"port"`
}

// OpenPairs reads a first stage's output with its driver and returns the
// open TCP ports it holds of hosts among targets (anything else the output
// claims is ignored), in the order found.
func OpenPairs(d Driver, r io.Reader, targets []scan.Target) ([]Pair, error) {
	var out []Pair
	err := d.Parse(r, false, func(h report.Host) error {
		ip, err := netip.ParseAddr(h.IP())
		if err != nil || !InTargets(targets, ip, nil) {
			return nil
		}
		for _, p := range h.Ports {
			if p.State == "open" && p.Protocol == "tcp" && p.Number > 0 && p.Number < 65536 {
				out = append(out, Pair{Addr: ip.String(), Port: uint16(p.Number)})
			}
		}
		return nil
	})
	return out, err
}

// SecondStage is the spec that follows first, whose output held pairs:
// follow's scanner and options over the found hosts, each on the ports found
// open on it alone. Hosts found open on the same ports are one group (one
// scanner run, with its own ports); groups beyond scan.MaxPortGroups are
// merged (GroupPairs), and extra is how many host:port pairs that adds to
// those found.
func SecondStage(first scan.Spec, follow PairScanner, options []string, rate float64, pairs []Pair) (spec scan.Spec, extra int, err error) {
	groups, extra, err := GroupPairs(pairs, scan.MaxPortGroups)
	if err != nil {
		return scan.Spec{}, 0, err
	}
	if len(groups) == 0 {
		return scan.Spec{}, 0, fmt.Errorf("%w: no ports for the second stage", scan.ErrInvalidSpec)
	}
	// The driver refuses options that choose ports, here as on the agent.
	for _, g := range groups {
		if _, err := follow.PortOptions(options, g.Ports); err != nil {
			return scan.Spec{}, 0, err
		}
	}
	spec = scan.Spec{RunID: first.RunID, ShardID: first.ShardID, Scanner: follow.Scanner(), Options: slices.Clone(options),
		Rate: rate, Excludes: first.Excludes}
	for _, g := range groups {
		pg := scan.PortGroup{Ports: g.Ports, Targets: hostRanges(g.Hosts)}
		spec.Groups = append(spec.Groups, pg)
		spec.Targets = append(spec.Targets, pg.Targets...)
	}
	return spec, extra, spec.Validate()
}

// hostRanges writes sorted hosts as targets, runs of consecutive hosts as
// one range, so that a dense shard's second stage stays a short list.
func hostRanges(hosts []netip.Addr) []string {
	var out []string
	for i := 0; i < len(hosts); {
		j := i
		for j+1 < len(hosts) && hosts[j].Next() == hosts[j+1] {
			j++
		}
		out = append(out, scan.Target{Kind: scan.KindRange, From: hosts[i], To: hosts[j]}.String())
		i = j + 1
	}
	return out
}

// HostGroup is hosts (sorted) to scan on the same ports (sorted).
type HostGroup struct {
	Ports []uint16
	Hosts []netip.Addr
}

// GroupPairs groups pairs by host: hosts found open on the same ports are
// one group, in the order of their lowest address. While there are more
// than limit groups, the group with the fewest hosts joins the one that the
// fewest pairs it was not found open on are added to (its closest), so the
// extra probing stays small and falls on few hosts; extra counts the added
// pairs.
func GroupPairs(pairs []Pair, limit int) (groups []HostGroup, extra int, err error) {
	if limit < 1 {
		return nil, 0, fmt.Errorf("GroupPairs: limit %d, want at least 1", limit)
	}
	ports := map[netip.Addr][]uint16{}
	found := 0
	for _, p := range pairs {
		a, err := netip.ParseAddr(p.Addr)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: found address %q: %v", scan.ErrInvalidSpec, p.Addr, err)
		}
		if p.Port == 0 {
			return nil, 0, fmt.Errorf("%w: found port 0 on %s", scan.ErrInvalidSpec, a)
		}
		if !slices.Contains(ports[a], p.Port) {
			ports[a] = append(ports[a], p.Port)
			found++
		}
	}
	hosts := make([]netip.Addr, 0, len(ports))
	for a := range ports {
		hosts = append(hosts, a)
	}
	slices.SortFunc(hosts, func(a, b netip.Addr) int { return a.Compare(b) })
	index := map[string]int{}
	for _, a := range hosts {
		ps := ports[a]
		slices.Sort(ps)
		key := PortList(ps)
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, HostGroup{Ports: ps})
		}
		groups[i].Hosts = append(groups[i].Hosts, a)
	}
	for len(groups) > limit {
		small := 0
		for i, g := range groups {
			if len(g.Hosts) < len(groups[small].Hosts) {
				small = i
			}
		}
		into, cost := -1, 0
		for j := range groups {
			if j == small {
				continue
			}
			if c := addedPairs(groups[small], groups[j]); into < 0 || c < cost {
				into, cost = j, c
			}
		}
		g := &groups[into]
		g.Ports = unionPorts(g.Ports, groups[small].Ports)
		g.Hosts = append(g.Hosts, groups[small].Hosts...)
		slices.SortFunc(g.Hosts, func(a, b netip.Addr) int { return a.Compare(b) })
		groups = slices.Delete(groups, small, small+1)
	}
	scanned := 0
	for _, g := range groups {
		scanned += len(g.Ports) * len(g.Hosts)
	}
	return groups, scanned - found, nil
}

// addedPairs is how many more host:port pairs a and b scan as one group
// than as two.
func addedPairs(a, b HostGroup) int {
	u := len(unionPorts(a.Ports, b.Ports))
	return u*(len(a.Hosts)+len(b.Hosts)) - len(a.Ports)*len(a.Hosts) - len(b.Ports)*len(b.Hosts)
}

// unionPorts is the sorted union of two sorted port lists.
func unionPorts(a, b []uint16) []uint16 {
	out := make([]uint16, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

// PortList is ports sorted, without repeats, as "22,80,443".
func PortList(ports []uint16) string {
	ps := slices.Clone(ports)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}
