package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
)

// cli runs a client verb of the binary with its own config directory.
type cli struct {
	t      *testing.T
	config string
	env    []string
}

func (c cli) run(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	cmd := exec.Command(scantron, args...)
	cmd.Env = append([]string{"HOME=" + c.config, "XDG_CONFIG_HOME=" + c.config, "PATH=" + os.Getenv("PATH")}, c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("scantron %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

func (c cli) must(stdin string, args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("scantron %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// TestCLI drives a scan from the command line only: log in, create a site
// and a scan, start a run and watch it to the end, export the results.
func TestCLI(t *testing.T) {
	target := newTargetHost(t)
	base, admin, agent := startServerAndAgent(t, "cli-agent")
	var profile scan.Profile
	admin.do("POST", "/profiles", map[string]any{"name": "cli-tcp", "scanner": "nmap", "options": "-n -Pn -T4 -p 1-3000,8000-8100"}, http.StatusCreated, &profile)

	c := cli{t: t, config: t.TempDir()}
	if code, _, errOut := c.run("", "sites", "list"); code != 2 || !strings.Contains(errOut, "not logged in") {
		t.Fatalf("sites list before login: %d %s", code, errOut)
	}
	if code, _, errOut := c.run("wrong password\n", "login", "--url", base, "--name", adminUser); code != 1 || !strings.Contains(errOut, "wrong user name or password") {
		t.Fatalf("login with a wrong password: %d %s", code, errOut)
	}
	c.must(adminPassword+"\n", "login", "--url", base, "--name", adminUser)
	credFile := filepath.Join(c.config, "scantron", "credentials.json")
	fi, err := os.Stat(credFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, mode %v", err, fi.Mode())
	}
	var creds struct {
		Token string `json:"token"`
	}
	b, _ := os.ReadFile(credFile)
	if err := json.Unmarshal(b, &creds); err != nil || !strings.HasPrefix(creds.Token, "sct_") {
		t.Fatalf("credentials %s: %v", b, err)
	}

	// Bad input comes back with the server's message and nothing is made.
	if code, _, errOut := c.run("", "sites", "create", "--name", "cli-bad", "--targets", "198.18.0.0/33"); code != 1 || !strings.Contains(errOut, "targets[0]") {
		t.Fatalf("bad site: %d %s", code, errOut)
	}
	out := c.must("", "sites", "create", "--name", "cli-lab", "--targets", target.Addr)
	siteID := regexp.MustCompile(`created site (\d+) cli-lab`).FindStringSubmatch(out)
	if siteID == nil {
		t.Fatalf("sites create: %s", out)
	}
	if out := c.must("", "sites", "list"); !strings.Contains(out, "cli-lab") || strings.Contains(out, "cli-bad") || !strings.Contains(out, target.Addr) {
		t.Fatalf("sites list: %s", out)
	}
	out = c.must("", "scans", "create", "--name", "cli-scan", "--site", siteID[1], "--profile", fmt.Sprint(profile.ID), "--agent", fmt.Sprint(agent.ID))
	scanID := regexp.MustCompile(`created scan (\d+) cli-scan`).FindStringSubmatch(out)
	if scanID == nil {
		t.Fatalf("scans create: %s", out)
	}
	if out := c.must("", "scans", "list"); !strings.Contains(out, "cli-scan") {
		t.Fatalf("scans list: %s", out)
	}

	code, out, errOut := c.run("", "run", "start", scanID[1], "--watch")
	if code != 0 {
		t.Fatalf("run start --watch: %d\n%s\n%s", code, out, errOut)
	}
	wantPorts := len(target.Ports)
	if !strings.Contains(out, fmt.Sprintf("completed: 1 hosts up, %d open ports", wantPorts)) {
		t.Errorf("run summary: %s", out)
	}
	if !strings.Contains(errOut, "[##############################] 100.0%") {
		t.Errorf("no full progress bar on stderr: %q", errOut)
	}
	runID := regexp.MustCompile(`started run (\d+)`).FindStringSubmatch(out)
	if runID == nil {
		t.Fatalf("no run id in %s", out)
	}

	// JSON lines: one host per line with its ports.
	out = c.must("", "export", runID[1], "--format", "jsonl")
	sc := bufio.NewScanner(strings.NewReader(out))
	var hosts []scan.HostRow
	for sc.Scan() {
		var h scan.HostRow
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		hosts = append(hosts, h)
	}
	if len(hosts) != 1 || hosts[0].Address != target.Addr {
		t.Fatalf("exported hosts %+v", hosts)
	}
	var open []int
	for _, p := range hosts[0].Ports {
		if p.State == "open" {
			open = append(open, p.Port)
		}
	}
	slices.Sort(open)
	if len(open) != wantPorts {
		t.Errorf("exported open ports %v, want %d of them", open, wantPorts)
	}
	csvFile := filepath.Join(t.TempDir(), "run.csv")
	c.must("", "export", runID[1], "--output", csvFile)
	if b, err := os.ReadFile(csvFile); err != nil || !strings.Contains(string(b), target.Addr) {
		t.Errorf("CSV export: %v %s", err, b)
	}

	// Logging out revokes the token on the server.
	c.must("", "logout")
	if _, err := os.Stat(credFile); !os.IsNotExist(err) {
		t.Errorf("credentials remain after logout: %v", err)
	}
	stale := cli{t: t, config: t.TempDir(), env: []string{"SCANTRON_URL=" + base, "SCANTRON_TOKEN=" + creds.Token}}
	if code, _, errOut := stale.run("", "sites", "list"); code != 1 || !strings.Contains(errOut, "HTTP 401") {
		t.Errorf("revoked token still works: %d %s", code, errOut)
	}
}
