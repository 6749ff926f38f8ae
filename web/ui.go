package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/query"
	"github.com/scantron/scantron/scan/scanners"
	"github.com/scantron/scantron/scan/schedule"
)

//go:embed templates static
var assets embed.FS

// pageNames are the views; each is parsed together with the layout. A
// missing or broken one fails New, so a bad build never serves.
var pageNames = []string{"dashboard", "run", "runs", "error", "login", "tokens", "sites", "site", "exclusions", "profiles", "agents", "scans", "users", "usertokens", "profile", "scan", "assets", "pools", "search", "host", "plan"}

func parsePages(fsys fs.FS, links temporalLinks) (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"temporalURL": links.Workflow,
		"list":        func(v ...string) []string { return v },
		"can":         can,
		"quote":       query.Quote,
		// scanners are the scanners a profile may name, the default first.
		"scanners": func() []string {
			var out []string
			for _, s := range scan.Scanners() {
				out = append(out, string(s))
			}
			return out
		},
		// discoverers are the scanners a profile may run as its
		// discovery stage.
		"discoverers": func() []string {
			var out []string
			for _, s := range scanners.Discoverers() {
				out = append(out, string(s))
			}
			return out
		},
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return "—"
				}
				return v.UTC().Format("2006-01-02 15:04:05 UTC")
			case *time.Time:
				if v == nil || v.IsZero() {
					return "—"
				}
				return v.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			return fmt.Sprint(t)
		},
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(fsys, "templates/layout.html", "templates/partials.html", "templates/inventory.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parsing view %s: %w", name, err)
		}
		if t.Lookup("layout") == nil || t.Lookup("content") == nil {
			return nil, fmt.Errorf("web: view %s must define \"content\" for the layout", name)
		}
		pages[name] = t
	}
	return pages, nil
}

// UIStore is what the pages read.
type UIStore interface {
	ListSites(ctx context.Context) ([]scan.Site, error)
	ListProfiles(ctx context.Context) ([]scan.Profile, error)
	ListAgents(ctx context.Context) ([]scan.Agent, error)
	ListPools(ctx context.Context) ([]scan.Pool, error)
	ListScans(ctx context.Context) ([]scan.Scan, error)
	SearchScans(ctx context.Context, f scan.ScanFilter) ([]scan.Scan, int, error)
	ScanNames(ctx context.Context, ids []int64) (map[int64]string, error)
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
	GetRun(ctx context.Context, id int64) (scan.Run, error)
	ListRuns(ctx context.Context, f scan.RunFilter) ([]scan.Run, error)
	ListUnfinishedRuns(ctx context.Context, createdBefore time.Time) ([]scan.Run, error)
	ListShards(ctx context.Context, runID int64) ([]scan.Shard, error)
	ListPorts(ctx context.Context, runID int64, f scan.PortFilter) ([]scan.PortRow, error)
	CountHosts(ctx context.Context, runID int64, f scan.HostFilter) (int, error)
	LookupRunImport(ctx context.Context, runID int64) (scan.RunImport, bool, error)
}

type uiHandlers struct {
	base
	ops      operations // what the forms change, as the API changes it
	store    UIStore
	pages    map[string]*template.Template
	links    temporalLinks
	agents   *agentHandlers // for agents' presence
	temporal WorkflowClient // for scan progress
	diffs    DiffStore      // for a run's changes
	assetDB  AssetStore     // for a site's assets
	now      func() time.Time
	auth     *authn
	srv      *Server // for the views and pages the API handlers also serve
}

const (
	dashboardRuns    = 25
	dashboardChanges = 10
	runPagePorts     = 1000
)

type dashboardRun struct {
	scan.Run
	ScanName string
}

// dashboardChange is a run whose results differ from the previous run's.
type dashboardChange struct {
	scan.DiffSummary
	ScanName string
}

type dashboardScan struct {
	scan.Scan
	SiteName, ProfileName, AgentName string
	// NextFire is the next fire time in the scan's zone, or "".
	NextFire string
}

// nextFire is a scan's next fire time, in its zone, for the dashboard.
func nextFire(s scan.Scan, now time.Time) string {
	r, err := schedule.Parse(s.StartAt, s.TimeZone, s.RRule, now)
	if err != nil || r == nil {
		return ""
	}
	if next := r.Next(now, 1); len(next) == 1 {
		return next[0].Format("2006-01-02 15:04:05 MST")
	}
	return ""
}

// dashboard shows what runs and what changed lately, then a page of the
// scans (searchable by name, paged as list pages are) and the
// configuration.
func (h *uiHandlers) dashboard(c *gin.Context) error {
	ctx := c.Request.Context()
	lq, err := readList(c)
	if err != nil {
		return err
	}
	sites, err := h.store.ListSites(ctx)
	if err != nil {
		return err
	}
	profiles, err := h.store.ListProfiles(ctx)
	if err != nil {
		return err
	}
	agents, err := h.store.ListAgents(ctx)
	if err != nil {
		return err
	}
	pools, err := h.store.ListPools(ctx)
	if err != nil {
		return err
	}
	scans, totalScans, err := h.store.SearchScans(ctx, scan.ScanFilter{Name: lq.Q, Limit: lq.Limit, Offset: lq.Offset})
	if err != nil {
		return err
	}
	runs, err := h.store.ListRuns(ctx, scan.RunFilter{Limit: dashboardRuns})
	if err != nil {
		return err
	}
	siteNames := make(map[int64]string, len(sites))
	for _, s := range sites {
		siteNames[s.ID] = s.Name
	}
	profileNames := make(map[int64]string, len(profiles))
	for _, p := range profiles {
		profileNames[p.ID] = p.Name
	}
	agentNames := make(map[int64]string, len(agents))
	for _, a := range agents {
		agentNames[a.ID] = a.Name
	}
	poolNames := make(map[int64]string, len(pools))
	for _, p := range pools {
		poolNames[p.ID] = "pool " + p.Name
	}
	scanRows := make([]dashboardScan, 0, len(scans))
	for _, s := range scans {
		scanRows = append(scanRows, dashboardScan{Scan: s,
			SiteName: siteNames[s.SiteID], ProfileName: profileNames[s.ProfileID], AgentName: agentNames[s.AgentID] + poolNames[s.PoolID],
			NextFire: nextFire(s, h.now())})
	}
	unfinished, err := h.store.ListUnfinishedRuns(ctx, time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	if len(unfinished) > dashboardRuns {
		unfinished = unfinished[len(unfinished)-dashboardRuns:] // the newest
	}
	diffs, err := h.diffs.ListChangedDiffs(ctx, dashboardChanges)
	if err != nil {
		return err
	}
	// Only the scans the rows shown refer to are named.
	ids := make([]int64, 0, len(runs)+len(unfinished)+len(diffs))
	for _, r := range runs {
		ids = append(ids, r.ScanID)
	}
	for _, r := range unfinished {
		ids = append(ids, r.ScanID)
	}
	for _, d := range diffs {
		ids = append(ids, d.ScanID)
	}
	scanNames, err := h.store.ScanNames(ctx, ids)
	if err != nil {
		return err
	}
	runRows := make([]dashboardRun, 0, len(runs))
	var failures []dashboardRun
	for _, r := range runs {
		runRows = append(runRows, dashboardRun{Run: r, ScanName: scanNames[r.ScanID]})
		if r.Status == scan.RunFailed {
			failures = append(failures, runRows[len(runRows)-1])
		}
	}
	inProgress := make([]dashboardRun, 0, len(unfinished))
	for _, r := range unfinished {
		inProgress = append(inProgress, dashboardRun{Run: r, ScanName: scanNames[r.ScanID]})
	}
	changes := make([]dashboardChange, 0, len(diffs))
	for _, d := range diffs {
		changes = append(changes, dashboardChange{DiffSummary: d, ScanName: scanNames[d.ScanID]})
	}
	agentViews := h.agents.views(ctx, agents)
	online := 0
	for _, a := range agentViews {
		if a.Online {
			online++
		}
	}
	exposure, err := h.exposureOf(c, 0)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "dashboard", map[string]any{
		"Title":      "Dashboard",
		"Exposure":   exposure,
		"Runs":       runRows,
		"InProgress": inProgress,
		"Failures":   failures,
		"Changes":    changes,
		"Online":     online,
		"Scans":      scanRows,
		"Pager":      newPager(c.Request.URL, lq, totalScans),
		"Sites":      sites,
		"Profiles":   profiles,
		"Agents":     agentViews,
	})
}

func (h *uiHandlers) run(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	r, err := h.store.GetRun(ctx, id)
	if err != nil {
		return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "run %d not found", id)
	}
	scanName := ""
	if s, err := h.store.GetScan(ctx, r.ScanID); err == nil {
		scanName = s.Name
	} else if !errors.Is(err, scan.ErrNotFound) {
		return err
	}
	shards, err := h.store.ListShards(ctx, r.ID)
	if err != nil {
		return err
	}
	f, err := portFilter(c)
	if err != nil {
		return err
	}
	// One more than shown tells whether the table is cut short.
	f.Limit = runPagePorts + 1
	ports, err := h.store.ListPorts(ctx, r.ID, f)
	if err != nil {
		return err
	}
	truncated := len(ports) > runPagePorts
	if truncated {
		ports = ports[:runPagePorts]
	}
	var diff *scan.Diff
	diffTruncated := false
	if d, err := h.diffs.GetDiff(ctx, r.ID); err == nil {
		if len(d.Changes) > runPagePorts {
			d.Changes, diffTruncated = d.Changes[:runPagePorts], true
		}
		diff = &d
	} else if !errors.Is(err, scan.ErrNotFound) {
		return err
	}
	var imported *scan.RunImport
	if imp, found, err := h.store.LookupRunImport(ctx, r.ID); err != nil {
		return err
	} else if found {
		imported = &imp
	}
	// The hosts stored so far, while the run's counts are not yet made.
	hostsFound := 0
	if !r.Status.Final() {
		if hostsFound, err = h.store.CountHosts(ctx, r.ID, scan.HostFilter{}); err != nil {
			return err
		}
	}
	return h.render(c, http.StatusOK, "run", map[string]any{
		"Title":          fmt.Sprintf("Run %d", r.ID),
		"Import":         imported,
		"HostsFound":     hostsFound,
		"Run":            r,
		"ScanName":       scanName,
		"Shards":         shards,
		"HasOutput":      manage.HasStoredOutput(shards),
		"Progress":       scanProgress(ctx, h.temporal, h.log, r, shards),
		"Ports":          ports,
		"PortsTruncated": truncated,
		"PortLimit":      runPagePorts,
		"Diff":           diff,
		"DiffTruncated":  diffTruncated,
		"State":          f.State,
		"Filter": map[string]string{"ip": c.Query("ip"), "port": c.Query("port"), "protocol": c.Query("protocol"),
			"service": c.Query("service")},
		"States": []string{"open", "closed", "filtered", "unfiltered", "open|filtered", "closed|filtered"},
	})
}

// render executes a page into memory first, so that a template error
// becomes a clean 500 instead of half a page.
func (h *uiHandlers) render(c *gin.Context, status int, page string, data map[string]any) error {
	t, ok := h.pages[page]
	if !ok {
		return fmt.Errorf("web: no view %q", page)
	}
	if p := who(c); p != nil {
		data["Me"] = p.user
		data["CSRF"] = p.csrf
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("web: rendering %s: %w", page, err)
	}
	c.Header("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
	return nil
}

// handle is base.handle for pages: errors become an HTML error page.
func (h *uiHandlers) handle(f func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := f(c); err != nil {
			h.fail(c, err)
		}
	}
}

// fail answers a page request's error as a page.
func (h *uiHandlers) fail(c *gin.Context, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong on our side; the details are in the server log."
	if he, ok := clientError(err); ok {
		status, msg = he.status, he.msg
	} else {
		h.log.ErrorContext(c.Request.Context(), "page failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	}
	h.errorPage(c, status, msg)
}

func (h *uiHandlers) errorPage(c *gin.Context, status int, msg string) {
	err := h.render(c, status, "error", map[string]any{
		"Title":   http.StatusText(status),
		"Status":  status,
		"Message": msg,
	})
	if err != nil {
		h.log.ErrorContext(c.Request.Context(), "rendering the error page failed", "err", err)
		c.String(status, "%d %s\n", status, http.StatusText(status))
	}
	c.Abort()
}
