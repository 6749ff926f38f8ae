package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestReadyzFollowsItsChecks: /readyz answers 503 naming the first failing
// check, with its public reason and not the error's details, until every
// check passes; /healthz answers 200 throughout, with no login for either.
func TestReadyzFollowsItsChecks(t *testing.T) {
	var dbDown, schedulesPending atomic.Bool
	dbDown.Store(true)
	schedulesPending.Store(true)
	checks := []ReadyCheck{
		{Name: "database", NotReady: "the database does not answer", Check: func(context.Context) error {
			if dbDown.Load() {
				return errors.New("dial tcp 10.1.2.3:5432: secret detail")
			}
			return nil
		}},
		{Name: "schedules", NotReady: "the schedules have not been reconciled since start", Check: func(context.Context) error {
			if schedulesPending.Load() {
				return errors.New("first reconcile pending")
			}
			return nil
		}},
	}
	e := newEnv(t, func(_ *Config, d *Deps) { d.Ready = checks })
	type answer struct {
		Status string `json:"status"`
		Check  string `json:"check"`
		Reason string `json:"reason"`
	}
	probe := func(path string) (int, answer) {
		t.Helper()
		w := e.doAs(t, "", "GET", path, "")
		var a answer
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatalf("GET %s: %d %q is not JSON: %v", path, w.Code, w.Body.String(), err)
		}
		if strings.Contains(w.Body.String(), "secret detail") {
			t.Errorf("GET %s leaks the error: %s", path, w.Body.String())
		}
		return w.Code, a
	}
	steps := []struct {
		name         string
		db, pending  bool
		code         int
		check, state string
	}{
		{"all down", true, true, http.StatusServiceUnavailable, "database", "not ready"},
		{"database up, schedules pending", false, true, http.StatusServiceUnavailable, "schedules", "not ready"},
		{"ready", false, false, http.StatusOK, "", "ready"},
		{"database lost again", true, false, http.StatusServiceUnavailable, "database", "not ready"},
	}
	for _, st := range steps {
		dbDown.Store(st.db)
		schedulesPending.Store(st.pending)
		code, a := probe("/readyz")
		if code != st.code || a.Status != st.state || a.Check != st.check {
			t.Errorf("%s: /readyz = %d %+v, want %d %q check %q", st.name, code, a, st.code, st.state, st.check)
		}
		for _, rc := range checks {
			if a.Check == rc.Name && a.Reason != rc.NotReady {
				t.Errorf("%s: reason %q, want %q", st.name, a.Reason, rc.NotReady)
			}
		}
		if code, a := probe("/healthz"); code != http.StatusOK || a.Status != "ok" {
			t.Errorf("%s: /healthz = %d %+v, want 200 ok", st.name, code, a)
		}
	}
	if !strings.Contains(e.logs.String(), "secret detail") {
		t.Error("the failing check's error is not in the log")
	}
	// A server that is starting is not an error: its 503s are not logged
	// as one.
	if strings.Contains(e.logs.String(), "level=ERROR") {
		t.Errorf("a not-ready probe was logged as an error:\n%s", e.logs.String())
	}
}

func TestNewRefusesIncompleteReadyCheck(t *testing.T) {
	deps := Deps{Store: testStore, Objects: &fakeObjects{}, Temporal: &fakeTemporal{},
		Ready: []ReadyCheck{{Name: "database", Check: func(context.Context) error { return nil }}}}
	if _, err := New(Config{}, deps); err == nil || !strings.Contains(err.Error(), "NotReady") {
		t.Errorf("New accepted a ReadyCheck without a reason: %v", err)
	}
}
