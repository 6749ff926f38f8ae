package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// TemporalHandler is the Temporal SDK's metrics, for
// client.Options.MetricsHandler. A nil registry gives the SDK's no-op
// handler.
//
// The SDK's metrics take a different set of tags from call to call (a
// worker's, an activity's, a request's), while a Prometheus metric has one
// set of label names. The handler therefore keeps its own series and, at a
// scrape, reports each metric with the union of the tag names it has seen,
// a missing tag as "". Counters are named <name>_total and timers
// <name>_seconds (histograms), following Prometheus' conventions.
func (r *Registry) TemporalHandler() client.MetricsHandler {
	if r == nil {
		return client.MetricsNopHandler
	}
	return sdkHandler{c: r.sdk}
}

type sdkKind int

const (
	sdkCounter sdkKind = iota
	sdkGauge
	sdkTimer
)

// sdkBuckets are the timers' histogram buckets in seconds: the SDK times
// requests and polls (milliseconds to a minute) and activities (up to
// hours).
var sdkBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200}

type sdkSeries struct {
	labels map[string]string
	value  float64  // counter or gauge
	counts []uint64 // timer: per bucket, not cumulative
	count  uint64
	sum    float64
}

type sdkFamily struct {
	kind   sdkKind
	series map[string]*sdkSeries // by the series' tags, encoded
}

type sdkCollector struct {
	mu       sync.Mutex
	families map[string]*sdkFamily // by exported name
}

func newSDKCollector() *sdkCollector { return &sdkCollector{families: map[string]*sdkFamily{}} }

// series finds or adds the series of a metric with the given tags.
func (c *sdkCollector) series(kind sdkKind, name string, tags map[string]string) *sdkSeries {
	switch kind {
	case sdkCounter:
		name += "_total"
	case sdkTimer:
		name += "_seconds"
	}
	name = labelName(name)
	var key strings.Builder
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		key.WriteString(k)
		key.WriteByte(0)
		key.WriteString(tags[k])
		key.WriteByte(0)
	}
	f := c.families[name]
	if f == nil {
		f = &sdkFamily{kind: kind, series: map[string]*sdkSeries{}}
		c.families[name] = f
	}
	s := f.series[key.String()]
	if s == nil {
		s = &sdkSeries{labels: map[string]string{}}
		for k, v := range tags {
			s.labels[labelName(k)] = v
		}
		if kind == sdkTimer {
			s.counts = make([]uint64, len(sdkBuckets))
		}
		f.series[key.String()] = s
	}
	return s
}

// Describe sends nothing: the SDK's metrics are known only as they come,
// which makes this an unchecked collector.
func (c *sdkCollector) Describe(chan<- *prometheus.Desc) {}

func (c *sdkCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, f := range c.families {
		names := map[string]bool{}
		for _, s := range f.series {
			for k := range s.labels {
				names[k] = true
			}
		}
		labels := slices.Sorted(maps.Keys(names))
		desc := prometheus.NewDesc(name, "Temporal SDK metric "+name+".", labels, nil)
		for _, s := range f.series {
			values := make([]string, len(labels))
			for i, l := range labels {
				values[i] = s.labels[l]
			}
			switch f.kind {
			case sdkCounter:
				ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, s.value, values...)
			case sdkGauge:
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, s.value, values...)
			case sdkTimer:
				buckets := make(map[float64]uint64, len(sdkBuckets))
				var cum uint64
				for i, b := range sdkBuckets {
					cum += s.counts[i]
					buckets[b] = cum
				}
				ch <- prometheus.MustNewConstHistogram(desc, s.count, s.sum, buckets, values...)
			}
		}
	}
}

type sdkHandler struct {
	c    *sdkCollector
	tags map[string]string
}

func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	return sdkHandler{c: h.c, tags: merged}
}

func (h sdkHandler) Counter(name string) client.MetricsCounter { return sdkMetric{h: h, name: name} }
func (h sdkHandler) Gauge(name string) client.MetricsGauge     { return sdkMetric{h: h, name: name} }
func (h sdkHandler) Timer(name string) client.MetricsTimer     { return sdkMetric{h: h, name: name} }

type sdkMetric struct {
	h    sdkHandler
	name string
}

func (m sdkMetric) Inc(n int64) {
	m.h.c.mu.Lock()
	defer m.h.c.mu.Unlock()
	m.h.c.series(sdkCounter, m.name, m.h.tags).value += float64(n)
}

func (m sdkMetric) Update(v float64) {
	m.h.c.mu.Lock()
	defer m.h.c.mu.Unlock()
	m.h.c.series(sdkGauge, m.name, m.h.tags).value = v
}

func (m sdkMetric) Record(d time.Duration) {
	m.h.c.mu.Lock()
	defer m.h.c.mu.Unlock()
	s := m.h.c.series(sdkTimer, m.name, m.h.tags)
	sec := d.Seconds()
	s.count++
	s.sum += sec
	for i, b := range sdkBuckets {
		if sec <= b {
			s.counts[i]++
			break
		}
	}
}
