package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// TestRunActionForms: a run's page offers the actions its state allows —
// pause while it runs, resume when paused, retry when failed or cancelled,
// parse again when completed (or failed with stored output) — each a CSRF form that reaches the API
// handler; an action the state does not allow is refused with the reason.
func TestRunActionForms(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	_, session, csrf := e.sessionFor(t, accounts.Operator)
	ctx := context.Background()
	buttons := []string{"pause-run", "resume-run", "retry-run", "reparse-run", "cancel-run"}
	cases := []struct {
		status  scan.RunStatus
		offered []string
		action  string
		// check looks at what the action did; newRun is the run the page
		// went to when it is another.
		check func(t *testing.T, r runJSON, location string)
		// refused is an action the state does not allow.
		refused string
	}{
		{scan.RunRunning, []string{"pause-run", "cancel-run"}, "pause", func(t *testing.T, r runJSON, _ string) {
			e.wantSignal(t, r.WorkflowID+" "+workflows.SignalPause)
		}, "retry"},
		{scan.RunPaused, []string{"resume-run", "cancel-run"}, "resume", func(t *testing.T, r runJSON, _ string) {
			e.wantSignal(t, r.WorkflowID+" "+workflows.SignalResume)
		}, "reparse"},
		{scan.RunFailed, []string{"retry-run"}, "retry", func(t *testing.T, r runJSON, location string) {
			if location == fmt.Sprintf("/runs/%d", r.ID) || !strings.HasPrefix(location, "/runs/") {
				t.Errorf("retry went to %s, not to a new run", location)
			}
		}, "pause"},
		{scan.RunCompleted, []string{"reparse-run"}, "reparse", func(t *testing.T, r runJSON, _ string) {
			e.temporal.mu.Lock()
			defer e.temporal.mu.Unlock()
			if !e.temporal.started[workflows.ReparseWorkflowID(r.ID)] {
				t.Error("no reparse workflow was started")
			}
		}, "resume"},
	}
	for _, c := range cases {
		t.Run(string(c.status), func(t *testing.T) {
			// A run's workflow ID holds the time it starts at: each run
			// (and the retry's) starts at a new one.
			e.now = e.now.Add(time.Minute)
			r := e.startRun(t, s.ID)
			e.now = e.now.Add(time.Minute)
			var err error
			if c.status == scan.RunCompleted {
				storeOutput(t, f, r.ID)
				_, err = testStore.CompleteRun(ctx, r.ID, scan.BlobRef{Bucket: "b", Key: "x.csv", Size: 1, SHA256: sha})
			} else {
				err = testStore.SetRunStatus(ctx, r.ID, c.status, "")
			}
			if err != nil {
				t.Fatal(err)
			}
			path := fmt.Sprintf("/runs/%d", r.ID)
			body := e.page(t, session, "GET", path, nil).Body.String()
			for _, b := range buttons {
				want := strings.Contains(strings.Join(c.offered, " "), b)
				if got := strings.Contains(body, `id="`+b+`"`); got != want {
					t.Errorf("button %s offered: %v, want %v", b, got, want)
				}
			}
			w := e.form(t, session, csrf, path+"/"+c.action, nil)
			if w.Code != http.StatusSeeOther {
				t.Fatalf("%s: %d %s", c.action, w.Code, w.Body.String())
			}
			c.check(t, r, w.Header().Get("Location"))
			w = e.form(t, session, csrf, path+"/"+c.refused, nil)
			if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), fmt.Sprintf("run %d", r.ID)) {
				t.Errorf("%s of a %s run: %d", c.refused, c.status, w.Code)
			}
		})
	}

	// A failed run with stored output may also be parsed again.
	e.now = e.now.Add(time.Minute)
	failed := e.startRun(t, s.ID)
	storeOutput(t, f, failed.ID)
	if err := testStore.SetRunStatus(ctx, failed.ID, scan.RunFailed, "agent lost"); err != nil {
		t.Fatal(err)
	}
	body := e.page(t, session, "GET", fmt.Sprintf("/runs/%d", failed.ID), nil).Body.String()
	for _, b := range []string{"retry-run", "reparse-run"} {
		if !strings.Contains(body, `id="`+b+`"`) {
			t.Errorf("a failed run with output is not offered %s", b)
		}
	}

	// A viewer sees the run but no action.
	e.now = e.now.Add(time.Minute)
	r := e.startRun(t, s.ID)
	_, viewer, _ := e.sessionFor(t, accounts.Viewer)
	body = e.page(t, viewer, "GET", fmt.Sprintf("/runs/%d", r.ID), nil).Body.String()
	for _, b := range buttons {
		if strings.Contains(body, `id="`+b+`"`) {
			t.Errorf("a viewer is offered %s", b)
		}
	}
}

// wantSignal fails unless the signal reached the workflow.
func (e *testEnv) wantSignal(t *testing.T, signal string) {
	t.Helper()
	e.temporal.mu.Lock()
	defer e.temporal.mu.Unlock()
	for _, s := range e.temporal.signals {
		if s == signal {
			return
		}
	}
	t.Errorf("signal %q did not reach Temporal; got %v", signal, e.temporal.signals)
}
