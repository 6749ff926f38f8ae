// Package zmap drives ZMap for single-port sweeps: one probe per address,
// at a set rate, over many addresses. Its command line carries no target
// and no exclusion: the shard's targets go in an allowlist file (-w) and
// the site's and global exclusions in a blocklist file (-b) that replaces
// zmap's own (its default one, from /etc/zmap/zmap.conf, refuses
// 198.18.0.0/15, where the tests' hosts live); an empty config file keeps
// /etc/zmap out. zmap's CSV output is turned into the XML dialect the
// results activities read (one host element per open port, as masscan's).
package zmap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/report"
)

// DefaultRate is zmap's own rate (packets per second) when it is given no
// --rate; the agent always gives one.
const DefaultRate = 10000

// Driver runs zmap. It is optional on an agent: without it, zmap specs are
// refused by name.
type Driver struct{}

var _ driver.Driver = Driver{}

// Scanner implements driver.Driver.
func (Driver) Scanner() scan.Scanner { return scan.Zmap }

// Required implements driver.Driver.
func (Driver) Required() bool { return false }

// Install implements driver.Driver.
func (Driver) Install() string { return "Debian: apt-get install zmap" }

// rateOptions are zmap's options that set packets per second.
var rateOptions = []string{"-r", "--rate"}

// Dispatch implements driver.Driver: the profile's rate and the site's
// cap, the lower one, then the server's ceiling, which never raises zmap's
// default rate. The rate travels in Spec.Rate, out of the options.
func (Driver) Dispatch(set scan.OptionSet, siteMax, serverMax float64) ([]string, float64, error) {
	rate := 0.0
	if v, ok := set.Last(rateOptions...); ok {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: --rate %q is not a number", scan.ErrInvalidOptions, v)
		}
		rate = r
	}
	if _, err := probe(set); err != nil {
		return nil, 0, err
	}
	rest, _ := set.Without(rateOptions...)
	return rest.Args(), driver.LimitRate(driver.CapRate(rate, siteMax), serverMax, DefaultRate), nil
}

// Coverage implements driver.Driver: the options with the rate taken out.
func (Driver) Coverage(options []string) ([]string, error) {
	set, err := scan.ParseOptionArgs(scan.Zmap, options)
	if err != nil {
		return nil, err
	}
	rest, _ := set.Without(rateOptions...)
	return rest.Args(), nil
}

// probeInfo is what a scan's probe module sends and answers with.
type probeInfo struct {
	module string
	port   int    // tcp_synscan: the port probed
	fields string // the CSV fields asked for
}

// probe reads the probe module and port of a set: tcp_synscan (zmap's
// default) probes exactly one port, which the profile must give.
func probe(set scan.OptionSet) (probeInfo, error) {
	module, _ := set.Last("-M", "--probe-module")
	if module == "" {
		module = "tcp_synscan"
	}
	if module == "icmp_echoscan" {
		return probeInfo{module: module, fields: "saddr,classification,success,repeat,timestamp-ts"}, nil
	}
	v, ok := set.Last("-p", "--target-port")
	if !ok {
		return probeInfo{}, fmt.Errorf("%w: a zmap %s scan probes one port: give it with -p", scan.ErrInvalidOptions, module)
	}
	port, _ := strconv.Atoi(v)
	return probeInfo{module: module, port: port, fields: "saddr,sport,classification,success,repeat,timestamp-ts"}, nil
}

// files are where an attempt's zmap reads and writes, beside the agent's
// output.
type files struct {
	config, blocklist, allowlist, csv string
}

func filesOf(c driver.Command) files {
	dir := c.Dir
	if dir == "" {
		dir = filepath.Dir(c.Output)
	}
	return files{
		config:    filepath.Join(dir, "zmap.conf"),
		blocklist: filepath.Join(dir, "zmap-blocklist.txt"),
		allowlist: filepath.Join(dir, "zmap-allowlist.txt"),
		csv:       filepath.Join(dir, "zmap.csv"),
	}
}

// plan is one attempt's command line and the files it reads.
type plan struct {
	args       []string
	files      files
	allow      []string // CIDR blocks, one a line of files.allowlist
	block      []string // and of files.blocklist
	probe      probeInfo
	targetsSet []scan.Target
}

// Args implements driver.Driver.
func (Driver) Args(c driver.Command) ([]string, error) {
	p, err := planOf(c)
	if err != nil {
		return nil, err
	}
	return p.args, nil
}

func planOf(c driver.Command) (plan, error) {
	spec := c.Spec
	if err := spec.Validate(); err != nil {
		return plan{}, err
	}
	if spec.Scanner != scan.Zmap {
		return plan{}, fmt.Errorf("%w: scanner is %q, not zmap", scan.ErrInvalidSpec, spec.Scanner)
	}
	if c.Output == "" || strings.HasPrefix(c.Output, "-") {
		return plan{}, fmt.Errorf("zmap: output path %q is empty or looks like an option", c.Output)
	}
	set, err := scan.ParseOptionArgs(scan.Zmap, spec.Options)
	if err != nil {
		return plan{}, fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err)
	}
	pr, err := probe(set)
	if err != nil {
		return plan{}, fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err)
	}
	targets, err := scan.ParseTargets(spec.Targets)
	if err != nil {
		return plan{}, fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err)
	}
	allow, err := blocks(targets, "scan")
	if err != nil {
		return plan{}, err
	}
	excludes, err := scan.ParseTargets(spec.Excludes)
	if err != nil {
		return plan{}, fmt.Errorf("%w: exclusion: %v", scan.ErrInvalidSpec, err)
	}
	block, err := blocks(excludes, "exclude")
	if err != nil {
		return plan{}, err
	}
	// A rate in the options would override the capped one; the server
	// takes it out, and so does the agent, in case the spec was altered
	// on the way.
	profile, _ := set.Without(rateOptions...)
	rate := driver.LimitRate(spec.Rate, c.Machine.MaxRate, DefaultRate)
	if rate <= 0 {
		rate = DefaultRate
	}
	f := filesOf(c)
	args := []string{
		"--config=" + f.config,
		"--blacklist-file=" + f.blocklist,
		"--whitelist-file=" + f.allowlist,
		"--output-file=" + f.csv,
		"--output-module=csv",
		"--output-fields=" + pr.fields,
		"--output-filter=success = 1 && repeat = 0",
		"--disable-syslog",
		"--rate=" + strconv.FormatInt(int64(math.Max(1, math.Floor(rate))), 10),
	}
	m := c.Machine
	if m.Adapter != "" {
		args = append(args, "--interface="+m.Adapter)
	} else if m.Interface != "" {
		args = append(args, "--interface="+m.Interface)
	}
	if m.AdapterIP != "" {
		args = append(args, "--source-ip="+m.AdapterIP)
	}
	if m.RouterMAC != "" {
		args = append(args, "--gateway-mac="+m.RouterMAC)
	}
	// The profile's options come last, each with its value bound.
	args = append(args, profile.Args()...)
	return plan{args: args, files: f, allow: allow, block: block, probe: pr, targetsSet: targets}, nil
}

// blocks renders targets as the CIDR blocks zmap's allowlist and blocklist
// files take. zmap scans IPv4 addresses only, and resolves no names.
func blocks(targets []scan.Target, what string) ([]string, error) {
	var out []string
	for _, t := range targets {
		if t.Kind == scan.KindHost {
			return nil, fmt.Errorf("%w: zmap cannot %s host name %q; give addresses", scan.ErrInvalidSpec, what, t.Host)
		}
		if !t.From.Is4() {
			if what == "exclude" {
				continue // an IPv6 exclusion excludes nothing zmap scans
			}
			return nil, fmt.Errorf("%w: zmap scans IPv4 only, not %s", scan.ErrInvalidSpec, t)
		}
		for _, b := range t.Blocks() {
			if !strings.Contains(b, "/") {
				b += "/32"
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// statusLine is zmap's status line on standard error, once a second:
// " 0:05 45% (6s left); send: ...".
var statusLine = regexp.MustCompile(`^\s*(?:\d+:)?\d+:\d{2}\s+(\d+(?:\.\d+)?)%`)

// parseStatus returns the percent done a status line reports.
func parseStatus(line string) (float64, bool) {
	m := statusLine.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	pct, err := strconv.ParseFloat(m[1], 64)
	return min(pct, 100), err == nil
}

// Run implements driver.Driver. zmap cannot resume part way (it has no
// index to start at), so a retry scans the shard again; a stopped zmap's
// output so far is kept.
func (Driver) Run(ctx context.Context, c driver.Command, h driver.Host) (string, error) {
	start := time.Now()
	p, err := planOf(c)
	if err != nil {
		return "", err
	}
	for path, lines := range map[string][]string{p.files.config: nil, p.files.allowlist: p.allow, p.files.blocklist: p.block} {
		body := "# written by the scantron agent for one shard\n" + strings.Join(lines, "\n")
		if len(lines) > 0 {
			body += "\n"
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			return "", err
		}
	}
	h.Scanning()
	var runErr error
	for try := 1; ; try++ {
		runErr = driver.Run(ctx, driver.RunOptions{
			Binary: c.BinaryOr(scan.Zmap),
			Args:   p.args,
			Env:    c.Env,
			Dir:    c.Dir,
			Stderr: &driver.Lines{Fn: func(line string) {
				if pct, ok := parseStatus(line); ok {
					h.Progress(pct, "", time.Time{})
				}
			}},
		})
		if runErr == nil || ctx.Err() != nil || try >= generatorTries || !generatorBug(runErr) {
			break
		}
		h.Logger().Warn("zmap aborted on its address generator's assertion (a zmap bug with few targets); running it again", "try", try, "error", runErr)
	}
	if ctx.Err() != nil {
		n, err := toXML(p, c.Output, start, true)
		if err != nil || n == 0 {
			return "", runErr
		}
		return c.Output, runErr
	}
	if runErr != nil {
		return "", runErr
	}
	if _, err := toXML(p, c.Output, start, false); err != nil {
		return "", fmt.Errorf("read zmap's output: %w", err)
	}
	return c.Output, nil
}

// generatorTries bounds how often one attempt starts zmap when it aborts
// on generatorBug.
const generatorTries = 3

// generatorBug reports whether zmap aborted on the assertion in its target
// generator's constraint lookup. zmap releases before the 2024 fix
// (Debian's 2.1.1 among them) hit it now and then when a scan has very few
// targets, e.g. one address: a send thread's range can hold no target and
// its index wraps (zmap/zmap issue 310, pull request 786). It happens before any probe is sent and
// a run with the same input usually passes, so zmap is simply started
// again.
func generatorBug(err error) bool {
	return errors.Is(err, driver.ErrScannerFailed) && strings.Contains(err.Error(), "constraint_lookup_index: Assertion")
}

// toXML writes zmap's CSV output as the XML the results activities read,
// and returns how many hosts it holds. stopped: the CSV of a stopped zmap,
// whose last line may be cut off.
func toXML(p plan, out string, start time.Time, stopped bool) (int, error) {
	in, err := os.Open(p.files.csv)
	if err != nil {
		if stopped && errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	defer in.Close()
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	n, err := writeXML(f, in, p, start, stopped)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// Parse implements driver.Driver: the hosts of the XML the agent wrote,
// one each (zmap reports an address once: repeat = 0).
func (Driver) Parse(r io.Reader, partial bool, emit func(report.Host) error) error {
	_, err := report.ParseAny(r, emit)
	if partial && errors.Is(err, report.ErrTruncated) {
		return nil
	}
	return err
}

// Discovers: zmap can be a profile's discovery stage.
func (Driver) Discovers() {}
