package nmap

import (
	"fmt"
	"strings"
	"time"

	"github.com/scantron/scantron/scan"
)

// SpecArgs returns the nmap arguments that run spec, writing XML to xmlPath
// and progress every statsEvery (0: none), with extra options of the
// agent's (WithPrivileged), in the order Args gives. It
// validates spec again (the error then wraps scan.ErrInvalidSpec), and:
//
//   - writes every target and exclusion in a form nmap reads: a range of
//     whole addresses (198.18.0.1-198.18.0.9), which nmap would take for a
//     host name and skip, becomes the CIDR blocks that cover it;
//   - adds -6 when the targets are IPv6, and refuses (scan.ErrInvalidSpec) a
//     spec that mixes IPv4 and IPv6 targets, or IPv4 targets with a profile
//     that has -6 (IPv6 targets with -4): nmap would skip part of them
//     and still exit 0;
//   - does not add --noninteractive, which silences --stats-every.
//
// xmlPath must not be empty and must not start with "-" ("-oX -" writes to
// standard output, where Run reads progress).
func SpecArgs(spec scan.Spec, xmlPath string, statsEvery time.Duration, extra ...Option) ([]string, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Scanner != scan.Nmap {
		return nil, fmt.Errorf("%w: scanner is %q, not nmap", scan.ErrInvalidSpec, spec.Scanner)
	}
	set, err := scan.ParseOptionArgs(scan.Nmap, spec.Options)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err)
	}
	if xmlPath == "" || strings.HasPrefix(xmlPath, "-") {
		return nil, fmt.Errorf("nmap: XML output path %q is empty or looks like an option", xmlPath)
	}
	targets, v4, v6, err := nmapTargets(spec.Targets)
	if err != nil {
		return nil, err
	}
	excludes, _, _, err := nmapTargets(spec.Excludes)
	if err != nil {
		return nil, err
	}
	profile6 := set.Has("-6")
	switch {
	case v6 && set.Has("-4"):
		return nil, fmt.Errorf("%w: the profile has -4 but the targets are IPv6", scan.ErrInvalidSpec)
	case v4 && v6:
		return nil, fmt.Errorf("%w: nmap scans one address family per run; put IPv4 and IPv6 targets in separate shards", scan.ErrInvalidSpec)
	case v4 && profile6:
		return nil, fmt.Errorf("%w: the profile has -6 but the targets are IPv4", scan.ErrInvalidSpec)
	}
	opts := []Option{
		WithXMLOutput(xmlPath),
		WithStatsEvery(statsEvery),
		WithExcludes(excludes),
		WithProfile(set),
		WithTargets(targets),
	}
	if v6 && !profile6 {
		opts = append(opts, WithIPv6())
	}
	return Args(append(opts, extra...)...), nil
}

// nmapTargets renders targets for nmap and says which address families they
// hold (host names count for neither).
func nmapTargets(list []string) (out []string, v4, v6 bool, err error) {
	for _, s := range list {
		t, err := scan.ParseTarget(s)
		if err != nil {
			return nil, false, false, fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err)
		}
		if t.Kind == scan.KindHost {
			out = append(out, t.String())
			continue
		}
		if t.From.Is4() {
			v4 = true
		} else {
			v6 = true
		}
		out = append(out, t.Blocks()...)
	}
	return out, v4, v6, nil
}
