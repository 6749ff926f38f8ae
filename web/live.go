package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
)

// Live updates: run pages, the dashboard and `scantron runs watch` follow
// runs over Server-Sent Events. Status and count changes are pushed from
// PostgreSQL as they commit (see postgres.ListenRunEvents); scanners'
// progress lives in Temporal's heartbeats and is polled here, every
// progressEvery, and pushed when it changes.

// DefaultMaxStreams is how many event streams one user may hold open at
// once unless Config.MaxStreams says otherwise.
const DefaultMaxStreams = 8

// Stream timing. Heartbeat comments keep proxies from closing an idle
// stream; progress comes from Temporal and is polled.
const (
	streamHeartbeat       = 15 * time.Second
	runProgressEvery      = 2 * time.Second
	dashboardProgressEach = 3 * time.Second
	// liveDashboardRuns bounds how many unfinished runs one dashboard stream
	// polls the progress of.
	liveDashboardRuns = 50
	// streamRetry is what EventSource waits before reconnecting.
	streamRetry = 2 * time.Second
	// changesWait bounds how long a run's stream waits, after the run
	// completed, for its changes against the previous run to be recorded
	// (the workflow does that next) before it sends "end".
	changesWait = 30 * time.Second
)

// LiveStore is what the event streams read of runs besides their events.
type LiveStore interface {
	GetRun(ctx context.Context, id int64) (scan.Run, error)
	ListRuns(ctx context.Context, f scan.RunFilter) ([]scan.Run, error)
	ListShards(ctx context.Context, runID int64) ([]scan.Shard, error)
	CountHosts(ctx context.Context, runID int64, f scan.HostFilter) (int, error)
	GetDiff(ctx context.Context, runID int64) (scan.Diff, error)
}

// liveHandlers serve the event streams.
type liveHandlers struct {
	base
	store    LiveStore
	events   RunEvents
	hub      *eventHub
	temporal WorkflowClient
	limit    *streamLimit
	// lifetime bounds one stream (clients reconnect); stall is how long a
	// write may wait on the client.
	lifetime, stall time.Duration
	heartbeat       time.Duration
	progressEvery   time.Duration
	dashboardEvery  time.Duration

	// closing is closed by closeStreams: every stream ends.
	closing   chan struct{}
	closeOnce sync.Once
}

// liveRun is a run's state as streams send it ("run" and "end" events).
type liveRun struct {
	RunID  int64          `json:"run_id"`
	ScanID int64          `json:"scan_id"`
	Status scan.RunStatus `json:"status"`
	// StatusDetail is as in GET /runs/:id: what holds an unfinished run.
	StatusDetail string `json:"status_detail,omitempty"`
	Error        string `json:"error"`
	HostsUp      int    `json:"hosts_up"`
	OpenPorts    int    `json:"open_ports"`
	Partial      bool   `json:"partial"`
	// Seq numbers the run's changes: a client that has seen a higher one
	// drops this event as stale.
	Seq int64 `json:"seq"`
}

func liveRunOf(ev scan.RunEvent) liveRun {
	return liveRun{RunID: ev.RunID, ScanID: ev.ScanID, Status: ev.RunStatus(), StatusDetail: statusDetail(ev.RunStatus(), ev.WindowOpensAt), Error: ev.Error,
		HostsUp: ev.HostsUp, OpenPorts: ev.OpenPorts, Partial: ev.Partial, Seq: ev.Seq}
}

// liveShards is a run's shards and the hosts stored so far ("shards").
type liveShards struct {
	RunID  int64       `json:"run_id"`
	Hosts  int         `json:"hosts"`
	Shards []liveShard `json:"shards"`
}

type liveShard struct {
	Index   int              `json:"index"`
	Status  scan.ShardStatus `json:"status"`
	Attempt int              `json:"attempt"`
}

// liveProgress is how far a run's scanners are ("progress"); the
// dashboard's stream leaves the shards out.
type liveProgress struct {
	RunID   int64               `json:"run_id"`
	Percent float64             `json:"percent"`
	Shards  []liveShardProgress `json:"shards,omitempty"`
}

type liveShardProgress struct {
	ShardIndex    int       `json:"shard_index"`
	Phase         string    `json:"phase"`
	Percent       float64   `json:"percent"`
	Task          string    `json:"task,omitempty"`
	Agent         string    `json:"agent,omitempty"`
	Attempt       int32     `json:"attempt"`
	Waiting       bool      `json:"waiting"`
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
}

// runEvents streams one run until it ends: "run" on every change of its
// status or counts, "shards" when a shard changes (with the hosts stored
// so far), "progress" as the scanners report, and "end" once it is final.
func (h *liveHandlers) runEvents(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if _, err := h.store.GetRun(ctx, id); err != nil {
		return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "run %d not found", id)
	}
	release, err := h.limit.acquire(c)
	if err != nil {
		return err
	}
	defer release()
	sub, err := h.hub.subscribe(ctx, id)
	if err != nil {
		return h.unavailable(c, err)
	}
	defer sub.close()
	// Read after listening: whatever changes from here on arrives.
	state, err := h.events.RunState(ctx, id)
	if err != nil {
		return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "run %d not found", id)
	}
	s := h.open(c)
	lastSeq := state.Seq
	if err := s.event("run", strconv.FormatInt(state.Seq, 10), liveRunOf(state)); err != nil {
		return nil
	}
	run, shards, err := h.sendShards(ctx, s, id)
	if err != nil {
		return nil
	}
	if state.RunStatus().Final() {
		_ = s.event("end", "", liveRunOf(state))
		return nil
	}
	var (
		last *liveProgress
		// Set once the run has completed, until its changes are recorded.
		awaitChanges time.Time
	)
	sendProgress := func() error {
		if !awaitChanges.IsZero() {
			if time.Now().After(awaitChanges) {
				_ = s.event("end", "", liveRunOf(state))
				return errStreamDone
			}
			return nil
		}
		run.Status = state.RunStatus()
		p := h.progress(ctx, run, shards, true)
		if last != nil && slices.Equal(p.Shards, last.Shards) && p.Percent == last.Percent {
			return nil
		}
		last = &p
		return s.event("progress", "", p)
	}
	if err := sendProgress(); err != nil {
		return nil
	}
	progress := time.NewTicker(h.progressEvery)
	defer progress.Stop()
	return h.loop(c, s, sub, progress.C, func(ev scan.RunEvent) (bool, error) {
		switch ev.Kind {
		case "run":
			if ev.Seq <= lastSeq {
				return false, nil // already in the state sent
			}
			lastSeq = ev.Seq
			state = ev
			if !ev.RunStatus().Final() {
				return false, s.event("run", strconv.FormatInt(ev.Seq, 10), liveRunOf(ev))
			}
			// The announcement cuts the error short; the row has it whole.
			if full, err := h.events.RunState(ctx, id); err == nil {
				state = full
			}
			if err := s.event("run", strconv.FormatInt(ev.Seq, 10), liveRunOf(state)); err != nil {
				return true, err
			}
			if state.RunStatus() == scan.RunCompleted && awaitChanges.IsZero() {
				if _, err := h.store.GetDiff(ctx, id); errors.Is(err, scan.ErrNotFound) {
					awaitChanges = time.Now().Add(changesWait)
					return false, nil
				}
			}
			return true, s.event("end", "", liveRunOf(state))
		case "changes":
			if awaitChanges.IsZero() {
				return false, nil
			}
			return true, s.event("end", "", liveRunOf(state))
		case "shard":
			var err error
			run, shards, err = h.sendShards(ctx, s, id)
			return false, err
		}
		return false, nil
	}, sendProgress)
}

// errStreamDone ends a stream from its polling.
var errStreamDone = errors.New("stream done")

// dashboardEvents streams the state of the newest runs, then every run's
// changes ("run"), and the progress of the unfinished ones ("progress", at
// most liveDashboardRuns of them), until the client leaves or the stream's
// lifetime ends. A page made before the stream listened thus misses no
// change of the runs it shows; the change numbers (seq) let it drop what
// it has seen already.
func (h *liveHandlers) dashboardEvents(c *gin.Context) error {
	ctx := c.Request.Context()
	release, err := h.limit.acquire(c)
	if err != nil {
		return err
	}
	defer release()
	sub, err := h.hub.subscribe(ctx, 0)
	if err != nil {
		return h.unavailable(c, err)
	}
	defer sub.close()
	recent, err := h.store.ListRuns(ctx, scan.RunFilter{Limit: liveDashboardRuns})
	if err != nil {
		return err
	}
	watched := map[int64]scan.Run{}
	for _, r := range recent {
		if !r.Status.Final() {
			watched[r.ID] = r
		}
	}
	states, err := h.events.RecentRunStates(ctx, liveDashboardRuns)
	if err != nil {
		return err
	}
	s := h.open(c)
	for _, st := range states {
		if err := s.event("run", "", liveRunOf(st)); err != nil {
			return nil
		}
	}
	sent := map[int64]float64{}
	sendProgress := func() error {
		for id, r := range watched {
			shards, err := h.store.ListShards(ctx, id)
			if err != nil {
				return err
			}
			p := h.progress(ctx, r, shards, false)
			if old, ok := sent[id]; ok && old == p.Percent {
				continue
			}
			sent[id] = p.Percent
			if err := s.event("progress", "", p); err != nil {
				return err
			}
		}
		return nil
	}
	if err := sendProgress(); err != nil {
		return nil
	}
	progress := time.NewTicker(h.dashboardEvery)
	defer progress.Stop()
	return h.loop(c, s, sub, progress.C, func(ev scan.RunEvent) (bool, error) {
		if ev.Kind != "run" {
			return false, nil
		}
		r, ok := watched[ev.RunID]
		switch {
		case ev.RunStatus().Final():
			delete(watched, ev.RunID)
			delete(sent, ev.RunID)
		case !ok && len(watched) < liveDashboardRuns:
			if got, err := h.store.GetRun(ctx, ev.RunID); err == nil {
				watched[ev.RunID] = got
			}
		case ok:
			r.Status = ev.RunStatus()
			watched[ev.RunID] = r
		}
		return false, s.event("run", "", liveRunOf(ev))
	}, sendProgress)
}

// loop forwards events to the stream with on, polls progress on tick, and
// keeps the stream alive, until on says the stream is done, the client
// leaves, the server closes streams or the stream's lifetime is over.
// Errors after the stream began are the client's going: they end it
// quietly.
func (h *liveHandlers) loop(c *gin.Context, s *sseStream, sub *subscription, tick <-chan time.Time,
	on func(scan.RunEvent) (done bool, err error), poll func() error) error {
	ctx := c.Request.Context()
	heartbeat := time.NewTicker(h.heartbeat)
	defer heartbeat.Stop()
	end := time.NewTimer(h.lifetime)
	defer end.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.closing:
			return nil
		case <-end.C:
			return nil
		case ev, ok := <-sub.ch:
			if !ok {
				// Events were lost (the listener's connection, or this
				// client fell behind): the client reconnects and starts
				// from the state afresh.
				return nil
			}
			done, err := on(ev)
			if done || err != nil {
				return nil
			}
		case <-tick:
			if err := poll(); err != nil {
				return nil
			}
		case <-heartbeat.C:
			if err := s.comment("keep-alive"); err != nil {
				return nil
			}
		}
	}
}

// sendShards sends the run's shards and the hosts stored so far, and
// returns the run and shards for polling progress.
func (h *liveHandlers) sendShards(ctx context.Context, s *sseStream, runID int64) (scan.Run, []scan.Shard, error) {
	run, err := h.store.GetRun(ctx, runID)
	if err != nil {
		return scan.Run{}, nil, err
	}
	shards, err := h.store.ListShards(ctx, runID)
	if err != nil {
		return scan.Run{}, nil, err
	}
	hosts, err := h.store.CountHosts(ctx, runID, scan.HostFilter{})
	if err != nil {
		return scan.Run{}, nil, err
	}
	out := liveShards{RunID: runID, Hosts: hosts, Shards: []liveShard{}}
	for _, sh := range shards {
		out.Shards = append(out.Shards, liveShard{Index: sh.Index, Status: sh.Status, Attempt: sh.Attempt})
	}
	return run, shards, s.event("shards", "", out)
}

// progress asks Temporal how far the run's scanners are.
func (h *liveHandlers) progress(ctx context.Context, run scan.Run, shards []scan.Shard, detail bool) liveProgress {
	ps := scanProgress(ctx, h.temporal, h.log, run, shards)
	out := liveProgress{RunID: run.ID, Percent: runPercent(run.Status, shards, ps)}
	if !detail {
		return out
	}
	out.Shards = []liveShardProgress{}
	for _, p := range ps {
		out.Shards = append(out.Shards, liveShardProgress{ShardIndex: p.ShardIndex, Phase: p.Phase, Percent: p.Percent,
			Task: p.Task, Agent: p.Agent, Attempt: p.Attempt, Waiting: p.Waiting, LastHeartbeat: p.LastHeartbeat})
	}
	return out
}

// unavailable answers a stream that cannot listen: 503, unless the client
// has gone already.
func (h *liveHandlers) unavailable(c *gin.Context, err error) error {
	if c.Request.Context().Err() != nil {
		return nil
	}
	h.log.WarnContext(c.Request.Context(), "event stream refused", "err", err)
	c.Header("Retry-After", "5")
	return errorf(http.StatusServiceUnavailable, "live updates are unavailable right now (the database listener failed); reload or retry shortly")
}

// closeStreams ends every open stream, for a server shutting down (whose
// http.Server would otherwise wait for them).
func (h *liveHandlers) closeStreams() {
	h.closeOnce.Do(func() { close(h.closing) })
}

// open starts the event stream's answer.
func (h *liveHandlers) open(c *gin.Context) *sseStream {
	hd := c.Writer.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	// nginx buffers proxied answers unless told not to.
	hd.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	s := &sseStream{sw: stallWriter{w: c.Writer, rc: http.NewResponseController(c.Writer), stall: h.stall}}
	_ = s.write(fmt.Sprintf("retry: %d\n\n", streamRetry.Milliseconds()))
	return s
}

// sseStream writes Server-Sent Events, pushing the write deadline ahead of
// each write as downloads do (the server's write timeout would cut a
// stream otherwise) and flushing each event at once.
type sseStream struct {
	sw stallWriter
}

func (s *sseStream) write(text string) error {
	if _, err := s.sw.Write([]byte(text)); err != nil {
		return err
	}
	if err := s.sw.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// event writes one event; data is JSON, which holds no raw newline.
func (s *sseStream) event(name, id string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	msg := "event: " + name + "\n"
	if id != "" {
		msg += "id: " + id + "\n"
	}
	return s.write(msg + "data: " + string(b) + "\n\n")
}

func (s *sseStream) comment(text string) error {
	return s.write(": " + text + "\n\n")
}

// streamLimit bounds the event streams each user holds open.
type streamLimit struct {
	max  int
	mu   sync.Mutex
	open map[int64]int
}

func newStreamLimit(n int) *streamLimit {
	if n <= 0 {
		n = DefaultMaxStreams
	}
	return &streamLimit{max: n, open: map[int64]int{}}
}

// acquire counts a stream of the request's user against the limit; 429
// when the user has all of theirs open.
func (l *streamLimit) acquire(c *gin.Context) (release func(), err error) {
	p := who(c)
	if p == nil {
		return nil, errorf(http.StatusUnauthorized, "authentication required")
	}
	uid := p.user.ID
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[uid] >= l.max {
		c.Header("Retry-After", "10")
		return nil, errorf(http.StatusTooManyRequests,
			"too many event streams: user %q has %d open, the most allowed; close one (another tab or watch) and retry", p.user.Name, l.max)
	}
	l.open[uid]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[uid]--; l.open[uid] <= 0 {
				delete(l.open, uid)
			}
		})
	}, nil
}
