package manage

import (
	"context"
	"errors"
	"strings"

	"github.com/scantron/scantron/scan"
)

// SiteStore keeps sites; the global exclusions count against a site's size.
type SiteStore interface {
	CreateSite(ctx context.Context, s scan.Site) (scan.Site, error)
	GetSite(ctx context.Context, id int64) (scan.Site, error)
	ListSites(ctx context.Context) ([]scan.Site, error)
	UpdateSite(ctx context.Context, s scan.Site) (scan.Site, error)
	DeleteSite(ctx context.Context, id int64) error
	ListExclusions(ctx context.Context) ([]scan.Exclusion, error)
}

// Sites creates, changes and deletes sites.
type Sites struct {
	Store SiteStore
	// MaxRate is the server's packet-rate ceiling (packets/s; 0 = none).
	MaxRate float64
	// MaxAddresses is the server's --max-addresses; 0 means the default.
	MaxAddresses uint64
	// Check refuses a change that a scan of the site could never run
	// with; nil checks nothing.
	Check *Checker
}

// SiteInput is what a client may write of a site; its id and creation time
// are the server's.
type SiteInput struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Targets     []string `json:"targets"`
	Exclusions  []string `json:"exclusions"`
	MaxRate     int      `json:"max_rate"`
}

// MaxSiteEntries bounds a site's targets and its exclusions.
const MaxSiteEntries = 10000

func (s *Sites) site(in SiteInput) (scan.Site, error) {
	name, err := CleanName("name", in.Name)
	if err != nil {
		return scan.Site{}, err
	}
	desc, err := CleanText("description", in.Description, MaxDescriptionLen)
	if err != nil {
		return scan.Site{}, err
	}
	if len(in.Targets) == 0 {
		return scan.Site{}, invalid("targets", "at least one target is required")
	}
	targets, _, err := CleanTargets("targets", in.Targets)
	if err != nil {
		return scan.Site{}, err
	}
	exclusions, _, err := CleanTargets("exclusions", in.Exclusions)
	if err != nil {
		return scan.Site{}, err
	}
	if in.MaxRate < 0 || in.MaxRate > 100_000_000 {
		return scan.Site{}, invalid("max_rate", "%d is not a packet rate from 1 to 100000000; leave it out for no cap", in.MaxRate)
	}
	if s.MaxRate > 0 && float64(in.MaxRate) > s.MaxRate {
		return scan.Site{}, invalid("max_rate", "%d packets/s is above the server's ceiling of %v (--max-rate)", in.MaxRate, s.MaxRate)
	}
	return scan.Site{Name: name, Description: desc, Targets: targets, Exclusions: exclusions, MaxRate: in.MaxRate}, nil
}

// CleanTargets parses every entry with scan.ParseTarget and returns the
// trimmed text (as the operator wrote it) along with the parsed form. The
// error names the field, the index and the offending entry.
func CleanTargets(field string, list []string) ([]string, []scan.Target, error) {
	if len(list) > MaxSiteEntries {
		return nil, nil, invalid(field, "%d entries, the limit is %d", len(list), MaxSiteEntries)
	}
	texts := make([]string, 0, len(list))
	parsed := make([]scan.Target, 0, len(list))
	for i, raw := range list {
		t, err := scan.ParseTarget(raw)
		if err != nil {
			return nil, nil, refuse(Invalid, field, "%s[%d]: %v", field, i, err)
		}
		texts = append(texts, strings.TrimSpace(raw))
		parsed = append(parsed, t)
	}
	return texts, parsed, nil
}

// checkSize refuses a site whose runs could not start: one whose
// exclusions leave nothing to scan, or that covers more addresses than
// the server scans in one run, counted as a run's start counts them
// (scan.ResolveSite), after the site's and the global exclusions.
func (s *Sites) checkSize(ctx context.Context, site scan.Site) error {
	_, err := scan.ResolveSite(site, nil, s.MaxAddresses)
	if errors.Is(err, scan.ErrNoTargets) {
		return invalid("exclusions", "they leave none of the site's targets to scan")
	}
	if !errors.Is(err, scan.ErrTooManyAddresses) {
		return err
	}
	// Global exclusions change over time, so they may only make a site
	// small enough, never refuse it for leaving nothing.
	global, lerr := s.Store.ListExclusions(ctx)
	if lerr != nil {
		return lerr
	}
	targets := make([]string, 0, len(global))
	for _, e := range global {
		targets = append(targets, e.Target)
	}
	if _, gerr := scan.ResolveSite(site, targets, s.MaxAddresses); errors.Is(gerr, scan.ErrTooManyAddresses) {
		return invalid("targets", "%v (SCANTRON_MAX_ADDRESSES), after the site's and the global exclusions; split the site or exclude more", gerr)
	}
	return nil
}

// Create checks and stores a new site.
func (s *Sites) Create(ctx context.Context, in SiteInput) (scan.Site, error) {
	site, err := s.site(in)
	if err != nil {
		return scan.Site{}, err
	}
	if err := s.checkSize(ctx, site); err != nil {
		return scan.Site{}, err
	}
	row, err := s.Store.CreateSite(ctx, site)
	if err != nil {
		return scan.Site{}, storeErr(err, scan.ErrConflict, Conflict, "name", "name: a site named %q already exists", site.Name)
	}
	return row, nil
}

// Get returns the site id names.
func (s *Sites) Get(ctx context.Context, id int64) (scan.Site, error) {
	row, err := s.Store.GetSite(ctx, id)
	return row, notFound(err, "site", id)
}

// List returns every site.
func (s *Sites) List(ctx context.Context) ([]scan.Site, error) { return s.Store.ListSites(ctx) }

// Update checks and stores a site's new definition.
func (s *Sites) Update(ctx context.Context, id int64, in SiteInput) (scan.Site, error) {
	site, err := s.site(in)
	if err != nil {
		return scan.Site{}, err
	}
	site.ID = id
	if err := s.checkSize(ctx, site); err != nil {
		return scan.Site{}, err
	}
	// The new targets and exclusions must suit every scan of the site.
	if err := s.Check.SiteChange(ctx, id, site); err != nil {
		return scan.Site{}, err
	}
	row, err := s.Store.UpdateSite(ctx, site)
	if err != nil {
		err = notFound(err, "site", id)
		return scan.Site{}, storeErr(err, scan.ErrConflict, Conflict, "name", "name: a site named %q already exists", site.Name)
	}
	return row, nil
}

// Delete deletes a site no scan uses.
func (s *Sites) Delete(ctx context.Context, id int64) error {
	return deleted(s.Store.DeleteSite(ctx, id), "site", id, "is used by a scan; delete or change that scan first")
}

// notFound refuses a store's ErrNotFound as "site 4 not found".
func notFound(err error, noun string, id int64) error {
	return storeErr(err, scan.ErrNotFound, NotFound, "", "%s %d not found", noun, id)
}

// deleted explains the refusals of a delete; inUse says why other rows
// keep the row.
func deleted(err error, noun string, id int64, inUse string) error {
	err = notFound(err, noun, id)
	return storeErr(err, scan.ErrInUse, Conflict, "", "%s %d %s", noun, id, inUse)
}
