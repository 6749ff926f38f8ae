// Package scanners is the one table of the scanner drivers Scantron runs.
// Adding a scanner is a driver package (see scan/driver), its option policy
// in scan (options_<scanner>.go) and one line here.
package scanners

import (
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/masscan"
	"github.com/scantron/scantron/scan/nmap"
	"github.com/scantron/scantron/scan/zmap"
)

// registry is every driver, the required one first.
var registry = driver.NewRegistry(
	nmap.Driver{},
	masscan.Driver{},
	zmap.Driver{},
)

// Lookup returns the driver of a scanner.
func Lookup(s scan.Scanner) (driver.Driver, error) { return registry.Lookup(s) }

// All returns every driver, in the order of the table.
func All() []driver.Driver { return registry.All() }

// Argv is the exact command line the agent runs for the first attempt of
// c.Spec: the binary, then the scanner's arguments with every output path
// filled in.
func Argv(c driver.Command) ([]string, error) { return registry.Argv(c) }

// Discoverers are the scanners that can be a profile's discovery stage,
// in the order of the table.
func Discoverers() []scan.Scanner {
	var out []scan.Scanner
	for _, d := range registry.All() {
		if _, ok := d.(driver.Discoverer); ok {
			out = append(out, d.Scanner())
		}
	}
	return out
}

// Stages checks a two-stage profile's scanners (see driver.StagesOf).
func Stages(discover, follow scan.Scanner, followSet scan.OptionSet) (driver.Stages, error) {
	return registry.StagesOf(discover, follow, followSet)
}
