package masscan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/report"
)

// Driver runs masscan. It is optional on an agent: without it, masscan
// specs are refused by name.
type Driver struct{}

var _ driver.Driver = Driver{}

// Scanner implements driver.Driver.
func (Driver) Scanner() scan.Scanner { return scan.Masscan }

// Required implements driver.Driver.
func (Driver) Required() bool { return false }

// Install implements driver.Driver.
func (Driver) Install() string { return "Debian: apt-get install masscan" }

// Dispatch implements driver.Driver: the profile's rate and the site's
// cap, the lower one, then the server's ceiling, which never raises
// masscan's default rate. The rate travels in Spec.Rate, out of the
// options, so that nothing in them can raise it again.
func (Driver) Dispatch(set scan.OptionSet, siteMax, serverMax float64) ([]string, float64, error) {
	opts, rate, err := TakeRate(set.Args())
	if err != nil {
		return nil, 0, err
	}
	return opts, LimitRate(driver.CapRate(rate, siteMax), serverMax), nil
}

// Coverage implements driver.Driver: the options with the rate taken out.
func (Driver) Coverage(options []string) ([]string, error) {
	opts, _, err := TakeRate(options)
	return opts, err
}

// Args implements driver.Driver.
func (Driver) Args(c driver.Command) ([]string, error) { return args(c) }

// args is SpecArgs with the rate capped by the agent, the agent's adapter
// settings, the attempt's options (attemptOptions) and extra.
func args(c driver.Command, extra ...Option) ([]string, error) {
	// A rate in the options would override the capped one, which comes
	// first; the server takes it out, and so does the agent, in case the
	// spec was altered on the way.
	spec := c.Spec
	opts, _, err := TakeRate(spec.Options)
	if err != nil {
		return nil, err
	}
	spec.Options = opts
	m := c.Machine
	all := append([]Option{WithRate(LimitRate(spec.Rate, m.MaxRate)), WithAdapter(m.Adapter, m.AdapterIP, m.RouterMAC)}, attemptOptions(c)...)
	return SpecArgs(spec, c.Output, append(all, extra...)...)
}

// Run implements driver.Driver. A retry resumes at the probe the failed
// attempt got to (attempt.go).
func (Driver) Run(ctx context.Context, c driver.Command, h driver.Host) (string, error) {
	start := time.Now()
	mt, mres, extra := masscanStart(ctx, c, h)
	argv, err := args(c, extra...)
	if err != nil {
		return "", err
	}
	h.Scanning()
	stopSaver := func() {}
	if mt != nil {
		saver := &masscanSaver{h: h, tmp: filepath.Join(c.Dir, "partial.xml"), track: mt, start: start, index: mt.start, ports: len(mt.ports)}
		stopSaver = driver.Saver(ctx, h.Logger(), c.PartialEveryOrDefault(), saver.save, "could not save the progress of a running masscan scan", "partial")
		defer stopSaver()
	}
	runOpts := driver.RunOptions{Binary: c.BinaryOr(scan.Masscan), Args: argv, Env: c.Env, Dir: c.Dir}
	if mt != nil {
		// masscan's status line (stderr) says how far it is, and with
		// --interactive it prints each open port on stdout as found.
		mt.onPct = func(pct float64) { h.Progress(pct, "", time.Time{}) }
		runOpts.Stdout = &driver.Lines{Fn: mt.stdoutLine}
		runOpts.Stderr = &driver.Lines{Fn: mt.stderrLine}
	}
	// masscan is run by the scanner runner: own process group,
	// killed with the activity.
	runErr := driver.Run(ctx, runOpts)
	stopSaver()
	if ctx.Err() != nil {
		// masscan writes -oX buffered: what it printed is what it
		// found, earlier attempts' ports included.
		if mt != nil {
			if _, ports, _ := mt.snapshot(); len(ports) > 0 && writeMasscanXML(masscanPartialPath(c.Dir), ports, start) == nil {
				return masscanPartialPath(c.Dir), runErr
			}
		}
		return c.Output, runErr
	}
	if runErr != nil {
		return "", runErr
	}
	if err := ensureDocument(c.Output, start); err != nil {
		return "", err
	}
	if mres == nil {
		return c.Output, nil
	}
	// The ports earlier attempts found, then this attempt's, each port
	// once.
	whole := filepath.Join(c.Dir, "whole.xml")
	if err := withMasscanDone(mres.ports, c.Output, whole, start); err != nil {
		return "", fmt.Errorf("add the ports earlier attempts found: %w", err)
	}
	return whole, nil
}

// ensureDocument makes the output of a masscan run that found nothing a
// document of no host: masscan leaves its -oX file empty (or does not
// make it) when nothing answered, which most shards of a sweep of a
// sparse network are, and an empty file reads as a cut-off one.
func ensureDocument(path string, start time.Time) error {
	st, err := os.Stat(path)
	if err == nil && st.Size() > 0 {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return writeMasscanXML(path, nil, start)
}

// Parse implements driver.Driver: masscan writes a host element per open
// port, and with --banners one more per banner, where nmap writes one per
// host; they are merged by address, as nmap's are stored: one host with its
// ports, each port once, with its banners.
func (Driver) Parse(r io.Reader, partial bool, emit func(report.Host) error) error {
	merged := newHostMerger()
	_, err := report.ParseAny(r, func(h report.Host) error {
		merged.add(h)
		return nil
	})
	if partial && errors.Is(err, report.ErrTruncated) {
		err = nil
	}
	if err != nil {
		return err
	}
	return merged.emit(emit)
}

// Discovers: masscan can be a profile's discovery stage.
func (Driver) Discovers() {}
