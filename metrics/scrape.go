package metrics

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// RunCounts counts the runs in the database by status. It is asked at
// every scrape, so it must be one cheap query.
type RunCounts func(ctx context.Context) (map[string]int, error)

// QueueState is one task queue as Temporal sees it at a scrape.
type QueueState struct {
	Queue string
	// Kind is "agent", "pool" or "server".
	Kind string
	// Backlog is Temporal's approximate count of tasks waiting.
	Backlog int64
	// Agents is how many distinct agents poll the queue now, over all its
	// partitions; Capacity is the scans they can run at once.
	Agents   int
	Capacity int
}

// QueueStates reads every queue's state; asked at every scrape.
type QueueStates func(ctx context.Context) ([]QueueState, error)

var (
	runsDesc = prometheus.NewDesc("scantron_runs", "Runs in the database by status, read at scrape time.", []string{"status"}, nil)

	backlogDesc  = prometheus.NewDesc("scantron_queue_backlog", "Approximate tasks waiting in a task queue, over all its partitions.", []string{"queue", "kind"}, nil)
	agentsDesc   = prometheus.NewDesc("scantron_queue_agents_online", "Agents polling a task queue now, over all its partitions.", []string{"queue", "kind"}, nil)
	capacityDesc = prometheus.NewDesc("scantron_queue_capacity", "Scans the agents polling a task queue can run at once.", []string{"queue", "kind"}, nil)
)

// WatchRuns reports runs by status from f at every scrape. The run
// statuses named in statuses are always reported, as 0 when there are none,
// so that rates and alerts see a series from the start.
func (r *Registry) WatchRuns(f RunCounts, statuses []string, log *slog.Logger) {
	r.reg.MustRegister(&runsCollector{r: r, f: f, statuses: statuses, log: log})
}

// WatchQueues reports task queues' backlogs and agents from f at every
// scrape.
func (r *Registry) WatchQueues(f QueueStates, log *slog.Logger) {
	r.reg.MustRegister(&queuesCollector{r: r, f: f, log: log})
}

type runsCollector struct {
	r        *Registry
	f        RunCounts
	statuses []string
	log      *slog.Logger
}

func (c *runsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- runsDesc }

func (c *runsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := scrapeContext()
	defer cancel()
	counts, err := c.f(ctx)
	if err != nil {
		c.r.sourceFailed("runs", c.log, err)
		return
	}
	for _, s := range c.statuses {
		if _, ok := counts[s]; !ok {
			counts[s] = 0
		}
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(runsDesc, prometheus.GaugeValue, float64(n), s)
	}
}

type queuesCollector struct {
	r   *Registry
	f   QueueStates
	log *slog.Logger
}

func (c *queuesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- agentsDesc
	ch <- capacityDesc
}

func (c *queuesCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := scrapeContext()
	defer cancel()
	states, err := c.f(ctx)
	if err != nil {
		c.r.sourceFailed("queues", c.log, err)
	}
	seen := map[string]bool{}
	for _, q := range states {
		if seen[q.Queue] {
			continue
		}
		seen[q.Queue] = true
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(q.Backlog), q.Queue, q.Kind)
		ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(q.Agents), q.Queue, q.Kind)
		ch <- prometheus.MustNewConstMetric(capacityDesc, prometheus.GaugeValue, float64(q.Capacity), q.Queue, q.Kind)
	}
}
