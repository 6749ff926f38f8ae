// Package e2e runs Scantron as an operator does: the real scantron binary
// (server and agent as separate processes) against a real Temporal dev
// server, PostgreSQL, S3 server and nmap, scanning a host the test creates.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/internal/testproc"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

var (
	stack    *devstack.Stack
	scantron string // the built binary
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "scantron-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	scantron = filepath.Join(dir, "scantron")
	build := exec.CommandContext(ctx, "go", "build", "-o", scantron, "../cmd/scantron")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build scantron: %v\n%s", err, out)
		return 1
	}
	stack, err = devstack.Start(ctx, devstack.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the dev stack:", err)
		return 1
	}
	defer stack.Stop()
	defer stopAuthStack()
	return m.Run()
}

// process is a scantron subcommand running for the length of a test.
type process = testproc.Process

func startScantron(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	return testproc.Start(t, scantron, env, args...)
}

// The first admin every test server starts with.
const (
	adminUser     = "admin"
	adminPassword = "e2e admin password"
)

// startServerAndAgent runs a server, registers an agent named agentName
// and starts it with the credential registration gave, and returns the
// server's base URL and an admin API client.
func startServerAndAgent(t *testing.T, agentName string) (string, api, scan.Agent) {
	t.Helper()
	base, c, env := startServer(t)
	var agent struct {
		scan.Agent
		Credential string `json:"credential"`
	}
	c.do("POST", "/agents", map[string]any{"name": agentName}, http.StatusCreated, &agent)
	startAgent(t, env, agentName, agent.Credential)
	return base, c, agent.Agent
}

// startAgent runs an agent with the credential its registration gave: it
// signs its results with it.
func startAgent(t *testing.T, env []string, name, credential string) *process {
	t.Helper()
	return startScantron(t, append(env, "SCANTRON_AGENT_NAME="+name, "SCANTRON_AGENT_CREDENTIAL="+credential), "agent")
}

// startServer runs a server, with extra settings if any, and returns its
// base URL, an admin API client and the environment its agents need.
func startServer(t *testing.T, extra ...string) (string, api, []string) {
	t.Helper()
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	env := stackEnv(listen)
	server := startScantron(t, append(env, extra...), "server")
	base := "http://" + listen
	waitReady(t, base, server)
	return base, adminAPI(t, base), env
}

func stackEnv(listen string) []string {
	return append(stack.Env(), "SCANTRON_LISTEN="+listen, "SCANTRON_LOG_LEVEL=debug",
		"SCANTRON_ADMIN_USER="+adminUser, "SCANTRON_ADMIN_PASSWORD="+adminPassword,
		// The test's webhook receiver listens on the loopback.
		"SCANTRON_WEBHOOK_ALLOW_NETWORKS=127.0.0.0/8")
}

// api is a small JSON client for the REST API.
type api struct {
	t     *testing.T
	base  string
	token string
}

// adminAPI logs in as the first admin and returns a client using the API
// token the login gives.
func adminAPI(t *testing.T, base string) api {
	t.Helper()
	a := api{t: t, base: base + "/api/v1"}
	var tok struct {
		Token string `json:"token"`
	}
	a.do("POST", "/login", map[string]string{"name": adminUser, "password": adminPassword, "token_name": "e2e"}, http.StatusCreated, &tok)
	a.token = tok.Token
	return a
}

func (a api) do(method, path string, body any, want int, out any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

func (a api) download(path string) []byte {
	a.t.Helper()
	req, _ := http.NewRequest("GET", a.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("GET %s = %d %s", path, resp.StatusCode, data)
	}
	return data
}

// waitReady waits until the server's /readyz passes: the database and
// Temporal answer and its schedules are in step with PostgreSQL.
func waitReady(t *testing.T, base string, p *process) {
	t.Helper()
	p.WaitHTTP(base+"/readyz", 90*time.Second)
}

type runView struct {
	scan.Run
	Shards      []scan.Shard `json:"shards"`
	TemporalURL string       `json:"temporal_url"`
}

// waitRun polls the run until it has ended, failing the test after limit;
// explain, if given, adds what would tell why (a server's log).
func (a api) waitRun(runID int64, limit time.Duration, explain func() string) runView {
	a.t.Helper()
	var view runView
	deadline := time.Now().Add(limit)
	for {
		a.do("GET", fmt.Sprintf("/runs/%d", runID), nil, http.StatusOK, &view)
		if view.Status.Final() {
			return view
		}
		if time.Now().After(deadline) {
			more := ""
			if explain != nil {
				more = "\n" + explain()
			}
			a.t.Fatalf("run %d still %s after %v: %+v%s", runID, view.Status, limit, view, more)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestScanEndToEnd is the foundation's proof: an operator's scan of a host
// flows through the API, Temporal, the agent's nmap, S3 and PostgreSQL, and
// comes back as exactly the ports the host has open.
func TestScanEndToEnd(t *testing.T) {
	target := newTargetHost(t)
	_, c, agent := startServerAndAgent(t, "e2e-agent")
	var site scan.Site
	c.do("POST", "/sites", map[string]any{"name": "lab", "targets": []string{target.Addr}}, http.StatusCreated, &site)
	var profile scan.Profile
	c.do("POST", "/profiles", map[string]any{
		"name": "tcp-versions", "scanner": "nmap",
		"options": "-n -Pn -T4 -sV --version-light -p 1-3000,8000-8100",
	}, http.StatusCreated, &profile)
	var sc scan.Scan
	c.do("POST", "/scans", map[string]any{"name": "lab-daily", "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID}, http.StatusCreated, &sc)
	hook := newWebhookReceiver(t)
	c.do("PUT", fmt.Sprintf("/scans/%d/notifications", sc.ID), map[string]any{"webhook_url": hook.URL, "webhook_secret": hook.secret}, http.StatusOK, nil)

	var run scan.Run
	c.do("POST", fmt.Sprintf("/scans/%d/runs", sc.ID), nil, http.StatusAccepted, &run)
	view := c.waitRun(run.ID, 4*time.Minute, nil)
	if view.Status != scan.RunCompleted {
		t.Fatalf("run ended %s: %s", view.Status, view.Error)
	}
	wantPorts := slices.Sorted(maps.Keys(target.Ports))
	if view.HostsUp != 1 || view.OpenPorts != len(wantPorts) {
		t.Errorf("run counts: %d hosts up, %d open ports; want 1 and %d", view.HostsUp, view.OpenPorts, len(wantPorts))
	}
	if !strings.Contains(view.TemporalURL, view.WorkflowID) {
		t.Errorf("temporal_url %q does not link to workflow %q", view.TemporalURL, view.WorkflowID)
	}

	// The API lists exactly the open ports, with what version detection found.
	var ports []scan.PortRow
	c.do("GET", fmt.Sprintf("/runs/%d/ports?state=open", run.ID), nil, http.StatusOK, &ports)
	var got []int
	for _, p := range ports {
		got = append(got, p.Port)
		want := target.Ports[p.Port]
		if p.Address != target.Addr || p.Protocol != "tcp" || p.Service != want.Name || !strings.Contains(p.Product, want.Product) {
			t.Errorf("port %d: %+v, want %s on %s with product %q", p.Port, p, want.Name, target.Addr, want.Product)
		}
	}
	if !slices.Equal(got, wantPorts) {
		t.Fatalf("open ports from the API = %v, want %v", got, wantPorts)
	}

	// The same rows are in PostgreSQL.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, stack.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT p.port FROM ports p JOIN hosts h ON h.id = p.host_id
		WHERE h.run_id = $1 AND h.address = $2::inet AND p.state = 'open' ORDER BY p.port`, run.ID, target.Addr)
	dbPorts, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dbPorts) != fmt.Sprint(wantPorts) {
		t.Errorf("open ports in PostgreSQL = %v, want %v", dbPorts, wantPorts)
	}

	// The raw XML is in S3 under its deterministic key, and the API serves
	// the same bytes.
	if len(view.Shards) != 1 || view.Shards[0].Raw == nil {
		t.Fatalf("shards = %+v, want one with its raw output", view.Shards)
	}
	raw := *view.Shards[0].Raw
	if want := scan.RawKey(run.ID, view.Shards[0].ID, 1, scan.Nmap); raw.Key != want {
		t.Errorf("raw key = %q, want %q", raw.Key, want)
	}
	s3, err := minio.New(stack.S3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(stack.S3.AccessKey, stack.S3.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s3.GetObject(ctx, raw.Bucket, raw.Key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	xmlBytes, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read raw object: %v", err)
	}
	sum := sha256.Sum256(xmlBytes)
	if hex.EncodeToString(sum[:]) != raw.SHA256 || int64(len(xmlBytes)) != raw.Size {
		t.Errorf("raw object does not match its reference %+v", raw)
	}
	if !bytes.Contains(xmlBytes, []byte(`<address addr="`+target.Addr+`"`)) {
		t.Errorf("raw XML does not mention the target")
	}
	if !bytes.Equal(c.download(fmt.Sprintf("/runs/%d/raw", run.ID)), xmlBytes) {
		t.Error("the API's raw download differs from the stored object")
	}

	// The CSV has the old Scantron columns and one row per open port.
	records, err := csv.NewReader(bytes.NewReader(c.download(fmt.Sprintf("/runs/%d/csv", run.ID)))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := strings.Join(records[0], ",")
	for _, col := range []string{"start_time", "end_time", "site_name", "scan_name", "ip_address", "hostname", "port", "protocol", "state", "service", "product", "version"} {
		if !slices.Contains(records[0], col) {
			t.Errorf("CSV header %q lacks %s", header, col)
		}
	}
	var csvPorts []int
	for _, r := range records[1:] {
		row := map[string]string{}
		for i, col := range records[0] {
			row[col] = r[i]
		}
		if row["ip_address"] != target.Addr || row["site_name"] != "lab" || row["scan_name"] != "lab-daily" || row["state"] != "open" || row["start_time"] == "" {
			t.Errorf("CSV row %v", row)
		}
		var p int
		fmt.Sscan(row["port"], &p)
		csvPorts = append(csvPorts, p)
		if want := target.Ports[p]; row["service"] != want.Name {
			t.Errorf("CSV port %d service %q, want %q", p, row["service"], want.Name)
		}
	}
	if !slices.Equal(csvPorts, wantPorts) {
		t.Errorf("CSV ports = %v, want %v", csvPorts, wantPorts)
	}

	// The merged nmap XML and the JSON Lines hold the same host and ports.
	var xmlPorts []int
	info, err := report.Parse(bytes.NewReader(c.download(fmt.Sprintf("/runs/%d/xml", run.ID))), func(h report.Host) error {
		for _, p := range h.Ports {
			if h.IP() == target.Addr && p.State == "open" {
				xmlPorts = append(xmlPorts, p.Number)
			}
		}
		return nil
	})
	if err != nil || info.Exit != "success" || !slices.Equal(xmlPorts, wantPorts) {
		t.Errorf("merged XML: %+v, open ports %v, %v; want %v", info, xmlPorts, err, wantPorts)
	}
	var jsonPorts []int
	for line := range strings.SplitSeq(strings.TrimSpace(string(c.download(fmt.Sprintf("/runs/%d/jsonl", run.ID)))), "\n") {
		var h struct {
			Address string `json:"address"`
			Ports   []struct {
				Port  int    `json:"port"`
				State string `json:"state"`
			} `json:"ports"`
		}
		if err := json.Unmarshal([]byte(line), &h); err != nil {
			t.Fatalf("JSON line %q: %v", line, err)
		}
		for _, p := range h.Ports {
			if h.Address == target.Addr && p.State == "open" {
				jsonPorts = append(jsonPorts, p.Port)
			}
		}
	}
	if !slices.Equal(jsonPorts, wantPorts) {
		t.Errorf("JSON Lines open ports %v, want %v", jsonPorts, wantPorts)
	}
	checkFollowUp(t, c, hook, run.ID, site.ID, target, wantPorts)
	checkSecondRun(t, c, hook, sc.ID, site.ID, run.ID, target)
}
