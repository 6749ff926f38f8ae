package devstack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/client"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// tree returns pid and its descendants, to check later that all are gone.
func tree(pid int) []int { return append([]int{pid}, descendants(pid)...) }

// assertGone waits until none of pids is a live (non-zombie) process.
func assertGone(t *testing.T, name string, pids []int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for _, pid := range pids {
		for {
			if _, alive := parentPid(pid); !alive {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: process %d still running", name, pid)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestStack(t *testing.T) {
	ctx := testContext(t)
	start := time.Now()
	st, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	t.Logf("stack started in %v: pg %s, s3 %s, temporal %s (ui %s)",
		time.Since(start).Round(time.Millisecond), st.Postgres.DSN, st.S3.Endpoint, st.Temporal.HostPort, st.Temporal.UIURL)

	// PostgreSQL: the database exists and answers.
	conn, err := pgx.Connect(ctx, st.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("select 1: %v, %d", err, one)
	}
	var db string
	if err := conn.QueryRow(ctx, "select current_database()").Scan(&db); err != nil || db != "scantron" {
		t.Fatalf("current_database: %v, %q", err, db)
	}
	conn.Close(ctx)

	// S3: the bucket exists; an object with metadata round-trips.
	mc, err := st.S3.Client()
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("<nmaprun/>\n")
	_, err = mc.PutObject(ctx, st.S3.Bucket, "scans/1/result.xml", bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "application/xml", UserMetadata: map[string]string{"scan": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := mc.GetObject(ctx, st.S3.Bucket, "scans/1/result.xml", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("get object: %v, %q", err, got)
	}
	info, err := obj.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if info.ContentType != "application/xml" || info.UserMetadata["Scan"] != "1" {
		t.Errorf("object metadata: content type %q, user metadata %v", info.ContentType, info.UserMetadata)
	}
	obj.Close()

	// Temporal: healthy, namespace reachable, UI served.
	tc, err := st.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	if err := httpOK(ctx, st.Temporal.UIURL); err != nil {
		t.Errorf("temporal UI: %v", err)
	}

	env := strings.Join(st.Env(), "\n")
	for _, want := range []string{"SCANTRON_DATABASE_URL=" + st.Postgres.DSN, "SCANTRON_S3_TLS=false", "SCANTRON_TEMPORAL_ADDRESS=" + st.Temporal.HostPort} {
		if !strings.Contains(env, want) {
			t.Errorf("Env() lacks %q:\n%s", want, env)
		}
	}

	pids := map[string][]int{"postgres": tree(st.Postgres.Pid()), "versitygw": tree(st.S3.Pid()), "temporal": tree(st.Temporal.Pid())}
	if len(pids["postgres"]) < 2 {
		t.Errorf("postgres has no child processes? %v", pids["postgres"])
	}
	if err := st.Stop(); err != nil {
		t.Fatal(err)
	}
	for name, pid := range pids {
		assertGone(t, name, pid)
	}
	if _, err := os.Stat(st.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary stack dir %s not removed: %v", st.Dir, err)
	}
}

// TestPostgresRestart checks that a cluster is reused (dev restarts) and
// recovers after a SIGKILL.
func TestPostgresRestart(t *testing.T) {
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "pg") // 0700 parents: made traversable when root
	opt := PostgresOptions{Dir: dir, Database: "restart_test"}

	pg, err := StartPostgres(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	run := func(pg *Postgres, sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, pg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	run(pg, "create table kept (id int); insert into kept values (42)")
	pids := tree(pg.Pid())
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, "postgres after Kill", pids)

	pg2, err := StartPostgres(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg2.Stop() })
	if pg2.Port == pg.Port {
		t.Logf("same free port picked twice (%d); fine", pg.Port)
	}
	run(pg2, "insert into kept select id + 1 from kept")
	pids = tree(pg2.Pid())
	if err := pg2.Stop(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, "postgres after Stop", pids)
}

// TestPortTaken checks that a fixed port that is in use gives an error that
// names the log and quotes it.
func TestPortTaken(t *testing.T) {
	ctx := testContext(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	s3, err := StartS3(ctx, S3Options{Dir: dir, Port: port, StartTimeout: 30 * time.Second})
	if err == nil {
		s3.Stop()
		t.Fatal("StartS3 on a taken port succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, filepath.Join(dir, "versitygw.log")) || !strings.Contains(strings.ToLower(msg), "address already in use") {
		t.Errorf("error should name the log and quote it:\n%s", msg)
	}
}

func TestFindToolMissing(t *testing.T) {
	_, err := FindTool("scantron-no-such-tool")
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("FindTool of a missing tool: %v", err)
	}
	if _, err := FindTool("temporal"); err != nil {
		t.Fatal(err)
	}
}

// TestStackReuse starts a durable stack twice over the same directory, as
// `make run` does, and checks the state survives.
func TestStackReuse(t *testing.T) {
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "data")
	opt := Options{Dir: dir, Durable: true, TemporalHeadless: true}

	st, err := Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	tc, err := st.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "reuse-test", TaskQueue: "devstack-test"}, "NoSuchWorkflow")
	if err != nil {
		t.Fatal(err)
	}
	tc.Close()
	conn, err := pgx.Connect(ctx, st.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "create table kept (id int)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := st.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "temporal.db")); err != nil {
		t.Fatal(err)
	}

	st2, err := Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Stop() })
	tc, err = st2.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, err := tc.DescribeWorkflowExecution(ctx, "reuse-test", run.GetRunID()); err != nil {
		t.Errorf("workflow from the first run: %v", err)
	}
	conn, err = pgx.Connect(ctx, st2.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "select * from kept"); err != nil {
		t.Errorf("table from the first run: %v", err)
	}
	if st2.Temporal.UIURL != "" {
		t.Errorf("headless Temporal has a UI URL %q", st2.Temporal.UIURL)
	}
}

// TestParentDeath checks that the services die with the process that started
// them, even when it is SIGKILLed and runs no cleanup.
func TestParentDeath(t *testing.T) {
	if dir := os.Getenv("DEVSTACK_TEST_HELPER_DIR"); dir != "" {
		// Helper: start a stack, report the pids, wait to be killed.
		st, err := Start(context.Background(), Options{Dir: dir})
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Println("PIDS", st.Postgres.Pid(), st.S3.Pid(), st.Temporal.Pid())
		time.Sleep(time.Minute)
		os.Exit(1)
	}
	ctx := testContext(t)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestParentDeath$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DEVSTACK_TEST_HELPER_DIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ERROR") {
			t.Fatal(line)
		}
		if f, ok := strings.CutPrefix(line, "PIDS "); ok {
			for _, s := range strings.Fields(f) {
				pid, _ := strconv.Atoi(s)
				pids = append(pids, tree(pid)...)
			}
			break
		}
	}
	if len(pids) < 3 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper reported no pids")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	assertGone(t, "child of a killed parent", pids)
}

// TestRestartKeepsState restarts each service of a durable stack in place:
// same ports, and the row, the object and the workflow written before are
// there after.
func TestRestartKeepsState(t *testing.T) {
	ctx := testContext(t)
	st, err := Start(ctx, Options{Durable: true, TemporalHeadless: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })

	conn, err := pgx.Connect(ctx, st.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	mc, err := st.S3.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PutObject(ctx, st.S3.Bucket, "kept", strings.NewReader("before"), 6, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	tc, err := st.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "kept", TaskQueue: "nobody"}, "Nothing")
	tc.Close()
	if err != nil {
		t.Fatal(err)
	}

	ports := []int{st.Postgres.Port, st.S3.Port, st.Temporal.Port}
	oldPids := []int{st.Postgres.Pid(), st.S3.Pid(), st.Temporal.Pid()}
	if err := st.Postgres.Stop(); err != nil { // a stopped service restarts too
		t.Fatal(err)
	}
	for name, restart := range map[string]func(context.Context) error{
		"postgres": st.Postgres.Restart, "s3": st.S3.Restart, "temporal": st.Temporal.Restart,
	} {
		if err := restart(ctx); err != nil {
			t.Fatalf("restart %s: %v", name, err)
		}
	}
	if got := []int{st.Postgres.Port, st.S3.Port, st.Temporal.Port}; fmt.Sprint(got) != fmt.Sprint(ports) {
		t.Errorf("ports after restart %v, want %v", got, ports)
	}
	for i, pid := range []int{st.Postgres.Pid(), st.S3.Pid(), st.Temporal.Pid()} {
		if pid == oldPids[i] {
			t.Errorf("service %d kept pid %d: not restarted", i, pid)
		}
	}

	conn, err = pgx.Connect(ctx, st.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "before" {
		t.Errorf("row after restart: %q, %v", v, err)
	}
	obj, err := mc.GetObject(ctx, st.S3.Bucket, "kept", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(obj); err != nil || string(b) != "before" {
		t.Errorf("object after restart: %q, %v", b, err)
	}
	tc, err = st.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, err := tc.DescribeWorkflowExecution(ctx, "kept", ""); err != nil {
		t.Errorf("workflow after restart: %v", err)
	}
}

// TestTemporalOnPostgres starts Scantron's Temporal build on the stack's
// PostgreSQL, then again over the same databases: the second start finds
// the schema in place and changes nothing, and the first one's workflow is
// still there.
func TestTemporalOnPostgres(t *testing.T) {
	ctx := testContext(t)
	const shards = 4
	st, err := Start(ctx, Options{TemporalPostgres: true, TemporalHistoryShards: shards})
	if errors.Is(err, ErrNoAuthTemporal) {
		t.Skip(err.Error() + " (make test builds it)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })

	// Without the stack's token the server refuses.
	anon, err := client.DialContext(ctx, client.Options{HostPort: st.Temporal.HostPort, Namespace: st.Temporal.Namespace, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = anon.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "anonymous", TaskQueue: "nobody"}, "Nothing")
	anon.Close()
	if err == nil {
		t.Error("a client without a token started a workflow")
	}

	tc, err := st.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "kept", TaskQueue: "nobody"}, "Nothing")
	tc.Close()
	if err != nil {
		t.Fatal(err)
	}

	type schemaState struct {
		version string
		steps   int
	}
	read := func(db string) schemaState {
		t.Helper()
		conn, err := pgx.Connect(ctx, st.Postgres.DSNFor(db))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var s schemaState
		if err := conn.QueryRow(ctx, "SELECT curr_version FROM schema_version").Scan(&s.version); err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM schema_update_history").Scan(&s.steps); err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		return s
	}
	dbs := []string{TemporalDatabase, TemporalDatabase + "_visibility"}
	before := map[string]schemaState{}
	for _, db := range dbs {
		before[db] = read(db)
		if before[db].version == "" || before[db].version == "0.0" || before[db].steps < 2 {
			t.Errorf("%s: schema %+v, want the versioned steps applied", db, before[db])
		}
	}

	oldPid := st.Temporal.Pid()
	if err := st.Temporal.Restart(ctx); err != nil {
		t.Fatalf("second start on the same databases: %v", err)
	}
	if st.Temporal.Pid() == oldPid {
		t.Fatal("temporal kept its pid: not restarted")
	}
	for _, db := range dbs {
		if got := read(db); got != before[db] {
			t.Errorf("%s: schema %+v after the second start, was %+v", db, got, before[db])
		}
	}
	tc, err = st.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, err := tc.DescribeWorkflowExecution(ctx, "kept", ""); err != nil {
		t.Errorf("workflow after the second start: %v", err)
	}

	// Every history shard of the new cluster is owned, one row each.
	conn, err := pgx.Connect(ctx, st.Postgres.DSNFor(TemporalDatabase))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM shards").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == shards {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d shard rows, want %d", n, shards)
		}
	}
}
