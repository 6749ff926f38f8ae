package web

import (
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

func TestPortsChart(t *testing.T) {
	at := func(h int) *time.Time { v := time.Date(2030, 1, 1, h, 0, 0, 0, time.UTC); return &v }
	if newPortsChart([]scan.Run{{Status: scan.RunFailed, FinishedAt: at(1)}}) != nil {
		t.Fatal("a chart of no completed runs")
	}
	c := newPortsChart([]scan.Run{
		{ID: 3, Status: scan.RunCompleted, FinishedAt: at(10), OpenPorts: 2},
		{ID: 1, Status: scan.RunCompleted, FinishedAt: at(0), OpenPorts: 4},
		{ID: 2, Status: scan.RunCancelled, FinishedAt: at(5), OpenPorts: 9},
		{ID: 4, Status: scan.RunCompleted, FinishedAt: at(5), OpenPorts: 0},
	})
	// By time: run 1 at the left edge and the top (the most ports), run 4
	// half way on the baseline, run 3 at the right edge half way up.
	want := "40,10 375,190 710,100"
	if c.Points != want || c.YMax != 4 || len(c.Dots) != 3 || c.Dots[0].RunID != 1 || c.Dots[2].RunID != 3 {
		t.Fatalf("chart %+v, want points %q", c, want)
	}
	if c.Dots[1].Label != "run #4, 2030-01-01 05:00:00: 0 open ports" {
		t.Errorf("label %q", c.Dots[1].Label)
	}
	one := newPortsChart([]scan.Run{{ID: 7, Status: scan.RunCompleted, FinishedAt: at(1), OpenPorts: 0}})
	if one.Points != "375,190" {
		t.Errorf("single run: %q", one.Points)
	}
}
