// Package targethost makes machines for tests to scan: a network namespace
// of the test's own with a veth link to this one (addresses in
// 198.18.0.0/15), or, where namespaces cannot be made, an address in
// 127.0.0.0/8. Either way the host runs listeners that answer like real
// FTP, SSH and HTTP servers, so nmap's version detection names them quickly.
// Everything a host makes is removed by the test's Cleanup.
package targethost

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Host is one target machine.
type Host struct {
	Addr      string
	Namespace string // "" when on loopback
	Ports     map[int]Service

	// Set for a namespace host: this side's end of the link and the
	// host's MAC, which masscan needs to send to it.
	HostIf, HostIP, MAC string
	peerIf              string

	listeners map[int]net.Listener
}

// ClosePort shuts the service on port down, as an operator would.
func (h *Host) ClosePort(port int) {
	_ = h.listeners[port].Close()
}

// Delay makes the host answer d later (tc netem on its side of the link),
// as a distant network would. It fails on a loopback host, or where the
// kernel has no netem.
func (h *Host) Delay(d time.Duration) error {
	if h.Namespace == "" {
		return errors.New("network delay needs a namespace host")
	}
	out, err := exec.Command("ip", "netns", "exec", h.Namespace, "tc", "qdisc", "add", "dev", h.peerIf, "root", "netem", "delay", d.String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("tc netem delay %s in %s: %v: %s", d, h.Namespace, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Service is a listener of the host and what nmap should call it.
type Service struct {
	Name    string // as nmap names it
	Product string // "" when nmap is not expected to name one
	serve   func(net.Conn)
}

// Services are what every host runs, by port. Their banners are what real
// servers send, so nmap's probes match them.
var Services = map[int]Service{
	2121: {Name: "ftp", Product: "vsftpd", serve: banner("220 (vsFTPd 3.0.3)\r\n")},
	2222: {Name: "ssh", Product: "OpenSSH", serve: banner("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")},
	8080: {Name: "http", Product: "Apache httpd", serve: nil}, // served by net/http below
}

func banner(text string) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Write([]byte(text))
		_, _ = bufio.NewReader(c).ReadString('\n')
	}
}

// Options say which host of which test process to make.
type Options struct {
	// Name tells the namespaces and interfaces of one test package apart
	// (scantron-<Name>-<pid>-<index>); its first letter is in the
	// interface names, which must stay short.
	Name string
	// Net is the second octet of the addresses: 18 or 19, so that two test
	// packages can run side by side without sharing addresses.
	Net int
	// Index is which of up to eight hosts of one test process this is.
	Index int
	// Bits is a Subnet's prefix length, 20 to 24 (0: 24): a /20 is
	// 198.<Net>.240.0/20, whose addresses New also hands out to processes
	// whose pid ends at or above 1920 (mod 2048).
	Bits int
}

// New makes a namespace host, or says plainly that it falls back to
// loopback.
func New(t testing.TB, opt Options) *Host {
	t.Helper()
	if opt.Net != 19 {
		opt.Net = 18
	}
	if opt.Name == "" {
		opt.Name = "test"
	}
	h, err := newNamespaceHost(t, opt)
	if err != nil {
		t.Logf("NOTE: cannot create a network namespace (%v); scanning listeners on loopback instead", err)
		h = &Host{Addr: fmt.Sprintf("127.%d.%d.%d", 100+opt.Net, 100+os.Getpid()%100, 2+(os.Getpid()+opt.Index)%250)}
		lns := make(map[int]net.Listener)
		for port := range Services {
			ln, err := net.Listen("tcp", net.JoinHostPort(h.Addr, fmt.Sprint(port)))
			if err != nil {
				t.Fatalf("loopback listener: %v", err)
			}
			lns[port] = ln
		}
		h.serve(t, lns)
		return h
	}
	t.Logf("target host %s in network namespace %s", h.Addr, h.Namespace)
	return h
}

func newNamespaceHost(t testing.TB, opt Options) (*Host, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("not root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, err
	}
	// Up to eight /30s per test process, so parallel test binaries do not
	// collide.
	slot := (os.Getpid()%2048)*8 + opt.Index
	base := 4 * slot
	hostIP := fmt.Sprintf("198.%d.%d.%d", opt.Net, base/256, base%256+1)
	peerIP := fmt.Sprintf("198.%d.%d.%d", opt.Net, base/256, base%256+2)
	ns := fmt.Sprintf("scantron-%s-%d-%d", opt.Name, os.Getpid(), opt.Index)
	hostIf := fmt.Sprintf("st%c%dh", opt.Name[0], slot)
	peerIf := fmt.Sprintf("st%c%dn", opt.Name[0], slot)

	ip := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := ip("netns", "add", ns); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		_ = ip("link", "del", hostIf)
		if err := ip("netns", "del", ns); err != nil {
			t.Errorf("remove namespace: %v", err)
		}
	})
	steps := [][]string{
		{"link", "add", hostIf, "type", "veth", "peer", "name", peerIf},
		{"link", "set", peerIf, "netns", ns},
		{"addr", "add", hostIP + "/30", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", ns, "addr", "add", peerIP + "/30", "dev", peerIf},
		{"-n", ns, "link", "set", peerIf, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return nil, err
		}
	}
	// masscan scans from this side of the link; see noOffloads.
	if err := noOffloads(hostIf); err != nil {
		t.Logf("NOTE: %v; masscan may lose answers when the CPU is busy", err)
	}
	lns, err := listenInNamespace(ns, peerIP)
	if err != nil {
		return nil, err
	}
	h := &Host{Addr: peerIP, Namespace: ns, HostIf: hostIf, HostIP: hostIP, peerIf: peerIf}
	out, err := exec.Command("ip", "-n", ns, "-br", "link", "show", "dev", peerIf).Output()
	if f := strings.Fields(string(out)); err == nil && len(f) >= 3 {
		h.MAC = f[2]
	}
	h.serve(t, lns)
	return h, nil
}

// listenInNamespace opens the listeners from a thread that has entered the
// namespace. A socket belongs to the namespace it was made in, so the
// listeners keep working from any goroutine. The thread then returns to its
// own namespace; only if that fails is it left locked, and so ended.
func listenInNamespace(ns, addr string) (map[int]net.Listener, error) {
	type result struct {
		lns map[int]net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer home.Close()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		defer func() {
			if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
		}()
		lns := map[int]net.Listener{}
		for port := range Services {
			ln, err := net.Listen("tcp", net.JoinHostPort(addr, fmt.Sprint(port)))
			if err != nil {
				for _, l := range lns {
					l.Close()
				}
				ch <- result{err: err}
				return
			}
			lns[port] = ln
		}
		ch <- result{lns: lns}
	}()
	r := <-ch
	return r.lns, r.err
}

func (h *Host) serve(t testing.TB, lns map[int]net.Listener) {
	h.Ports, h.listeners = Services, lns
	for port, ln := range lns {
		t.Cleanup(func() { ln.Close() })
		svc := Services[port]
		if svc.serve == nil {
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Server", "Apache/2.4.57 (Debian)")
					_, _ = w.Write([]byte("scantron test target\n"))
				}),
				ReadHeaderTimeout: 5 * time.Second,
			}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { srv.Close() })
			continue
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go svc.serve(c)
			}
		}()
	}
}
