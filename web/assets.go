package web

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
)

// AssetStore reads what sites hold across runs.
type AssetStore interface {
	GetSite(ctx context.Context, id int64) (scan.Site, error)
	ListAssets(ctx context.Context, f scan.AssetFilter) ([]scan.AssetHost, int, error)
}

type assetHandlers struct {
	base
	store AssetStore
}

// assetPage is one page of a search.
type assetPage struct {
	Total  int              `json:"total"`
	Limit  int              `json:"limit"`
	Offset int              `json:"offset"`
	Next   string           `json:"next,omitempty"` // the next page, when there is one
	Assets []scan.AssetHost `json:"assets"`
}

var assetProtocols = map[string]bool{"tcp": true, "udp": true, "sctp": true}

const maxSearchLen = 200

// assetFilter reads the search parameters: ip (an address or a CIDR block),
// port, protocol, service, product, state, limit and offset.
func assetFilter(c *gin.Context) (scan.AssetFilter, error) {
	var f scan.AssetFilter
	var err error
	if f.Network, err = queryNetwork(c, "ip"); err != nil {
		return f, err
	}
	if f.Port, err = queryInt(c, "port", 0, 0, 65535); err != nil {
		return f, err
	}
	if f.Protocol = strings.ToLower(strings.TrimSpace(c.Query("protocol"))); f.Protocol != "" && !assetProtocols[f.Protocol] {
		return f, badRequest("protocol: %q is not tcp, udp or sctp", clip(f.Protocol))
	}
	if f.State = strings.TrimSpace(c.Query("state")); f.State != "" && f.State != "up" && f.State != "gone" {
		return f, badRequest("state: %q is not up or gone", clip(f.State))
	}
	if f.Service, err = querySearch(c, "service"); err != nil {
		return f, err
	}
	if f.Product, err = querySearch(c, "product"); err != nil {
		return f, err
	}
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

// search answers one page of assets with the total and a link onwards.
func (h *assetHandlers) search(c *gin.Context, f scan.AssetFilter) error {
	hosts, total, err := h.store.ListAssets(c.Request.Context(), f)
	if err != nil {
		return err
	}
	out := assetPage{Total: total, Limit: f.Limit, Offset: f.Offset, Assets: nonNil(hosts)}
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
func siteFilter(c *gin.Context, store AssetStore) (scan.Site, scan.AssetFilter, error) {
	id, err := pathID(c)
	if err != nil {
		return scan.Site{}, scan.AssetFilter{}, err
	}
	f, err := assetFilter(c)
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
	_, f, err := siteFilter(c, h.store)
	if err != nil {
		return err
	}
	return h.search(c, f)
}

// all searches the assets of every site.
func (h *assetHandlers) all(c *gin.Context) error {
	f, err := assetFilter(c)
	if err != nil {
		return err
	}
	return h.search(c, f)
}
