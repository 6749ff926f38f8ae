package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scantron/scantron/metrics"
)

// Requests are timed by route template, so a run's id never becomes a
// label; /metrics exists only with a handler, which asks for its token.
func TestRequestMetricsByRoute(t *testing.T) {
	reg := metrics.New()
	const token = "a-metrics-token-of-some-length"
	e := newEnv(t, withConfig(func(c *Config) {
		c.Metrics = reg
		c.MetricsHandler = reg.Handler(token, nil)
	}))
	for _, id := range []int{987654, 987655} {
		if w := e.do(t, "GET", fmt.Sprintf("/api/v1/runs/%d", id), ""); w.Code != http.StatusNotFound {
			t.Fatalf("GET run %d: %d", id, w.Code)
		}
	}
	e.do(t, "GET", "/no/such/page", "")
	if w := e.doAs(t, e.token, "GET", "/metrics", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("/metrics with a user's API token: %d, want 401", w.Code)
	}
	w := e.doAs(t, token, "GET", "/metrics", "")
	if w.Code != http.StatusOK {
		t.Fatalf("/metrics with the metrics token: %d %s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{
		`scantron_http_request_duration_seconds_count{code="404",method="GET",route="/api/v1/runs/:id"} 2`,
		`scantron_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(body, "987654") {
		t.Error("a raw path became a label")
	}

	plain := newEnv(t)
	if w := plain.do(t, "GET", "/metrics", ""); w.Code != http.StatusNotFound {
		t.Errorf("/metrics without a metrics handler: %d, want 404", w.Code)
	}
}
