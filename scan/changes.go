package scan

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ChangeKind is what changed between two runs of a scan.
type ChangeKind string

// Kinds of change.
const (
	NewHost        ChangeKind = "new_host"
	GoneHost       ChangeKind = "gone_host"
	OpenedPort     ChangeKind = "opened_port"
	ClosedPort     ChangeKind = "closed_port"
	ChangedService ChangeKind = "changed_service"
)

// ServiceInfo is what the scanner said runs on a port.
type ServiceInfo struct {
	Service string `json:"service"`
	Product string `json:"product"`
	Version string `json:"version"`
}

// Change is one difference between a run and the previous one. Port changes
// carry the protocol and port; Before is empty for an opened port, After for
// a closed one.
type Change struct {
	Kind     ChangeKind  `json:"kind"`
	Address  string      `json:"address"`
	Protocol string      `json:"protocol,omitempty"`
	Port     int         `json:"port,omitempty"`
	Before   ServiceInfo `json:"before"`
	After    ServiceInfo `json:"after"`
}

// DiffCounts counts a diff's changes by kind.
type DiffCounts struct {
	NewHosts        int `json:"new_hosts"`
	GoneHosts       int `json:"gone_hosts"`
	OpenedPorts     int `json:"opened_ports"`
	ClosedPorts     int `json:"closed_ports"`
	ChangedServices int `json:"changed_services"`
}

// Total is the number of changes.
func (c DiffCounts) Total() int {
	return c.NewHosts + c.GoneHosts + c.OpenedPorts + c.ClosedPorts + c.ChangedServices
}

// DiffSummary is a stored diff without its changes.
type DiffSummary struct {
	RunID         int64      `json:"run_id"`
	ScanID        int64      `json:"scan_id"`
	PreviousRunID *int64     `json:"previous_run_id"`
	Counts        DiffCounts `json:"counts"`
	CreatedAt     time.Time  `json:"created_at"`
}

// Diff is a completed run's changes against the previous completed run of
// the same scan.
type Diff struct {
	DiffSummary
	Changes []Change `json:"changes"`
}

// Count tallies changes by kind.
func Count(changes []Change) DiffCounts {
	var c DiffCounts
	for _, ch := range changes {
		switch ch.Kind {
		case NewHost:
			c.NewHosts++
		case GoneHost:
			c.GoneHosts++
		case OpenedPort:
			c.OpenedPorts++
		case ClosedPort:
			c.ClosedPorts++
		case ChangedService:
			c.ChangedServices++
		}
	}
	return c
}

// Coverage is what a run looked at: the targets of its shards that
// completed, and the ports its scanner options asked for.
type Coverage struct {
	Prefixes  []netip.Prefix
	Hostnames map[string]bool // host-name targets, lower case
	Ports     PortSet
}

// CoverageOf builds a run's coverage from the targets of its completed
// shards and the scanner options the run used. Targets that do not parse are
// ignored: they cover nothing.
func CoverageOf(shardTargets [][]string, options []string) Coverage {
	cov := Coverage{Hostnames: map[string]bool{}, Ports: PortsOf(options)}
	for _, targets := range shardTargets {
		for _, s := range targets {
			t, err := ParseTarget(s)
			if err != nil {
				continue
			}
			if t.Kind == KindHost {
				cov.Hostnames[t.Host] = true
				continue
			}
			for _, b := range t.Blocks() {
				if p, err := netip.ParsePrefix(b); err == nil {
					cov.Prefixes = append(cov.Prefixes, p)
				} else if a, err := netip.ParseAddr(b); err == nil {
					cov.Prefixes = append(cov.Prefixes, netip.PrefixFrom(a, a.BitLen()))
				}
			}
		}
	}
	return cov
}

// CoversHost reports whether the run scanned the address (given directly
// or through one of the host's names).
func (c Coverage) CoversHost(address string, hostnames []string) bool {
	if a, err := netip.ParseAddr(address); err == nil {
		a = a.Unmap()
		for _, p := range c.Prefixes {
			if p.Contains(a) {
				return true
			}
		}
	}
	for _, n := range hostnames {
		if c.Hostnames[strings.ToLower(strings.TrimSuffix(n, "."))] {
			return true
		}
	}
	return false
}

// PortSet is what ports a scanner was told to scan: which protocols (from
// the scan types: -sU is UDP, -sY/-sZ SCTP, any other or none TCP), and
// which port numbers (from -p). Without a port list (nmap's default list, or
// --top-ports) the numbers are unknown: Known is false.
type PortSet struct {
	Known     bool
	protocols map[string]bool     // nil: unknown, any protocol
	ranges    map[string][][2]int // protocol ("" = any) -> inclusive ranges
}

// Scans reports whether the scanner scanned ports of protocol at all.
func (s PortSet) Scans(protocol string) bool {
	return s.protocols == nil || s.protocols[protocol]
}

// InList reports whether the port is in the known port list.
func (s PortSet) InList(protocol string, port int) bool {
	for _, key := range []string{"", protocol} {
		for _, r := range s.ranges[key] {
			if port >= r[0] && port <= r[1] {
				return true
			}
		}
	}
	return false
}

// Covers reports whether the port was scanned, taking an unknown port list
// to be the same as the one of the run it is compared with: true for
// comparing runs of one scan, whose profile decides the list.
func (s PortSet) Covers(protocol string, port int) bool {
	return s.Scans(protocol) && (!s.Known || s.InList(protocol, port))
}

// nmap's port-scan types by the letter after -s; V, C, L, n, O and the
// like scan no ports of a protocol.
var scanTypeProtocols = map[rune]string{
	'S': "tcp", 'T': "tcp", 'A': "tcp", 'W': "tcp", 'M': "tcp", 'N': "tcp", 'F': "tcp", 'X': "tcp", 'I': "tcp",
	'U': "udp", 'Y': "sctp", 'Z': "sctp",
}

// PortsOf reads what nmap or masscan options scan: the scan types (-sS,
// -sU, -sSU, ...; TCP when none) and the port list of -p LIST, -pLIST,
// --ports LIST, --ports=LIST or --port LIST, where LIST is like
// "22,80,1000-2000,T:443,U:53" or "-" (all). --top-ports, or no list,
// leaves the numbers unknown. No options at all tell nothing: everything
// counts as scanned.
func PortsOf(options []string) PortSet {
	if len(options) == 0 {
		return PortSet{}
	}
	protocols := map[string]bool{}
	var spec string
	found, top, noPorts := false, false, false
	for i := 0; i < len(options); i++ {
		o := options[i]
		switch {
		case o == "--top-ports" || strings.HasPrefix(o, "--top-ports="):
			top = true
		case o == "-sn":
			noPorts = true
		case strings.HasPrefix(o, "-s") && len(o) > 2:
			for _, r := range o[2:] {
				if p, ok := scanTypeProtocols[r]; ok {
					protocols[p] = true
				}
			}
		case o == "-p" || o == "--ports" || o == "--port":
			if i+1 < len(options) {
				spec, found = options[i+1], true
				i++
			}
		case strings.HasPrefix(o, "--ports="), strings.HasPrefix(o, "--port="):
			_, spec, _ = strings.Cut(o, "=")
			found = true
		case strings.HasPrefix(o, "-p") && !strings.HasPrefix(o, "--") && len(o) > 2:
			spec, found = o[2:], true
		}
	}
	set := PortSet{protocols: protocols}
	if found && !top {
		if list, ok := parsePortList(spec); ok {
			set.Known, set.ranges = true, list
			// masscan scans UDP through U: ranges, not a scan type.
			if len(protocols) == 0 {
				for proto := range list {
					if proto != "" {
						protocols[proto] = true
					}
				}
				if len(list[""]) > 0 || len(list["tcp"]) > 0 {
					protocols["tcp"] = true
				}
			}
		}
	}
	if len(protocols) == 0 && !noPorts {
		protocols["tcp"] = true
	}
	return set
}

var portProtocols = map[string]string{"T": "tcp", "U": "udp", "S": "sctp"}

func parsePortList(spec string) (map[string][][2]int, bool) {
	ranges := map[string][][2]int{}
	proto := ""
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if p, rest, ok := strings.Cut(item, ":"); ok {
			name, known := portProtocols[strings.ToUpper(p)]
			if !known {
				return nil, false
			}
			proto, item = name, rest
		}
		if item == "" {
			continue
		}
		lo, hi := 0, 65535
		if from, to, ok := strings.Cut(item, "-"); ok {
			var err error
			if from != "" {
				if lo, err = strconv.Atoi(from); err != nil {
					return nil, false
				}
			}
			if to != "" {
				if hi, err = strconv.Atoi(to); err != nil {
					return nil, false
				}
			}
		} else {
			n, err := strconv.Atoi(item)
			if err != nil {
				return nil, false // a service name: nmap's own lookup
			}
			lo, hi = n, n
		}
		ranges[proto] = append(ranges[proto], [2]int{lo, hi})
	}
	return ranges, true
}

// ComputeDiff compares the hosts of a completed run (cur, every host with
// every port state) with those of the previous completed run of the same
// scan (prev). Hosts count as up when their status is "up"; ports as open
// when their state is "open".
//
// It is coverage-aware: a host up before and not up now is gone only if cov
// (the new run's completed shards) covered it, and an open port is closed
// only if its host is up now and the port was scanned: listed by the new run
// in another state, or inside the new run's port set. The previous run
// reported both, so it covered them.
func ComputeDiff(prev, cur []HostRow, cov Coverage) []Change {
	before := indexHosts(prev)
	after := indexHosts(cur)
	var out []Change
	for _, addr := range sortedKeys(after) {
		h := after[addr]
		if !h.up {
			continue
		}
		old, wasUp := before[addr]
		wasUp = wasUp && old.up
		if !wasUp {
			out = append(out, Change{Kind: NewHost, Address: addr})
		}
		for _, key := range sortedPortKeys(h.ports) {
			p := h.ports[key]
			if p.State != "open" {
				continue
			}
			var op *PortRow
			if wasUp {
				if q, ok := old.ports[key]; ok && q.State == "open" {
					op = &q
				}
			}
			switch {
			case op == nil:
				out = append(out, Change{Kind: OpenedPort, Address: addr, Protocol: p.Protocol, Port: p.Port, After: service(p)})
			case service(*op) != service(p):
				out = append(out, Change{Kind: ChangedService, Address: addr, Protocol: p.Protocol, Port: p.Port, Before: service(*op), After: service(p)})
			}
		}
		if !wasUp {
			continue
		}
		for _, key := range sortedPortKeys(old.ports) {
			q := old.ports[key]
			if q.State != "open" {
				continue
			}
			p, listed := h.ports[key]
			if listed && p.State == "open" {
				continue
			}
			if listed || cov.Ports.Covers(q.Protocol, q.Port) {
				out = append(out, Change{Kind: ClosedPort, Address: addr, Protocol: q.Protocol, Port: q.Port, Before: service(q)})
			}
		}
	}
	for _, addr := range sortedKeys(before) {
		h := before[addr]
		if !h.up {
			continue
		}
		if now, ok := after[addr]; ok && now.up {
			continue
		}
		if cov.CoversHost(addr, h.names) {
			out = append(out, Change{Kind: GoneHost, Address: addr})
		}
	}
	return out
}

type diffHost struct {
	up    bool
	names []string
	ports map[portKey]PortRow
}

type portKey struct {
	protocol string
	port     int
}

func indexHosts(hosts []HostRow) map[string]*diffHost {
	out := make(map[string]*diffHost, len(hosts))
	for _, h := range hosts {
		d := out[h.Address]
		if d == nil {
			// An address may appear twice (scanned by address and by name):
			// what any of its rows says counts.
			d = &diffHost{ports: map[portKey]PortRow{}}
			out[h.Address] = d
		}
		d.up = d.up || h.Status == "up"
		d.names = append(d.names, h.Hostnames...)
		for _, p := range h.Ports {
			k := portKey{p.Protocol, p.Port}
			if q, ok := d.ports[k]; !ok || q.State != "open" {
				d.ports[k] = p
			}
		}
	}
	return out
}

func service(p PortRow) ServiceInfo {
	return ServiceInfo{Service: p.Service, Product: p.Product, Version: p.Version}
}

// sortedKeys orders addresses as PostgreSQL orders inet: IPv4 first.
func sortedKeys(m map[string]*diffHost) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		x, errx := netip.ParseAddr(a)
		y, erry := netip.ParseAddr(b)
		if errx != nil || erry != nil {
			return strings.Compare(a, b)
		}
		return x.Compare(y)
	})
	return keys
}

func sortedPortKeys(m map[portKey]PortRow) []portKey {
	keys := make([]portKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b portKey) int {
		if c := strings.Compare(a.protocol, b.protocol); c != 0 {
			return c
		}
		return a.port - b.port
	})
	return keys
}
