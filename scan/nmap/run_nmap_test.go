//go:build linux

package nmap

import (
	"github.com/scantron/scantron/scan/driver"

	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scantron/scantron/internal/targethost"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// These tests run the real nmap, against listeners of their own on the
// loopback interface only, always with -n.

func needNmap(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("nmap"); err != nil {
		t.Skip("nmap is not installed")
	}
}

// loopbackPorts opens a listener on host (127.0.0.1 or ::1) and finds closed
// ports next to it: it returns the open port and closed ones.
func loopbackPorts(t *testing.T, host string, closed int) (open int, closedPorts []int) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for range closed {
		c, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		closedPorts = append(closedPorts, c.Addr().(*net.TCPAddr).Port)
		c.Close()
	}
	return l.Addr().(*net.TCPAddr).Port, closedPorts
}

func portList(ports ...int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

func TestRunRealNmap(t *testing.T) {
	needNmap(t)
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			open, closed := loopbackPorts(t, host, 5)
			// --scan-delay stretches the scan to about 2 s so that
			// --stats-every has something to report.
			profile := []string{"-n", "-Pn", "--scan-delay", "300ms", "-p", portList(append([]int{open}, closed...)...)}
			xmlPath := filepath.Join(t.TempDir(), "out.xml")
			args, err := SpecArgs(testSpec(profile, host), xmlPath, 200*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var progress []Progress
			err = Run(t.Context(), RunOptions{Args: args, OnProgress: func(p Progress) {
				mu.Lock()
				progress = append(progress, p)
				mu.Unlock()
			}})
			if err != nil {
				t.Fatalf("nmap %q: %v", args, err)
			}
			if len(progress) == 0 {
				t.Errorf("no progress from nmap %q", args)
			}
			for _, p := range progress {
				if p.Task == "" || p.Percent < 0 || p.Percent > 100 {
					t.Errorf("progress %+v", p)
				}
			}

			f, err := os.Open(xmlPath)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var hosts []report.Host
			info, err := report.Parse(f, func(h report.Host) error { hosts = append(hosts, h); return nil })
			if err != nil || !info.Complete || info.Exit != "success" {
				t.Fatalf("report: %+v, %v", info, err)
			}
			if len(hosts) != 1 || hosts[0].IP() != host || hosts[0].Status != "up" {
				t.Fatalf("hosts = %+v", hosts)
			}
			states := map[int]string{}
			for _, p := range hosts[0].Ports {
				states[p.Number] = p.State
			}
			want := map[int]string{open: "open"}
			for _, p := range closed {
				want[p] = "closed"
			}
			if fmt.Sprint(states) != fmt.Sprint(want) {
				t.Errorf("port states = %v, want %v", states, want)
			}
		})
	}
}

func TestRunRealNmapFails(t *testing.T) {
	needNmap(t)
	// A value the allow-list passes but nmap refuses: nmap exits at once,
	// before sending anything.
	args, err := SpecArgs(testSpec([]string{"-n", "--port-ratio", "2"}, "127.0.0.1"), filepath.Join(t.TempDir(), "out.xml"), 0)
	if err != nil {
		t.Fatal(err)
	}
	err = Run(t.Context(), RunOptions{Args: args})
	if !errors.Is(err, driver.ErrScannerFailed) || !strings.Contains(err.Error(), "exited with status") ||
		!strings.Contains(err.Error(), "port-ratio") {
		t.Errorf("err = %v", err)
	}
}

func TestRunRealNmapCancel(t *testing.T) {
	needNmap(t)
	open, closed := loopbackPorts(t, "127.0.0.1", 20)
	// 21 ports 5 s apart: the scan would take over 100 s.
	profile := []string{"-n", "-Pn", "--scan-delay", "5s", "-p", portList(append([]int{open}, closed...)...)}
	xmlPath := filepath.Join(t.TempDir(), "out.xml")
	args, err := SpecArgs(testSpec(profile, "127.0.0.1"), xmlPath, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var once sync.Once
	start := time.Now()
	err = Run(ctx, RunOptions{Args: args, Grace: 3 * time.Second, OnProgress: func(Progress) { once.Do(cancel) }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("Run took %v; the scan was to take 100 s", d)
	}
	// nmap killed mid-scan leaves a cut-off report.
	f, err := os.Open(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := report.Parse(f, func(report.Host) error { return nil }); !errors.Is(err, report.ErrTruncated) {
		t.Errorf("report of a cancelled scan: %v, want ErrTruncated", err)
	}
}

// TestRunRealNmapGuardedScripts: the --script expression a profile gives
// reaches nmap wrapped so that broadcast and external scripts never run,
// and nmap reads the wrapped form.
func TestRunRealNmapGuardedScripts(t *testing.T) {
	needNmap(t)
	open := targethost.Loopback(t, func(c net.Conn) {
		_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.2p1\r\n"))
		time.Sleep(200 * time.Millisecond)
		c.Close()
	})
	options, err := scan.ParseOptions(scan.Nmap, "-n -Pn -sT -p "+strconv.Itoa(open)+" --script 'banner,ssh-hostkey and not intrusive'")
	if err != nil {
		t.Fatal(err)
	}
	xmlPath := filepath.Join(t.TempDir(), "out.xml")
	args, err := SpecArgs(testSpec(options, "127.0.0.1"), xmlPath, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(args, "(banner) and not (broadcast or external),(ssh-hostkey and not intrusive) and not (broadcast or external)") {
		t.Fatalf("args %q lack the guarded expression", args)
	}
	if err := Run(t.Context(), RunOptions{Args: args, Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ran []string
	if _, err := report.Parse(f, func(h report.Host) error {
		for _, p := range h.Ports {
			for _, s := range p.Scripts {
				ran = append(ran, s.ID)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// nmap quits on an expression it cannot read; ssh-hostkey finds no SSH
	// behind a bare banner and reports nothing.
	if !slices.Equal(ran, []string{"banner"}) {
		t.Errorf("scripts that reported: %q, want banner", ran)
	}
}
