package web

import (
	"slices"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

func TestChartPoints(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2030, 1, 1, h, 0, 0, 0, time.UTC) }
	if newChart("c", "none", []string{"a"}, nil) != nil {
		t.Fatal("a chart of no runs")
	}
	c := newChart("c", "two series", []string{"open ports", "hosts up"}, []chartPoint{
		{At: at(0), RunID: 1, Values: []int{4, 1}},
		{At: at(5), RunID: 4, Values: []int{0, 2}},
		{At: at(10), RunID: 3, Values: []int{2, 0}},
	})
	// By time: run 1 at the left edge, run 4 half way, run 3 at the right
	// edge; one scale from 0 (the baseline, y 190) to 4 (the top, y 10).
	if c.YMax != 4 || len(c.Series) != 2 {
		t.Fatalf("chart %+v", c)
	}
	for i, want := range []string{"40,10 375,190 710,100", "40,145 375,100 710,190"} {
		if got := c.Series[i].Points; got != want {
			t.Errorf("series %d (%s): points %q, want %q", i, c.Series[i].Name, got, want)
		}
	}
	if got := c.Series[0].Dots[1]; got.RunID != 4 || got.Label != "run #4, 2030-01-01 05:00:00: 0 open ports" {
		t.Errorf("dot %+v", got)
	}
	if c.Desc != "open ports, hosts up over 3 completed runs from 2030-01-01 to 2030-01-01, up to 4" {
		t.Errorf("desc %q", c.Desc)
	}
	one := newChart("c", "one run", []string{"a"}, []chartPoint{{At: at(1), RunID: 7, Values: []int{0}}})
	if one.Series[0].Points != "375,190" {
		t.Errorf("single run: %q", one.Series[0].Points)
	}
}

func TestExposureServices(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2030, 1, 1, h, 0, 0, 0, time.UTC) }
	e := newExposure([]scan.RunExposure{
		{RunID: 1, FinishedAt: at(0), HostsUp: 2, OpenPorts: 9,
			Services: map[string]int{"ssh": 2, "http": 3, "https": 1, "smtp": 1, "dns": 1, "ftp": 1}},
		{RunID: 2, FinishedAt: at(1), HostsUp: 1, OpenPorts: 3, NewHosts: 0, GoneHosts: 1, ClosedPorts: 6,
			Services: map[string]int{"ssh": 1, "http": 1, "": 1}},
	})
	if len(e.Charts) != 3 {
		t.Fatalf("%d charts", len(e.Charts))
	}
	svc := e.Charts[2]
	var names []string
	for _, s := range svc.Series {
		names = append(names, s.Name)
	}
	// The five services with the most open ports (ties by name), then the rest.
	if got, want := names, []string{"http", "ssh", "(unnamed)", "dns", "ftp", "other"}; !slices.Equal(got, want) {
		t.Errorf("services %q, want %q", got, want)
	}
	if got := e.Rows[0].Values; !slices.Equal(got, []int{2, 9, 0, 0, 0, 0, 3, 2, 0, 1, 1, 2}) {
		t.Errorf("run 1's numbers %v", got)
	}
	// New and gone share one scale: 6 closed ports at the top, 1 gone host a sixth up.
	if got := e.Charts[1].Series[1].Points; got != "40,190 710,160" {
		t.Errorf("gone hosts: %q", got)
	}
	if got := e.Charts[1].Series[3].Points; got != "40,190 710,10" {
		t.Errorf("closed ports: %q", got)
	}
	if newExposure(nil) != nil {
		t.Error("exposure of no runs")
	}
}
