package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// windowHarness is a pool run of n shards, one at a time, whose scan has
// windows, started at a fixed instant. It logs, with the workflow's clock,
// each scan, parse and status change.
type windowHarness struct {
	*poolHarness
	mu     sync.Mutex
	events []string
	calls  map[int64]int
	// paused is closed when the run is first recorded paused.
	paused     chan struct{}
	pausedOnce sync.Once
}

// testMonday is a Monday, 12:00 UTC.
var testMonday = time.Date(2030, 1, 7, 12, 0, 0, 0, time.UTC)

func newWindowHarness(t *testing.T, n int, start time.Time, zone string, windows ...string) *windowHarness {
	ws, err := scan.ParseWindows(windows)
	if err != nil {
		t.Fatal(err)
	}
	h := &windowHarness{poolHarness: newPoolHarness(t, n, 1), calls: map[int64]int{}, paused: make(chan struct{})}
	h.start.Windows, h.start.TimeZone = ws, zone
	h.env.SetStartTime(start)
	var r *activities.Results
	h.env.OnActivity(r.ParseResults, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ParseResultsInput) (activities.ParseResultsResult, error) {
			h.log("parse %d", in.ShardID)
			return activities.ParseResultsResult{}, nil
		})
	h.env.OnActivity(r.SetRunStatus, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SetRunStatusInput) error {
			if in.Status == scan.RunPaused {
				h.pausedOnce.Do(func() { close(h.paused) })
			}
			if in.WindowOpensAt != nil {
				h.log("%s until %s", in.Status, in.WindowOpensAt.UTC().Format("Mon 15:04"))
			} else {
				h.log("%s", in.Status)
			}
			return nil
		})
	return h
}

func (h *windowHarness) log(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, h.env.Now().UTC().Format("Mon 15:04")+" "+fmt.Sprintf(format, args...))
}

// scanner answers RunScan; the first attempt of shard slow runs until the
// workflow records the run paused, as a long scan stopped then would.
func (h *windowHarness) scanner(slow int64) {
	var a *activities.Agent
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.RunScanInput) (activities.RunScanResult, error) {
			h.mu.Lock()
			h.calls[in.Spec.ShardID]++
			first := h.calls[in.Spec.ShardID] == 1
			h.mu.Unlock()
			h.log("scan %d", in.Spec.ShardID)
			if in.Spec.ShardID == slow && first {
				return stoppedScan(ctx, h.paused, 30*time.Second)
			}
			return scannedShard(in.Spec.ShardID), nil
		})
}

func (h *windowHarness) check(t *testing.T, want ...string) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if got, w := strings.Join(h.events, "|"), strings.Join(want, "|"); got != w {
		t.Errorf("events:\n%s\nwant\n%s", strings.ReplaceAll(got, "|", "\n"), strings.ReplaceAll(w, "|", "\n"))
	}
}

// A run started before its window waits, showing until when, and scans
// once the window opens.
func TestWindowRunWaitsForItsWindow(t *testing.T) {
	eachShape(t, func(t *testing.T, batch, fanout int) {
		h := newWindowHarness(t, 2, testMonday, "UTC", "mon-fri 13:30-15:00")
		h.shape(batch, fanout)
		h.scanner(0)
		res, err := h.run(t)
		if err != nil || res.Status != scan.RunCompleted {
			t.Fatalf("result %+v, error %v", res, err)
		}
		h.check(t, "Mon 12:00 paused until Mon 13:30", "Mon 13:30 running",
			"Mon 13:30 scan 100", "Mon 13:30 parse 100", "Mon 13:30 scan 101", "Mon 13:30 parse 101")
	})
}

// The windows are read in the scan's zone: 13:30 in Berlin is 12:30 UTC
// in January.
func TestWindowRunWaitsInItsZone(t *testing.T) {
	h := newWindowHarness(t, 1, testMonday, "Europe/Berlin", "13:30-15:00")
	h.scanner(0)
	if res, err := h.run(t); err != nil || res.Status != scan.RunCompleted {
		t.Fatalf("result %+v, error %v", res, err)
	}
	h.check(t, "Mon 12:00 paused until Mon 12:30", "Mon 12:30 running", "Mon 12:30 scan 100", "Mon 12:30 parse 100")
}

// A window that closes during a shard stops it, and the run waits; when
// the window opens again the shard runs again, then the rest. Friday
// night's window of a weekday one closes on Saturday morning, and the next
// opens on Monday night.
func TestWindowClosePausesAndOpenResumes(t *testing.T) {
	eachShape(t, func(t *testing.T, batch, fanout int) {
		saturday := time.Date(2030, 1, 12, 5, 59, 59, 0, time.UTC)
		h := newWindowHarness(t, 2, saturday, "UTC", "mon-fri 22:00-06:00")
		h.shape(batch, fanout)
		h.scanner(100)
		res, err := h.run(t)
		if err != nil || res.Status != scan.RunCompleted {
			t.Fatalf("result %+v, error %v", res, err)
		}
		h.check(t, "Sat 05:59 scan 100", "Sat 06:00 paused until Mon 22:00", "Mon 22:00 running",
			"Mon 22:00 scan 100", "Mon 22:00 parse 100", "Mon 22:00 scan 101", "Mon 22:00 parse 101")
	})
}

// An operator's pause holds the run when its window opens; the resume then
// runs it.
func TestWindowOpenKeepsAnOperatorsPause(t *testing.T) {
	eachShape(t, func(t *testing.T, batch, fanout int) {
		h := newWindowHarness(t, 1, testMonday, "UTC", "13:00-15:00")
		h.shape(batch, fanout)
		h.scanner(0)
		h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalPause, nil) }, 10*time.Minute)
		h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalResume, nil) }, 90*time.Minute)
		if res, err := h.run(t); err != nil || res.Status != scan.RunCompleted {
			t.Fatalf("result %+v, error %v", res, err)
		}
		h.check(t, "Mon 12:00 paused until Mon 13:00", "Mon 12:10 paused until Mon 13:00", "Mon 13:00 paused",
			"Mon 13:30 running", "Mon 13:30 scan 100", "Mon 13:30 parse 100")
	})
}

// A run cancelled while it waits for its window ends cancelled, having
// scanned nothing.
func TestWindowCancelWhileWaiting(t *testing.T) {
	eachShape(t, func(t *testing.T, batch, fanout int) {
		h := newWindowHarness(t, 2, testMonday, "UTC", "22:00-06:00")
		h.shape(batch, fanout)
		h.scanner(0)
		h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Hour)
		_, err := h.run(t)
		if !temporal.IsCanceledError(err) {
			t.Fatalf("workflow error = %v, want cancelled", err)
		}
		if len(h.finishes) != 1 || h.finishes[0].Status != scan.RunCancelled {
			t.Errorf("FinishRun = %+v", h.finishes)
		}
		h.check(t, "Mon 12:00 paused until Mon 22:00")
	})
}

// ScanInput.IgnoreWindows runs at once, whatever the windows say.
func TestWindowOverrideRunsNow(t *testing.T) {
	h := newWindowHarness(t, 1, testMonday, "UTC", "22:00-06:00")
	h.scanner(0)
	h.env.ExecuteWorkflow(ScanWorkflow, ScanInput{ScanID: 3, IgnoreWindows: true})
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
		t.Fatalf("workflow completed %v, error %v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
	}
	h.check(t, "Mon 12:00 scan 100", "Mon 12:00 parse 100")
}
