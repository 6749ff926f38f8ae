package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

var (
	discoverSpec = scan.Spec{RunID: 41, ShardID: 7, Scanner: scan.Masscan, Options: []string{"-p1-1024"}, Targets: []string{"198.18.0.0/24"}}
	discoverRaw  = scan.BlobRef{Bucket: "scantron", Key: "runs/41/7/1/masscan.xml", Size: 300, SHA256: strings.Repeat("c", 64)}
	followRaw    = scan.BlobRef{Bucket: "scantron", Key: "runs/41/7/3/nmap.xml", Size: 900, SHA256: strings.Repeat("d", 64)}
	followSpec   = scan.Spec{RunID: 41, ShardID: 7, Scanner: scan.Nmap, Options: []string{"-sV", "-p", "T:22,80"}, Targets: []string{"198.18.0.2", "198.18.0.9"}}
)

func twoStageHarness(t *testing.T) *harness {
	return newHarnessWith(t, activities.StartRunResult{
		RunID: 41, Specs: []scan.Spec{discoverSpec}, AgentName: "edge-1", TaskQueue: AgentTaskQueue("edge-1"),
		Timeouts: activities.Timeouts{ScheduleToStart: time.Minute, StartToClose: time.Hour, Heartbeat: 20 * time.Second},
		Follow:   &activities.FollowStage{Scanner: scan.Nmap, Options: []string{"-sV"}},
	})
}

// A two-stage shard: the discovery runs once; the second stage gets the
// pairs it found (through PlanFollow, by reference to the stored output)
// and, when it fails, is dispatched again on its own; its output is the
// one parsed, as nmap's.
func TestScanWorkflowTwoStages(t *testing.T) {
	h := twoStageHarness(t)
	var a *activities.Agent
	var r *activities.Results
	var ran []scan.Scanner
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RunScanInput) (activities.RunScanResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			ran = append(ran, in.Spec.Scanner)
			switch {
			case in.Spec.Scanner == scan.Masscan:
				return activities.RunScanResult{Raw: discoverRaw, Agent: "edge-1", Attempt: 1}, nil
			case len(ran) == 2:
				return activities.RunScanResult{}, errors.New("nmap exited with status 1")
			}
			return activities.RunScanResult{Raw: followRaw, Agent: "edge-1", Attempt: 3}, nil
		})
	var planned []activities.PlanFollowInput
	h.env.OnActivity(r.PlanFollow, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PlanFollowInput) (activities.PlanFollowResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			planned = append(planned, in)
			spec := followSpec
			return activities.PlanFollowResult{Spec: &spec, Hosts: 2, Pairs: 3}, nil
		})
	h.env.OnActivity(r.ParseResults, mock.Anything, activities.ParseResultsInput{RunID: 41, ShardID: 7, Attempt: 3, Raw: followRaw, Agent: "edge-1", Nonce: testNonce(7, 3)}).
		Return(activities.ParseResultsResult{Hosts: 2, Ports: 3}, nil).Once()
	h.env.OnActivity(r.ExportResults, mock.Anything, activities.ExportResultsInput{RunID: 41}).
		Return(activities.ExportResultsResult{CSV: testCSV, Rows: 3}, nil).Once()

	res, err := h.run()
	if err != nil || res.Status != scan.RunCompleted {
		t.Fatalf("result %+v, error %v; want completed", res, err)
	}
	if want := []scan.Scanner{scan.Masscan, scan.Nmap, scan.Nmap}; !slices.Equal(ran, want) {
		t.Errorf("scanners ran %v, want %v: the discovery once, the failed second stage again", ran, want)
	}
	if len(planned) != 1 {
		t.Fatalf("PlanFollow called %d times, want once", len(planned))
	}
	want := activities.ParseResultsInput{RunID: 41, ShardID: 7, Attempt: 1, Raw: discoverRaw, Agent: "edge-1", Scanner: scan.Masscan, Nonce: testNonce(7, 1)}
	if got := planned[0].Found; got.RunID != want.RunID || got.ShardID != want.ShardID || got.Attempt != want.Attempt || got.Raw != want.Raw ||
		got.Agent != want.Agent || got.Scanner != want.Scanner || got.Nonce != want.Nonce {
		t.Errorf("PlanFollow found %+v, want %+v", got, want)
	}
	if planned[0].Follow.Scanner != scan.Nmap || !slices.Equal(planned[0].Follow.Options, []string{"-sV"}) {
		t.Errorf("PlanFollow follow %+v", planned[0].Follow)
	}
	// Three dispatches, attempts counting on across the stages so that
	// each has its own objects; the second stage's carry the found hosts.
	if len(h.dispatches) != 3 {
		t.Fatalf("%d dispatches, want 3", len(h.dispatches))
	}
	for i, d := range h.dispatches {
		if d.Attempt != i+1 {
			t.Errorf("dispatch %d is attempt %d", i, d.Attempt)
		}
		if i > 0 && (d.Spec.Scanner != scan.Nmap || !slices.Equal(d.Spec.Targets, followSpec.Targets)) {
			t.Errorf("second stage dispatch %d: %+v", i, d.Spec)
		}
	}
	if h.dispatches[0].Spec.Scanner != scan.Masscan {
		t.Errorf("first dispatch %+v", h.dispatches[0].Spec)
	}
}

// A discovery that found nothing open ends the shard there: its own output
// (no hosts) is parsed as its scanner's, and no second stage is sent.
func TestScanWorkflowTwoStagesNothingFound(t *testing.T) {
	h := twoStageHarness(t)
	var a *activities.Agent
	var r *activities.Results
	h.env.OnActivity(a.RunScan, mock.Anything, mock.Anything).Return(activities.RunScanResult{Raw: discoverRaw, Agent: "edge-1", Attempt: 1}, nil).Once()
	h.env.OnActivity(r.PlanFollow, mock.Anything, mock.Anything).Return(activities.PlanFollowResult{}, nil).Once()
	h.env.OnActivity(r.ParseResults, mock.Anything, activities.ParseResultsInput{RunID: 41, ShardID: 7, Attempt: 1, Raw: discoverRaw, Agent: "edge-1", Scanner: scan.Masscan, Nonce: testNonce(7, 1)}).
		Return(activities.ParseResultsResult{}, nil).Once()
	h.env.OnActivity(r.ExportResults, mock.Anything, activities.ExportResultsInput{RunID: 41}).
		Return(activities.ExportResultsResult{CSV: testCSV}, nil).Once()
	res, err := h.run()
	if err != nil || res.Status != scan.RunCompleted {
		t.Fatalf("result %+v, error %v; want completed", res, err)
	}
	if len(h.dispatches) != 1 {
		t.Errorf("%d dispatches, want the discovery's alone", len(h.dispatches))
	}
}
