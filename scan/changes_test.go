package scan

import (
	"reflect"
	"testing"
)

func TestPortsOf(t *testing.T) {
	tests := []struct {
		opts    []string
		known   bool
		covered map[string][]int // protocol -> ports covered
		outside map[string][]int
	}{
		{opts: []string{"-sS", "-n"}, known: false, covered: map[string][]int{"tcp": {1, 65535}}},
		{opts: []string{"--top-ports", "100", "-p", "22"}, known: false},
		{opts: []string{"-p", "22,80,1000-2000"}, known: true,
			covered: map[string][]int{"tcp": {22, 80, 1000, 1500, 2000}},
			outside: map[string][]int{"tcp": {21, 999, 2001}, "udp": {22}}},
		{opts: nil, known: false, covered: map[string][]int{"tcp": {1}, "udp": {53}, "sctp": {9}}},
		{opts: []string{"-sU", "-p", "53,161"}, known: true, covered: map[string][]int{"udp": {53, 161}}, outside: map[string][]int{"tcp": {53}, "udp": {54}}},
		{opts: []string{"-sSU", "-p", "T:22,U:53"}, known: true, covered: map[string][]int{"tcp": {22}, "udp": {53}}, outside: map[string][]int{"udp": {22}, "tcp": {53}}},
		{opts: []string{"-sU", "-sV"}, known: false, covered: map[string][]int{"udp": {5353}}, outside: map[string][]int{"tcp": {22}}},
		{opts: []string{"-sn"}, known: false, outside: map[string][]int{"tcp": {22}, "udp": {53}}},
		{opts: []string{"-p1-1024"}, known: true, covered: map[string][]int{"tcp": {1, 1024}}, outside: map[string][]int{"tcp": {1025}}},
		{opts: []string{"-p-"}, known: true, covered: map[string][]int{"tcp": {0, 65535}}},
		{opts: []string{"--ports=T:443,U:53,161"}, known: true,
			covered: map[string][]int{"tcp": {443}, "udp": {53, 161}},
			outside: map[string][]int{"udp": {443}, "tcp": {53, 161}}},
		{opts: []string{"-p", "http"}, known: false},
		{opts: []string{"-Pn", "-p", "8080"}, known: true, covered: map[string][]int{"tcp": {8080}}, outside: map[string][]int{"tcp": {80}}},
	}
	for _, tt := range tests {
		s := PortsOf(tt.opts)
		if s.Known != tt.known {
			t.Errorf("%q: known = %v, want %v", tt.opts, s.Known, tt.known)
		}
		for proto, ports := range tt.covered {
			for _, p := range ports {
				if !s.Covers(proto, p) {
					t.Errorf("%q: %s/%d not covered", tt.opts, proto, p)
				}
			}
		}
		for proto, ports := range tt.outside {
			for _, p := range ports {
				if s.Covers(proto, p) {
					t.Errorf("%q: %s/%d covered", tt.opts, proto, p)
				}
			}
		}
	}
}

func TestCoverageOf(t *testing.T) {
	cov := CoverageOf([][]string{{"198.18.0.0/25", "198.18.1.5"}, {"2001:db8::/126", "scanme.example"}}, nil)
	for _, tt := range []struct {
		addr  string
		names []string
		want  bool
	}{
		{"198.18.0.1", nil, true},
		{"198.18.0.127", nil, true},
		{"198.18.0.128", nil, false},
		{"198.18.1.5", nil, true},
		{"198.18.1.6", nil, false},
		{"2001:db8::3", nil, true},
		{"2001:db8::4", nil, false},
		{"198.19.0.9", []string{"ScanMe.example."}, true},
		{"198.19.0.9", []string{"other.example"}, false},
	} {
		if got := cov.CoversHost(tt.addr, tt.names); got != tt.want {
			t.Errorf("CoversHost(%s, %v) = %v, want %v", tt.addr, tt.names, got, tt.want)
		}
	}
}

func hostRow(addr, status string, ports ...PortRow) HostRow {
	for i := range ports {
		ports[i].Address = addr
	}
	return HostRow{Address: addr, Status: status, Ports: ports}
}

func portRow(proto string, n int, state, svc, product, version string) PortRow {
	return PortRow{Protocol: proto, Port: n, State: state, Service: svc, Product: product, Version: version}
}

func TestComputeDiff(t *testing.T) {
	prev := []HostRow{
		hostRow("198.18.0.1", "up", portRow("tcp", 22, "open", "ssh", "OpenSSH", "8.9"), portRow("tcp", 80, "open", "http", "nginx", "1.18"),
			portRow("tcp", 443, "open", "https", "", ""), portRow("tcp", 8080, "open", "http-proxy", "", ""), portRow("udp", 53, "open", "domain", "", "")),
		hostRow("198.18.0.2", "up", portRow("tcp", 22, "open", "ssh", "", "")), // gone
		hostRow("198.18.0.3", "up"), // not covered by the new run: not gone
		hostRow("198.18.0.4", "down"),
	}
	cur := []HostRow{
		hostRow("198.18.0.1", "up",
			portRow("tcp", 22, "open", "ssh", "OpenSSH", "9.6"), // changed version
			portRow("tcp", 80, "filtered", "http", "", ""),      // listed, not open: closed
			portRow("tcp", 25, "open", "smtp", "Postfix", ""),   // opened
			// 443 not listed, inside -p 1-1024: closed
			// 8080 not listed, outside -p 1-1024: not covered, not closed
			// udp/53 not listed, and -sS scans no UDP: not covered, not closed
		),
		hostRow("198.18.0.2", "down"),
		hostRow("198.18.0.4", "up", portRow("tcp", 22, "open", "ssh", "", "")), // new (was down)
		hostRow("198.18.0.5", "up"),                                            // new
	}
	cov := CoverageOf([][]string{{"198.18.0.1", "198.18.0.2", "198.18.0.4/31"}}, []string{"-sS", "-p", "1-1024"})
	got := ComputeDiff(prev, cur, cov)
	want := []Change{
		{Kind: ChangedService, Address: "198.18.0.1", Protocol: "tcp", Port: 22, Before: ServiceInfo{"ssh", "OpenSSH", "8.9"}, After: ServiceInfo{"ssh", "OpenSSH", "9.6"}},
		{Kind: OpenedPort, Address: "198.18.0.1", Protocol: "tcp", Port: 25, After: ServiceInfo{"smtp", "Postfix", ""}},
		{Kind: ClosedPort, Address: "198.18.0.1", Protocol: "tcp", Port: 80, Before: ServiceInfo{"http", "nginx", "1.18"}},
		{Kind: ClosedPort, Address: "198.18.0.1", Protocol: "tcp", Port: 443, Before: ServiceInfo{"https", "", ""}},
		{Kind: NewHost, Address: "198.18.0.4"},
		{Kind: OpenedPort, Address: "198.18.0.4", Protocol: "tcp", Port: 22, After: ServiceInfo{"ssh", "", ""}},
		{Kind: NewHost, Address: "198.18.0.5"},
		{Kind: GoneHost, Address: "198.18.0.2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diff:\n got %+v\nwant %+v", got, want)
	}
	if c := Count(got); c != (DiffCounts{NewHosts: 2, GoneHosts: 1, OpenedPorts: 2, ClosedPorts: 2, ChangedServices: 1}) || c.Total() != 8 {
		t.Errorf("counts = %+v", c)
	}
	// Nothing changed: an empty diff.
	if d := ComputeDiff(cur, cur, cov); len(d) != 0 {
		t.Errorf("diff of a run with itself = %+v", d)
	}
}
