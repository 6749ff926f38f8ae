package masscan

import (
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/scantron/scantron/scan"
)

// masscan visits its probes, (address, port) pairs, in an order fixed by
// --seed, one index after another from 0 to addresses × ports; with the
// same targets, ports and seed, --resume-index N starts at the Nth. A retry
// of a shard that knows how far the failed attempt got, and which ports it
// had found, scans only the rest, on any agent.

// WithSeed fixes the order masscan sends its probes in (--seed).
func WithSeed(seed uint64) Option {
	return func(b *builder) { b.seed, b.seedSet = seed, true }
}

// WithResumeIndex starts the scan at the index'th probe of the order
// (--resume-index); 0 adds nothing.
func WithResumeIndex(index uint64) Option {
	return func(b *builder) { b.resumeIndex = index }
}

// WithInteractive makes masscan print each open port it finds on standard
// output as it finds it (--interactive), as well as in its -oX file, which
// it writes buffered: the agent learns the ports found so far from those
// lines.
func WithInteractive() Option {
	return func(b *builder) { b.interactive = true }
}

// maxSeed is the largest --seed profiles may give (see scan's allow-list).
const maxSeed = 1 << 62

// ShardSeed is the seed of a shard's scans: the profile's --seed if it has
// one (the last), otherwise one derived from the run and shard, so that
// every attempt of the shard, on any agent, sends its probes in the same
// order. fromProfile says which.
func ShardSeed(spec scan.Spec) (seed uint64, fromProfile bool) {
	set, err := scan.ParseOptionArgs(scan.Masscan, spec.Options)
	if err == nil {
		for _, it := range set.Items() {
			if it.Name == "--seed" {
				if n, err := strconv.ParseUint(it.Value, 10, 64); err == nil {
					seed, fromProfile = n, true
				}
			}
		}
	}
	if fromProfile {
		return seed, true
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "scantron masscan seed: run %d shard %d", spec.RunID, spec.ShardID)
	return h.Sum64() % maxSeed, false
}

// Plan is what a resumable masscan scan needs to know of itself.
type Plan struct {
	Probes uint64  // addresses × ports: the indexes run from 0 to Probes
	Wait   float64 // seconds masscan waits for late answers (--wait)
}

// defaultWait is masscan's --wait when none is given.
const defaultWait = 10

// ResumePlan counts the probes of spec, for a resume index to mean
// something. It refuses (ok false, with why) what it cannot count exactly,
// or what an index alone cannot resume: IPv6 or host name targets, ports
// other than numbers and ranges, --top-ports, --ping, --shard, --retries
// (which run the indexes past Probes) and --banners (banners found before
// the index would be lost).
func ResumePlan(spec scan.Spec) (p Plan, why string) {
	set, err := scan.ParseOptionArgs(scan.Masscan, spec.Options)
	if err != nil {
		return Plan{}, err.Error()
	}
	p.Wait = defaultWait
	var ports []string
	for _, it := range set.Items() {
		switch it.Name {
		case "-p", "--ports", "--port":
			ports = append(ports, it.Value)
		case "--wait":
			w, err := strconv.ParseUint(it.Value, 10, 32)
			if err != nil {
				return Plan{}, "--wait " + it.Value
			}
			p.Wait = float64(w)
		case "--retries", "--max-retries":
			if it.Value != "0" {
				return Plan{}, it.Name + " runs the probes more than once"
			}
		case "--top-ports", "--ping", "--shard", "--banners":
			return Plan{}, it.Name + " is not resumable by index"
		}
	}
	nports, why := countPorts(ports)
	if why != "" {
		return Plan{}, why
	}
	targets, err := scan.ParseTargets(spec.Targets)
	if err != nil {
		return Plan{}, err.Error()
	}
	var addrs uint64
	var spans [][2]netip.Addr
	for _, t := range targets {
		if t.Kind == scan.KindHost || !t.From.Is4() {
			return Plan{}, fmt.Sprintf("target %s is not IPv4", t)
		}
		for _, s := range spans {
			if !t.To.Less(s[0]) && !s[1].Less(t.From) {
				return Plan{}, fmt.Sprintf("targets overlap at %s", t)
			}
		}
		spans = append(spans, [2]netip.Addr{t.From, t.To})
		addrs += t.Addresses()
	}
	if addrs == 0 || nports == 0 || addrs > math.MaxUint64/nports {
		return Plan{}, "no probes to count"
	}
	p.Probes = addrs * nports
	return p, ""
}

// countPorts counts the distinct ports of masscan -p lists: numbers and
// ranges, TCP unless prefixed U: (UDP) or S: (SCTP).
func countPorts(lists []string) (uint64, string) {
	seen := map[uint32]bool{}
	for _, list := range lists {
		for _, item := range strings.Split(list, ",") {
			var base uint32
			switch {
			case strings.HasPrefix(item, "U:"), strings.HasPrefix(item, "u:"):
				base, item = 1<<16, item[2:]
			case strings.HasPrefix(item, "S:"), strings.HasPrefix(item, "s:"):
				base, item = 2<<16, item[2:]
			case strings.HasPrefix(item, "T:"), strings.HasPrefix(item, "t:"):
				item = item[2:]
			}
			from, to, isRange := strings.Cut(item, "-")
			if !isRange {
				to = from
			}
			lo, err1 := strconv.ParseUint(from, 10, 16)
			hi, err2 := strconv.ParseUint(to, 10, 16)
			if err1 != nil || err2 != nil || hi < lo {
				return 0, fmt.Sprintf("port list entry %q is not a number or a from-to range", item)
			}
			for n := lo; n <= hi; n++ {
				seen[base+uint32(n)] = true
			}
		}
	}
	if len(seen) == 0 {
		return 0, "no ports"
	}
	return uint64(len(seen)), ""
}

// ResumeIndex is a conservative index to resume from, given the percent of
// the probes masscan said it had sent: that many probes, less those whose
// answers may still be on their way (rate × wait seconds), less the
// rounding of the two-decimal percent. Every answer to a probe below it has
// had --wait seconds to arrive.
func (p Plan) ResumeIndex(percent, rate float64) uint64 {
	if percent <= 0 || p.Probes == 0 || math.IsNaN(percent) || math.IsNaN(rate) {
		return 0
	}
	percent = min(percent, 100)
	sent := math.Floor(percent / 100 * float64(p.Probes))
	margin := math.Ceil(max(rate, 0)*p.Wait) + math.Ceil(0.005/100*float64(p.Probes)) + 1
	if sent <= margin {
		return 0
	}
	return uint64(sent - margin)
}
