// Package packaging holds the .deb's nfpm configuration, its maintainer
// scripts and the systemd units of the agent and the server. Its test
// builds the package with `make package` and checks what it holds.
package packaging

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/scantron/scantron/internal/targethost"
)

// unitSettings reads a unit file's Key=value lines (the last one of a key
// wins, as in systemd, except where noted by the test).
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: not Key=value: %q", path, line)
			continue
		}
		out[k] = append(out[k], v)
	}
	return out
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func TestDebPackage(t *testing.T) {
	for _, tool := range []string{"dpkg-deb", "systemd-analyze", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (a Debian machine with the systemd package has it; make test-tools installs it)", tool)
		}
	}
	if _, err := os.Stat("../bin/nfpm"); err != nil {
		if out, err := exec.Command("../scripts/install-tools.sh", "--package").CombinedOutput(); err != nil {
			t.Skipf("nfpm cannot be installed, so no package can be built: %v\n%s", err, out)
		}
	}
	dist := t.TempDir()
	// The binary is built with the usual flags, so that the build cache the
	// other tests filled serves it; `make package` alone builds a static one.
	bin := filepath.Join(dist, "scantron-bin")
	run(t, "go", "build", "-ldflags", "-X main.version=1.2.3", "-o", bin, "../cmd/scantron")
	run(t, "make", "-s", "-C", "..", "package", "DIST="+dist, "VERSION=1.2.3", "DEB_ARCH="+runtime.GOARCH, "BINARY="+bin)
	deb := filepath.Join(dist, "scantron_1.2.3_"+runtime.GOARCH+".deb")
	if _, err := os.Stat(deb); err != nil {
		entries, _ := os.ReadDir(dist)
		t.Fatalf("no %s; %s holds %v", filepath.Base(deb), dist, entries)
	}

	// Contents, with their modes and owners.
	listing := run(t, "dpkg-deb", "-c", deb)
	for _, want := range []string{
		`-rwxr-xr-x root/root +\d+ \S+ \S+ \./usr/bin/scantron\n`,
		`-rw-r--r-- root/root +\d+ \S+ \S+ \./usr/lib/systemd/system/scantron-agent\.service\n`,
		`-rw-r--r-- root/root +\d+ \S+ \S+ \./usr/lib/systemd/system/scantron-server\.service\n`,
		`drwx------ root/root +0 \S+ \S+ \./etc/scantron/\n`,
	} {
		if !regexp.MustCompile(want).MatchString(listing) {
			t.Errorf("package lacks %s:\n%s", want, listing)
		}
	}
	if fields := run(t, "dpkg-deb", "-f", deb, "Package", "Version", "Architecture"); fields != "Package: scantron\nVersion: 1.2.3\nArchitecture: "+runtime.GOARCH+"\n" {
		t.Errorf("control fields:\n%s", fields)
	}
	if strings.Contains(listing, "conf\n") {
		t.Errorf("the package ships a config file; enrollment writes it:\n%s", listing)
	}

	tree := filepath.Join(dist, "root")
	control := filepath.Join(dist, "control")
	run(t, "dpkg-deb", "-x", deb, tree)
	run(t, "dpkg-deb", "-e", deb, control)
	if out := run(t, filepath.Join(tree, "usr/bin/scantron"), "version"); out != "scantron 1.2.3\n" {
		t.Errorf("packaged binary says %q", out)
	}
	for _, script := range []string{"postinst", "prerm"} {
		fi, err := os.Stat(filepath.Join(control, script))
		if err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("maintainer script %s: %v %v", script, err, fi)
		}
	}
	run(t, "sh", "-n", filepath.Join(control, "postinst"))
	if b, _ := os.ReadFile(filepath.Join(control, "postinst")); !strings.Contains(string(b), "useradd --system") {
		t.Errorf("postinst does not make the system users:\n%s", b)
	}

	// The agent's unit: its own user, raw sockets and nothing more.
	agent := unitSettings(t, filepath.Join(tree, "usr/lib/systemd/system/scantron-agent.service"))
	for key, want := range map[string]string{
		"User":                  "scantron-agent",
		"AmbientCapabilities":   "CAP_NET_RAW CAP_NET_ADMIN",
		"CapabilityBoundingSet": "CAP_NET_RAW CAP_NET_ADMIN",
		"NoNewPrivileges":       "yes",
		"ProtectSystem":         "strict",
		"ProtectHome":           "yes",
		"PrivateTmp":            "yes",
		"StateDirectory":        "scantron-agent",
		"LoadCredential":        "agent.conf:/etc/scantron/agent.conf",
		"ExecStart":             "/usr/bin/scantron agent --config %d/agent.conf",
	} {
		if got := agent[key]; len(got) != 1 || got[0] != want {
			t.Errorf("scantron-agent.service %s=%v, want %q", key, got, want)
		}
	}
	server := unitSettings(t, filepath.Join(tree, "usr/lib/systemd/system/scantron-server.service"))
	for key, want := range map[string]string{
		"User": "scantron-server", "CapabilityBoundingSet": "", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ExecStart": "/usr/bin/scantron server --config %d/server.conf",
	} {
		if got := server[key]; len(got) != 1 || got[0] != want {
			t.Errorf("scantron-server.service %s=%v, want %q", key, got, want)
		}
	}

	// systemd itself checks the units, pointed at the unpacked binary.
	units := filepath.Join(dist, "units")
	if err := os.MkdirAll(units, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"scantron-agent.service", "scantron-server.service"} {
		b, err := os.ReadFile(filepath.Join(tree, "usr/lib/systemd/system", name))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/bin/scantron"), []byte(filepath.Join(tree, "usr/bin/scantron")))
		path := filepath.Join(units, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("systemd-analyze", "verify", "--man=no", path)
		out, err := cmd.CombinedOutput()
		// Complaints about other units on this machine are not ours.
		var ours []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, name) {
				ours = append(ours, line)
			}
		}
		if err != nil || len(ours) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
		}
	}
}

// TestAgentUnitAllowsRawScans runs nmap as the agent's unit would: an
// unprivileged user with the unit's ambient and bounding capabilities, no
// new privileges, and /proc mounted as the unit has it. A SYN scan of a loopback listener must find it open,
// and must fail without those capabilities, so the hardening leaves exactly
// raw sockets.
func TestAgentUnitAllowsRawScans(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to another user with chosen capabilities")
	}
	for _, tool := range []string{"setpriv", "unshare", "nmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	unit := unitSettings(t, "scantron-agent.service")
	caps := func(key string) string {
		v := unit[key]
		if len(v) != 1 || v[0] == "" {
			t.Fatalf("scantron-agent.service %s=%v", key, v)
		}
		out := "-all"
		for _, c := range strings.Fields(v[0]) {
			out += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
		}
		return out
	}
	if nnp := unit["NoNewPrivileges"]; len(nnp) != 1 || nnp[0] != "yes" {
		t.Fatalf("NoNewPrivileges=%v", nnp)
	}
	port := fmt.Sprint(targethost.Loopback(t, nil))
	// /proc as the unit mounts it, in a mount and PID namespace of the
	// scan's own.
	procOpts := []string{"rw"}
	if v := unit["ProtectProc"]; len(v) == 1 && v[0] != "default" {
		procOpts = append(procOpts, "hidepid="+v[0])
	}
	if v := unit["ProcSubset"]; len(v) == 1 && v[0] == "pid" {
		procOpts = append(procOpts, "subset=pid")
	}
	scanAs := func(ambient, bounding string) string {
		cmd := exec.Command("unshare", "--mount", "--pid", "--fork", "--propagation", "private", "sh", "-c",
			`mount -t proc -o "$1" proc /proc && shift && exec "$@"`, "sh", strings.Join(procOpts, ","),
			"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
			"--inh-caps="+ambient, "--ambient-caps="+ambient, "--bounding-set="+bounding, "--no-new-privs",
			"nmap", "-n", "-Pn", "--privileged", "-sS", "-p", port, "127.0.0.1", "-oX", "-")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	open := `<port protocol="tcp" portid="` + port + `"><state state="open" reason="syn-ack"`
	if out := scanAs(caps("AmbientCapabilities"), caps("CapabilityBoundingSet")); !strings.Contains(out, `<scaninfo type="syn"`) || !strings.Contains(out, open) {
		t.Errorf("SYN scan with the unit's capabilities did not find the port open:\n%s", out)
	}
	if out := scanAs("-all", "-all"); strings.Contains(out, open) || !strings.Contains(out, "raw socket") {
		t.Errorf("SYN scan without capabilities did not fail for want of raw sockets:\n%s", out)
	}
}
