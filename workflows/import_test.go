package workflows

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// TestImportWorkflow: the runs of an import are recorded one after the
// other, in the order given (oldest file first), each parsed, exported,
// completed under its own workflow ID, then diffed with its neighbours; a
// file that cannot be parsed fails its run, and the next is still
// recorded.
func TestImportWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var r *activities.Results
	var c *activities.Changes
	env.RegisterActivity(r)
	env.RegisterActivity(c)
	wid := ImportWorkflowID("0123456789abcdef")
	runs := []ImportedRun{{RunID: 7, WorkflowID: ImportRunWorkflowID(wid, 0)}, {RunID: 5, WorkflowID: ImportRunWorkflowID(wid, 1)}, {RunID: 9, WorkflowID: ImportRunWorkflowID(wid, 2)}}
	var order []string
	note := func(s string, id int64) { order = append(order, fmt.Sprintf("%s %d", s, id)) }
	env.OnActivity(r.ImportRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ImportRunInput) (activities.ReparseRunResult, error) {
			note("parse", in.RunID)
			if in.RunID == 5 {
				return activities.ReparseRunResult{}, temporal.NewNonRetryableApplicationError("file is cut off", activities.ErrTypeBadOutput, nil)
			}
			wf := runs[0].WorkflowID
			if in.RunID == 9 {
				wf = runs[2].WorkflowID
			}
			return activities.ReparseRunResult{WorkflowID: wf, Shards: 1, Hosts: 2, Ports: 3, Status: scan.RunRunning}, nil
		})
	env.OnActivity(r.ExportResults, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ExportResultsInput) (activities.ExportResultsResult, error) {
			note("export", in.RunID)
			return activities.ExportResultsResult{CSV: testCSV}, nil
		})
	env.OnActivity(r.FinishRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishRunInput) (scan.Run, error) {
			for _, run := range runs {
				if run.WorkflowID == in.WorkflowID {
					note("finish "+string(in.Status), run.RunID)
					return scan.Run{ID: run.RunID, Status: in.Status, HostsUp: 2, OpenPorts: 3, Error: in.Error}, nil
				}
			}
			return scan.Run{}, fmt.Errorf("no run of workflow %q", in.WorkflowID)
		})
	env.OnActivity(c.RecordChanges, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordChangesInput) (activities.RecordChangesResult, error) {
			note("diff", in.RunID)
			return activities.RecordChangesResult{}, nil
		})
	env.OnActivity(c.RecordNextChanges, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordChangesInput) (activities.RecordNextChangesResult, error) {
			note("next diff", in.RunID)
			return activities.RecordNextChangesResult{}, nil
		})
	env.ExecuteWorkflow(ImportWorkflow, ImportInput{Runs: runs})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ImportResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"parse 7", "export 7", "finish completed 7", "diff 7", "next diff 7",
		"parse 5", "finish failed 5",
		"parse 9", "export 9", "finish completed 9", "diff 9", "next diff 9",
	}
	if !slices.Equal(order, want) {
		t.Errorf("activities ran in order\n%v\nwant\n%v", order, want)
	}
	if len(res.Runs) != 3 || res.Runs[0].Status != scan.RunCompleted || res.Runs[1].Status != scan.RunFailed || res.Runs[2].Status != scan.RunCompleted ||
		res.Runs[0].Hosts != 2 || res.Runs[0].HostsUp != 2 {
		t.Errorf("result %+v", res)
	}
}

// TestRunWorkflow: every run of an import is ended by the import's
// workflow; other runs by their own.
func TestRunWorkflow(t *testing.T) {
	wid := ImportWorkflowID("0123456789abcdef")
	for in, want := range map[string]string{
		ImportRunWorkflowID(wid, 0):                                       wid,
		ImportRunWorkflowID(wid, 3):                                       wid,
		ScanRunWorkflowID(4, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)): ScanRunWorkflowID(4, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
		ReparseWorkflowID(4):                                              ReparseWorkflowID(4),
		"import":                                                          "import",
	} {
		if got := RunWorkflow(in); got != want {
			t.Errorf("RunWorkflow(%q) = %q, want %q", in, got, want)
		}
	}
}
