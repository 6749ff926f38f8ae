package nmap

import (
	"fmt"

	"github.com/scantron/scantron/scan"
)

// CapSpecRate returns spec with its nmap options capped at limit packets
// per second (scan.OptionSet.CapRate: --max-rate lowered or added,
// --min-rate lowered); limit <= 0 returns spec as it is. An agent applies
// its own cap with it to every spec it runs.
func CapSpecRate(spec scan.Spec, limit float64) (scan.Spec, error) {
	if limit <= 0 || spec.Scanner != scan.Nmap {
		return spec, nil
	}
	set, err := scan.ParseOptionArgs(scan.Nmap, spec.Options)
	if err != nil {
		return spec, fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err)
	}
	spec.Options = set.CapRate(limit).Args()
	return spec, nil
}
