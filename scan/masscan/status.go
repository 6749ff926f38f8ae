package masscan

import (
	"net/netip"
	"regexp"
	"strconv"
)

// Status is what masscan's status line, printed on standard error about
// once a second and ended by \r, says:
//
//	rate:  0.05-kpps,  2.20% done,   0:04:39 remaining, found=0
//
// Percent is of every probe of the scan (see Plan), counted from index 0
// even when the scan resumed at a later one.
type Status struct {
	Percent float64
	Rate    float64 // packets per second
}

var (
	statusLine     = regexp.MustCompile(`^rate:\s*(\d+(?:\.\d+)?)-kpps,\s*(\d+(?:\.\d+)?)% done`)
	scanningLine   = regexp.MustCompile(`^Scanning (\d+) hosts \[(\d+) ports?/host\]`)
	discoveredLine = regexp.MustCompile(`^Discovered open port (\d+)/(tcp|udp|sctp) on (\S+)`)
)

// ParseStatus reads one status line.
func ParseStatus(line string) (Status, bool) {
	m := statusLine.FindStringSubmatch(line)
	if m == nil {
		return Status{}, false
	}
	kpps, err1 := strconv.ParseFloat(m[1], 64)
	pct, err2 := strconv.ParseFloat(m[2], 64)
	if err1 != nil || err2 != nil {
		return Status{}, false
	}
	return Status{Percent: pct, Rate: kpps * 1000}, true
}

// ParseScanning reads the line masscan starts with, "Scanning 1 hosts
// [1001 ports/host]", and returns the number of probes it announces.
func ParseScanning(line string) (uint64, bool) {
	m := scanningLine.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	hosts, err1 := strconv.ParseUint(m[1], 10, 64)
	ports, err2 := strconv.ParseUint(m[2], 10, 64)
	if err1 != nil || err2 != nil || (ports != 0 && hosts > ^uint64(0)/ports) {
		return 0, false
	}
	return hosts * ports, true
}

// Found is one open port masscan found.
type Found struct {
	Addr     netip.Addr
	Protocol string // tcp, udp, sctp
	Port     int
}

// ParseDiscovered reads a line --interactive prints on standard output,
// "Discovered open port 80/tcp on 198.18.0.2".
func ParseDiscovered(line string) (Found, bool) {
	m := discoveredLine.FindStringSubmatch(line)
	if m == nil {
		return Found{}, false
	}
	port, err := strconv.Atoi(m[1])
	addr, err2 := netip.ParseAddr(m[3])
	if err != nil || err2 != nil || port > 65535 {
		return Found{}, false
	}
	return Found{Addr: addr, Protocol: m[2], Port: port}, true
}
