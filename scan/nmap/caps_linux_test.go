package nmap

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/report"
)

func needSetcap(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("setting file capabilities needs root")
	}
	if _, err := exec.LookPath("setcap"); err != nil {
		t.Skip("setcap is not installed (libcap2-bin)")
	}
}

// copyBinary copies a program into a fresh directory that any user may
// enter, so that capabilities can be set on the copy alone.
func copyBinary(t *testing.T, name string) string {
	t.Helper()
	src, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed", name)
	}
	return copyFile(t, src)
}

func copyFile(t *testing.T, src string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "scantron-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(src))
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func setcap(t *testing.T, caps, path string) {
	t.Helper()
	if out, err := exec.Command("setcap", caps, path).CombinedOutput(); err != nil {
		t.Fatalf("setcap %s %s: %v: %s", caps, path, err, out)
	}
}

// TestSYNScanWithoutRoot is the proof that agents need capabilities, not
// root: an unprivileged user runs a SYN scan with an nmap that has file
// capabilities, given --privileged as the agent gives it.
func TestSYNScanWithoutRoot(t *testing.T) {
	needNmap(t)
	needSetcap(t)
	bin := copyBinary(t, "nmap")
	setcap(t, "cap_net_raw,cap_net_admin+eip", bin)
	if !driver.RawSocketAccess(bin).FileCaps {
		t.Fatal("the copy does not show its capabilities")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	outDir := filepath.Dir(bin)
	if err := os.Chmod(outDir, 0o777); err != nil {
		t.Fatal(err)
	}

	set, err := scan.ParseOptionSet(scan.Nmap, "-n -Pn -sS -p "+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	if raw := set.RawSocketOptions(); len(raw) != 1 || raw[0] != "-sS" {
		t.Fatalf("RawSocketOptions = %q", raw)
	}
	spec := scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Nmap, Options: set.Args(), Targets: []string{"127.0.0.1"}}
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var env []string // without NMAP_PRIVILEGED, which would stand in for --privileged
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NMAP_") {
			env = append(env, kv)
		}
	}

	// Without --privileged nmap, not being root, refuses a SYN scan.
	args, err := SpecArgs(spec, filepath.Join(outDir, "plain.xml"), 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr, cmd.Env = nobody, env
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "root privileges") {
		t.Fatalf("nmap -sS as nobody without --privileged: %v: %s", err, out)
	}

	xmlPath := filepath.Join(outDir, "out.xml")
	args, err = SpecArgs(spec, xmlPath, 0, WithPrivileged())
	if err != nil {
		t.Fatal(err)
	}
	if args[0] != "--privileged" {
		t.Fatalf("args %q", args)
	}
	cmd = exec.Command(bin, args...)
	cmd.SysProcAttr, cmd.Env = nobody, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nmap %s as nobody: %v: %s", strings.Join(args, " "), err, out)
	}
	f, err := os.Open(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var states []string
	info, err := report.Parse(f, func(h report.Host) error {
		for _, p := range h.Ports {
			states = append(states, strconv.Itoa(p.Number)+"/"+p.State)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info.Args, "-sS") || len(states) != 1 || states[0] != strconv.Itoa(port)+"/open" {
		t.Errorf("scan %q found %q, want %d/open", info.Args, states, port)
	}
}
