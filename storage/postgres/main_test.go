package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
)

// The test binary starts one PostgreSQL server; every test gets a database
// of its own, so tests run in parallel.
var (
	testPG    *devstack.Postgres
	testAdmin *pgxpool.Pool
	testDBSeq atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "scantron-storage-postgres-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	testPG, err = devstack.StartPostgres(ctx, devstack.PostgresOptions{
		Dir:      dir,
		Settings: map[string]string{"max_connections": "400"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start postgres:", err)
		return 1
	}
	defer testPG.Stop()

	testAdmin, err = pgxpool.New(ctx, testPG.DSNFor("postgres"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		return 1
	}
	defer testAdmin.Close()
	return m.Run()
}

// newDB creates an empty database for one test and returns its DSN. It is
// dropped when the test ends.
func newDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", testDBSeq.Add(1))
	ctx := context.Background()
	if _, err := testAdmin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := testAdmin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return testPG.DSNFor(name) + "&pool_max_conns=8"
}

// newStore opens a migrated store on a fresh database.
func newStore(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, newDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// fixture is a scan with its site, profile and agent.
type fixture struct {
	site    scan.Site
	profile scan.Profile
	agent   scan.Agent
	scan    scan.Scan
}

func newFixture(t testing.TB, st *Store, name string) fixture {
	t.Helper()
	ctx := context.Background()
	var f fixture
	var err error
	f.site, err = st.CreateSite(ctx, scan.Site{Name: name + "-site", Targets: []string{"198.18.0.0/24"}, Exclusions: []string{"198.18.0.1"}})
	must(t, err)
	f.profile, err = st.CreateProfile(ctx, scan.Profile{Name: name + "-profile", Scanner: scan.Nmap, Options: "-sS -p 1-1024"})
	must(t, err)
	f.agent, err = st.CreateAgent(ctx, scan.Agent{Name: name + "-agent", TaskQueue: "agent." + name + "-agent"})
	must(t, err)
	f.scan, err = st.CreateScan(ctx, scan.Scan{Name: name + "-scan", SiteID: f.site.ID, ProfileID: f.profile.ID, AgentID: f.agent.ID, Enabled: true})
	must(t, err)
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want one wrapping %v", err, target)
	}
}

// count runs a count(*) query.
func count(t testing.TB, st *Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}
