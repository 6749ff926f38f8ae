package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// TestSiteAddressLimitAtSave: a site larger than --max-addresses is
// refused when saved (API and form), counted after its own and the global
// exclusions, as a run's start counts it.
func TestSiteAddressLimitAtSave(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.MaxAddresses = 256 }))
	name := uniq("big-site")
	for _, targets := range []string{`["0.0.0.0/0"]`, `["::/0"]`, `["198.18.0.0/23"]`, `["198.18.0.0/24", "198.18.1.1"]`} {
		w := e.do(t, "POST", "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": %s}`, name, targets))
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), "targets: too many addresses") || !strings.Contains(errorOf(t, w), "the limit is 256") {
			t.Errorf("targets %s: %d %s", targets, w.Code, w.Body.String())
		}
	}
	if sites, _ := testStore.ListSites(context.Background()); containsSite(sites, name) {
		t.Fatal("a refused site was created")
	}

	// The site's own exclusions count.
	var site scan.Site
	e.mustDo(t, "POST", "/api/v1/sites", fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.0/23"], "exclusions": ["198.18.1.0/24"]}`, name), http.StatusCreated, &site)

	// So do the global ones, at the moment of saving.
	var excl scan.Exclusion
	e.mustDo(t, "POST", "/api/v1/exclusions", `{"target": "198.19.200.0/24", "note": "size test"}`, http.StatusCreated, &excl)
	t.Cleanup(func() { _ = testStore.DeleteExclusion(context.Background(), excl.ID) })
	e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/sites/%d", site.ID), fmt.Sprintf(`{"name": %q, "targets": ["198.19.200.0/23"]}`, name), http.StatusOK, nil)

	// An edit that grows the site past the limit is refused and changes
	// nothing.
	w := e.do(t, "PUT", fmt.Sprintf("/api/v1/sites/%d", site.ID), fmt.Sprintf(`{"name": %q, "targets": ["198.18.0.0/22"]}`, name))
	if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), "targets: too many addresses: 1024 addresses") {
		t.Errorf("growing edit: %d %s", w.Code, w.Body.String())
	}
	got, err := testStore.GetSite(context.Background(), site.ID)
	if err != nil || strings.Join(got.Targets, ",") != "198.19.200.0/23" {
		t.Errorf("site after the refused edit: %+v, %v", got, err)
	}

	// The form shows the message beside the targets field.
	_, session, csrf := e.sessionFor(t, accounts.Operator)
	w = e.form(t, session, csrf, "/sites", url.Values{"name": {uniq("ui-big")}, "targets": {"10.0.0.0/8"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "targets"), "the limit is 256") {
		t.Errorf("form: %d %q", w.Code, fieldError(w.Body.String(), "targets"))
	}
}
