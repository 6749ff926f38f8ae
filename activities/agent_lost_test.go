package activities

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
)

// TestLostTemporal: RunScan tells a cancel (keep what was scanned, report
// cancelled) from the SDK giving up on heartbeats (fail the attempt so the
// shard is dispatched again), by the cause the SDK ends the context with.
func TestLostTemporal(t *testing.T) {
	for _, c := range []struct {
		name  string
		cause error // nil: a plain cancel
		lost  bool
	}{
		{"a plain cancel", nil, false},
		{"the agent stopping", worker.ErrWorkerShutdown, false},
		{"a cancel the workflow asked for", temporal.NewCanceledError(), false},
		{"the activity paused", activity.ErrActivityPaused, false},
		{"the activity reset", activity.ErrActivityReset, false},
		{"the namespace unknown while Temporal restarts", serviceerror.NewNamespaceNotFound("default"), true},
		{"the activity unknown to Temporal", serviceerror.NewNotFound("activity not found"), true},
		{"heartbeats failing past their retries", fmt.Errorf("heartbeat: %w", serviceerror.NewUnavailable("connection refused")), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(c.cause)
			got := lostTemporal(ctx)
			if (got != nil) != c.lost {
				t.Fatalf("lostTemporal = %v, want lost %v", got, c.lost)
			}
			if c.lost && !errors.Is(got, c.cause) {
				t.Errorf("lostTemporal = %v, want the cause %v", got, c.cause)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := lostTemporal(ctx); err != nil {
		t.Errorf("a live context: lostTemporal = %v", err)
	}
}
