package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// announce makes the named agents poll queue now, announcing themselves.
func (e *testEnv) announce(queue string, agents ...workflows.AgentPoller) {
	e.temporal.mu.Lock()
	defer e.temporal.mu.Unlock()
	if e.temporal.pollers == nil {
		e.temporal.pollers = map[string][]*taskqueuepb.PollerInfo{}
	}
	for _, a := range agents {
		e.temporal.pollers[queue] = append(e.temporal.pollers[queue],
			&taskqueuepb.PollerInfo{Identity: a.Identity(), LastAccessTime: timestamppb.New(e.now.Add(-5 * time.Second))})
	}
}

func (e *testEnv) create(t *testing.T, path, body string) int64 {
	t.Helper()
	var row struct {
		ID int64 `json:"id"`
	}
	e.mustDo(t, "POST", path, body, http.StatusCreated, &row)
	return row.ID
}

// Every scan that can never run is refused when it is saved, with the
// field at fault and why; so is a change of a site, a profile or the
// global exclusions that would make a stored scan such a scan, naming it.
// (A database of its own: other tests store host names as global
// exclusions, which no masscan scan takes.)
func TestSaveRefusesScansThatCanNeverRun(t *testing.T) {
	e, _ := newIsolatedEnv(t)
	v4 := e.create(t, "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.20.0/30"]}`, uniq("v4")))
	v6 := e.create(t, "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["2001:db8:20::/126"]}`, uniq("v6")))
	named := e.create(t, "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.20.8", "db.example"]}`, uniq("named")))
	exclNamed := e.create(t, "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.20.16/30"], "exclusions": ["printer.example"]}`, uniq("excl")))
	masscan := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "masscan", "options": "-p80"}`, uniq("mass")))
	ipv6 := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-6 -sT -p 80"}`, uniq("six")))
	ipv4 := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-4 -sT -p 80"}`, uniq("four")))
	syn := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sS -p 80"}`, uniq("syn")))
	fast := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sT -p 80 --max-rate 5000"}`, uniq("fast")))
	connect := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sT -p 80"}`, uniq("connect")))
	plainName, slowName := uniq("plain"), uniq("slow")
	agent := e.create(t, "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, uniq("agent")))
	plain := e.create(t, "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, plainName))
	slow := e.create(t, "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, slowName))
	e.announce(workflows.AgentTaskQueue(plainName), workflows.AgentPoller{Name: plainName, Host: "h", Version: "v", Capacity: 1, RawSockets: "none"})
	e.announce(workflows.AgentTaskQueue(slowName), workflows.AgentPoller{Name: slowName, Host: "h", Version: "v", Capacity: 1, MaxRate: 100, RawSockets: "nmap"})

	scanBody := func(site, profile, agent int64, extra string) string {
		return fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d%s}`, uniq("scan"), site, profile, agent, extra)
	}
	for _, tt := range []struct {
		name string
		body string
		want string // the error, from its start
	}{
		{"masscan and a host-name target", scanBody(named, masscan, agent, ""), `site_id: site "named-`},
		{"masscan and a host-name exclusion", scanBody(exclNamed, masscan, agent, ""), `site_id: site "excl-`},
		{"-6 with IPv4 targets", scanBody(v4, ipv6, agent, ""), "profile_id: the profile has -6 (IPv6 only) but the site has IPv4 targets (198.18.20.0/30)"},
		{"-4 with IPv6 targets", scanBody(v6, ipv4, agent, ""), "profile_id: the profile has -4 (IPv4 only) but the site has IPv6 targets (2001:db8:20::/126)"},
		{"raw sockets on an agent without", scanBody(v4, syn, plain, ""), fmt.Sprintf("agent_id: the profile needs raw sockets (-sS) and agent %q announced that its nmap cannot open them", plainName)},
		{"rate above the agent's ceiling", scanBody(v4, fast, slow, ""), fmt.Sprintf("agent_id: the profile's rate of 5000 packets/s is above the ceiling agent %s (100) announces", slowName)},
		{"a schedule that never fires", scanBody(v4, connect, agent, `, "start_at": "2029-01-01T00:00:00Z"`), "start_at: 2029-01-01T00:00:00Z is in the past"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, "POST", "/api/v1/scans", tt.body)
			if got := errorOf(t, w); w.Code != http.StatusBadRequest || !strings.HasPrefix(got, tt.want) {
				t.Errorf("status %d, error %q; want 400 %q", w.Code, got, tt.want)
			}
		})
	}
	if w := e.do(t, "POST", "/api/v1/scans", scanBody(named, masscan, agent, "")); !strings.Contains(errorOf(t, w), "masscan cannot resolve host names") {
		t.Errorf("the refusal does not say why: %s", w.Body.String())
	}
	// What each agent can run is saved.
	e.mustDo(t, "POST", "/api/v1/scans", scanBody(v4, syn, slow, ""), http.StatusCreated, nil)
	e.mustDo(t, "POST", "/api/v1/scans", scanBody(v4, connect, plain, ""), http.StatusCreated, nil)

	// Changes that would break a stored scan are refused and name it.
	var ms scan.Scan
	e.mustDo(t, "POST", "/api/v1/scans", scanBody(v4, masscan, agent, ""), http.StatusCreated, &ms)
	w := e.do(t, "POST", "/api/v1/exclusions", `{"target": "mail.example", "note": "no"}`)
	if got := errorOf(t, w); w.Code != http.StatusBadRequest || !strings.HasPrefix(got, "target: it would break scan") || !strings.Contains(got, fmt.Sprintf("%q", ms.Name)) ||
		!strings.Contains(got, "mail.example") {
		t.Errorf("host-name global exclusion: %d %q", w.Code, got)
	}
	var site scan.Site
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/sites/%d", v4), "", http.StatusOK, &site)
	w = e.do(t, "PUT", fmt.Sprintf("/api/v1/sites/%d", v4), fmt.Sprintf(`{"name": %q, "targets": ["198.18.20.0/30"], "exclusions": ["fax.example"]}`, site.Name))
	if got := errorOf(t, w); w.Code != http.StatusBadRequest || !strings.HasPrefix(got, "exclusions: it would break scan") || !strings.Contains(got, fmt.Sprintf("%q", ms.Name)) {
		t.Errorf("host-name site exclusion: %d %q", w.Code, got)
	}
	var cp scan.Profile
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/profiles/%d", connect), "", http.StatusOK, &cp)
	w = e.do(t, "PUT", fmt.Sprintf("/api/v1/profiles/%d", connect), fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-6 -sT"}`, cp.Name))
	if got := errorOf(t, w); w.Code != http.StatusBadRequest || !strings.HasPrefix(got, "options: it would break scan") || !strings.Contains(got, "-6") {
		t.Errorf("profile made IPv6-only: %d %q", w.Code, got)
	}
	// An exclusion that breaks nothing is taken.
	e.mustDo(t, "POST", "/api/v1/exclusions", `{"target": "198.18.20.250", "note": "fine"}`, http.StatusCreated, nil)
}

// newIsolatedEnv is newEnv over a database of its own, for tests that
// store what would disturb the others (a host-name global exclusion).
func newIsolatedEnv(t *testing.T) (*testEnv, *postgres.Store) {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("isolated_%d_%d", os.Getpid(), counter.Add(1))
	admin, err := pgx.Connect(ctx, testPG.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	st, err := postgres.Open(ctx, testPG.DSNFor(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withStore(st))
	u, err := st.CreateUser(ctx, accounts.User{Name: "isolated-admin", Role: accounts.Admin, PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	secret := accounts.NewToken()
	if _, err := st.CreateToken(ctx, u.ID, "test", secret[:8], accounts.HashSecret(secret), e.now.AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	e.token = secret
	return e, st
}

// A host name in the global exclusions reaches every masscan scan: a new
// one is refused, naming the global exclusions.
func TestScanSaveChecksTheGlobalExclusions(t *testing.T) {
	e, _ := newIsolatedEnv(t)
	e.mustDo(t, "POST", "/api/v1/exclusions", `{"target": "ceo-laptop.example"}`, http.StatusCreated, nil)
	site := e.create(t, "/api/v1/sites", `{"name": "lab", "targets": ["198.18.21.0/30"]}`)
	masscan := e.create(t, "/api/v1/profiles", `{"name": "mass", "scanner": "masscan", "options": "-p80"}`)
	agent := e.create(t, "/api/v1/agents", `{"name": "a1"}`)
	w := e.do(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": "m", "site_id": %d, "profile_id": %d, "agent_id": %d}`, site, masscan, agent))
	if got := errorOf(t, w); w.Code != http.StatusBadRequest || !strings.HasPrefix(got, "profile_id: the global exclusions have host names (ceo-laptop.example)") {
		t.Errorf("status %d, error %q", w.Code, got)
	}

	// Removing a global exclusion that keeps a scan under the address
	// limit is refused, naming the scan; the others go.
	half := e.create(t, "/api/v1/exclusions", `{"target": "198.19.0.0/16"}`)
	big := e.create(t, "/api/v1/sites", `{"name": "big", "targets": ["198.18.0.0/15"]}`)
	nmap := e.create(t, "/api/v1/profiles", `{"name": "connect", "scanner": "nmap", "options": "-sT -p 80"}`)
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": "wide", "site_id": %d, "profile_id": %d, "agent_id": %d}`, big, nmap, agent), http.StatusCreated, nil)
	w = e.do(t, "DELETE", fmt.Sprintf("/api/v1/exclusions/%d", half), "")
	if got := errorOf(t, w); w.Code != http.StatusConflict || !strings.Contains(got, `it would break scan "wide"`) || !strings.Contains(got, "too many addresses") {
		t.Errorf("delete: status %d, error %q", w.Code, got)
	}
	var excl []scan.Exclusion
	e.mustDo(t, "GET", "/api/v1/exclusions", "", http.StatusOK, &excl)
	for _, x := range excl {
		if x.Target == "ceo-laptop.example" {
			e.mustDo(t, "DELETE", fmt.Sprintf("/api/v1/exclusions/%d", x.ID), "", http.StatusNoContent, nil)
		}
	}
}

// The scan form shows a refusal of a scan that can never run beside the
// field at fault.
func TestScanFormShowsWhyAScanCanNeverRun(t *testing.T) {
	e := newEnv(t)
	_, session, csrf := e.sessionFor(t, accounts.Operator)
	site := e.create(t, "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.22.1", "web.example"]}`, uniq("named")))
	masscan := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "masscan", "options": "-p80"}`, uniq("mass")))
	agent := e.create(t, "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, uniq("agent")))
	w := e.form(t, session, csrf, "/scans", url.Values{"name": {uniq("ui-scan")}, "site_id": {fmt.Sprint(site)},
		"profile_id": {fmt.Sprint(masscan)}, "agent_id": {fmt.Sprint(agent)}})
	if msg := fieldError(w.Body.String(), "site_id"); w.Code != http.StatusBadRequest || !strings.Contains(msg, "masscan cannot resolve host names") || !strings.Contains(msg, "web.example") {
		t.Errorf("status %d, site_id error %q", w.Code, msg)
	}

	// Each refusal is shown beside its field, on every form that can
	// cause it.
	v4 := e.create(t, "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.22.8/30"]}`, uniq("v4")))
	lone := e.create(t, "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.22.20"]}`, uniq("lone")))
	v6 := e.create(t, "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["2001:db8:22::1"]}`, uniq("v6")))
	six := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-6 -sT -p 80"}`, uniq("six")))
	syn := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sS -p 80"}`, uniq("syn")))
	fast := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sT -p 80 --max-rate 5000"}`, uniq("fast")))
	connectName := uniq("connect")
	connect := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sT -p 80"}`, connectName))
	limited := uniq("limited")
	limitedID := e.create(t, "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, limited))
	e.announce(workflows.AgentTaskQueue(limited), workflows.AgentPoller{Name: limited, Host: "h", Version: "v", Capacity: 1, MaxRate: 100, RawSockets: "none"})
	var sixScan, loneScan scan.Scan
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d}`, uniq("six"), v6, six, agent), http.StatusCreated, &sixScan)
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d}`, uniq("lone"), lone, connect, agent), http.StatusCreated, &loneScan)
	var v6site scan.Site
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/sites/%d", v6), "", http.StatusOK, &v6site)
	scanForm := func(site, profile, agent int64) url.Values {
		return url.Values{"name": {uniq("ui-scan")}, "site_id": {fmt.Sprint(site)}, "profile_id": {fmt.Sprint(profile)}, "agent_id": {fmt.Sprint(agent)}}
	}
	for _, tt := range []struct {
		name, path string
		form       url.Values
		field      string
		want       string
	}{
		{"-6 with IPv4", "/scans", scanForm(v4, six, agent), "profile_id", "the profile has -6 (IPv6 only) but the site has IPv4 targets"},
		{"raw sockets", "/scans", scanForm(v4, syn, limitedID), "agent_id", "announced that its nmap cannot open them"},
		{"agent's rate", "/scans", scanForm(v4, fast, limitedID), "agent_id", "above the ceiling agent " + limited + " (100) announces"},
		{"site edit", fmt.Sprintf("/sites/%d", v6), url.Values{"name": {v6site.Name}, "targets": {"2001:db8:22::1\n198.18.22.30"}}, "targets",
			fmt.Sprintf("it would break scan %q", sixScan.Name)},
		{"profile edit", fmt.Sprintf("/profiles/%d", connect), url.Values{"name": {connectName}, "scanner": {"nmap"}, "options": {"-6 -sT"}}, "options",
			fmt.Sprintf("it would break scan %q", loneScan.Name)},
		{"global exclusion", "/exclusions", url.Values{"target": {"198.18.22.20"}}, "target",
			fmt.Sprintf("it would break scan %q, which could never run: site", loneScan.Name)},
	} {
		w := e.form(t, session, csrf, tt.path, tt.form)
		if msg := html.UnescapeString(fieldError(w.Body.String(), tt.field)); w.Code != http.StatusBadRequest || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: status %d, %s error %q; want %q", tt.name, w.Code, tt.field, msg, tt.want)
		}
	}

	// The scan page links to the plan, which shows the shards' commands,
	// the agents and the checks.
	f := makeFixtures(t, e)
	sc := e.makeScan(t, f)
	name := uniq("plain")
	e.announce(workflows.AgentTaskQueue(f.agent.Name), workflows.AgentPoller{Name: name, Host: "h", Version: "v", Capacity: 4, RawSockets: "none"})
	if page := e.page(t, session, "GET", fmt.Sprintf("/scans/%d", sc.ID), nil).Body.String(); !strings.Contains(page, fmt.Sprintf(`href="/scans/%d/plan"`, sc.ID)) {
		t.Error("the scan page does not link to its plan")
	}
	page := e.page(t, session, "GET", fmt.Sprintf("/scans/%d/plan", sc.ID), nil).Body.String()
	for _, s := range []string{"Runnable.", "nmap -oX $SHARD_DIR/out.xml --stats-every 2s", "-sT -p 22,80", "-- 198.18.0.0/28", name, "16, 2 port(s) each"} {
		if !strings.Contains(page, s) {
			t.Errorf("plan page lacks %q", s)
		}
	}
}

// The plan of a masscan scan across a pool where one member announced no
// raw sockets: runnable, with a warning naming that member, each agent's
// capacity and capability, each shard's exact command line (the capped
// member's own), and an estimate from the address count.
func TestPlanOfAPoolWithAnAgentWithoutRawSockets(t *testing.T) {
	e, _ := newIsolatedEnv(t)
	pool := uniq("edge")
	poolID := e.create(t, "/api/v1/pools", fmt.Sprintf(`{"name": %q}`, pool))
	site := e.create(t, "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.23.0/24", "198.18.24.0/25", "2001:db8:23::/126"], "exclusions": ["198.18.23.128/25"], "max_rate": 2000}`, uniq("site")))
	prof := e.create(t, "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "masscan", "options": "-p80,443 --rate 5000"}`, uniq("mass")))
	var sc scan.Scan
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "pool_id": %d, "shard_size": 128}`, uniq("scan"), site, prof, poolID), http.StatusCreated, &sc)
	root, plain := uniq("root"), uniq("plain")
	e.announce(workflows.PoolTaskQueue(pool),
		workflows.AgentPoller{Name: root, Host: "h1", Version: "v", Capacity: 2, MaxRate: 500, RawSockets: "nmap,masscan"},
		workflows.AgentPoller{Name: plain, Host: "h2", Version: "v", Capacity: 3, RawSockets: "none"})

	var p scanPlan
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/scans/%d/plan", sc.ID), "", http.StatusOK, &p)
	if !p.Runnable || p.Error != "" || p.Pool != pool || p.TaskQueue != workflows.PoolTaskQueue(pool) {
		t.Fatalf("plan %+v", p)
	}
	// 198.18.23.0/25 and 198.18.24.0/25 and four IPv6 addresses.
	if p.Addresses != 260 || p.ShardSize != 128 || len(p.Shards) != 3 || p.Ports != 2 {
		t.Fatalf("addresses %d, shard size %d, %d shards, %d ports", p.Addresses, p.ShardSize, len(p.Shards), p.Ports)
	}
	if !slices.Equal(p.Resolved.Targets, []string{"198.18.23.0/25", "198.18.24.0/25", "2001:db8:23::/126"}) || !slices.Equal(p.Resolved.Excludes, []string{"198.18.23.128/25"}) {
		t.Errorf("resolved %+v", p.Resolved)
	}
	// IPv6 shards cannot be resumed by index, so masscan runs them
	// without --interactive.
	want := [][]string{
		{"masscan", "-oX", "$SHARD_DIR/out.xml", "--exclude", "198.18.23.128/25", "--rate", "2000", "--seed", "$SEED", "--interactive", "--range=198.18.23.0/25", "-p80,443"},
		{"masscan", "-oX", "$SHARD_DIR/out.xml", "--exclude", "198.18.23.128/25", "--rate", "2000", "--seed", "$SEED", "--interactive", "--range=198.18.24.0/25", "-p80,443"},
		{"masscan", "-oX", "$SHARD_DIR/out.xml", "--rate", "2000", "--seed", "$SEED", "--range=2001:db8:23::/126", "-p80,443"},
	}
	for i, sh := range p.Shards {
		if !slices.Equal(sh.Command, want[i]) {
			t.Errorf("shard %d command %q, want %q", i, sh.Command, want[i])
		}
		capped := slices.Clone(want[i])
		capped[slices.Index(capped, "2000")] = "500"
		if got := sh.AgentCommands[root]; !slices.Equal(got, capped) {
			t.Errorf("shard %d on %s: %q, want %q", i, root, got, capped)
		}
		if _, ok := sh.AgentCommands[plain]; ok {
			t.Errorf("shard %d: a command of its own for %s, which caps nothing", i, plain)
		}
	}
	if p.Shards[2].Family != "ipv6" || p.Shards[0].Family != "ipv4" || p.Shards[0].Rate != 2000 {
		t.Errorf("shards %+v", p.Shards)
	}
	// The same command as an agent builds it for a run of its own.
	spec := scan.Spec{RunID: 7, ShardID: 9, Scanner: scan.Masscan, Options: []string{"-p80,443"}, Rate: 2000, Targets: p.Shards[0].Targets, Excludes: p.Shards[0].Excludes}
	if got, err := (&activities.Agent{}).CommandLine(spec, "/var/tmp/w", false); err != nil || !slices.Equal(got, want[0]) {
		t.Errorf("agent's command %q, %v", got, err)
	}
	if len(p.Agents) != 2 || !p.Agents[0].CanRun || p.Agents[1].CanRun || p.Agents[1].Name != plain || !strings.Contains(p.Agents[1].Why, "raw sockets") ||
		p.Agents[0].Capacity != 2 || p.Agents[0].MaxRate != 500 || p.Capacity != 2 {
		t.Errorf("agents %+v, capacity %d", p.Agents, p.Capacity)
	}
	var warned bool
	for _, f := range p.Findings {
		if f.Rule == scan.RuleRawSockets {
			warned = f.Warning && strings.Contains(f.Message, plain) && !strings.Contains(f.Message, root)
		}
	}
	if !warned {
		t.Errorf("no warning naming the member without raw sockets: %+v", p.Findings)
	}
	if p.Estimate == nil || p.Estimate.Basis != "address_count" || p.Estimate.Seconds <= 0 || !strings.Contains(p.Estimate.Detail, "260 addresses") {
		t.Errorf("estimate %+v", p.Estimate)
	}
}

// A pool no agent was ever seen in is a warning on the plan; a scan that
// can never run (here: saved before its site got a host name, written
// around the API) shows the error a run would fail with.
func TestPlanWarningsAndErrors(t *testing.T) {
	e, st := newIsolatedEnv(t)
	pool := uniq("empty")
	poolID := e.create(t, "/api/v1/pools", fmt.Sprintf(`{"name": %q}`, pool))
	f := makeFixtures(t, e)
	var sc scan.Scan
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "pool_id": %d}`, uniq("scan"), f.site.ID, f.profile.ID, poolID), http.StatusCreated, &sc)
	var p scanPlan
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/scans/%d/plan", sc.ID), "", http.StatusOK, &p)
	if !p.Runnable || len(p.Findings) != 1 || p.Findings[0].Rule != scan.RulePoolSeen || !p.Findings[0].Warning {
		t.Errorf("runnable %v, findings %+v", p.Runnable, p.Findings)
	}
	if len(p.Shards) != 1 || !slices.Equal(p.Shards[0].Command, []string{"nmap", "-oX", "$SHARD_DIR/out.xml", "--stats-every", "2s", "-sT", "-p", "22,80", "--", "198.18.0.0/28"}) {
		t.Errorf("shards %+v", p.Shards)
	}

	ctx := context.Background()
	prof, err := st.CreateProfile(ctx, scan.Profile{Name: uniq("mass"), Scanner: scan.Masscan, Options: "-p80"})
	if err != nil {
		t.Fatal(err)
	}
	site, err := st.CreateSite(ctx, scan.Site{Name: uniq("named"), Targets: []string{"198.18.25.1", "files.example"}})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := st.CreateScan(ctx, scan.Scan{Name: uniq("bad"), SiteID: site.ID, ProfileID: prof.ID, AgentID: f.agent.ID, TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/scans/%d/plan", bad.ID), "", http.StatusOK, &p)
	if p.Runnable || !strings.Contains(p.Error, "masscan cannot resolve host names") || len(p.Shards) != 0 {
		t.Errorf("runnable %v, error %q, shards %+v", p.Runnable, p.Error, p.Shards)
	}
	// A scan that fails already is not what a change breaks: the global
	// exclusions still change.
	e.mustDo(t, "POST", "/api/v1/exclusions", `{"target": "198.18.25.9"}`, http.StatusCreated, nil)
	if w := e.do(t, "GET", "/api/v1/scans/999999999/plan", ""); w.Code != http.StatusNotFound {
		t.Errorf("plan of a missing scan: %d", w.Code)
	}
}
