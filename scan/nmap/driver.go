package nmap

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"errors"
	"os"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/report"
)

// Driver runs nmap: the scanner every agent has.
type Driver struct{}

var _ driver.Driver = Driver{}

// Scanner implements driver.Driver.
func (Driver) Scanner() scan.Scanner { return scan.Nmap }

// Required implements driver.Driver: an agent without nmap does not start.
func (Driver) Required() bool { return true }

// Install implements driver.Driver.
func (Driver) Install() string { return "Debian: apt-get install nmap" }

// Dispatch implements driver.Driver: the site's max_rate and the server's
// ceiling cap nmap through its options (--max-rate lowered or added,
// --min-rate lowered with it).
func (Driver) Dispatch(set scan.OptionSet, siteMax, serverMax float64) ([]string, float64, error) {
	return set.CapRate(driver.CapRate(siteMax, serverMax)).Args(), 0, nil
}

// Coverage implements driver.Driver: nmap's options as dispatched.
func (Driver) Coverage(options []string) ([]string, error) { return options, nil }

// Args implements driver.Driver: SpecArgs with the agent's cap on the rate,
// its interface, --privileged when the binary has raw sockets without
// root, and on a retry the hosts earlier attempts finished excluded.
// A grouped spec's arguments are its first group's, once every group's
// are checked.
func (Driver) Args(c driver.Command) ([]string, error) {
	if len(c.Spec.Groups) > 0 {
		all, err := groupArgs(c)
		if err != nil {
			return nil, err
		}
		return all[0], nil
	}
	return args(c)
}

func args(c driver.Command, extra ...Option) ([]string, error) {
	if c.Privileged {
		extra = append(extra, WithPrivileged())
	}
	if c.Machine.Interface != "" {
		// Profiles cannot pick an interface; the agent's operator can.
		extra = append(extra, WithInterface(c.Machine.Interface))
	}
	spec, err := CapSpecRate(c.Spec, c.Machine.MaxRate)
	if err != nil {
		return nil, err
	}
	return SpecArgs(spec, c.Output, c.StatsEvery, extra...)
}

// Run implements driver.Driver. A retry skips the hosts earlier attempts
// finished (the spec is verified as signed, and only narrowed) and puts
// them in front of its own output.
func (d Driver) Run(ctx context.Context, c driver.Command, h driver.Host) (string, error) {
	if len(c.Spec.Groups) > 0 {
		return d.runGroups(ctx, c, h)
	}
	done := resume(ctx, c, h)
	var skip []Option
	if done != nil {
		skip = append(skip, WithExcludeFile(done.skip))
		h.Resumed(driver.Resume{Ref: done.ref, Hosts: len(done.addrs)})
	}
	argv, err := args(c, skip...)
	if err != nil {
		return "", err
	}
	h.Scanning()
	stopSaver := func() {}
	if c.PartialEvery >= 0 {
		saver := &partialSaver{h: h, xmlPath: c.Output, tmp: filepath.Join(c.Dir, "partial.xml"), done: done}
		if done != nil {
			saver.hosts = len(done.addrs)
		}
		stopSaver = driver.Saver(ctx, h.Logger(), c.PartialEveryOrDefault(), saver.save, "could not save the finished hosts of a running scan", "partial")
		defer stopSaver()
	}
	runErr := Run(ctx, RunOptions{
		Binary: c.BinaryOr(scan.Nmap),
		Args:   argv,
		Env:    c.Env,
		Dir:    c.Dir,
		OnProgress: func(p Progress) {
			h.Progress(p.Percent, p.Task, p.ETC)
		},
	})
	stopSaver()
	if ctx.Err() != nil {
		return stopped(c, h, done), runErr
	}
	if runErr != nil {
		return "", runErr
	}
	if done == nil {
		return c.Output, nil
	}
	// One document: the hosts earlier attempts finished, then this
	// attempt's, each once.
	whole := filepath.Join(c.Dir, "whole.xml")
	if err := withDone(done, c.Output, whole, false); err != nil {
		return "", fmt.Errorf("add the hosts earlier attempts finished: %w", err)
	}
	return whole, nil
}

// stopped is what a stopped nmap leaves to keep: its output (cut off),
// behind the hosts earlier attempts finished; "" if there is nothing.
func stopped(c driver.Command, h driver.Host, done *resumed) string {
	if info, err := os.Stat(c.Output); err != nil || info.Size() == 0 {
		if done == nil {
			return ""
		}
		return done.path
	}
	if done == nil {
		return c.Output
	}
	// The hosts earlier attempts finished are this run's too.
	whole := filepath.Join(c.Dir, "whole.xml")
	if err := withDone(done, c.Output, whole, false); err != nil {
		h.Logger().Warn("could not add the hosts earlier attempts finished to a stopped scan's output", "shard", c.Spec.ShardID, "error", err)
		return c.Output
	}
	return whole
}

// Parse implements driver.Driver: nmap's hosts as they come.
func (Driver) Parse(r io.Reader, partial bool, emit func(report.Host) error) error {
	_, err := report.ParseAny(r, emit)
	if partial && errors.Is(err, report.ErrTruncated) {
		return nil
	}
	return err
}
