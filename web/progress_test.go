package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/scantron/scantron/scan"
)

// TestRunProgress: a running run shows its scanners' last heartbeats, read
// from Temporal, in the API and on its page.
func TestRunProgress(t *testing.T) {
	e := newEnv(t)
	s := e.makeScan(t, makeFixtures(t, e))
	r := e.startRun(t, s.ID)

	details, err := converter.GetDefaultDataConverter().ToPayloads(scan.Progress{
		ShardID: 7, Phase: "scanning", Percent: 42.5, Task: "SYN Stealth Scan", Agent: "edge-1", ShardAttempt: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	beat := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	e.temporal.pending = map[string][]*workflowpb.PendingActivityInfo{r.WorkflowID: {
		{ActivityType: &commonpb.ActivityType{Name: "StartRun"}},
		{
			ActivityType:      &commonpb.ActivityType{Name: "RunScan"},
			HeartbeatDetails:  details,
			LastHeartbeatTime: timestamppb.New(beat),
			LastStartedTime:   timestamppb.New(beat.Add(-time.Minute)),
			Attempt:           2,
			LastFailure:       &failurepb.Failure{Message: "activity Heartbeat timeout"},
		},
	}}

	var got runDetail
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/runs/%d", r.ID), "", http.StatusOK, &got)
	if len(got.Progress) != 1 {
		t.Fatalf("progress = %+v, want the one scanner", got.Progress)
	}
	p := got.Progress[0]
	if p.ShardID != 7 || p.Percent != 42.5 || p.Task != "SYN Stealth Scan" || p.Agent != "edge-1" || p.Attempt != 3 ||
		!p.LastHeartbeat.Equal(beat) || !strings.Contains(p.LastFailure, "Heartbeat timeout") || p.Waiting {
		t.Errorf("progress = %+v", p)
	}
	page := e.do(t, "GET", fmt.Sprintf("/runs/%d", r.ID), "").Body.String()
	for _, want := range []string{"In progress", "42.5%", "SYN Stealth Scan", "edge-1", "(retried)"} {
		if !strings.Contains(page, want) {
			t.Errorf("run page lacks %q", want)
		}
	}

	// Temporal away: the run is still shown, without progress.
	e.temporal.pending = nil
	e.temporal.started = nil
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/runs/%d", r.ID), "", http.StatusOK, &got)
	if len(got.Progress) != 0 {
		t.Errorf("progress without Temporal = %+v", got.Progress)
	}
}
