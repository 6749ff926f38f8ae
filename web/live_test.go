package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// sseEvent is one event read off a stream.
type sseEvent struct {
	name, id string
	data     string
}

// liveEnv is a test env served over real HTTP (streams need flushing
// connections, not recorders), with streams that last long enough.
func liveEnv(t *testing.T, opts ...envOption) (*testEnv, string) {
	t.Helper()
	opts = append([]envOption{withConfig(func(c *Config) { c.Timeouts.Stream = time.Minute })}, opts...)
	e := newEnv(t, opts...)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	return e, srv.URL
}

// openStream opens an event stream and reads it in the background into
// the returned channel, closed when the stream ends. cancel hangs up.
func openStream(t *testing.T, url, token string) (events <-chan sseEvent, cancel func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("GET %s: status %d, Content-Type %q", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return ch, cancel
}

// next waits for the next event named one of names, skipping others.
func next(t *testing.T, events <-chan sseEvent, names ...string) sseEvent {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended while waiting for %v", names)
			}
			for _, n := range names {
				if ev.name == n {
					return ev
				}
			}
		case <-deadline:
			t.Fatalf("no %v event within 30s", names)
		}
	}
}

func decodeEvent[T any](t *testing.T, ev sseEvent) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
		t.Fatalf("%s event: %v: %s", ev.name, err, ev.data)
	}
	return v
}

// TestRunEventsFollowARunToItsEnd: a run's stream starts with its state,
// then brings each status change in order as the store records it, its
// shards and the hosts stored so far, its scanners' progress, and the end,
// after which the server closes the stream.
func TestRunEventsFollowARunToItsEnd(t *testing.T) {
	e, base := liveEnv(t)
	f := makeFixtures(t, e)
	r := e.startRun(t, e.makeScan(t, f).ID)
	ctx := context.Background()

	events, _ := openStream(t, fmt.Sprintf("%s/api/v1/runs/%d/events", base, r.ID), e.token)
	first := decodeEvent[liveRun](t, next(t, events, "run"))
	if first.RunID != r.ID || first.Status != scan.RunPending {
		t.Fatalf("first run event = %+v, want run %d pending", first, r.ID)
	}
	if sh := decodeEvent[liveShards](t, next(t, events, "shards")); len(sh.Shards) != 0 || sh.Hosts != 0 {
		t.Errorf("shards before planning = %+v", sh)
	}

	// Progress is Temporal's: a scanner 40% through the only shard.
	if err := testStore.SetRunStatus(ctx, r.ID, scan.RunRunning, ""); err != nil {
		t.Fatal(err)
	}
	if st := decodeEvent[liveRun](t, next(t, events, "run")); st.Status != scan.RunRunning {
		t.Fatalf("second run event = %+v, want running", st)
	}
	sh, err := testStore.CreateShard(ctx, r.ID, 0, f.agent.ID, []string{"198.18.0.0/28"})
	if err != nil {
		t.Fatal(err)
	}
	details, err := converter.GetDefaultDataConverter().ToPayloads(scan.Progress{ShardID: sh.ID, Phase: "scanning", Percent: 40, Task: "SYN Stealth Scan"})
	if err != nil {
		t.Fatal(err)
	}
	e.temporal.mu.Lock()
	e.temporal.pending = map[string][]*workflowpb.PendingActivityInfo{r.WorkflowID: {{
		ActivityType: &commonpb.ActivityType{Name: scannerActivity}, HeartbeatDetails: details,
		LastStartedTime: timestamppb.Now(), LastHeartbeatTime: timestamppb.Now(),
	}}}
	e.temporal.mu.Unlock()
	if got := decodeEvent[liveShards](t, next(t, events, "shards")); len(got.Shards) != 1 || got.Shards[0].Status != scan.ShardPending {
		t.Errorf("shards once planned = %+v", got)
	}
	p := decodeEvent[liveProgress](t, next(t, events, "progress"))
	for p.Percent == 0 { // the first poll may have come before the heartbeat
		p = decodeEvent[liveProgress](t, next(t, events, "progress"))
	}
	if p.Percent != 40 || len(p.Shards) != 1 || p.Shards[0].Task != "SYN Stealth Scan" || p.Shards[0].ShardIndex != 0 {
		t.Errorf("progress = %+v, want the shard 40%% through its SYN scan", p)
	}

	// The shard's hosts are stored, then it is scanned.
	if _, err := testStore.ReplaceShardResults(ctx, r.ID, sh.ID, 1, func(emit func(report.Host) error) error {
		return emit(report.Host{Addresses: []report.Address{{Addr: "198.18.0.5", Type: "ipv4"}}, Status: "up"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := testStore.UpdateShard(ctx, scan.ShardUpdate{ID: sh.ID, Status: scan.ShardScanned, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	got := decodeEvent[liveShards](t, next(t, events, "shards"))
	for got.Shards[0].Status != scan.ShardScanned {
		got = decodeEvent[liveShards](t, next(t, events, "shards"))
	}
	if got.Hosts != 1 || got.Shards[0].Attempt != 1 {
		t.Errorf("shards once scanned = %+v, want the one host found", got)
	}

	if err := testStore.SetRunStatus(ctx, r.ID, scan.RunParsing, ""); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 3000) // longer than a notification carries
	if err := testStore.SetRunStatus(ctx, r.ID, scan.RunFailed, long); err != nil {
		t.Fatal(err)
	}
	var statuses []scan.RunStatus
	for {
		ev := next(t, events, "run", "end")
		st := decodeEvent[liveRun](t, ev)
		if ev.name == "end" {
			if st.Status != scan.RunFailed || st.Error != long {
				t.Errorf("end = %s %d bytes of error, want failed with the whole error", st.Status, len(st.Error))
			}
			break
		}
		statuses = append(statuses, st.Status)
	}
	if fmt.Sprint(statuses) != "[parsing failed]" {
		t.Errorf("run events after running = %v, want [parsing failed]", statuses)
	}
	select {
	case ev, ok := <-events:
		if ok {
			t.Errorf("an event after the end: %+v", ev)
		}
	case <-time.After(30 * time.Second):
		t.Error("the stream stayed open after the end")
	}
}

// TestRunEventsOfAFinishedRun: the stream of a run that has ended says so
// at once and closes.
func TestRunEventsOfAFinishedRun(t *testing.T) {
	e, base := liveEnv(t)
	r := e.startRun(t, e.makeScan(t, makeFixtures(t, e)).ID)
	if err := testStore.SetRunStatus(context.Background(), r.ID, scan.RunCancelled, ""); err != nil {
		t.Fatal(err)
	}
	events, _ := openStream(t, fmt.Sprintf("%s/api/v1/runs/%d/events", base, r.ID), e.token)
	if st := decodeEvent[liveRun](t, next(t, events, "end")); st.Status != scan.RunCancelled {
		t.Errorf("end = %+v", st)
	}
	for range events {
	}
}

// TestRunEventsRefusals: bad and missing ids are refused before any
// stream begins; a user past the stream limit gets a 429 naming it, and a
// closed stream frees its place.
func TestRunEventsRefusals(t *testing.T) {
	e, base := liveEnv(t, withConfig(func(c *Config) { c.MaxStreams = 1 }))
	r := e.startRun(t, e.makeScan(t, makeFixtures(t, e)).ID)
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	for path, want := range map[string]int{
		"/api/v1/runs/abc/events":       http.StatusBadRequest,
		"/api/v1/runs/0/events":         http.StatusBadRequest,
		"/api/v1/runs/999999999/events": http.StatusNotFound,
	} {
		if code, msg := get(path); code != want || msg == "" {
			t.Errorf("GET %s: %d %q, want %d with a message", path, code, msg, want)
		}
	}
	url := fmt.Sprintf("%s/api/v1/runs/%d/events", base, r.ID)
	events, hangUp := openStream(t, url, e.token)
	next(t, events, "run")
	code, msg := get("/api/v1/events")
	if code != http.StatusTooManyRequests || !strings.Contains(msg, "too many event streams") || !strings.Contains(msg, "1 open") {
		t.Errorf("a second stream: %d %q, want 429 naming the limit", code, msg)
	}
	hangUp()
	deadline := time.Now().Add(30 * time.Second)
	for e.srv.live.limit.count() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the closed stream still counts against the limit")
		}
		time.Sleep(10 * time.Millisecond)
	}
	events, _ = openStream(t, url, e.token)
	next(t, events, "run")
}

// TestRunEventsDisconnectFreesTheListener: the database connection that
// listens is opened for the first stream and closed when the last client
// hangs up.
func TestRunEventsDisconnectFreesTheListener(t *testing.T) {
	e, base := liveEnv(t)
	r := e.startRun(t, e.makeScan(t, makeFixtures(t, e)).ID)
	if _, ok := e.srv.live.hub.listening(); ok {
		t.Fatal("listening before any stream")
	}
	events, hangUp := openStream(t, fmt.Sprintf("%s/api/v1/runs/%d/events", base, r.ID), e.token)
	next(t, events, "run")
	pid, ok := e.srv.live.hub.listening()
	if !ok {
		t.Fatal("not listening while a stream is open")
	}
	backend := func() (query string, found bool) {
		err := testStore.Pool().QueryRow(context.Background(),
			`SELECT query FROM pg_stat_activity WHERE pid = $1 AND application_name = 'scantron-run-events'`, int32(pid)).Scan(&query)
		return query, err == nil
	}
	if q, found := backend(); !found || !strings.Contains(q, "LISTEN") {
		t.Fatalf("backend %d: %q, found %v; want the listener", pid, q, found)
	}
	hangUp()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, listening := e.srv.live.hub.listening()
		_, found := backend()
		if !listening && !found && e.srv.live.hub.subscribers() == 0 && e.srv.live.limit.count() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the client left: listening %v, backend %d alive %v, %d subscribers",
				listening, pid, found, e.srv.live.hub.subscribers())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDashboardEvents: the dashboard's stream opens with the newest runs'
// state, then brings every run's status changes, from its creation on, in
// order.
func TestDashboardEvents(t *testing.T) {
	e, base := liveEnv(t)
	s := e.makeScan(t, makeFixtures(t, e))
	// A run that changed before the stream: its state opens the stream.
	before, err := testStore.CreateRun(context.Background(), s.ID, uniq("wf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := testStore.SetRunStatus(context.Background(), before.ID, scan.RunRunning, ""); err != nil {
		t.Fatal(err)
	}
	events, _ := openStream(t, base+"/api/v1/events", e.token)
	if st := decodeEvent[liveRun](t, next(t, events, "run")); st.RunID != before.ID || st.Status != scan.RunRunning || st.Seq != 1 {
		t.Errorf("first event = %+v, want run %d running, its change 1", st, before.ID)
	}
	// The stream listens once it answers: the run is created after.
	r := e.startRun(t, s.ID)
	ctx := context.Background()
	for _, st := range []scan.RunStatus{scan.RunRunning, scan.RunParsing, scan.RunCompleted} {
		if err := testStore.SetRunStatus(ctx, r.ID, st, ""); err != nil {
			t.Fatal(err)
		}
	}
	var seen []scan.RunStatus
	for len(seen) < 4 {
		st := decodeEvent[liveRun](t, next(t, events, "run"))
		if st.RunID == r.ID { // other tests' runs pass by too
			seen = append(seen, st.Status)
		}
	}
	if fmt.Sprint(seen) != "[pending running parsing completed]" {
		t.Errorf("run %d seen as %v", r.ID, seen)
	}
}

// TestStreamsEndOnShutdown: CloseStreams ends open streams, so that a
// server shutting down does not wait out their lifetime.
func TestStreamsEndOnShutdown(t *testing.T) {
	e, base := liveEnv(t)
	events, _ := openStream(t, base+"/api/v1/events", e.token)
	time.Sleep(10 * time.Millisecond)
	e.srv.CloseStreams()
	select {
	case <-drain(events):
	case <-time.After(30 * time.Second):
		t.Fatal("the stream stayed open")
	}
}

func drain(events <-chan sseEvent) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for range events {
		}
		close(done)
	}()
	return done
}

func TestRunPercent(t *testing.T) {
	shards := []scan.Shard{{Index: 0, Status: scan.ShardCompleted}, {Index: 1, Status: scan.ShardRunning}, {Index: 2, Status: scan.ShardPending}}
	progress := []shardProgress{{ShardIndex: 1, Progress: scan.Progress{Percent: 50}}, {ShardIndex: 0, Progress: scan.Progress{Percent: 10}}}
	for _, c := range []struct {
		status scan.RunStatus
		shards []scan.Shard
		want   float64
	}{
		{scan.RunRunning, shards, 50}, // (100 + 50 + 0) / 3
		{scan.RunRunning, nil, 0},
		{scan.RunCompleted, nil, 100},
	} {
		if got := runPercent(c.status, c.shards, progress); got != c.want {
			t.Errorf("runPercent(%s, %d shards) = %v, want %v", c.status, len(c.shards), got, c.want)
		}
	}
}

// count is how many streams are open, for tests.
func (l *streamLimit) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, v := range l.open {
		n += v
	}
	return n
}

// listening reports the backend process of the running listener, if any.
func (h *eventHub) listening() (pid uint32, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil {
		return 0, false
	}
	select {
	case <-h.cur.ready:
		return h.cur.pid, h.cur.err == nil
	default:
		return 0, false
	}
}

// subscribers counts the open subscriptions.
func (h *eventHub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// TestRunEventsEndAfterTheChanges: a run that completes while watched
// ends its stream once its changes against the previous run are recorded
// (the workflow's next step), so that a page reloaded at the end shows
// them; the completed status itself comes at once.
func TestRunEventsEndAfterTheChanges(t *testing.T) {
	e, base := liveEnv(t)
	s := e.makeScan(t, makeFixtures(t, e))
	r := e.startRun(t, s.ID)
	ctx := context.Background()
	events, _ := openStream(t, fmt.Sprintf("%s/api/v1/runs/%d/events", base, r.ID), e.token)
	next(t, events, "run")
	if err := testStore.SetRunStatus(ctx, r.ID, scan.RunCompleted, ""); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, "run", "end")
	if ev.name != "run" || decodeEvent[liveRun](t, ev).Status != scan.RunCompleted {
		t.Fatalf("after completing: %s %s, want the run completed and no end yet", ev.name, ev.data)
	}
	// Still open: a later change still reaches it.
	if _, err := testStore.CreateShard(ctx, r.ID, 0, 0, []string{"198.18.0.0/28"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events, "shards", "end"); ev.name != "shards" {
		t.Fatalf("after completing: %s %s, want the stream open until the changes are recorded", ev.name, ev.data)
	}
	if _, err := testStore.SaveDiff(ctx, scan.Diff{DiffSummary: scan.DiffSummary{RunID: r.ID, ScanID: s.ID}}); err != nil {
		t.Fatal(err)
	}
	if st := decodeEvent[liveRun](t, next(t, events, "end")); st.Status != scan.RunCompleted {
		t.Errorf("end = %+v", st)
	}
}

// TestRunEventsSayWhatHoldsARun: a run paused until its scan's window
// opens says so in its stream, as GET /runs/:id does.
func TestRunEventsSayWhatHoldsARun(t *testing.T) {
	e, base := liveEnv(t)
	r := e.startRun(t, e.makeScan(t, makeFixtures(t, e)).ID)
	events, _ := openStream(t, fmt.Sprintf("%s/api/v1/runs/%d/events", base, r.ID), e.token)
	next(t, events, "run")
	opens := time.Date(2030, 1, 2, 22, 0, 0, 0, time.UTC)
	if err := testStore.SetRunWaiting(context.Background(), r.ID, opens); err != nil {
		t.Fatal(err)
	}
	st := decodeEvent[liveRun](t, next(t, events, "run"))
	if st.Status != scan.RunPaused || st.StatusDetail != "waiting for window until 2030-01-02 22:00:00 UTC" {
		t.Errorf("run event = %+v, want paused, waiting for the window", st)
	}
}
