package nmap

import (
	"fmt"
	"slices"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// portChoices are the options by which nmap chooses its ports; a second
// stage's ports are the first stage's finds.
var portChoices = []string{"-p", "-F", "--top-ports", "--port-ratio", "--allports", "--exclude-ports"}

// CheckSecondStage refuses options that choose ports: after a discovery
// stage nmap scans exactly the ports it found.
func (Driver) CheckSecondStage(set scan.OptionSet) error {
	for _, o := range portChoices {
		if set.Has(o) {
			return fmt.Errorf("%w: %s: %w", scan.ErrInvalidOptions, o, driver.ErrStagePorts)
		}
	}
	return nil
}

// PortOptions adds -p with the found ports (TCP: masscan and zmap find TCP
// ports) to options.
func (d Driver) PortOptions(options []string, ports []uint16) ([]string, error) {
	if len(ports) == 0 {
		return nil, fmt.Errorf("%w: no ports for the second stage", scan.ErrInvalidSpec)
	}
	set, err := scan.ParseOptionArgs(scan.Nmap, options)
	if err != nil {
		return nil, err
	}
	if err := d.CheckSecondStage(set); err != nil {
		return nil, err
	}
	out := append(slices.Clone(options), "-p", "T:"+driver.PortList(ports))
	return out, scan.CheckOptions(scan.Nmap, out)
}
