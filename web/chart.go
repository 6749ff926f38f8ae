package web

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/scantron/scantron/scan"
)

// portsChart is a line chart of open ports per completed run, drawn as
// inline SVG by the template: no script and no outside library.
type portsChart struct {
	Width, Height int
	Points        string // the polyline's "x,y x,y ..."
	Dots          []chartDot
	YMax          int
	From, To      string
	// Plot area edges, for the axes.
	Left, Right, Top, Bottom int
}

type chartDot struct {
	X, Y  int
	RunID int64
	Label string
}

// maxChartRuns bounds the chart to the latest runs.
const maxChartRuns = 200

// newPortsChart plots the completed runs by finish time; nil when there is
// nothing to draw.
func newPortsChart(runs []scan.Run) *portsChart {
	var done []scan.Run
	for _, r := range runs {
		if r.Status == scan.RunCompleted && r.FinishedAt != nil {
			done = append(done, r)
		}
	}
	if len(done) == 0 {
		return nil
	}
	sort.Slice(done, func(i, j int) bool { return done[i].FinishedAt.Before(*done[j].FinishedAt) })
	if len(done) > maxChartRuns {
		done = done[len(done)-maxChartRuns:]
	}
	c := &portsChart{Width: 720, Height: 220, Left: 40, Right: 710, Top: 10, Bottom: 190}
	first, last := *done[0].FinishedAt, *done[len(done)-1].FinishedAt
	for _, r := range done {
		c.YMax = max(c.YMax, r.OpenPorts)
	}
	yMax := max(c.YMax, 1)
	span := last.Sub(first)
	pts := make([]string, 0, len(done))
	for i, r := range done {
		x := c.Left + (c.Right-c.Left)/2
		if span > 0 {
			x = c.Left + int(float64(c.Right-c.Left)*float64(r.FinishedAt.Sub(first))/float64(span))
		} else if len(done) > 1 {
			x = c.Left + (c.Right-c.Left)*i/(len(done)-1)
		}
		y := c.Bottom - (c.Bottom-c.Top)*r.OpenPorts/yMax
		pts = append(pts, fmt.Sprintf("%d,%d", x, y))
		c.Dots = append(c.Dots, chartDot{X: x, Y: y, RunID: r.ID,
			Label: fmt.Sprintf("run #%d, %s: %d open ports", r.ID, r.FinishedAt.UTC().Format(time.DateTime), r.OpenPorts)})
	}
	c.Points = strings.Join(pts, " ")
	c.From, c.To = first.UTC().Format(time.DateOnly), last.UTC().Format(time.DateOnly)
	return c
}
