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
// follow's scanner and options with the found ports, over the found hosts
// (one run for the shard, each host with the union of the ports found).
func SecondStage(first scan.Spec, follow PairScanner, options []string, rate float64, pairs []Pair) (scan.Spec, error) {
	var hosts []netip.Addr
	var ports []uint16
	for _, p := range pairs {
		a, err := netip.ParseAddr(p.Addr)
		if err != nil {
			return scan.Spec{}, fmt.Errorf("%w: found address %q: %v", scan.ErrInvalidSpec, p.Addr, err)
		}
		hosts = append(hosts, a)
		ports = append(ports, p.Port)
	}
	slices.SortFunc(hosts, func(a, b netip.Addr) int { return a.Compare(b) })
	hosts = slices.Compact(hosts)
	opts, err := follow.PortOptions(options, ports)
	if err != nil {
		return scan.Spec{}, err
	}
	spec := scan.Spec{RunID: first.RunID, ShardID: first.ShardID, Scanner: follow.Scanner(), Options: opts,
		Rate: rate, Excludes: first.Excludes}
	// Runs of consecutive hosts travel as one range, so that a dense
	// shard's second stage stays a short list.
	for i := 0; i < len(hosts); {
		j := i
		for j+1 < len(hosts) && hosts[j].Next() == hosts[j+1] {
			j++
		}
		spec.Targets = append(spec.Targets, scan.Target{Kind: scan.KindRange, From: hosts[i], To: hosts[j]}.String())
		i = j + 1
	}
	return spec, spec.Validate()
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
