package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/query"
)

// The inventory: the assets of the estate and of each site, searched with
// the search language; a host's history; the exposure charts.

// History bounds: a history reads the newest runs that saw the address.
const (
	defaultHistoryRuns = 500
	maxHistoryRuns     = 5000
)

// hostAddr reads the :ip path parameter, one IP address.
func hostAddr(c *gin.Context) (netip.Addr, error) {
	raw := c.Param("ip")
	a, err := netip.ParseAddr(raw)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, badRequest("ip: %q is not an IP address", clip(raw))
	}
	return a.Unmap(), nil
}

// readHistory reads the address, site (0: every site) and runs of a
// history request and reads the history: the one operation behind the
// API and the host page.
func readHistory(c *gin.Context, store AssetStore) (scan.HostHistory, int64, error) {
	addr, err := hostAddr(c)
	if err != nil {
		return scan.HostHistory{}, 0, err
	}
	var siteID int64
	if raw, ok := c.GetQuery("site"); ok && raw != "" {
		siteID, err = strconv.ParseInt(raw, 10, 64)
		if err != nil || siteID <= 0 || strings.TrimLeft(raw, "0123456789") != "" {
			return scan.HostHistory{}, 0, badRequest("site: %q is not a valid id", clip(raw))
		}
	}
	runs, err := queryInt(c, "runs", defaultHistoryRuns, 1, maxHistoryRuns)
	if err != nil {
		return scan.HostHistory{}, 0, err
	}
	h, err := store.HostHistory(c.Request.Context(), addr, siteID, runs)
	if err != nil {
		where := ""
		if siteID != 0 {
			where = fmt.Sprintf(" on site %d", siteID)
		}
		return h, 0, mapErr(err, scan.ErrNotFound, http.StatusNotFound, "no completed run saw %s%s", addr, where)
	}
	return h, siteID, nil
}

// history answers GET /api/v1/assets/:ip/history?site=&runs=.
func (h *assetHandlers) history(c *gin.Context) error {
	hist, _, err := readHistory(c, h.store)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, hist)
	return nil
}

// assetRow is a host of the assets page: its ports split into those open
// now and those since closed.
type assetRow struct {
	scan.AssetHost
	SiteName     string
	Open, Closed []scan.AssetPort
}

// assets is the assets page, of every site (/assets) or of one
// (/sites/:id/assets): the hosts that have a port the search matches (all
// hosts for an empty search), paged, each linked to its history. It reads
// what GET /api/v1/assets reads.
func (h *uiHandlers) assets(c *gin.Context) error {
	ctx := c.Request.Context()
	// run: searches one run, not the assets: the hint leaves it out.
	fields := slices.DeleteFunc(query.Fields(), func(f string) bool { return f == string(query.Run) })
	data := map[string]any{"Title": "Assets", "Q": c.Query("q"), "Fields": fields, "Action": "/assets"}
	var (
		f   query.AssetFilter
		err error
	)
	var siteID int64
	if c.Param("id") != "" {
		if siteID, err = pathID(c); err != nil {
			return err
		}
		site, err := h.assetDB.GetSite(ctx, siteID)
		if err != nil {
			return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "site %d not found", siteID)
		}
		data["Site"], data["Title"] = site, "Assets of "+site.Name
		data["Action"] = fmt.Sprintf("/sites/%d/assets", site.ID)
	}
	f, err = assetFilter(c, h.now())
	f.SiteID = siteID
	var qe *queryError
	if errors.As(err, &qe) {
		data["Error"] = qe.err.Error()
		data["Caret"] = strings.Repeat(" ", qe.err.Col-1) + "^"
		return h.render(c, http.StatusBadRequest, "assets", data)
	}
	if err != nil {
		return err
	}
	hosts, total, err := h.assetDB.ListAssets(ctx, f)
	if err != nil {
		return err
	}
	sites, err := h.store.ListSites(ctx)
	if err != nil {
		return err
	}
	names := make(map[int64]string, len(sites))
	for _, s := range sites {
		names[s.ID] = s.Name
	}
	rows := make([]assetRow, 0, len(hosts))
	for _, host := range hosts {
		r := assetRow{AssetHost: host, SiteName: names[host.SiteID]}
		for _, p := range host.Ports {
			if p.State == "open" {
				r.Open = append(r.Open, p)
			} else {
				r.Closed = append(r.Closed, p)
			}
		}
		rows = append(rows, r)
	}
	data["Hosts"], data["Total"] = rows, total
	data["From"], data["To"] = f.Offset+1, f.Offset+len(hosts)
	data["APIURL"] = "/api/v1" + c.Request.URL.RequestURI()
	if f.Offset+len(hosts) < total {
		data["Next"] = nextPage(c.Request.URL, f.Offset+f.Limit)
	}
	if f.Offset > 0 {
		data["Prev"] = nextPage(c.Request.URL, max(f.Offset-f.Limit, 0))
	}
	return h.render(c, http.StatusOK, "assets", data)
}

// historyKinds name the events on the host page.
var historyKinds = map[scan.HistoryKind]string{
	scan.HostUp:         "host up",
	scan.HostGone:       "host gone",
	scan.PortOpened:     "port opened",
	scan.PortClosed:     "port closed",
	scan.ServiceChanged: "version changed",
}

// historyRow is an event of the host page, newest first.
type historyRow struct {
	scan.HistoryEvent
	What string
}

// hostPage is a host's page: what each site holds of it now, and its
// history, newest first (GET /api/v1/assets/:ip/history's events).
func (h *uiHandlers) hostPage(c *gin.Context) error {
	hist, siteID, err := readHistory(c, h.assetDB)
	if err != nil {
		return err
	}
	addr, _ := hostAddr(c) // readHistory checked it
	q, err := query.Parse("ip:" + addr.String())
	if err != nil {
		return err
	}
	now, _, err := h.assetDB.ListAssets(c.Request.Context(), query.AssetFilter{SiteID: siteID, Query: q, Now: h.now()})
	if err != nil {
		return err
	}
	rows := make([]historyRow, 0, len(hist.Events))
	for i := len(hist.Events) - 1; i >= 0; i-- {
		e := hist.Events[i]
		rows = append(rows, historyRow{HistoryEvent: e, What: historyKinds[e.Kind]})
	}
	list, err := h.store.ListSites(c.Request.Context())
	if err != nil {
		return err
	}
	sites := make(map[int64]string, len(list))
	for _, s := range list {
		sites[s.ID] = s.Name
	}
	api := url.URL{Path: "/api/v1/assets/" + addr.String() + "/history", RawQuery: c.Request.URL.RawQuery}
	return h.render(c, http.StatusOK, "host", map[string]any{
		"Title":   "Host " + addr.String(),
		"Address": addr.String(),
		"History": hist,
		"Events":  rows,
		"Now":     now,
		"Sites":   sites,
		"APIURL":  api.RequestURI(),
	})
}

// exposureOf charts the newest completed runs of siteID's scans (0: of
// every scan).
func (h *uiHandlers) exposureOf(c *gin.Context, siteID int64) (*exposure, error) {
	runs, err := h.assetDB.ExposureSeries(c.Request.Context(), siteID, maxChartRuns)
	if err != nil {
		return nil, err
	}
	return newExposure(runs), nil
}

// siteChart is the site page's exposure.
func (h *uiHandlers) siteChart(c *gin.Context, siteID int64) (*exposure, error) {
	return h.exposureOf(c, siteID)
}
