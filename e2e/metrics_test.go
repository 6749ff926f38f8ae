package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// scrape is one read of a /metrics page: every sample by its series
// ("name{labels}" as printed), and the metric names seen.
type scrape struct {
	samples map[string]float64
	names   map[string]bool
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)`)

func readMetrics(t *testing.T, url, token string) scrape {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	s := scrape{samples: map[string]float64{}, names: map[string]bool{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := sampleLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		s.samples[m[1]+m[2]] = v
		s.names[m[1]] = true
	}
	return s
}

// sum adds the samples of name whose labels contain every one of want
// (each `key="value"`).
func (s scrape) sum(name string, want ...string) float64 {
	var total float64
	for series, v := range s.samples {
		n, labels, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(labels, w) {
				ok = false
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// TestMetricsAfterScheduledRun runs the real binaries with metrics on: the
// server's /metrics on its main listener behind a token, the agent's on its
// own listener. A scheduled scan of a loopback listener runs, and the
// server's counters move: one more completed run, one more shard timed,
// rows ingested, the schedule's fire lag, HTTP requests by route, the agent
// online on its queue, and the Temporal SDK's own metrics. Every metric the
// Grafana dashboard queries is in the scrapes.
func TestMetricsAfterScheduledRun(t *testing.T) {
	port := loopbackPort(t)
	httpPort, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	agentMetricsPort, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	const token = "metrics-token-for-e2e"
	listen := fmt.Sprintf("127.0.0.1:%d", httpPort)
	env := stackEnv(listen)
	base := "http://" + listen
	server := startScantron(t, append(env, "SCANTRON_METRICS_TOKEN="+token), "server")
	waitReady(t, base, server)
	c := adminAPI(t, base)

	// Without the token, or with a user's API token, /metrics is refused.
	for _, auth := range []string{"", "Bearer " + c.token} {
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /metrics with Authorization %q = %d, want 401", auth, resp.StatusCode)
		}
	}

	var agent struct {
		scan.Agent
		Credential string `json:"credential"`
	}
	c.do("POST", "/agents", map[string]any{"name": "e2e-metrics-agent"}, http.StatusCreated, &agent)
	agentMetrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", agentMetricsPort)
	startScantron(t, append(env, "SCANTRON_AGENT_NAME=e2e-metrics-agent", "SCANTRON_AGENT_CREDENTIAL="+agent.Credential,
		fmt.Sprintf("SCANTRON_METRICS_LISTEN=127.0.0.1:%d", agentMetricsPort)), "agent")

	before := readMetrics(t, base+"/metrics", token)
	var site scan.Site
	c.do("POST", "/sites", map[string]any{"name": "loopback-metrics", "targets": []string{"127.0.0.1"}}, http.StatusCreated, &site)
	var profile scan.Profile
	c.do("POST", "/profiles", map[string]any{"name": "connect-metrics", "scanner": "nmap", "options": fmt.Sprintf("-n -Pn -sT -p %d", port)}, http.StatusCreated, &profile)
	fireAt := time.Now().Add(10 * time.Second).Truncate(time.Second)
	var sc scan.Scan
	c.do("POST", "/scans", map[string]any{"name": "loopback-metrics", "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID,
		"start_at": fireAt.Format(time.RFC3339)}, http.StatusCreated, &sc)

	deadline := time.Now().Add(3 * time.Minute)
	if run := c.waitScheduledRun(sc.ID, deadline); run.Status != scan.RunCompleted {
		t.Fatalf("run ended %s: %s", run.Status, run.Error)
	}

	// The agent is seen on its queue within the scrape's describe; poll
	// for it rather than assume it already is.
	queue := fmt.Sprintf(`queue="%s"`, workflows.AgentTaskQueue("e2e-metrics-agent"))
	var after scrape
	for {
		after = readMetrics(t, base+"/metrics", token)
		if after.sum("scantron_queue_agents_online", queue) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not online in metrics: scantron_queue_agents_online{%s} = %v", queue, after.sum("scantron_queue_agents_online", queue))
		}
		time.Sleep(time.Second)
	}
	checks := []struct {
		what          string
		before, after float64
		wantDelta     float64 // 0: any increase
	}{
		{"completed runs", before.sum("scantron_runs", `status="completed"`), after.sum("scantron_runs", `status="completed"`), 1},
		{"shards timed", before.sum("scantron_shard_duration_seconds_count"), after.sum("scantron_shard_duration_seconds_count", `outcome="completed"`, `scanner="nmap"`), 1},
		{"ingest rows", before.sum("scantron_ingest_rows_total"), after.sum("scantron_ingest_rows_total"), 0},
		{"ingests timed", before.sum("scantron_ingest_duration_seconds_count"), after.sum("scantron_ingest_duration_seconds_count"), 1},
		{"schedule fires", before.sum("scantron_schedule_fire_lag_seconds_count"), after.sum("scantron_schedule_fire_lag_seconds_count"), 1},
		{"GET /api/v1/scans/:id", before.sum("scantron_http_request_duration_seconds_count", `route="/api/v1/scans/:id"`, `method="GET"`, `code="200"`),
			after.sum("scantron_http_request_duration_seconds_count", `route="/api/v1/scans/:id"`, `method="GET"`, `code="200"`), 0},
		{"schedule reconciles", 0, after.sum("scantron_reconcile_duration_seconds_count", `reconciler="schedules"`), 0},
		{"Temporal SDK requests", 0, after.sum("temporal_request_total"), 0},
	}
	for _, ch := range checks {
		d := ch.after - ch.before
		if (ch.wantDelta == 0 && d <= 0) || (ch.wantDelta != 0 && d != ch.wantDelta) {
			t.Errorf("%s: %v before, %v after; want +%v", ch.what, ch.before, ch.after, ch.wantDelta)
		}
	}
	if after.sum("scantron_runs", `status="failed"`) != before.sum("scantron_runs", `status="failed"`) {
		t.Errorf("a run failed meanwhile")
	}
	// Raw paths never become labels: the route is the template.
	for series := range after.samples {
		if strings.Contains(series, fmt.Sprintf(`route="/api/v1/scans/%d"`, sc.ID)) {
			t.Errorf("a raw path is a label: %s", series)
		}
	}

	agentScrape := readMetrics(t, agentMetrics, "")
	if agentScrape.sum("temporal_activity_execution_latency_seconds_count", `activity_type="RunScan"`)+
		agentScrape.sum("temporal_activity_execution_latency_seconds_count") == 0 {
		t.Errorf("the agent's /metrics has no activity executions")
	}

	checkDashboard(t, after, agentScrape)
}

// checkDashboard: every metric the Grafana dashboard queries is exported
// by the server or the agent.
func checkDashboard(t *testing.T, scrapes ...scrape) {
	t.Helper()
	raw, err := os.ReadFile("../deploy/grafana/scantron.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	ident := regexp.MustCompile(`\b(scantron|temporal)_[a-zA-Z0-9_]+`)
	exprs := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs++
			for _, name := range ident.FindAllString(tg.Expr, -1) {
				found := false
				for _, s := range scrapes {
					found = found || s.names[name]
				}
				if !found {
					t.Errorf("dashboard panel %q queries %s, which no scrape has", p.Title, name)
				}
			}
		}
	}
	if exprs == 0 {
		t.Error("the dashboard has no queries")
	}
}
