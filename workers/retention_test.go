package workers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
	"github.com/scantron/scantron/storage/objects"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// TestRetentionDeletesOldRuns uses real PostgreSQL and S3: finished runs
// older than the age lose their rows and their objects; recent runs, and
// old runs still in progress, keep both.
func TestRetentionDeletesOldRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: dir + "/pg"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	s3, err := devstack.StartS3(ctx, devstack.S3Options{Dir: dir + "/s3", Bucket: "scantron"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s3.Stop() })
	store, err := postgres.Open(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	objs, err := objects.New(objects.Config{Endpoint: s3.Endpoint, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: s3.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	if err := objs.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}

	site, _ := store.CreateSite(ctx, scan.Site{Name: "s", Targets: []string{"127.0.0.1"}})
	prof, _ := store.CreateProfile(ctx, scan.Profile{Name: "p", Scanner: scan.Nmap, Options: "-n"})
	agent, _ := store.CreateAgent(ctx, scan.Agent{Name: "a", TaskQueue: workflows.AgentTaskQueue("a")})
	sc, err := store.CreateScan(ctx, scan.Scan{Name: "sc", SiteID: site.ID, ProfileID: prof.ID, AgentID: agent.ID})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	exportDir := t.TempDir()
	targets := []activities.ExportTarget{activities.DirTarget{Dir: exportDir}, activities.PrefixTarget{Objects: objs, Prefix: "forward"}}
	// makeRun creates a run of the given age and status with a shard, a
	// host and two objects.
	makeRun := func(name string, age time.Duration, status scan.RunStatus) scan.Run {
		t.Helper()
		run, err := store.CreateRun(ctx, sc.ID, "retention-"+name)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := store.CreateShard(ctx, run.ID, 0, agent.ID, []string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.ReplaceShardResults(ctx, run.ID, sh.ID, 1, feedOne("127.0.0.1")); err != nil {
			t.Fatal(err)
		}
		if status != scan.RunRunning {
			if err := store.SetRunStatus(ctx, run.ID, status, ""); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.Pool().Exec(ctx, `UPDATE runs SET created_at = $2 WHERE id = $1`, run.ID, now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{scan.RawKey(run.ID, sh.ID, 1, scan.Nmap), scan.ExportKey(run.ID, scan.CSVExport)} {
			if _, err := objs.Put(ctx, key, strings.NewReader("x"), 1, "text/plain"); err != nil {
				t.Fatal(err)
			}
		}
		for _, target := range targets {
			for _, export := range []string{scan.CSVExport, scan.XMLExport} {
				if err := target.Write(ctx, scan.ExportFileName(run.ID, export), strings.NewReader("x")); err != nil {
					t.Fatal(err)
				}
			}
		}
		return run
	}
	exportsLeft := func(run scan.Run) int {
		n := 0
		for _, export := range []string{scan.CSVExport, scan.XMLExport} {
			name := scan.ExportFileName(run.ID, export)
			if _, err := os.Stat(filepath.Join(exportDir, name)); err == nil {
				n++
			}
			if _, _, err := objs.Open(ctx, "forward/"+name); err == nil {
				n++
			}
		}
		return n
	}
	oldDone := makeRun("old-done", 400*24*time.Hour, scan.RunFailed)
	oldCancelled := makeRun("old-cancelled", 366*24*time.Hour, scan.RunCancelled)
	oldRunning := makeRun("old-running", 400*24*time.Hour, scan.RunRunning)
	recent := makeRun("recent", 10*24*time.Hour, scan.RunFailed)

	ret := &Retention{Store: store, Objects: objs, Targets: targets, Age: 365 * 24 * time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n, err := ret.Once(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Once = %d, %v; want 2 runs deleted", n, err)
	}
	for _, tc := range []struct {
		run  scan.Run
		kept bool
	}{{oldDone, false}, {oldCancelled, false}, {oldRunning, true}, {recent, true}} {
		_, err := store.GetRun(ctx, tc.run.ID)
		if (err == nil) != tc.kept {
			t.Errorf("run %s: kept %v, want %v (%v)", tc.run.WorkflowID, err == nil, tc.kept, err)
		}
		var hosts int
		if err := store.Pool().QueryRow(ctx, `SELECT count(*) FROM hosts WHERE run_id = $1`, tc.run.ID).Scan(&hosts); err != nil {
			t.Fatal(err)
		}
		if (hosts == 1) != tc.kept {
			t.Errorf("run %s: %d hosts left", tc.run.WorkflowID, hosts)
		}
		_, _, err = objs.Open(ctx, scan.ExportKey(tc.run.ID, scan.CSVExport))
		if (err == nil) != tc.kept {
			t.Errorf("run %s: export kept %v, want %v", tc.run.WorkflowID, err == nil, tc.kept)
		}
		if left, want := exportsLeft(tc.run), map[bool]int{true: 4, false: 0}[tc.kept]; left != want {
			t.Errorf("run %s: %d export copies left, want %d", tc.run.WorkflowID, left, want)
		}
		n, err := objs.DeletePrefix(ctx, fmt.Sprintf("runs/%d/", tc.run.ID))
		if err != nil || (n == 2) != tc.kept {
			t.Errorf("run %s: %d objects were left", tc.run.WorkflowID, n)
		}
	}
	if n, err := ret.Once(ctx); err != nil || n != 0 {
		t.Errorf("second pass: %d, %v", n, err)
	}
}

func feedOne(addr string) func(func(report.Host) error) error {
	return func(emit func(report.Host) error) error {
		return emit(report.Host{Addresses: []report.Address{{Addr: addr, Type: "ipv4"}}, Status: "up"})
	}
}
