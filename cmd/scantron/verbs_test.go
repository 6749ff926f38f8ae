package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scantron/scantron/devstack"
)

// openAPIRoutes are the routes web/openapi.json describes, as "METHOD /path".
func openAPIRoutes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "web", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var routes []string
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "delete", "patch":
				routes = append(routes, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(routes)
	return routes
}

// TestEveryAPIRouteHasAVerb: every route of the API is called by some verb
// of the command table, or is in notCovered with its reason; and the table
// names no route the API does not have.
func TestEveryAPIRouteHasAVerb(t *testing.T) {
	routes := openAPIRoutes(t)
	called := map[string][]string{}
	for _, c := range commands {
		for _, r := range c.callsRoutes() {
			called[r] = append(called[r], strings.Join(c.words, " "))
		}
	}
	for _, r := range routes {
		_, excluded := notCovered[r]
		switch {
		case len(called[r]) == 0 && !excluded:
			t.Errorf("%s: no verb calls it; add one to commands, or the route to notCovered with the reason", r)
		case len(called[r]) > 0 && excluded:
			t.Errorf("%s: called by %v but also in notCovered", r, called[r])
		}
	}
	for r, by := range called {
		if !slices.Contains(routes, r) {
			t.Errorf("%s (called by %v) is not a route of the API", r, by)
		}
	}
	for r := range notCovered {
		if !slices.Contains(routes, r) {
			t.Errorf("notCovered lists %s, which is not a route of the API", r)
		}
	}
	// Verbs are unambiguous: no verb's words are another's.
	seen := map[string]bool{}
	for _, c := range commands {
		k := strings.Join(c.words, " ")
		if seen[k] {
			t.Errorf("verb %q is in the table twice", k)
		}
		seen[k] = true
	}
}

const (
	cliTableBegin = "<!-- cli verbs: generated from cmd/scantron/commands.go; TestREADMEListsEveryVerb checks it -->"
	cliTableEnd   = "<!-- end of cli verbs -->"
)

// cliTable is the README's table of verbs.
func cliTable() string {
	var b strings.Builder
	b.WriteString("| Verb | What it does | API |\n|---|---|---|\n")
	for _, c := range commands {
		routes := c.callsRoutes()
		for i, r := range routes {
			routes[i] = "`" + r + "`"
		}
		fmt.Fprintf(&b, "| `scantron %s` | %s | %s |\n", strings.ReplaceAll(c.synopsis(), "|", "\\|"),
			strings.ReplaceAll(c.help, "|", "\\|"), strings.Join(routes, "<br>"))
	}
	return b.String()
}

// TestREADMEListsEveryVerb: the README's verb table is the command
// table's. SCANTRON_UPDATE_README=1 rewrites it.
func TestREADMEListsEveryVerb(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, cliTableBegin), strings.Index(s, cliTableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no verb table between %q and %q", cliTableBegin, cliTableEnd)
	}
	want := cliTableBegin + "\n\n" + cliTable() + "\n"
	if s[i:j] == want {
		return
	}
	if os.Getenv("SCANTRON_UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(s[:i]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's verb table is out of date; run SCANTRON_UPDATE_README=1 go test ./cmd/scantron -run TestREADMEListsEveryVerb\nwant:\n%s", want)
}

// cliStack is a real server (with its orchestrator worker) and one agent,
// run in this process over a dev stack, and a CLI logged in as its admin.
type cliStack struct {
	t     *testing.T
	base  string
	env   map[string]string
	token string // the admin's API token, for direct API calls

	startAgent func(name, credential string)

	mu   sync.Mutex
	used map[string]bool // verbs run, and "--json " + verb for those run with --json
}

func startCLIStack(t *testing.T) *cliStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stack, err := devstack.Start(ctx, devstack.Options{TemporalHeadless: true})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = stack.Stop()
	})
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	serverEnv := map[string]string{"SCANTRON_LISTEN": listen, "SCANTRON_ADMIN_USER": "admin", "SCANTRON_ADMIN_PASSWORD": "cli admin password",
		"SCANTRON_LOG_LEVEL": "error", "SCANTRON_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
		// Tokens for Temporal, so that 'me temporal-token' has one to give;
		// the stack's Temporal does not check them.
		"SCANTRON_TEMPORAL_AUTH": "true"}
	for _, kv := range stack.Env() {
		k, v, _ := strings.Cut(kv, "=")
		serverEnv[k] = v
	}
	var serverLog bytes.Buffer
	logw := &syncWriter{w: &serverLog}
	t.Cleanup(func() {
		if t.Failed() {
			logw.mu.Lock()
			b := serverLog.Bytes()
			t.Logf("the server's log (its end):\n%s", b[max(0, len(b)-8000):])
			logw.mu.Unlock()
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(ctx, []string{"server"}, func(k string) string { return serverEnv[k] }, nil, io.Discard, logw)
	}()
	s := &cliStack{t: t, base: "http://" + listen, used: map[string]bool{},
		env: map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "HOME": t.TempDir()}}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server is not ready: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.startAgent = func(name, credential string) {
		agentEnv := map[string]string{"SCANTRON_AGENT_NAME": name, "SCANTRON_AGENT_CREDENTIAL": credential, "SCANTRON_LOG_LEVEL": "error",
			"SCANTRON_TEMPORAL_AUTH": "true", "SCANTRON_SERVER_URL": s.base, "PATH": os.Getenv("PATH")}
		for _, kv := range stack.AgentEnv() {
			k, v, _ := strings.Cut(kv, "=")
			agentEnv[k] = v
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx, []string{"agent"}, func(k string) string { return agentEnv[k] }, nil, io.Discard, io.Discard)
		}()
	}
	return s
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// run runs the CLI in this process.
func (s *cliStack) run(stdin string, args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	if cmd, _ := findCommand(args); cmd != nil {
		k := strings.Join(cmd.words, " ")
		s.mu.Lock()
		s.used[k] = true
		if slices.Contains(args, "--json") {
			s.used["--json "+k] = true
		}
		s.mu.Unlock()
	}
	var out, errb bytes.Buffer
	// No verb should take long; a hung one fails here rather than at the
	// package's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code = run(ctx, args, func(k string) string { return s.env[k] }, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// ok runs a verb that must succeed and returns its standard output.
func (s *cliStack) ok(args ...string) string {
	s.t.Helper()
	code, out, errOut := s.run("", args...)
	if code != 0 {
		s.t.Fatalf("scantron %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// json runs a verb with --json and decodes its output into v.
func (s *cliStack) json(v any, args ...string) []byte {
	s.t.Helper()
	out := s.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		s.t.Fatalf("scantron %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
	return []byte(out)
}

// api calls the API directly with the admin's token and returns the body.
func (s *cliStack) api(method, path string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+"/api/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// sameAsAPI: a read verb's --json output is the API's answer as it is.
func (s *cliStack) sameAsAPI(path string, args ...string) []byte {
	s.t.Helper()
	out := s.ok(append(args, "--json")...)
	status, want := s.api("GET", path, nil)
	if status != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", path, status, want)
	}
	if strings.TrimSpace(out) != strings.TrimSpace(string(want)) {
		s.t.Errorf("scantron %s --json:\n%s\nthe API's answer:\n%s", strings.Join(args, " "), out, want)
	}
	return want
}

func id(v int64) string { return strconv.FormatInt(v, 10) }

type idName struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// must matches a regular expression in out, failing the test otherwise.
func (s *cliStack) must(re, out string) []string {
	s.t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		s.t.Fatalf("no %q in:\n%s", re, out)
	}
	return m
}

// TestHumanOutput: tables and field lists as people read them.
func TestHumanOutput(t *testing.T) {
	var b bytes.Buffer
	if err := fields(&b, []byte(`{"id":3,"name":"lab","targets":["198.18.0.0/28","198.18.1.1"],"schedule":{"form":"calendar","temporal":{"exists":true}},`+
		`"start_at":null,"shards":[{"index":0,"status":"completed"},{"index":1,"status":"running","error":""}],"ports":[{"port":22,"protocol":"tcp"}]}`)); err != nil {
		t.Fatal(err)
	}
	want := `id:                        3
name:                      lab
targets:                   198.18.0.0/28,198.18.1.1
schedule.form:             calendar
schedule.temporal.exists:  true
start_at:                  
shards:                    (index=0 status=completed),(index=1 status=running)
ports:                     22/tcp
`
	if b.String() != want {
		t.Errorf("fields:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	rows := []any{
		map[string]any{"id": json.Number("1"), "counts": map[string]any{"new_hosts": json.Number("2")}, "members": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}},
		map[string]any{"id": json.Number("12"), "online": true},
	}
	if err := table(&b, []string{"id", "counts.new_hosts", "members", "online", "before.service", "after.service"}, rows); err != nil {
		t.Fatal(err)
	}
	want = "ID  NEW HOSTS  MEMBERS  ONLINE  BEFORE SERVICE  AFTER SERVICE\n1   2          a,b                              \n12                      true                    \n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant:\n%q", b.String(), want)
	}
}
