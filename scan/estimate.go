package scan

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PortCount is how many ports per address the set probes: its -p list,
// --top-ports, -F (100) or the scanner's default (nmap: 1000).
func PortCount(set OptionSet) int {
	n := 0
	for _, it := range set.items {
		switch it.Name {
		case "-p", "--ports", "--port":
			n = countPorts(it.Value)
		case "--top-ports":
			n, _ = strconv.Atoi(it.Value)
		case "-F":
			n = 100
		}
	}
	if pol := policies[set.scanner]; n <= 0 && pol != nil && pol.defaultPorts > 0 {
		return pol.defaultPorts
	}
	return max(n, 1)
}

// countPorts counts the ports of a port list such as "22,80,1000-2000,U:53"
// (a service name counts as one, "-" as all).
func countPorts(v string) int {
	n := 0
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if i := strings.Index(part, ":"); i >= 0 {
			part = part[i+1:]
		}
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			n++
			continue
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if lo == "" {
			a, err1 = 1, nil
		}
		if hi == "" {
			b, err2 = 65535, nil
		}
		if err1 != nil || err2 != nil || b < a {
			n++
			continue
		}
		n += b - a + 1
	}
	return n
}

// Estimate is how long a run is expected to take, and on what it is based.
type Estimate struct {
	Seconds float64 `json:"seconds"`
	// Basis is "earlier_runs" or "address_count".
	Basis  string `json:"basis"`
	Detail string `json:"detail"`
}

// EstimateFromRuns scales the time per address of a scan's earlier
// completed runs to addresses; ok false when none has finished.
func EstimateFromRuns(runs []Run, addresses uint64) (Estimate, bool) {
	var perAddr float64
	var used int
	for _, r := range runs {
		if r.Status != RunCompleted || r.StartedAt == nil || r.FinishedAt == nil || r.Addresses <= 0 {
			continue
		}
		perAddr += r.FinishedAt.Sub(*r.StartedAt).Seconds() / float64(r.Addresses)
		if used++; used == 5 {
			break
		}
	}
	if used == 0 {
		return Estimate{}, false
	}
	perAddr /= float64(used)
	return Estimate{Seconds: perAddr * float64(addresses), Basis: "earlier_runs",
		Detail: fmt.Sprintf("from the %d latest completed runs of the scan: %s per address", used, time.Duration(perAddr*float64(time.Second)).Round(time.Millisecond))}, true
}

// AssumedRate is the probes per second assumed of a scan by a scanner
// that sets its own pace (nmap) and a profile that sets no rate: such a
// scanner adapts its rate to the network.
const AssumedRate = 300

// EstimateFromCount is the time addresses × ports probes take at rate
// probes per second per shard (0: AssumedRate), with parallel shards at
// once.
func EstimateFromCount(addresses uint64, ports int, rate float64, parallel int) Estimate {
	assumed := ""
	if rate <= 0 {
		rate, assumed = AssumedRate, " (assumed: the scanner sets its own pace)"
	}
	parallel = max(parallel, 1)
	probes := float64(addresses) * float64(ports)
	return Estimate{Seconds: probes / rate / float64(parallel), Basis: "address_count",
		Detail: fmt.Sprintf("no earlier completed run: %d addresses × %d ports at %s probes/s%s, %d shard(s) at once",
			addresses, ports, formatRate(rate), assumed, parallel)}
}
