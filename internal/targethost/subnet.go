package targethost

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Subnet is a /24 in a namespace of its own, reached over one veth link,
// with a few of its addresses running the Services: most addresses answer
// nothing, as in a sparse real network.
type Subnet struct {
	Prefix    string // 198.<Net>.254.0/24
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
	if os.Geteuid() != 0 {
		t.Skip("a namespace subnet needs root")
	}
	ns := fmt.Sprintf("scantron-%s-%d-net", opt.Name, os.Getpid())
	hostIf := fmt.Sprintf("st%c%dsh", opt.Name[0], os.Getpid()%100000)
	peerIf := fmt.Sprintf("st%c%dsn", opt.Name[0], os.Getpid()%100000)
	s := &Subnet{Prefix: fmt.Sprintf("198.%d.254.0/24", opt.Net), Namespace: ns, HostIf: hostIf, HostIP: fmt.Sprintf("198.%d.254.1", opt.Net)}
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
	ip("addr", "add", s.HostIP+"/24", "dev", hostIf)
	ip("link", "set", hostIf, "up")
	ip("-n", ns, "link", "set", peerIf, "up")
	ip("-n", ns, "link", "set", "lo", "up")
	if err := noOffloads(hostIf); err != nil {
		t.Logf("NOTE: %v; masscan may lose answers when the CPU is busy", err)
	}
	// The listening hosts are spread over the /24.
	for i := range n {
		addr := fmt.Sprintf("198.%d.254.%d", opt.Net, 10+i*29)
		ip("-n", ns, "addr", "add", addr+"/24", "dev", peerIf)
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
