// Package metrics exposes Scantron's operational metrics in the Prometheus
// text format: the project's own (runs, shards, queues, ingest, schedules,
// HTTP) and the Temporal SDK's, all in one registry per process.
package metrics

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where metrics are served, on the metrics listener and (with a
// token) on the server's main listener.
const Path = "/metrics"

// Registry holds one process's metrics. The zero value is not usable; a nil
// *Registry is, and records nothing, so callers need not check whether
// metrics are on.
type Registry struct {
	reg *prometheus.Registry
	sdk *sdkCollector

	shardSeconds  *prometheus.HistogramVec
	ingestRows    prometheus.Counter
	ingestSeconds prometheus.Histogram
	fireLag       prometheus.Histogram
	reconcileSecs *prometheus.HistogramVec
	httpSeconds   *prometheus.HistogramVec
	scrapeErrors  *prometheus.CounterVec
}

// New makes a registry with the Go runtime and process collectors and
// every Scantron metric registered.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), sdk: newSDKCollector()}
	r.shardSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scantron_shard_duration_seconds",
		Help:    "How long shards took from being marked running until their output was stored, by scanner and outcome (completed, partial).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 16), // 1 s .. 9 h
	}, []string{"scanner", "outcome"})
	r.ingestRows = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "scantron_ingest_rows_total",
		Help: "Host and port rows stored from scanner output.",
	})
	r.ingestSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "scantron_ingest_duration_seconds",
		Help:    "How long storing one shard's scanner output in PostgreSQL took.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
	})
	r.fireLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "scantron_schedule_fire_lag_seconds",
		Help:    "How long after its scheduled time a scheduled run's workflow started.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600},
	})
	r.reconcileSecs = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scantron_reconcile_duration_seconds",
		Help:    "How long one pass of a reconciler took: schedules (Temporal Schedules from PostgreSQL) or runs (runs whose workflow is gone).",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"reconciler", "result"})
	r.httpSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scantron_http_request_duration_seconds",
		Help:    "HTTP request latencies by method, route template and status code.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route", "code"})
	r.scrapeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scantron_metrics_source_errors_total",
		Help: "Scrapes in which a source of metrics (database, Temporal) could not be read.",
	}, []string{"source"})
	for _, source := range []string{"runs", "queues"} {
		r.scrapeErrors.WithLabelValues(source) // exported as 0 from the start
	}
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.sdk, r.shardSeconds, r.ingestRows, r.ingestSeconds, r.fireLag, r.reconcileSecs, r.httpSeconds,
		r.scrapeErrors,
	)
	return r
}

// Handler serves the registry. A non-empty token must be presented as
// "Authorization: Bearer <token>"; without it the handler answers 401.
func (r *Registry) Handler(token string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	h := promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       30 * time.Second,
	})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got := []byte(req.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics: a valid bearer token (SCANTRON_METRICS_TOKEN) is required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, req)
	})
}

// ObserveShard records a shard whose output was stored, by its scanner's
// name (never empty: the caller resolves the default scanner).
func (r *Registry) ObserveShard(scanner, outcome string, d time.Duration) {
	if r == nil {
		return
	}
	r.shardSeconds.WithLabelValues(scanner, outcome).Observe(d.Seconds())
}

// ObserveIngest records one shard's output stored: rows written and time
// taken.
func (r *Registry) ObserveIngest(rows int, d time.Duration) {
	if r == nil {
		return
	}
	r.ingestRows.Add(float64(rows))
	r.ingestSeconds.Observe(d.Seconds())
}

// ObserveFireLag records how late a scheduled run's workflow started.
func (r *Registry) ObserveFireLag(d time.Duration) {
	if r == nil {
		return
	}
	r.fireLag.Observe(max(d, 0).Seconds())
}

// ObserveReconcile records one reconciler pass.
func (r *Registry) ObserveReconcile(reconciler string, d time.Duration, err error) {
	if r == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	r.reconcileSecs.WithLabelValues(reconciler, result).Observe(d.Seconds())
}

// ObserveHTTP records one request. route must be a route template (gin's
// FullPath, "" for an unmatched path) so the number of series stays bounded.
func (r *Registry) ObserveHTTP(method, route string, code int, d time.Duration) {
	if r == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	r.httpSeconds.WithLabelValues(method, route, strconv.Itoa(code)).Observe(d.Seconds())
}

// sourceFailed counts a scrape-time source that could not be read.
func (r *Registry) sourceFailed(source string, log *slog.Logger, err error) {
	r.scrapeErrors.WithLabelValues(source).Inc()
	if log != nil {
		log.Warn("metrics: read "+source, "error", err)
	}
}

// scrapeTimeout bounds what one scrape may spend reading the database or
// Temporal.
const scrapeTimeout = 10 * time.Second

func scrapeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), scrapeTimeout)
}

// labelName makes a Prometheus label or metric name out of any string.
func labelName(s string) string {
	var b strings.Builder
	for i, c := range s {
		switch {
		case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9'):
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
