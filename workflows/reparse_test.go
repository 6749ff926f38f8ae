package workflows

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// TestReparseWorkflow: parse, export, record the completed run under its
// own scan workflow's ID, then work out its diff and assets and its
// successor's again, with the profile's options, in that order, on the
// server's queue.
func TestReparseWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var r *activities.Results
	var c *activities.Changes
	env.RegisterActivity(r)
	env.RegisterActivity(c)
	var order []string
	opts := []string{"-p", "22"}
	env.OnActivity(r.ReparseRun, mock.Anything, activities.ReparseRunInput{RunID: 41}).Return(
		func(context.Context, activities.ReparseRunInput) (activities.ReparseRunResult, error) {
			order = append(order, "parse")
			return activities.ReparseRunResult{WorkflowID: "scan-3-run-x", Shards: 2, Hosts: 5, Ports: 9, Status: scan.RunCompleted, Options: opts}, nil
		})
	env.OnActivity(c.RecordChanges, mock.Anything, activities.RecordChangesInput{RunID: 41, Options: opts}).Return(
		func(context.Context, activities.RecordChangesInput) (activities.RecordChangesResult, error) {
			order = append(order, "diff")
			return activities.RecordChangesResult{}, nil
		})
	next := int64(42)
	env.OnActivity(c.RecordNextChanges, mock.Anything, activities.RecordChangesInput{RunID: 41, Options: opts}).Return(
		func(context.Context, activities.RecordChangesInput) (activities.RecordNextChangesResult, error) {
			order = append(order, "next diff")
			return activities.RecordNextChangesResult{NextRunID: &next}, nil
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
	if res.NextRunID == nil || *res.NextRunID != 42 {
		t.Errorf("next run %v, want 42", res.NextRunID)
	}
	res.NextRunID = nil
	if res != (ReparseResult{RunID: 41, Status: scan.RunCompleted, Shards: 2, Hosts: 5, Ports: 9, HostsUp: 4, OpenPorts: 7}) {
		t.Errorf("result %+v", res)
	}
	if want := []string{"parse", "export", "finish", "diff", "next diff"}; !slices.Equal(order, want) {
		t.Errorf("activities ran in order %v, want %v", order, want)
	}
}

// TestReparseWorkflowFailedRun: a failed run is parsed and recounted, and
// stays failed: no export, no completion, no diff.
func TestReparseWorkflowFailedRun(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var r *activities.Results
	var c *activities.Changes
	env.RegisterActivity(r)
	env.RegisterActivity(c)
	env.OnActivity(r.ReparseRun, mock.Anything, activities.ReparseRunInput{RunID: 41}).Return(
		activities.ReparseRunResult{WorkflowID: "scan-3-run-x", Shards: 1, Hosts: 2, Ports: 3, Status: scan.RunFailed, HostsUp: 2, OpenPorts: 3}, nil).Once()
	env.ExecuteWorkflow(ReparseWorkflow, ReparseInput{RunID: 41})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ReparseResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res != (ReparseResult{RunID: 41, Status: scan.RunFailed, Shards: 1, Hosts: 2, Ports: 3, HostsUp: 2, OpenPorts: 3}) {
		t.Errorf("result %+v", res)
	}
	for _, name := range []string{"ExportResults", "FinishRun", "RecordChanges", "RecordNextChanges"} {
		env.AssertNotCalled(t, name, mock.Anything, mock.Anything)
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
