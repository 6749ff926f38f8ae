package chaos

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

// targetHost is the machine the suite scans: a network namespace of its own
// with a veth link to this one (198.18.0.0/15), or, where namespaces cannot
// be made, an address in 127.0.0.0/8. It runs listeners that answer like
// real services, so version detection names them.
type targetHost struct {
	Addr      string
	Namespace string // "" on loopback
}

// targetPorts are the services the host runs and what nmap calls them.
var targetPorts = map[int]string{2121: "ftp", 2222: "ssh", 8080: "http"}

var targetBanners = map[int]string{
	2121: "220 (vsFTPd 3.0.3)\r\n",
	2222: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
}

func newTargetHost(t *testing.T) *targetHost {
	t.Helper()
	h, lns, err := newNamespaceHost(t)
	if err != nil {
		t.Logf("NOTE: cannot create a network namespace (%v); scanning listeners on loopback instead", err)
		h = &targetHost{Addr: fmt.Sprintf("127.0.%d.%d", 200+os.Getpid()%50, 2+os.Getpid()%250)}
		lns = map[int]net.Listener{}
		for port := range targetPorts {
			ln, err := net.Listen("tcp", net.JoinHostPort(h.Addr, fmt.Sprint(port)))
			if err != nil {
				t.Fatalf("loopback listener: %v", err)
			}
			lns[port] = ln
		}
	}
	serve(t, lns)
	return h
}

func newNamespaceHost(t *testing.T) (*targetHost, map[int]net.Listener, error) {
	if os.Geteuid() != 0 {
		return nil, nil, errors.New("not root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, nil, err
	}
	// One /30 per test process, from the top half of 198.19.0.0/16 so the
	// e2e package (198.18.x) can run alongside.
	slot := os.Getpid() % 16384
	base := 4 * slot
	hostIP := fmt.Sprintf("198.19.%d.%d", base/256, base%256+1)
	peerIP := fmt.Sprintf("198.19.%d.%d", base/256, base%256+2)
	ns := fmt.Sprintf("scantron-chaos-%d", os.Getpid())
	hostIf := fmt.Sprintf("stc%dh", slot)
	peerIf := fmt.Sprintf("stc%dn", slot)
	ip := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := ip("netns", "add", ns); err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() {
		_ = ip("link", "del", hostIf)
		if err := ip("netns", "del", ns); err != nil {
			t.Errorf("remove namespace: %v", err)
		}
	})
	for _, s := range [][]string{
		{"link", "add", hostIf, "type", "veth", "peer", "name", peerIf},
		{"link", "set", peerIf, "netns", ns},
		{"addr", "add", hostIP + "/30", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", ns, "addr", "add", peerIP + "/30", "dev", peerIf},
		{"-n", ns, "link", "set", peerIf, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	} {
		if err := ip(s...); err != nil {
			return nil, nil, err
		}
	}
	lns, err := listenInNamespace(ns, peerIP)
	if err != nil {
		return nil, nil, err
	}
	t.Logf("target host %s in network namespace %s", peerIP, ns)
	return &targetHost{Addr: peerIP, Namespace: ns}, lns, nil
}

// listenInNamespace opens the listeners from a thread that has entered the
// namespace; a socket stays in the namespace it was made in.
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
		for port := range targetPorts {
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

func serve(t *testing.T, lns map[int]net.Listener) {
	for port, ln := range lns {
		t.Cleanup(func() { ln.Close() })
		text, ok := targetBanners[port]
		if !ok {
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Server", "Apache/2.4.57 (Debian)")
					_, _ = w.Write([]byte("scantron chaos target\n"))
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
				go func() {
					defer c.Close()
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					_, _ = c.Write([]byte(text))
					_, _ = bufio.NewReader(c).ReadString('\n')
				}()
			}
		}()
	}
}
