// Package report reads scanner output (nmap and masscan XML, masscan JSON)
// as a stream of hosts, with memory that does not grow with the size of the
// file, and merges several outputs into one nmap XML document.
package report

import (
	"errors"
	"time"
)

// ErrTruncated is returned (wrapped) when the document ends before its closing
// tag, as it does when a scanner is killed. Every complete host before the cut
// has already been delivered.
var ErrTruncated = errors.New("scanner output is truncated")

// ErrMalformed is returned (wrapped) when the document is not nmap XML, is not
// well-formed, or exceeds the parser's limits (see Parse). Every complete
// host before the fault has already been delivered.
var ErrMalformed = errors.New("scanner output is malformed")

// RunInfo describes the scan as a whole: the <nmaprun> attributes and the
// closing <runstats>.
type RunInfo struct {
	Scanner   string
	Args      string
	Version   string
	Start     time.Time
	End       time.Time
	Summary   string
	Exit      string // "success" or "error"; empty when the output is cut off
	Error     string // nmap's errormsg when Exit is "error"
	HostsUp   int    // as the scanner counted them (masscan counts open ports)
	HostsDown int
	Elapsed   float64 // seconds, as <finished elapsed> says
	Complete  bool    // the document ended with </nmaprun>
}

// Address is one address of a host: ipv4, ipv6 or mac.
type Address struct {
	Addr   string
	Type   string
	Vendor string
}

// Hostname is a name nmap reported for a host (user or PTR).
type Hostname struct {
	Name string
	Type string
}

// Service is what version detection found on a port.
type Service struct {
	Name      string
	Product   string
	Version   string
	ExtraInfo string
	Tunnel    string
	Method    string
	Conf      int
	CPE       []string
	Banner    string // masscan --banners only
}

// Script is the result of one NSE script: its id and its text output. The
// structured <elem>/<table> children are not kept.
type Script struct {
	ID     string
	Output string
}

// Port is one scanned port of a host.
type Port struct {
	Protocol string
	Number   int
	State    string
	Reason   string
	Service  Service
	Scripts  []Script
}

// OSMatch is one guess of OS detection (-O), best first.
type OSMatch struct {
	Name     string
	Accuracy int
}

// Host is one <host> element.
type Host struct {
	Addresses []Address
	Hostnames []Hostname
	Status    string
	Reason    string
	Start     time.Time
	End       time.Time
	Ports     []Port
	OS        []OSMatch
	Scripts   []Script // <hostscript>
	Times     Times
}

// Times is nmap's round-trip timing of a host (<times>), in microseconds;
// zero when nmap did not report it.
type Times struct {
	SRTT    int // smoothed round-trip time
	RTTVar  int // its variance
	Timeout int // the probe timeout nmap used
}

// IP returns the host's first IPv4 or IPv6 address, or "" if it has none.
func (h Host) IP() string {
	for _, a := range h.Addresses {
		if a.Type == "ipv4" || a.Type == "ipv6" {
			return a.Addr
		}
	}
	return ""
}

// MAC returns the host's MAC address and vendor, if nmap saw them.
func (h Host) MAC() (addr, vendor string) {
	for _, a := range h.Addresses {
		if a.Type == "mac" {
			return a.Addr, a.Vendor
		}
	}
	return "", ""
}
