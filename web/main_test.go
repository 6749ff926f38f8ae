package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/objects"
	"github.com/scantron/scantron/storage/postgres"
)

// testStore is a real, migrated PostgreSQL shared by the tests of this
// package. Tests never assume an empty database: every name they create is
// unique (see uniq).
var testStore *postgres.Store

// testPG is the server testStore lives on; a benchmark makes its own
// database there.
var testPG *devstack.Postgres

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "scantron-web-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "web tests need PostgreSQL:", err)
		return 1
	}
	defer pg.Stop()
	testPG = pg
	st, err := postgres.Open(ctx, pg.DSN)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testStore = st
	return m.Run()
}

var counter atomic.Int64

// uniq gives a name no other test uses, valid as an agent name too.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, counter.Add(1))
}

// fakeTemporal records starts and cancels. It stands in for the Temporal
// client at the handler boundary; the real thing is exercised end to end
// elsewhere.
type fakeTemporal struct {
	mu        sync.Mutex
	starts    []fakeStart
	cancels   []string
	signals   []string // workflowID + " " + signal name
	startErr  error
	cancelErr error
	pollers   map[string][]*taskqueuepb.PollerInfo // by task queue
	// startedDespiteErr makes ExecuteWorkflow fail with startErr although
	// the workflow was started, as a timed-out start can.
	startedDespiteErr bool
	started           map[string]bool
	// pending are the pending activities DescribeWorkflowExecution reports.
	pending map[string][]*workflowpb.PendingActivityInfo
	// schedules are the scans' schedules (see ScheduleClient).
	schedules *fakeSchedules
}

type fakeStart struct {
	opts     client.StartWorkflowOptions
	workflow any
	args     []any
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, wf interface{}, args ...interface{}) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil && !f.startedDespiteErr {
		return nil, f.startErr
	}
	f.starts = append(f.starts, fakeStart{opts: opts, workflow: wf, args: args})
	if f.started == nil {
		f.started = map[string]bool{}
	}
	f.started[opts.ID] = true
	if f.startErr != nil {
		return nil, f.startErr
	}
	return fakeRun{id: opts.ID}, nil
}

// fakeRun is a started workflow that has already ended, with no result.
// What else a run offers is not asked of it.
type fakeRun struct {
	client.WorkflowRun
	id string
}

func (r fakeRun) GetID() string                  { return r.id }
func (r fakeRun) Get(context.Context, any) error { return nil }

func (f *fakeTemporal) DescribeWorkflowExecution(_ context.Context, workflowID, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started[workflowID] {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{PendingActivities: f.pending[workflowID]}, nil
}

func (f *fakeTemporal) CancelWorkflow(_ context.Context, workflowID, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancelErr != nil {
		return f.cancelErr
	}
	f.cancels = append(f.cancels, workflowID)
	return nil
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, workflowID, _, name string, _ interface{}) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started[workflowID] {
		return serviceerror.NewNotFound("workflow not found")
	}
	f.signals = append(f.signals, workflowID+" "+name)
	return nil
}

func (f *fakeTemporal) DescribeTaskQueue(_ context.Context, taskQueue string, _ enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &workflowservice.DescribeTaskQueueResponse{Pollers: f.pollers[taskQueue]}, nil
}

// fakeObjects is an in-memory object store.
type fakeObjects struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (f *fakeObjects) put(key string, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data == nil {
		f.data = map[string][]byte{}
	}
	f.data[key] = b
}

func (f *fakeObjects) Open(_ context.Context, key string) (io.ReadCloser, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.data[key]
	if !ok {
		return nil, 0, fmt.Errorf("open %s: %w", key, objects.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

func (f *fakeObjects) Put(_ context.Context, key string, r io.Reader, _ int64, _ string) (scan.BlobRef, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return scan.BlobRef{}, err
	}
	f.put(key, b)
	sum := sha256.Sum256(b)
	return scan.BlobRef{Bucket: "test", Key: key, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}, nil
}

func (f *fakeObjects) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.data, key)
	return nil
}

// syncBuffer collects log output written from handler goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	h   http.Handler
	srv *Server
	// token is an admin's API token, which do and mustDo send: tests of
	// what a resource does act as an admin; tests of who may act use
	// doAs with a token from userToken.
	token    string
	temporal *fakeTemporal
	objects  *fakeObjects
	logs     *syncBuffer
	now      time.Time
}

type envOption func(*Config, *Deps)

func withStore(s Store) envOption { return func(_ *Config, d *Deps) { d.Store = s } }

func withConfig(f func(*Config)) envOption { return func(c *Config, _ *Deps) { f(c) } }

func newEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	env := &testEnv{
		temporal: &fakeTemporal{},
		objects:  &fakeObjects{},
		logs:     &syncBuffer{},
		now:      time.Date(2030, 1, 2, 3, 4, 5, int(counter.Add(1)), time.UTC),
	}
	deps := Deps{Store: testStore, Objects: env.objects, Temporal: env.temporal, Now: func() time.Time { return env.now }}
	cfg := Config{
		TemporalUIURL:     "http://127.0.0.1:8233/",
		TemporalNamespace: "default",
		Logger:            slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		WebhookLookup:     testLookup,
		// Event streams end soon, so that the suites sending every route
		// a valid request (TestBadInput) are not held for 10 minutes;
		// tests of the streams set their own.
		Timeouts: Timeouts{Stream: time.Second},
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	env.srv = srv
	env.h = srv.Routes()
	env.token = env.userToken(t, accounts.Admin)
	return env
}

// userToken makes a user with the role and returns an API token of theirs.
func (e *testEnv) userToken(t *testing.T, role accounts.Role) string {
	t.Helper()
	ctx := context.Background()
	// The hash is never checked: these users authenticate with tokens.
	u, err := testStore.CreateUser(ctx, accounts.User{Name: uniq(string(role)), Role: role, PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	secret := accounts.NewToken()
	// A year past the env's clock, or the real one for envs without.
	expires := time.Now()
	if e.now.After(expires) {
		expires = e.now
	}
	if _, err := testStore.CreateToken(ctx, u.ID, "test", secret[:8], accounts.HashSecret(secret), expires.AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	return secret
}

// do sends a request as an admin; a non-empty body is sent as JSON.
func (e *testEnv) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	return e.doAs(t, e.token, method, path, body)
}

// doAs sends a request with an API token, or with no credentials when
// token is "".
func (e *testEnv) doAs(t *testing.T, token, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

// mustDo sends a request and decodes the answer into out, failing unless
// the status is want.
func (e *testEnv) mustDo(t *testing.T, method, path, body string, want int, out any) {
	t.Helper()
	w := e.do(t, method, path, body)
	if w.Code != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, w.Code, want, w.Body.String())
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, w.Body.String(), err)
		}
	}
}

// errorOf returns the "error" of a JSON error answer, failing if the body
// is not exactly {"error": "..."}.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error answer has Content-Type %q, body %s", ct, w.Body.String())
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error answer is not JSON: %s", w.Body.String())
	}
	msg, ok := body["error"].(string)
	if !ok || len(body) != 1 || msg == "" {
		t.Fatalf("error answer is not {\"error\": message}: %s", w.Body.String())
	}
	return msg
}

// fixtures are a site, a profile and an agent that scans can use.
type fixtures struct {
	site    scan.Site
	profile scan.Profile
	agent   scan.Agent
}

func makeFixtures(t *testing.T, e *testEnv) fixtures {
	t.Helper()
	var f fixtures
	e.mustDo(t, "POST", "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.0/28"]}`, uniq("site")), http.StatusCreated, &f.site)
	e.mustDo(t, "POST", "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sT -p 22,80"}`, uniq("profile")), http.StatusCreated, &f.profile)
	e.mustDo(t, "POST", "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, uniq("agent")), http.StatusCreated, &f.agent)
	return f
}

func (e *testEnv) makeScan(t *testing.T, f fixtures) scan.Scan {
	t.Helper()
	var s scan.Scan
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d}`,
		uniq("scan"), f.site.ID, f.profile.ID, f.agent.ID), http.StatusCreated, &s)
	return s
}

// failingStore fails or panics on ListSites, to exercise the 500 paths.
type failingStore struct {
	Store
	panic bool
}

var errDatabaseOnFire = errors.New("database is on fire")

func (f failingStore) ListSites(context.Context) ([]scan.Site, error) {
	if f.panic {
		panic("boom")
	}
	return nil, errDatabaseOnFire
}

func decode(t *testing.T, w *httptest.ResponseRecorder, out any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
		t.Fatalf("decoding %s: %v", w.Body.String(), err)
	}
}

// ScheduleClient makes fakeTemporal a Schedules too: an in-memory set of
// schedules, enough for the handlers' 4xx and failure paths. What the real
// server does with schedules is tested against a dev server.
func (f *fakeTemporal) ScheduleClient() client.ScheduleClient {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.schedules == nil {
		f.schedules = &fakeSchedules{byID: map[string]client.ScheduleOptions{}}
	}
	return f.schedules
}

type fakeSchedules struct {
	mu   sync.Mutex
	byID map[string]client.ScheduleOptions
	// err fails every call.
	err error
	// triggers counts Trigger calls.
	triggers int
}

func (f *fakeSchedules) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.byID {
		out = append(out, id)
	}
	return out
}

func (f *fakeSchedules) Create(_ context.Context, o client.ScheduleOptions) (client.ScheduleHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.byID[o.ID] = o
	return &fakeScheduleHandle{f: f, id: o.ID}, nil
}

func (f *fakeSchedules) List(context.Context, client.ScheduleListOptions) (client.ScheduleListIterator, error) {
	return nil, errors.New("not in the fake")
}

func (f *fakeSchedules) GetHandle(_ context.Context, id string) client.ScheduleHandle {
	return &fakeScheduleHandle{f: f, id: id}
}

type fakeScheduleHandle struct {
	client.ScheduleHandle // Backfill, Pause, Unpause: not in the fake
	f                     *fakeSchedules
	id                    string
}

// Trigger counts the schedule's manual fires.
func (h *fakeScheduleHandle) Trigger(context.Context, client.ScheduleTriggerOptions) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.f.err != nil {
		return h.f.err
	}
	if _, ok := h.f.byID[h.id]; !ok {
		return serviceerror.NewNotFound("schedule not found")
	}
	h.f.triggers++
	return nil
}

func (h *fakeScheduleHandle) GetID() string { return h.id }

func (h *fakeScheduleHandle) Describe(context.Context) (*client.ScheduleDescription, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.f.err != nil {
		return nil, h.f.err
	}
	o, ok := h.f.byID[h.id]
	if !ok {
		return nil, serviceerror.NewNotFound("schedule not found")
	}
	return &client.ScheduleDescription{Schedule: client.Schedule{Action: o.Action, Spec: &o.Spec,
		State: &client.ScheduleState{Paused: o.Paused, Note: o.Note}}}, nil
}

func (h *fakeScheduleHandle) Update(_ context.Context, u client.ScheduleUpdateOptions) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.f.err != nil {
		return h.f.err
	}
	o, ok := h.f.byID[h.id]
	if !ok {
		return serviceerror.NewNotFound("schedule not found")
	}
	up, err := u.DoUpdate(client.ScheduleUpdateInput{})
	if err != nil {
		return err
	}
	o.Spec, o.Action, o.Paused, o.Note = *up.Schedule.Spec, up.Schedule.Action, up.Schedule.State.Paused, up.Schedule.State.Note
	h.f.byID[h.id] = o
	return nil
}

func (h *fakeScheduleHandle) Delete(context.Context) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.f.err != nil {
		return h.f.err
	}
	if _, ok := h.f.byID[h.id]; !ok {
		return serviceerror.NewNotFound("schedule not found")
	}
	delete(h.f.byID, h.id)
	return nil
}

// testLookup resolves webhook host names without DNS: no query may leave
// the machine. Names under .test get a public address (never contacted:
// saving settings only resolves); a few names stand for hostile DNS.
func testLookup(_ context.Context, host string) ([]netip.Addr, error) {
	switch host {
	case "metadata.test":
		return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
	case "intranet.test":
		return []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.1.2.3")}, nil
	case "ula.test":
		return []netip.Addr{netip.MustParseAddr("fd00::1")}, nil
	}
	if strings.HasSuffix(host, ".test") {
		return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host (test resolver)", host)
}
