package driver

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
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

func TestRawSocketAccess(t *testing.T) {
	eff, ok := statusCaps("CapEff")
	if !ok {
		t.Fatal("cannot read CapEff from /proc/self/status")
	}
	a := RawSocketAccess("nmap")
	if want := os.Geteuid() == 0 && eff&(1<<capNetRaw) != 0; a.Root != want {
		t.Errorf("Root = %v, want %v (euid %d, CapEff %x)", a.Root, want, os.Geteuid(), eff)
	}
	if a.NeedsPrivilegedFlag() && a.Root {
		t.Error("root is told to add --privileged")
	}
	if (RawAccess{}).OK() || !(RawAccess{FileCaps: true}).NeedsPrivilegedFlag() {
		t.Error("RawAccess logic")
	}
	if s := (RawAccess{}).String(); !strings.Contains(s, "no raw sockets") {
		t.Errorf("String() = %q", s)
	}
}

// TestRawSocketAccessUnprivileged runs this test binary again as nobody to
// see RawSocketAccess from an unprivileged agent: no raw sockets for a plain
// binary, raw sockets through file capabilities for one with cap_net_raw.
func TestRawSocketAccessUnprivileged(t *testing.T) {
	if bin := os.Getenv("SCANTRON_TEST_RAW_ACCESS_OF"); bin != "" {
		// The child, as nobody: report and exit.
		a := RawSocketAccess(bin)
		os.Stdout.WriteString(strconv.FormatBool(a.Root) + " " + strconv.FormatBool(a.FileCaps) + " " + strconv.FormatBool(a.NeedsPrivilegedFlag()) + "\n")
		return
	}
	needSetcap(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	testBin := copyFile(t, self)
	plain := copyBinary(t, "true")
	capable := copyBinary(t, "true")
	setcap(t, "cap_net_raw,cap_net_admin+eip", capable)
	for _, tt := range []struct {
		bin, want string
	}{
		{plain, "false false false"},
		{capable, "false true true"},
	} {
		cmd := exec.Command(testBin, "-test.run=^TestRawSocketAccessUnprivileged$")
		cmd.Env = append(os.Environ(), "SCANTRON_TEST_RAW_ACCESS_OF="+tt.bin)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child as nobody: %v: %s", err, out)
		}
		if first, _, _ := strings.Cut(string(out), "\n"); first != tt.want {
			t.Errorf("%s: root, file caps, --privileged = %q, want %q", tt.bin, first, tt.want)
		}
	}
}

func TestFileHasNetRaw(t *testing.T) {
	needSetcap(t)
	bin := copyBinary(t, "true")
	if fileHasNetRaw(bin) {
		t.Fatal("a binary without capabilities reported as having CAP_NET_RAW")
	}
	tests := []struct {
		caps string
		want bool
	}{
		{"cap_net_raw,cap_net_admin+eip", true},
		{"cap_net_raw+ep", true},
		{"cap_net_raw+p", false}, // permitted but not effective: nmap would not use it
		{"cap_net_admin+ep", false},
	}
	for _, tt := range tests {
		setcap(t, tt.caps, bin)
		if got := fileHasNetRaw(bin); got != tt.want {
			t.Errorf("%s: fileHasNetRaw = %v, want %v", tt.caps, got, tt.want)
		}
	}
}
