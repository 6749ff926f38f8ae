package workers

import (
	"errors"
	"io"
	"log/slog"
	"testing"
)

// TestSyncedAfterStubbornScans: passes that could not list the scans or
// the schedules never make the server ready; passes that saw everything
// but failed on single scans make it ready only after stubbornPasses of
// them in a row, so a transient refusal is retried before readiness while
// one scan Temporal always refuses cannot hold the whole server back.
func TestSyncedAfterStubbornScans(t *testing.T) {
	scanErr := errors.New("scan 7: schedule refused")
	listErr := errors.New("list schedules: unavailable")
	r := &ScheduleReconciler{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for i := 0; i < 10; i++ {
		r.record(false, listErr)
	}
	if err := r.Synced(); !errors.Is(err, ErrSchedulesNotSynced) || !errors.Is(err, listErr) {
		t.Fatalf("after incomplete passes Synced = %v; want not synced with the listing error", err)
	}
	for i := 1; i < stubbornPasses; i++ {
		r.record(true, scanErr)
		if err := r.Synced(); !errors.Is(err, scanErr) {
			t.Fatalf("after %d complete passes failing on one scan Synced = %v; want not synced yet, naming the scan", i, err)
		}
	}
	// An incomplete pass in between starts the count again.
	r.record(false, listErr)
	for i := 0; i < stubbornPasses-1; i++ {
		r.record(true, scanErr)
	}
	if r.Synced() == nil {
		t.Fatal("synced although an incomplete pass broke the run of stubborn passes")
	}
	r.record(true, scanErr)
	if err := r.Synced(); err != nil {
		t.Fatalf("after %d complete passes failing on one scan Synced = %v; want ready", stubbornPasses, err)
	}
	r.record(false, listErr)
	if err := r.Synced(); err != nil {
		t.Fatalf("a later failed pass made a synced server unready: %v", err)
	}

	clean := &ScheduleReconciler{Logger: r.Logger}
	clean.record(true, nil)
	if err := clean.Synced(); err != nil {
		t.Fatalf("after a clean pass Synced = %v", err)
	}
}
