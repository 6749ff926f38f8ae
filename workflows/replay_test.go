package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// TestReplay replays histories recorded from real runs (see testdata/README)
// against the current ScanWorkflow. A change that would break runs already
// in flight fails here: it needs workflow.GetVersion, not a silent edit.
// Each is replayed under its own workflow ID, which names a run's children.
func TestReplay(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories in testdata (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			file, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			history, err := client.HistoryFromJSON(file, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatalf("read %s: %v", f, err)
			}
			var opts worker.ReplayWorkflowHistoryOptions
			if events := history.GetEvents(); len(events) > 0 {
				opts.OriginalExecution.ID = events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowId()
			}
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(ScanWorkflow)
			r.RegisterWorkflow(ScanShardsWorkflow)
			if err := r.ReplayWorkflowHistoryWithOptions(nil, history, opts); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
