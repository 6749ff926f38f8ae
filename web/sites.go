package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
)

// SiteStore keeps sites.
type SiteStore interface {
	CreateSite(ctx context.Context, s scan.Site) (scan.Site, error)
	GetSite(ctx context.Context, id int64) (scan.Site, error)
	ListSites(ctx context.Context) ([]scan.Site, error)
	UpdateSite(ctx context.Context, s scan.Site) (scan.Site, error)
	DeleteSite(ctx context.Context, id int64) error
}

type siteHandlers struct {
	base
	store      SiteStore
	maxRate    float64 // the server's ceiling, packets/s (0 = none)
	exclusions interface {
		ListExclusions(ctx context.Context) ([]scan.Exclusion, error)
	}
	// maxAddresses is the server's --max-addresses; 0 means the default.
	maxAddresses uint64
	check        *checker
}

// checkSize refuses a site whose runs could not start: one whose
// exclusions leave nothing to scan, or that covers more addresses than
// the server scans in one run, counted as a run's start counts them
// (scan.ResolveSite), after the site's and the global exclusions.
func (h *siteHandlers) checkSize(ctx context.Context, s scan.Site) error {
	_, err := scan.ResolveSite(s, nil, h.maxAddresses)
	if errors.Is(err, scan.ErrNoTargets) {
		return badRequest("exclusions: they leave none of the site's targets to scan")
	}
	if !errors.Is(err, scan.ErrTooManyAddresses) {
		return err
	}
	// Global exclusions change over time, so they may only make a site
	// small enough, never refuse it for leaving nothing.
	global, lerr := h.exclusions.ListExclusions(ctx)
	if lerr != nil {
		return lerr
	}
	targets := make([]string, 0, len(global))
	for _, e := range global {
		targets = append(targets, e.Target)
	}
	if _, gerr := scan.ResolveSite(s, targets, h.maxAddresses); errors.Is(gerr, scan.ErrTooManyAddresses) {
		return badRequest("targets: %v (SCANTRON_MAX_ADDRESSES), after the site's and the global exclusions; split the site or exclude more", gerr)
	}
	return nil
}

// siteRequest is what a client may write; id and created_at are the
// server's.
type siteRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Targets     []string `json:"targets"`
	Exclusions  []string `json:"exclusions"`
	MaxRate     int      `json:"max_rate"`
}

const maxSiteEntries = 10000

func (r siteRequest) site(ceiling float64) (scan.Site, error) {
	name, err := cleanName("name", r.Name)
	if err != nil {
		return scan.Site{}, err
	}
	desc, err := cleanText("description", r.Description, maxDescriptionLen)
	if err != nil {
		return scan.Site{}, err
	}
	if len(r.Targets) == 0 {
		return scan.Site{}, badRequest("targets: at least one target is required")
	}
	targets, _, err := cleanTargets("targets", r.Targets)
	if err != nil {
		return scan.Site{}, err
	}
	exclusions, _, err := cleanTargets("exclusions", r.Exclusions)
	if err != nil {
		return scan.Site{}, err
	}
	if r.MaxRate < 0 || r.MaxRate > 100_000_000 {
		return scan.Site{}, badRequest("max_rate: %d is not a packet rate from 1 to 100000000; leave it out for no cap", r.MaxRate)
	}
	if ceiling > 0 && float64(r.MaxRate) > ceiling {
		return scan.Site{}, badRequest("max_rate: %d packets/s is above the server's ceiling of %v (--max-rate)", r.MaxRate, ceiling)
	}
	return scan.Site{Name: name, Description: desc, Targets: targets, Exclusions: exclusions, MaxRate: r.MaxRate}, nil
}

// cleanTargets parses every entry with scan.ParseTarget and returns the
// trimmed text (as the operator wrote it) along with the parsed form. The
// error names the field, the index and the offending entry.
func cleanTargets(field string, list []string) ([]string, []scan.Target, error) {
	if len(list) > maxSiteEntries {
		return nil, nil, badRequest("%s: %d entries, the limit is %d", field, len(list), maxSiteEntries)
	}
	texts := make([]string, 0, len(list))
	parsed := make([]scan.Target, 0, len(list))
	for i, raw := range list {
		t, err := scan.ParseTarget(raw)
		if err != nil {
			return nil, nil, badRequest("%s[%d]: %v", field, i, err)
		}
		texts = append(texts, strings.TrimSpace(raw))
		parsed = append(parsed, t)
	}
	return texts, parsed, nil
}

func (h *siteHandlers) create(c *gin.Context) error {
	var req siteRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	s, err := req.site(h.maxRate)
	if err != nil {
		return err
	}
	if err := h.checkSize(c.Request.Context(), s); err != nil {
		return err
	}
	row, err := h.store.CreateSite(c.Request.Context(), s)
	if err != nil {
		return mapErr(err, postgres.ErrConflict, http.StatusConflict, "name: a site named %q already exists", s.Name)
	}
	created(c, "sites", row.ID, row)
	return nil
}

func (h *siteHandlers) list(c *gin.Context) error {
	return listAll(c, h.store.ListSites, func(s scan.Site) string { return s.Name })
}

func (h *siteHandlers) get(c *gin.Context) error { return getByID(c, "site", h.store.GetSite) }

func (h *siteHandlers) update(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req siteRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	s, err := req.site(h.maxRate)
	if err != nil {
		return err
	}
	s.ID = id
	if err := h.checkSize(c.Request.Context(), s); err != nil {
		return err
	}
	// The new targets and exclusions must suit every scan of the site.
	field := func(f scan.Finding) string {
		if f.Subject == scan.SubjectExclusions {
			return "exclusions"
		}
		return "targets"
	}
	if err := h.check.checkUsers(c.Request.Context(), http.StatusBadRequest, field, func(sc scan.Scan) bool { return sc.SiteID == id },
		func(pl *scan.Plan) { pl.Site.Targets, pl.Site.Exclusions = s.Targets, s.Exclusions }, siteRules); err != nil {
		return err
	}
	updated, err := h.store.UpdateSite(c.Request.Context(), s)
	if err != nil {
		err = mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "site %d not found", id)
		return mapErr(err, postgres.ErrConflict, http.StatusConflict, "name: a site named %q already exists", s.Name)
	}
	c.JSON(http.StatusOK, updated)
	return nil
}

func (h *siteHandlers) delete(c *gin.Context) error {
	return deleteByID(c, "site", h.store.DeleteSite, "is used by a scan; delete or change that scan first")
}
