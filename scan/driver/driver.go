// Package driver is the seam between Scantron and the scanner programs it
// runs: one Driver per scanner (nmap, masscan, zmap), each in its own
// package, registered in one table (scan/scanners). Everything that
// differs between scanners - the command line, the rate options, raw
// sockets, progress, resume state, the output and how it is read - is
// behind this interface, so that the agent, the results activities and the
// workflow never ask which scanner they have.
//
// A driver depends only on what its caller hands in (Command, Host): never
// on the agent's or the activities' own types.
package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// Driver is one scanner program.
type Driver interface {
	// Scanner is the scanner's name, as profiles and specs carry it. The
	// scanner's option policy (which options a profile may use, which
	// need raw sockets, which set the rate) is scan's, keyed by it.
	Scanner() scan.Scanner
	// Required: an agent without this scanner does not start; without
	// any other, it refuses that scanner's specs by name.
	Required() bool
	// Install says how to get the binary, for a preflight failure.
	Install() string

	// Dispatch turns a profile's checked options, on the server, into a
	// spec's options and rate (scan.Spec.Rate), capped at the site's
	// maximum rate and the server's ceiling (0: none).
	Dispatch(set scan.OptionSet, siteMax, serverMax float64) (options []string, rate float64, err error)
	// Coverage returns a spec's options as the diff reads them for the
	// ports a run covered (rates taken out).
	Coverage(options []string) ([]string, error)

	// Args is the scanner's command line after the binary, with every
	// output path filled in, for the first attempt of c.Spec (a retry may
	// add what it resumes from). It validates the spec again.
	Args(c Command) ([]string, error)
	// Run runs one attempt of a shard: the scanner, its progress, its
	// resume state. It returns the path of the output to store, in the
	// nmap XML dialect the results activities read (report.ParseAny).
	// When ctx ends first it returns what the stopped scanner had found
	// ("" if nothing) with an error wrapping ctx.Err().
	Run(ctx context.Context, c Command, h Host) (string, error)

	// Parse reads a stored output and hands its hosts to emit, one host
	// each. partial: the output of a stopped scanner, which may be cut
	// off; the hosts before the cut count.
	Parse(r io.Reader, partial bool, emit func(report.Host) error) error
}

// Command is one attempt of one shard as the agent runs it.
type Command struct {
	Spec scan.Spec
	// Binary is the scanner program, a path or a name looked up in PATH
	// ("" = the scanner's name).
	Binary string
	// Dir is the attempt's private work directory, removed after it.
	Dir string
	// Output is where the scanner writes its output.
	Output string
	// Env is the scanner's whole environment.
	Env []string
	// Machine is what the agent's operator set for this machine.
	Machine Machine
	// StatsEvery is how often the scanner reports progress.
	StatsEvery time.Duration
	// Privileged: the binary has CAP_NET_RAW of its own, not by running as
	// root (nmap then needs --privileged).
	Privileged bool
	// PartialEvery is how often the attempt's resume state is saved; a
	// negative value turns resuming off.
	PartialEvery time.Duration
	// Prev is the last progress of the shard's previous attempt, nil on a
	// first attempt.
	Prev *scan.Progress
}

// Machine is the agent operator's settings for its scanners; profiles set
// none of them.
type Machine struct {
	// Interface is the network interface scanners send through ("" =
	// the route's).
	Interface string
	// Adapter, AdapterIP and RouterMAC tell scanners that build their own
	// packets (masscan, zmap) which interface, source address and
	// next-hop MAC to use.
	Adapter, AdapterIP, RouterMAC string
	// MaxRate caps the packets per second of every scan (0 = no cap).
	MaxRate float64
}

// BinaryOr is the binary c runs: c.Binary, or name looked up in PATH.
func (c Command) BinaryOr(name scan.Scanner) string {
	if c.Binary == "" {
		return string(name)
	}
	return c.Binary
}

// Host is what the agent gives a running driver: progress, and the resume
// state of the shard in object storage.
type Host interface {
	// Scanning says the scanner is about to start: a driver calls it once
	// it has loaded what it resumes from (Resumed), so that the attempt's
	// first heartbeat carries that on. (The agent heartbeats anyway, after
	// a while, if a driver does not call it.)
	Scanning()
	// Progress reports how far the scan is (percent, the scanner's task,
	// its estimated end: zero if unknown).
	Progress(percent float64, task string, etc time.Time)
	// Resumed names the resume state in every heartbeat from now on: what
	// a retry resumes from.
	Resumed(r Resume)
	// SaveResume stores the file at path as this attempt's resume state.
	SaveResume(ctx context.Context, path string) (scan.BlobRef, error)
	// LoadResume reads the resume state an earlier attempt saved,
	// checking its size and SHA-256.
	LoadResume(ctx context.Context, ref scan.BlobRef) (io.ReadCloser, error)
	// Logger logs for the attempt.
	Logger() Logger
}

// Logger is the little a driver logs with (Temporal's activity logger is
// one).
type Logger interface {
	Info(msg string, keyvals ...any)
	Warn(msg string, keyvals ...any)
}

// Resume is what an attempt saved for a retry: a stored output and the
// hosts it holds; for masscan also the seed and probe index to resume at.
type Resume struct {
	Ref   scan.BlobRef
	Hosts int
	Seed  uint64
	Index uint64
}

// ErrUnknown is returned for a scanner no driver is registered for.
var ErrUnknown = errors.New("unknown scanner")

// Registry is the drivers by scanner name.
type Registry struct {
	drivers map[scan.Scanner]Driver
	order   []Driver
}

// NewRegistry registers drivers; a scanner registered twice, or one
// without an option policy in scan, is a programming error.
func NewRegistry(drivers ...Driver) *Registry {
	r := &Registry{drivers: map[scan.Scanner]Driver{}}
	for _, d := range drivers {
		name := d.Scanner()
		if _, dup := r.drivers[name]; dup {
			panic("driver: scanner " + string(name) + " registered twice")
		}
		if _, err := scan.ParseScanner(string(name)); err != nil {
			panic("driver: " + err.Error())
		}
		r.drivers[name] = d
		r.order = append(r.order, d)
	}
	return r
}

// Lookup returns the driver of a scanner.
func (r *Registry) Lookup(s scan.Scanner) (Driver, error) {
	if d, ok := r.drivers[s]; ok {
		return d, nil
	}
	names := make([]string, 0, len(r.order))
	for _, d := range r.order {
		names = append(names, string(d.Scanner()))
	}
	return nil, fmt.Errorf("%w %q (want one of %s)", ErrUnknown, s, strings.Join(names, ", "))
}

// All returns the drivers in the order they were registered.
func (r *Registry) All() []Driver { return append([]Driver(nil), r.order...) }

// Argv is the exact command line the agent runs for c: the binary, then
// the scanner's arguments with every output path filled in.
func (r *Registry) Argv(c Command) ([]string, error) {
	d, err := r.Lookup(c.Spec.Scanner)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err)
	}
	args, err := d.Args(c)
	if err != nil {
		return nil, err
	}
	return append([]string{c.BinaryOr(d.Scanner())}, args...), nil
}

// InTargets says whether a host a scanner reported is one of the targets:
// its address is in a range, or one of its names is a target host name.
func InTargets(targets []scan.Target, ip netip.Addr, names []report.Hostname) bool {
	for _, t := range targets {
		if t.Kind == scan.KindHost {
			for _, n := range names {
				if strings.EqualFold(n.Name, t.Host) {
					return true
				}
			}
			continue
		}
		if t.From.Is4() == ip.Is4() && !ip.Less(t.From) && !t.To.Less(ip) {
			return true
		}
	}
	return false
}

// ShardKey checks that ref is one of spec's shard's objects: resume state
// named in a heartbeat is read only from the shard's own keys.
func ShardKey(spec scan.Spec, ref scan.BlobRef) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	if !strings.HasPrefix(ref.Key, scan.RunPrefix(spec.RunID)+fmt.Sprintf("%d/", spec.ShardID)) {
		return fmt.Errorf("%s is not this shard's output", ref.Key)
	}
	return nil
}

// SaveEvery calls save on a ticker until stop is closed or ctx is done; a
// failed save is logged and tried again at the next tick.
func SaveEvery(ctx context.Context, log Logger, stop <-chan struct{}, every time.Duration, save func(context.Context) error, failure, key string) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if err := save(ctx); err != nil && ctx.Err() == nil {
				log.Warn(failure, "key", key, "error", err)
			}
		}
	}
}

// Saver runs save every c.PartialEvery while a scanner runs; stop ends it
// and waits (it may be called more than once).
func Saver(ctx context.Context, log Logger, every time.Duration, save func(context.Context) error, failure, key string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { SaveEvery(ctx, log, done, every, save, failure, key) })
	return sync.OnceFunc(func() {
		close(done)
		wg.Wait()
	})
}

// DefaultPartialEvery is how often a running scan's resume state is saved
// when Command.PartialEvery is 0.
const DefaultPartialEvery = 30 * time.Second

// PartialEveryOrDefault is how often c saves its resume state.
func (c Command) PartialEveryOrDefault() time.Duration {
	if c.PartialEvery > 0 {
		return c.PartialEvery
	}
	return DefaultPartialEvery
}

// CapRate is the lower of the positive rates among limits (0 when none is
// positive): the site's max_rate, the server's ceiling, the agent's cap.
func CapRate(limits ...float64) float64 {
	out := 0.0
	for _, r := range limits {
		if r > 0 && (out == 0 || r < out) {
			out = r
		}
	}
	return out
}

// LimitRate is the rate to give a scanner whose rate is one number (masscan,
// zmap) for rate (0 = the scanner's default, def) under a cap (0 = none):
// rate lowered to the cap. A rate of 0 stands for the default, lowered too
// if the cap is under it, so that a cap never raises the rate.
func LimitRate(rate, limit, def float64) float64 {
	if limit <= 0 {
		return rate
	}
	if rate <= 0 {
		rate = def
	}
	return CapRate(rate, limit)
}
