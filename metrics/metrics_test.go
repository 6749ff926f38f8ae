package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, auth string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", Path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func TestHandlerToken(t *testing.T) {
	r := New()
	h := r.Handler("0123456789abcdef", nil)
	for _, auth := range []string{"", "Bearer wrong", "0123456789abcdef", "Bearer 0123456789abcdef0", "Basic 0123456789abcdef"} {
		if code, body := get(t, h, auth); code != http.StatusUnauthorized || !strings.Contains(body, "SCANTRON_METRICS_TOKEN") {
			t.Errorf("Authorization %q: %d %q, want 401 naming the setting", auth, code, body)
		}
	}
	if code, body := get(t, h, "Bearer 0123456789abcdef"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("with the token: %d, %.200q", code, body)
	}
	if code, _ := get(t, r.Handler("", nil), ""); code != http.StatusOK {
		t.Errorf("without a token configured: %d, want 200", code)
	}
}

// The SDK gives one metric different tag sets from call to call; every
// series is still exported, under one set of label names, with counters,
// gauges and timers in Prometheus' shapes.
func TestTemporalHandler(t *testing.T) {
	r := New()
	h := r.TemporalHandler()
	h.Counter("temporal_request").Inc(2)
	w := h.WithTags(map[string]string{"namespace": "default", "operation": "PollActivityTaskQueue"})
	w.Counter("temporal_request").Inc(3)
	w.WithTags(map[string]string{"operation": "StartWorkflowExecution", "task-queue": "x"}).Counter("temporal_request").Inc(1)
	w.Gauge("temporal_worker_task_slots_available").Update(4)
	w.Timer("temporal_request_latency").Record(30 * time.Millisecond)
	w.Timer("temporal_request_latency").Record(2 * time.Second)

	_, body := get(t, r.Handler("", nil), "")
	for _, want := range []string{
		`temporal_request_total{namespace="",operation="",task_queue=""} 2`,
		`temporal_request_total{namespace="default",operation="PollActivityTaskQueue",task_queue=""} 3`,
		`temporal_request_total{namespace="default",operation="StartWorkflowExecution",task_queue="x"} 1`,
		`temporal_worker_task_slots_available{namespace="default",operation="PollActivityTaskQueue"} 4`,
		`temporal_request_latency_seconds_bucket{namespace="default",operation="PollActivityTaskQueue",le="0.05"} 1`,
		`temporal_request_latency_seconds_bucket{namespace="default",operation="PollActivityTaskQueue",le="2.5"} 2`,
		`temporal_request_latency_seconds_count{namespace="default",operation="PollActivityTaskQueue"} 2`,
		`# TYPE temporal_request_total counter`,
		`# TYPE temporal_request_latency_seconds histogram`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

func TestScrapeSources(t *testing.T) {
	r := New()
	r.WatchRuns(func(context.Context) (map[string]int, error) { return map[string]int{"completed": 3}, nil }, []string{"completed", "failed"}, nil)
	fail := true
	r.WatchQueues(func(context.Context) ([]QueueState, error) {
		if fail {
			return nil, errors.New("temporal down")
		}
		return []QueueState{{Queue: "agent.a", Kind: "agent", Backlog: 5, Agents: 1, Capacity: 2}}, nil
	}, nil)
	_, body := get(t, r.Handler("", nil), "")
	for _, want := range []string{`scantron_runs{status="completed"} 3`, `scantron_runs{status="failed"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	fail = false
	_, body = get(t, r.Handler("", nil), "")
	// The failure is counted while the first scrape runs: it shows now.
	for _, want := range []string{`scantron_metrics_source_errors_total{source="queues"} 1`, `scantron_queue_backlog{kind="agent",queue="agent.a"} 5`, `scantron_queue_agents_online{kind="agent",queue="agent.a"} 1`, `scantron_queue_capacity{kind="agent",queue="agent.a"} 2`} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

// A nil registry records nothing and panics nowhere: metrics are optional.
func TestNilRegistry(t *testing.T) {
	var r *Registry
	r.ObserveHTTP("GET", "", 200, time.Second)
	r.ObserveIngest(1, time.Second)
	r.ObserveShard("", "completed", time.Second)
	r.ObserveFireLag(time.Second)
	r.ObserveReconcile("runs", time.Second, nil)
	r.TemporalHandler().Counter("x").Inc(1)
}
