package targethost

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Subnet is a /24 (or up to a /20) in a namespace of its own, reached over
// one veth link, with a few of its addresses running the Services: most
// addresses answer nothing, as in a sparse real network.
type Subnet struct {
	Prefix    string // 198.<Net>.254.0/24, or 198.<Net>.240.0/20
	Namespace string
	Hosts     []*Host // the addresses with listeners

	// This side's end of the link and the namespace side's MAC, which
	// masscan and zmap send to.
	HostIf, HostIP, MAC string
}

// NewSubnet makes a Subnet with n hosts listening (1-8), or fails the test
// where a namespace cannot be made. Its addresses, 198.<Net>.254.0/24, are
// outside those New hands out to processes whose pid ends below 2040
// (mod 2048); one test process at a time may hold a Subnet per Net.
func NewSubnet(t testing.TB, opt Options, n int) *Subnet {
	t.Helper()
	if opt.Net != 19 {
		opt.Net = 18
	}
	if opt.Name == "" {
		opt.Name = "subnet"
	}
	if n < 1 || n > 8 {
		t.Fatalf("NewSubnet: %d hosts, want 1-8", n)
	}
	if opt.Bits == 0 {
		opt.Bits = 24
	}
	if opt.Bits < 20 || opt.Bits > 24 {
		t.Fatalf("NewSubnet: a /%d, want a /20 to a /24", opt.Bits)
	}
	size := 1 << (32 - opt.Bits)
	third := 254 // a /24 keeps the addresses it always had
	if opt.Bits < 24 {
		third = 256 - size/256
	}
	if os.Geteuid() != 0 {
		t.Skip("a namespace subnet needs root")
	}
	ns := fmt.Sprintf("scantron-%s-%d-net", opt.Name, os.Getpid())
	hostIf := fmt.Sprintf("st%c%dsh", opt.Name[0], os.Getpid()%100000)
	peerIf := fmt.Sprintf("st%c%dsn", opt.Name[0], os.Getpid()%100000)
	s := &Subnet{Prefix: fmt.Sprintf("198.%d.%d.0/%d", opt.Net, third, opt.Bits), Namespace: ns, HostIf: hostIf, HostIP: fmt.Sprintf("198.%d.%d.1", opt.Net, third)}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", hostIf).Run()
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("remove namespace %s: %v: %s", ns, err, out)
		}
	})
	ip("link", "add", hostIf, "type", "veth", "peer", "name", peerIf)
	ip("link", "set", peerIf, "netns", ns)
	ip("addr", "add", fmt.Sprintf("%s/%d", s.HostIP, opt.Bits), "dev", hostIf)
	ip("link", "set", hostIf, "up")
	ip("-n", ns, "link", "set", peerIf, "up")
	ip("-n", ns, "link", "set", "lo", "up")
	if err := noOffloads(hostIf); err != nil {
		t.Logf("NOTE: %v; masscan may lose answers when the CPU is busy", err)
	}
	// The listening hosts are spread over the subnet.
	for i := range n {
		offset := 10 + i*29
		if opt.Bits < 24 {
			offset = 10 + i*(size/n)
		}
		addr := fmt.Sprintf("198.%d.%d.%d", opt.Net, third+offset/256, offset%256)
		ip("-n", ns, "addr", "add", fmt.Sprintf("%s/%d", addr, opt.Bits), "dev", peerIf)
		lns, err := listenInNamespace(ns, addr)
		if err != nil {
			t.Fatalf("listen on %s: %v", addr, err)
		}
		h := &Host{Addr: addr, Namespace: ns, HostIf: hostIf, HostIP: s.HostIP, peerIf: peerIf}
		h.serve(t, lns)
		s.Hosts = append(s.Hosts, h)
	}
	out, err := exec.Command("ip", "-n", ns, "-br", "link", "show", "dev", peerIf).Output()
	if f := strings.Fields(string(out)); err == nil && len(f) >= 3 {
		s.MAC = f[2]
	}
	for _, h := range s.Hosts {
		h.MAC = s.MAC
	}
	return s
}
