package nmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// TestExcludedAddressGetsNoPackets is the proof that exclusions hold: a
// site range in a network namespace has an excluded address with a
// listener; a raw packet capture inside the namespace watches a real nmap
// scan, built the way the server and the agent build it, and must see
// packets to the other addresses and none (IP or ARP) to the excluded one.
// It checks both layers: the server removing the exclusion from the targets,
// and the agent passing it to nmap's --exclude when the targets still cover
// it.
func TestExcludedAddressGetsNoPackets(t *testing.T) {
	needNmap(t)
	ns := newCaptureNamespace(t)
	const port = 2222

	cap := startCapture(t, ns.name)

	// The server's side: resolve the site against its exclusion, split
	// per family, build one shard's spec.
	site, err := scan.ParseTargets([]string{ns.addr(2).String() + "-" + ns.addr(6).String()})
	if err != nil {
		t.Fatal(err)
	}
	excl, err := scan.ParseTargets([]string{ns.addr(3).String()})
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := scan.Resolve(site, excl, 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := resolved.ByFamily()
	if len(parts) != 1 {
		t.Fatalf("resolved into %d parts", len(parts))
	}
	options, err := scan.ParseOptions(scan.Nmap, fmt.Sprintf("-n -Pn -sT -p %d --max-retries 1", port))
	if err != nil {
		t.Fatal(err)
	}
	spec := scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Nmap, Options: options, Targets: parts[0].Targets, Excludes: parts[0].Excludes}

	t.Run("resolved spec", func(t *testing.T) {
		if !slices.Contains(spec.Excludes, ns.addr(3).String()) {
			t.Fatalf("spec excludes %q, want %s passed on to nmap", spec.Excludes, ns.addr(3))
		}
		// The agent's side: validate again, build the arguments, run nmap.
		xmlPath := filepath.Join(t.TempDir(), "out.xml")
		args, err := SpecArgs(spec, xmlPath, 0)
		if err != nil {
			t.Fatal(err)
		}
		cap.reset()
		runScan(t, args)
		assertOpen(t, xmlPath, port, ns.addr(2), ns.addr(4), ns.addr(5), ns.addr(6))
		cap.assert(t, ns.addr(3), ns.addr(2), ns.addr(4))
	})

	t.Run("nmap --exclude alone", func(t *testing.T) {
		// Targets that still cover the excluded address (as a host name
		// resolving into it would): only --exclude keeps nmap off it.
		// Spec.Validate refuses such a spec, so the builder is used directly.
		set, err := scan.ParseOptionArgs(scan.Nmap, options)
		if err != nil {
			t.Fatal(err)
		}
		xmlPath := filepath.Join(t.TempDir(), "out.xml")
		args := Args(WithXMLOutput(xmlPath), WithExcludes(spec.Excludes), WithProfile(set),
			WithTargets([]string{ns.addr(0).String() + "/29"}))
		cap.reset()
		runScan(t, args)
		assertOpen(t, xmlPath, port, ns.addr(2), ns.addr(4), ns.addr(5), ns.addr(6))
		cap.assert(t, ns.addr(3), ns.addr(2), ns.addr(4))
	})
}

func runScan(t *testing.T, args []string) {
	t.Helper()
	if !slices.Contains(args, "-n") {
		t.Fatalf("args %q lack -n", args)
	}
	t.Logf("nmap %s", strings.Join(args, " "))
	if err := Run(t.Context(), RunOptions{Args: args}); err != nil {
		t.Fatal(err)
	}
}

// assertOpen checks that nmap reported exactly want, each with port open.
func assertOpen(t *testing.T, xmlPath string, port int, want ...netip.Addr) {
	t.Helper()
	f, err := os.Open(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	if _, err := report.Parse(f, func(h report.Host) error {
		for _, p := range h.Ports {
			if p.Number == port && p.State == "open" {
				got = append(got, h.IP())
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var wantText []string
	for _, a := range want {
		wantText = append(wantText, a.String())
	}
	slices.Sort(got)
	slices.Sort(wantText)
	if !slices.Equal(got, wantText) {
		t.Errorf("hosts with %d open = %q, want %q", port, got, wantText)
	}
}

// captureNamespace is a network namespace whose veth peer holds .2-.6 of a
// /29 in 198.19.0.0/16, reached from this namespace through .1, with a
// listener on port 2222 at each of .2-.6.
type captureNamespace struct {
	name string
	base netip.Addr
}

func (c captureNamespace) addr(n int) netip.Addr {
	b := c.base.As4()
	b[3] += byte(n)
	return netip.AddrFrom4(b)
}

func newCaptureNamespace(t *testing.T) captureNamespace {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip is not installed")
	}
	// One /29 per test process in 198.19.0.0/16, apart from the /30s the
	// end-to-end test takes in 198.18.0.0/16.
	slot := os.Getpid() % 8192
	c := captureNamespace{
		name: fmt.Sprintf("scantron-excl-%d", os.Getpid()),
		base: netip.AddrFrom4([4]byte{198, 19, byte(slot * 8 / 256), byte(slot * 8 % 256)}),
	}
	hostIf, peerIf := fmt.Sprintf("stx%dh", slot), fmt.Sprintf("stx%dn", slot)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", c.name)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", hostIf).Run()
		if out, err := exec.Command("ip", "netns", "del", c.name).CombinedOutput(); err != nil {
			t.Errorf("remove namespace: %v: %s", err, out)
		}
	})
	ip("link", "add", hostIf, "type", "veth", "peer", "name", peerIf)
	ip("link", "set", peerIf, "netns", c.name)
	ip("addr", "add", c.addr(1).String()+"/29", "dev", hostIf)
	ip("link", "set", hostIf, "up")
	for n := 2; n <= 6; n++ {
		ip("-n", c.name, "addr", "add", c.addr(n).String()+"/29", "dev", peerIf)
	}
	ip("-n", c.name, "link", "set", peerIf, "up")
	ip("-n", c.name, "link", "set", "lo", "up")

	err := inNamespace(c.name, func() error {
		for n := 2; n <= 6; n++ {
			ln, err := net.Listen("tcp", net.JoinHostPort(c.addr(n).String(), "2222"))
			if err != nil {
				return err
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					conn.Close()
				}
			}()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// inNamespace runs fn on an OS thread that has entered network namespace
// ns. Sockets fn makes belong to ns and keep working from any goroutine.
// The thread returns to its own namespace; only if that fails is it left
// locked, and so ended.
func inNamespace(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer home.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		defer func() {
			if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
		}()
		errc <- fn()
	}()
	return <-errc
}

// capture counts, per IPv4 address, the IP packets sent to it and the ARP
// requests asking for it, on every interface of a namespace (AF_PACKET,
// ETH_P_ALL).
type capture struct {
	mu     sync.Mutex
	toAddr map[netip.Addr]int
	arpFor map[netip.Addr]int
}

func startCapture(t *testing.T, ns string) *capture {
	t.Helper()
	c := &capture{}
	c.reset()
	var fd int
	err := inNamespace(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("AF_PACKET socket: %w", err)
		}
		tv := unix.Timeval{Usec: 100_000}
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
					continue
				}
				return
			}
			c.record(buf[:n])
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		unix.Close(fd)
	})
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// record reads one Ethernet frame.
func (c *capture) record(frame []byte) {
	if len(frame) < 14 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case 0x0800: // IPv4: destination at bytes 16-19 of the header
		if len(frame) >= 14+20 {
			c.toAddr[netip.AddrFrom4([4]byte(frame[30:34]))]++
		}
	case 0x0806: // ARP: target protocol address at bytes 24-27
		if len(frame) >= 14+28 {
			c.arpFor[netip.AddrFrom4([4]byte(frame[38:42]))]++
		}
	}
}

func (c *capture) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.toAddr = map[netip.Addr]int{}
	c.arpFor = map[netip.Addr]int{}
}

// assert waits until every one of seen got packets (so the capture works
// and has caught up), then checks that excluded got nothing.
func (c *capture) assert(t *testing.T, excluded netip.Addr, seen ...netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c.mu.Lock()
		missing := slices.ContainsFunc(seen, func(a netip.Addr) bool { return c.toAddr[a] == 0 })
		c.mu.Unlock()
		if !missing || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, m := c.toAddr[excluded], c.arpFor[excluded]; n != 0 || m != 0 {
		t.Errorf("excluded %s got %d IP packets and %d ARP requests", excluded, n, m)
	}
	for _, a := range seen {
		if c.toAddr[a] == 0 {
			t.Errorf("no packets to %s were captured (capture %v)", a, c.toAddr)
		}
	}
	t.Logf("packets by destination: %v; ARP requests: %v", c.toAddr, c.arpFor)
}
