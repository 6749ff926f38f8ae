package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// A run started by a Temporal Schedule tells StartRun when it was scheduled
// and when its workflow started, for the fire-lag metric; a run started by
// hand tells neither.
func TestScanWorkflowPassesTheScheduledTime(t *testing.T) {
	scheduled := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		scheduled bool
	}{{"scheduled", true}, {"by hand", false}} {
		t.Run(tc.name, func(t *testing.T) {
			h := &harness{queues: map[string][]string{}}
			h.env = h.NewTestWorkflowEnvironment()
			started := scheduled.Add(1500 * time.Millisecond)
			h.env.SetStartTime(started)
			if tc.scheduled {
				if err := h.env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(scheduledStartTime.ValueSet(scheduled))); err != nil {
					t.Fatal(err)
				}
			}
			var r *activities.Results
			h.env.RegisterActivity(r)
			h.mockAfterRun()
			var got activities.StartRunInput
			h.env.OnActivity(r.StartRun, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.StartRunInput) (activities.StartRunResult, error) {
				got = in
				return activities.StartRunResult{}, temporal.NewNonRetryableApplicationError("stop here", activities.ErrTypeInvalidSpec, nil)
			})
			h.env.OnActivity(r.FinishRun, mock.Anything, mock.Anything).Return(scan.Run{Status: scan.RunFailed}, nil)
			h.run()
			if !tc.scheduled {
				if got.ScheduledAt != nil || got.StartedAt != nil {
					t.Fatalf("a run by hand passed %v, %v", got.ScheduledAt, got.StartedAt)
				}
				return
			}
			if got.ScheduledAt == nil || !got.ScheduledAt.Equal(scheduled) || got.StartedAt == nil || got.StartedAt.Sub(*got.ScheduledAt) != 1500*time.Millisecond {
				t.Fatalf("StartRun got scheduled %v, started %v; want %v and 1.5 s later", got.ScheduledAt, got.StartedAt, scheduled)
			}
		})
	}
}
