package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// TestReparseWorkflow: parse, export, then record the completed run under
// its own scan workflow's ID, in that order, on the server's queue.
func TestReparseWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var r *activities.Results
	env.RegisterActivity(r)
	var order []string
	env.OnActivity(r.ReparseRun, mock.Anything, activities.ReparseRunInput{RunID: 41}).Return(
		func(context.Context, activities.ReparseRunInput) (activities.ReparseRunResult, error) {
			order = append(order, "parse")
			return activities.ReparseRunResult{WorkflowID: "scan-3-run-x", Shards: 2, Hosts: 5, Ports: 9}, nil
		})
	env.OnActivity(r.ExportResults, mock.Anything, activities.ExportResultsInput{RunID: 41}).Return(
		func(context.Context, activities.ExportResultsInput) (activities.ExportResultsResult, error) {
			order = append(order, "export")
			return activities.ExportResultsResult{CSV: testCSV}, nil
		})
	env.OnActivity(r.FinishRun, mock.Anything, activities.FinishRunInput{WorkflowID: "scan-3-run-x", Status: scan.RunCompleted, CSV: &testCSV}).Return(
		func(context.Context, activities.FinishRunInput) (scan.Run, error) {
			order = append(order, "finish")
			return scan.Run{ID: 41, Status: scan.RunCompleted, HostsUp: 4, OpenPorts: 7}, nil
		})
	env.ExecuteWorkflow(ReparseWorkflow, ReparseInput{RunID: 41})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ReparseResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res != (ReparseResult{RunID: 41, Shards: 2, Hosts: 5, Ports: 9, HostsUp: 4, OpenPorts: 7}) {
		t.Errorf("result %+v", res)
	}
	if len(order) != 3 || order[0] != "parse" || order[1] != "export" || order[2] != "finish" {
		t.Errorf("activities ran in order %v", order)
	}
}

// TestReparseWorkflowStopsOnBadOutput: output that no longer parses fails
// the workflow before anything is exported.
func TestReparseWorkflowStopsOnBadOutput(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var r *activities.Results
	env.RegisterActivity(r)
	env.OnActivity(r.ReparseRun, mock.Anything, mock.Anything).Return(activities.ReparseRunResult{},
		temporal.NewNonRetryableApplicationError("truncated", activities.ErrTypeBadOutput, nil)).Once()
	env.ExecuteWorkflow(ReparseWorkflow, ReparseInput{RunID: 41})
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("workflow succeeded")
	}
	env.AssertNotCalled(t, "ExportResults", mock.Anything, mock.Anything)
}
