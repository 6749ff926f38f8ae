package activities_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// TestImportRun parses an imported masscan file, stored in S3 as its run's
// shard output, into PostgreSQL through the same parse as a scanned
// shard's: one host per address, and a second parse (a retry) replaces
// rather than adds. The import scan never starts a run, and a run that is
// no longer being recorded is not parsed as an import.
func TestImportRun(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	env := newEnv(f)
	plan, err := f.store.LoadPlan(ctx, f.scanID)
	if err != nil {
		t.Fatal(err)
	}
	body := masscanXML("127.0.0.1 22,80,443")
	raw, err := objs.Put(ctx, "imports/test-"+t.Name(), strings.NewReader(body), int64(len(body)), "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := f.store.ImportScan(ctx, plan.Site.ID, scan.Masscan)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f.store.ImportScan(ctx, plan.Site.ID, scan.Masscan); err != nil || again.ID != sc.ID || sc.Imports != scan.Masscan {
		t.Fatalf("import scan %+v, again %+v %v", sc, again, err)
	}
	start := time.Unix(1795554300, 0).UTC()
	resolved, err := scan.ResolveSite(plan.Site, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	run, err := f.store.CreateImportedRun(ctx, scan.ImportedRun{ScanID: sc.ID, WorkflowID: "import-test-" + t.Name(), Start: start, End: start.Add(10 * time.Second),
		Targets: resolved, Raw: raw, FileName: "masscan.xml", ImportedBy: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	if !run.CreatedAt.Equal(start) || run.Status != scan.RunRunning {
		t.Fatalf("imported run %+v", run)
	}
	for range 2 {
		got, err := execute[activities.ReparseRunResult](t, env, f.results.ImportRun, activities.ImportRunInput{RunID: run.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got.Shards != 1 || got.Hosts != 1 || got.Ports != 3 || got.WorkflowID != run.WorkflowID || len(got.Options) != 0 {
			t.Fatalf("import parse: %+v", got)
		}
	}
	hosts, err := f.store.RunHosts(ctx, run.ID)
	if err != nil || len(hosts) != 1 || len(hosts[0].Ports) != 3 {
		t.Fatalf("hosts after two parses: %+v %v", hosts, err)
	}

	if _, err := execute[activities.StartRunResult](t, env, f.results.StartRun, activities.StartRunInput{ScanID: sc.ID, WorkflowID: "import-start-" + t.Name()}); err == nil || !strings.Contains(err.Error(), "never runs") {
		t.Fatalf("start of the import scan: %v", err)
	}
	if _, err := activities.EndRun(ctx, f.store, activities.FinishRunInput{WorkflowID: run.WorkflowID, Status: scan.RunCompleted, CSV: &raw}); err != nil {
		t.Fatal(err)
	}
	if _, err := execute[activities.ReparseRunResult](t, env, f.results.ImportRun, activities.ImportRunInput{RunID: run.ID}); err == nil || !strings.Contains(err.Error(), "completed") {
		t.Fatalf("import parse of a completed run: %v", err)
	}
}
