package activities

// This file links a two-stage shard's stages: the discovery stage's stored
// output becomes the second stage's spec.

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/report"
	"github.com/scantron/scantron/scan/scanners"
)

// FollowStage is a two-stage run's second stage, as StartRun planned it:
// the scanner and its dispatched options, without the ports.
type FollowStage struct {
	Scanner scan.Scanner `json:"scanner"`
	Options []string     `json:"options"`
	Rate    float64      `json:"rate,omitempty"`
}

// PlanFollowInput names a shard's accepted discovery output (as
// ParseResultsInput does) and the stage that follows it.
type PlanFollowInput struct {
	Found  ParseResultsInput `json:"found"`
	Spec   scan.Spec         `json:"spec"` // the discovery stage's, unsigned
	Follow FollowStage       `json:"follow"`
}

// PlanFollowResult is the second stage's spec (unsigned, like StartRun's),
// or nil when the discovery found no open port: then the discovery output
// itself is the shard's result.
type PlanFollowResult struct {
	Spec  *scan.Spec `json:"spec,omitempty"`
	Hosts int        `json:"hosts"`
	Pairs int        `json:"pairs"`
}

// PlanFollow reads a shard's discovery output from object storage (only
// its reference travelled through Temporal), after the same checks of its
// agent and dispatch as a result to be parsed, and plans the second stage
// on the hosts it found open, over the ports found open: one run per shard,
// each found host with the union of the shard's found ports.
func (r *Results) PlanFollow(ctx context.Context, in PlanFollowInput) (PlanFollowResult, error) {
	found := in.Found
	if err := found.Raw.Validate(); err != nil {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	if found.RunID != in.Spec.RunID || found.ShardID != in.Spec.ShardID {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: discovery output of shard %d, spec of shard %d", scan.ErrInvalidSpec, found.ShardID, in.Spec.ShardID))
	}
	if err := r.checkSignature(ctx, found); err != nil {
		return PlanFollowResult{}, err
	}
	targets, err := scan.ParseTargets(in.Spec.Targets)
	if err != nil {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	drv, err := scanners.Lookup(in.Follow.Scanner)
	if err != nil {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	follow, ok := drv.(driver.PairScanner)
	if !ok {
		return PlanFollowResult{}, nonRetryable(fmt.Errorf("%w: %s cannot follow a discovery stage", scan.ErrInvalidSpec, in.Follow.Scanner))
	}
	body, err := r.Objects.Get(ctx, found.Raw)
	if err != nil {
		return PlanFollowResult{}, wrap("read discovery output", err)
	}
	defer body.Close()
	pairs, err := openPairs(ctx, body, found.Scanner, targets)
	if err != nil {
		return PlanFollowResult{}, err
	}
	if len(pairs) == 0 {
		return PlanFollowResult{}, nil
	}
	var hosts []netip.Addr
	var ports []uint16
	for _, p := range pairs {
		a, _ := netip.ParseAddr(p.Addr) // parsed by openPairs
		hosts = append(hosts, a)
		ports = append(ports, p.Port)
	}
	slices.SortFunc(hosts, func(a, b netip.Addr) int { return a.Compare(b) })
	hosts = slices.Compact(hosts)
	opts, err := follow.PortOptions(in.Follow.Options, ports)
	if err != nil {
		return PlanFollowResult{}, nonRetryable(err)
	}
	spec := scan.Spec{RunID: in.Spec.RunID, ShardID: in.Spec.ShardID, Scanner: in.Follow.Scanner, Options: opts,
		Rate: in.Follow.Rate, Excludes: in.Spec.Excludes}
	for _, h := range hosts {
		spec.Targets = append(spec.Targets, h.String())
	}
	if err := spec.Validate(); err != nil {
		return PlanFollowResult{}, nonRetryable(err)
	}
	return PlanFollowResult{Spec: &spec, Hosts: len(hosts), Pairs: len(pairs)}, nil
}

// openPairs are the open ports a discovery output holds, of hosts among
// targets (anything else the output claims is ignored).
func openPairs(ctx context.Context, body io.Reader, scanner scan.Scanner, targets []scan.Target) ([]driver.Pair, error) {
	var out []driver.Pair
	err := parseOutput(ctx, body, scanner, false, func(h report.Host) error {
		ip, err := netip.ParseAddr(h.IP())
		if err != nil || !driver.InTargets(targets, ip, nil) {
			return nil
		}
		for _, p := range h.Ports {
			if p.State == "open" && p.Protocol == "tcp" && p.Number > 0 && p.Number < 65536 {
				out = append(out, driver.Pair{Addr: ip.String(), Port: uint16(p.Number)})
			}
		}
		return nil
	})
	return out, err
}
