package web

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/query"
)

// AssetStore reads what sites hold across runs: their assets, a host's
// history and the exposure of their runs.
type AssetStore interface {
	GetSite(ctx context.Context, id int64) (scan.Site, error)
	ListAssets(ctx context.Context, f query.AssetFilter) ([]scan.AssetHost, int, error)
	HostHistory(ctx context.Context, addr netip.Addr, siteID int64, maxRuns int) (scan.HostHistory, error)
	ExposureSeries(ctx context.Context, siteID int64, limit int) ([]scan.RunExposure, error)
}

type assetHandlers struct {
	base
	store AssetStore
	now   func() time.Time
}

// assetPage is one page of a search.
type assetPage struct {
	Query  string           `json:"query"`
	Total  int              `json:"total"`
	Limit  int              `json:"limit"`
	Offset int              `json:"offset"`
	Next   string           `json:"next,omitempty"` // the next page, when there is one
	Assets []scan.AssetHost `json:"assets"`
}

var assetProtocols = map[string]bool{"tcp": true, "udp": true, "sctp": true}

const maxSearchLen = 200

// retiredAssetFilters are the query parameters the assets had before
// they were searched with the search language, and what to write instead.
var retiredAssetFilters = map[string]string{
	"ip":       "q=net:198.18.0.0/24 (or ip:ADDRESS)",
	"port":     "q=port:22",
	"protocol": "q=proto:udp",
	"service":  "q=service:ssh",
	"product":  "q=product:*nginx*",
	"state":    "q=state:closed (a port's state; a host's up or gone is shown, not searched)",
}

// assetFilter reads q (the search language, over the current assets),
// limit and offset. A q that does not parse is a *queryError; a run: query
// and the retired filter parameters are refused naming what to write.
func assetFilter(c *gin.Context, now time.Time) (query.AssetFilter, error) {
	f := query.AssetFilter{Now: now}
	for _, name := range []string{"ip", "port", "protocol", "service", "product", "state"} {
		if _, ok := c.GetQuery(name); ok {
			return f, badRequest("%s: the assets are searched with the search language: %s", name, retiredAssetFilters[name])
		}
	}
	q, err := query.Parse(c.Query("q"))
	if err != nil {
		var qe *query.Error
		if errors.As(err, &qe) {
			return f, &queryError{err: qe}
		}
		return f, err
	}
	if q.Run != 0 {
		return f, badRequest("q: run: searches one run's ports, not the assets; use /search for it")
	}
	f.Query = q
	if f.Limit, f.Offset, err = page(c); err != nil {
		return f, err
	}
	return f, nil
}

// queryNetwork reads an address or CIDR block query parameter (nil when
// absent); an address is the block of that one address.
func queryNetwork(c *gin.Context, name string) (*netip.Prefix, error) {
	raw := strings.TrimSpace(c.Query(name))
	if raw == "" {
		return nil, nil
	}
	p, err := netip.ParsePrefix(raw)
	if err != nil {
		a, aerr := netip.ParseAddr(raw)
		if aerr != nil || a.Zone() != "" {
			return nil, badRequest("%s: %q is neither an IP address nor a CIDR block", name, clip(raw))
		}
		p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	}
	return &p, nil
}

// answerQueryError answers a *queryError as the search API does: 400 with
// the message and its column. It says whether err was one.
func answerQueryError(c *gin.Context, err error) bool {
	var qe *queryError
	if !errors.As(err, &qe) {
		return false
	}
	c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": qe.Error(), "column": qe.err.Col})
	return true
}

// search answers one page of assets with the total and a link onwards.
func (h *assetHandlers) search(c *gin.Context, f query.AssetFilter) error {
	hosts, total, err := h.store.ListAssets(c.Request.Context(), f)
	if err != nil {
		return err
	}
	out := assetPage{Query: c.Query("q"), Total: total, Limit: f.Limit, Offset: f.Offset, Assets: nonNil(hosts)}
	if f.Offset+len(hosts) < total {
		out.Next = nextPage(c.Request.URL, f.Offset+f.Limit)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// nextPage is the request's own address with offset moved on.
func nextPage(u *url.URL, offset int) string {
	q := u.Query()
	q.Set("offset", strconv.Itoa(offset))
	return u.Path + "?" + q.Encode()
}

// siteFilter reads the site named by :id and the search parameters,
// answering 404 for a site that does not exist.
func siteFilter(c *gin.Context, store AssetStore, now time.Time) (scan.Site, query.AssetFilter, error) {
	id, err := pathID(c)
	if err != nil {
		return scan.Site{}, query.AssetFilter{}, err
	}
	f, err := assetFilter(c, now)
	if err != nil {
		return scan.Site{}, f, err
	}
	site, err := store.GetSite(c.Request.Context(), id)
	if err != nil {
		return scan.Site{}, f, mapErr(err, scan.ErrNotFound, http.StatusNotFound, "site %d not found", id)
	}
	f.SiteID = id
	return site, f, nil
}

// site searches one site's assets.
func (h *assetHandlers) site(c *gin.Context) error {
	_, f, err := siteFilter(c, h.store, h.now())
	if answerQueryError(c, err) {
		return nil
	}
	if err != nil {
		return err
	}
	return h.search(c, f)
}

// all searches the assets of every site.
func (h *assetHandlers) all(c *gin.Context) error {
	f, err := assetFilter(c, h.now())
	if answerQueryError(c, err) {
		return nil
	}
	if err != nil {
		return err
	}
	return h.search(c, f)
}
