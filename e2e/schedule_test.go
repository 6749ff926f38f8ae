package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// TestScheduledScanEndToEnd runs the real binary: a one-shot scan is
// scheduled through the API; its Temporal Schedule is deleted behind the
// server's back and the server restarted, whose reconcile pass at start
// brings the schedule back from PostgreSQL; at its time the schedule starts
// the run, the agent scans a loopback listener with nmap, and the scan's
// API shows the run as completed.
func TestScheduledScanEndToEnd(t *testing.T) {
	port := loopbackPort(t)
	httpPort, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", httpPort)
	env := stackEnv(listen)
	base := "http://" + listen
	server := startScantron(t, env, "server")
	waitReady(t, base, server)
	c := adminAPI(t, base)
	var agent struct {
		scan.Agent
		Credential string `json:"credential"`
	}
	c.do("POST", "/agents", map[string]any{"name": "e2e-sched-agent"}, http.StatusCreated, &agent)
	startAgent(t, env, "e2e-sched-agent", agent.Credential)
	var site scan.Site
	c.do("POST", "/sites", map[string]any{"name": "loopback-sched", "targets": []string{"127.0.0.1"}}, http.StatusCreated, &site)
	var profile scan.Profile
	c.do("POST", "/profiles", map[string]any{"name": "connect-sched", "scanner": "nmap", "options": fmt.Sprintf("-n -Pn -sT -p %d", port)}, http.StatusCreated, &profile)
	// Far enough ahead for the schedule to be deleted and the server
	// restarted first, also on a busy machine.
	fireAt := time.Now().Add(time.Minute).Truncate(time.Second)
	var sc struct {
		scan.Scan
		Schedule struct {
			Form          string      `json:"form"`
			NextFireTimes []time.Time `json:"next_fire_times"`
		} `json:"schedule"`
	}
	c.do("POST", "/scans", map[string]any{"name": "loopback-once", "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID,
		"start_at": fireAt.Format(time.RFC3339), "time_zone": "Europe/Berlin"}, http.StatusCreated, &sc)
	if len(sc.Schedule.NextFireTimes) != 1 || !sc.Schedule.NextFireTimes[0].Equal(fireAt) {
		t.Fatalf("one-shot schedule %+v, want one fire at %v", sc.Schedule, fireAt)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tc, err := stack.Temporal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	h := tc.ScheduleClient().GetHandle(ctx, workflows.ScanScheduleID(sc.ID))
	if err := h.Delete(ctx); err != nil {
		t.Fatalf("delete the scan's schedule: %v", err)
	}
	server.Stop(syscall.SIGTERM)
	server = startScantron(t, env, "server")
	waitReady(t, base, server)
	// Ready means the schedules are in step: no waiting for a reconcile.
	if _, err := h.Describe(ctx); err != nil {
		t.Fatalf("the restarted server did not bring the schedule back: %v", err)
	}
	if !time.Now().Before(fireAt) {
		t.Fatalf("the restart took until %v, past the fire time %v: a schedule made now would never fire", time.Now().Format(time.TimeOnly), fireAt.Format(time.TimeOnly))
	}

	deadline, _ := ctx.Deadline()
	run := c.waitScheduledRun(sc.ID, deadline)
	wantID := workflows.ScanScheduledWorkflowID(sc.ID) + "-" + fireAt.UTC().Format(time.RFC3339)
	if run.Status != scan.RunCompleted || run.OpenPorts != 1 || run.WorkflowID != wantID {
		t.Errorf("scheduled run %+v; want completed with 1 open port, workflow %s", run, wantID)
	}
	if strings.Contains(server.Logs(), "level=ERROR") {
		t.Errorf("server logged errors:\n%s", server.Logs())
	}
}
