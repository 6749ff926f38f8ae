package web

import (
	"cmp"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/scantron/scantron/scan"
)

// chart is a line chart of one or more series over completed runs, drawn
// as inline SVG by the "chart" template: no script and no outside
// library. Every chart of the UI is one of these.
type chart struct {
	ID, Title     string
	Desc          string // the text alternative's summary
	Width, Height int
	YMax          int
	From, To      string
	Series        []chartSeries
	// Plot area edges, for the axes; the dates and the legend go below.
	Left, Right, Top, Bottom int
	DateY, LegendY           int
}

// chartSeries is one line, its dots linked to their runs.
type chartSeries struct {
	Name, Color string
	Points      string // the polyline's "x,y x,y ..."
	Dots        []chartDot
	LegendX     int
}

type chartDot struct {
	X, Y  int
	RunID int64
	Label string
}

// chartPoint is one run's values, one per series.
type chartPoint struct {
	At     time.Time
	RunID  int64
	Values []int
}

// maxChartRuns bounds a chart to the latest runs.
const maxChartRuns = 200

// chartColors tell the series apart; the legend names them and the table
// under each chart gives the numbers, so colour is never the only cue.
var chartColors = []string{"#1f5fa8", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0f766e", "#6b7280"}

// newChart plots points (oldest first) by time: x is the run's finish
// time, y each series' value on one scale from 0 to the largest value.
// nil when there is nothing to draw.
func newChart(id, title string, names []string, points []chartPoint) *chart {
	if len(points) == 0 {
		return nil
	}
	c := &chart{ID: id, Title: title, Width: 720, Height: 240, Left: 40, Right: 710, Top: 10, Bottom: 190, DateY: 206, LegendY: 228}
	first, last := points[0].At, points[len(points)-1].At
	for _, p := range points {
		for _, v := range p.Values {
			c.YMax = max(c.YMax, v)
		}
	}
	yMax := max(c.YMax, 1)
	span := last.Sub(first)
	xs := make([]int, len(points))
	for i, p := range points {
		xs[i] = c.Left + (c.Right-c.Left)/2
		if span > 0 {
			xs[i] = c.Left + int(float64(c.Right-c.Left)*float64(p.At.Sub(first))/float64(span))
		} else if len(points) > 1 {
			xs[i] = c.Left + (c.Right-c.Left)*i/(len(points)-1)
		}
	}
	for si, name := range names {
		s := chartSeries{Name: name, Color: chartColors[si%len(chartColors)], LegendX: c.Left + 112*si}
		pts := make([]string, 0, len(points))
		for i, p := range points {
			y := c.Bottom - (c.Bottom-c.Top)*p.Values[si]/yMax
			pts = append(pts, fmt.Sprintf("%d,%d", xs[i], y))
			s.Dots = append(s.Dots, chartDot{X: xs[i], Y: y, RunID: p.RunID,
				Label: fmt.Sprintf("run #%d, %s: %d %s", p.RunID, p.At.UTC().Format(time.DateTime), p.Values[si], name)})
		}
		s.Points = strings.Join(pts, " ")
		c.Series = append(c.Series, s)
	}
	c.From, c.To = first.UTC().Format(time.DateOnly), last.UTC().Format(time.DateOnly)
	c.Desc = fmt.Sprintf("%s over %d completed runs from %s to %s, up to %d", strings.Join(names, ", "), len(points), c.From, c.To, c.YMax)
	return c
}

// exposure is the exposure of the estate or of a site over its latest
// completed runs: three charts and, as their text alternative, a table of
// the same numbers.
type exposure struct {
	Charts  []*chart
	Columns []string
	Rows    []exposureRow
}

type exposureRow struct {
	RunID  int64
	At     time.Time
	Values []int
}

// maxChartServices is how many services the breakdown names; the rest are
// "other".
const maxChartServices = 5

// newExposure charts runs (oldest first): hosts up and open ports; new and
// gone hosts and opened and closed ports against the previous run of the
// same scan; and open ports by service, the services with the most open
// ports over the runs named. nil when there are no runs.
func newExposure(runs []scan.RunExposure) *exposure {
	if len(runs) == 0 {
		return nil
	}
	totals := map[string]int{}
	for _, r := range runs {
		for svc, n := range r.Services {
			totals[svc] += n
		}
	}
	services := make([]string, 0, len(totals))
	for svc := range totals {
		services = append(services, svc)
	}
	sort.Slice(services, func(i, j int) bool {
		if totals[services[i]] != totals[services[j]] {
			return totals[services[i]] > totals[services[j]]
		}
		return services[i] < services[j]
	})
	other := len(services) > maxChartServices
	if other {
		services = services[:maxChartServices]
	}
	svcNames := make([]string, 0, len(services)+1)
	for _, s := range services {
		svcNames = append(svcNames, cmp.Or(s, "(unnamed)"))
	}
	if other {
		svcNames = append(svcNames, "other")
	}
	var totalsP, changesP, svcP []chartPoint
	e := &exposure{Columns: append([]string{"hosts up", "open ports", "new hosts", "gone hosts", "opened ports", "closed ports"}, svcNames...)}
	for _, r := range runs {
		vals := make([]int, 0, len(svcNames))
		named := 0
		for _, s := range services {
			vals = append(vals, r.Services[s])
			named += r.Services[s]
		}
		if other {
			all := 0
			for _, n := range r.Services {
				all += n
			}
			vals = append(vals, all-named)
		}
		totalsP = append(totalsP, chartPoint{At: r.FinishedAt, RunID: r.RunID, Values: []int{r.HostsUp, r.OpenPorts}})
		changesP = append(changesP, chartPoint{At: r.FinishedAt, RunID: r.RunID,
			Values: []int{r.NewHosts, r.GoneHosts, r.OpenedPorts, r.ClosedPorts}})
		svcP = append(svcP, chartPoint{At: r.FinishedAt, RunID: r.RunID, Values: vals})
		e.Rows = append(e.Rows, exposureRow{RunID: r.RunID, At: r.FinishedAt,
			Values: append([]int{r.HostsUp, r.OpenPorts, r.NewHosts, r.GoneHosts, r.OpenedPorts, r.ClosedPorts}, vals...)})
	}
	e.Charts = []*chart{
		newChart("exposure-chart", "Hosts up and open ports per run", e.Columns[:2], totalsP),
		newChart("changes-chart", "New and gone per run", e.Columns[2:6], changesP),
	}
	if len(svcNames) > 0 {
		e.Charts = append(e.Charts, newChart("services-chart", "Open ports by service per run", svcNames, svcP))
	}
	return e
}
