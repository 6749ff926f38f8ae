package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// A two-stage profile round-trips through the API; each stage's options
// are checked by its own scanner's rules, and a stage a scanner cannot be
// is refused naming the field.
func TestTwoStageProfile(t *testing.T) {
	e := newEnv(t)
	var p scan.Profile
	e.mustDo(t, "POST", "/api/v1/profiles", fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sV -n -Pn --script banner",
		"discovery_scanner": "masscan", "discovery_options": "-p1-1024 --rate 5000"}`, uniq("profile")), http.StatusCreated, &p)
	if p.DiscoveryScanner != scan.Masscan || p.DiscoveryOptions != "-p1-1024 --rate 5000" || p.Scanner != scan.Nmap {
		t.Errorf("profile %+v", p)
	}
	var got scan.Profile
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/profiles/%d", p.ID), "", http.StatusOK, &got)
	if got.DiscoveryScanner != p.DiscoveryScanner || got.DiscoveryOptions != p.DiscoveryOptions {
		t.Errorf("stored %+v", got)
	}
	var one scan.Profile
	e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/profiles/%d", p.ID), fmt.Sprintf(`{"name": %q, "scanner": "nmap", "options": "-sV"}`, p.Name), http.StatusOK, nil)
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/profiles/%d", p.ID), "", http.StatusOK, &one)
	if one.DiscoveryScanner != "" || one.DiscoveryOptions != "" {
		t.Errorf("one stage again: %+v", one)
	}

	for _, tt := range []struct {
		name, body, field string
	}{
		{"nmap cannot discover", `"scanner": "nmap", "options": "-sV", "discovery_scanner": "nmap", "discovery_options": "-p22"`, "discovery_scanner"},
		{"masscan cannot follow", `"scanner": "masscan", "options": "-p22", "discovery_scanner": "zmap", "discovery_options": "-p 22"`, "discovery_scanner"},
		{"unknown discovery scanner", `"scanner": "nmap", "options": "-sV", "discovery_scanner": "nessus"`, "discovery_scanner"},
		{"second stage chooses ports", `"scanner": "nmap", "options": "-sV -p 22", "discovery_scanner": "masscan", "discovery_options": "-p22"`, "options"},
		{"second stage top ports", `"scanner": "nmap", "options": "--top-ports 10", "discovery_scanner": "masscan", "discovery_options": "-p22"`, "options"},
		{"discovery option refused", `"scanner": "nmap", "options": "-sV", "discovery_scanner": "masscan", "discovery_options": "-p22 -oX /tmp/x"`, "discovery_options"},
		{"nmap option in discovery", `"scanner": "nmap", "options": "-sV", "discovery_scanner": "masscan", "discovery_options": "-sV -p22"`, "discovery_options"},
		{"options without discovery", `"scanner": "nmap", "options": "-sV", "discovery_options": "-p22"`, "discovery_options"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, "POST", "/api/v1/profiles", fmt.Sprintf(`{"name": %q, %s}`, uniq("profile"), tt.body))
			if msg := errorOf(t, w); w.Code != http.StatusBadRequest || !strings.Contains(msg, tt.field) {
				t.Errorf("status %d, error %q; want 400 naming %s", w.Code, msg, tt.field)
			}
		})
	}
}

// The profile form takes the discovery stage too: an error shows beside
// its field, a saved two-stage profile is listed as such and its page
// offers its discovery settings back.
func TestTwoStageProfileForm(t *testing.T) {
	e := newEnv(t)
	_, session, csrf := e.sessionFor(t, accounts.Admin)
	w := e.form(t, session, csrf, "/profiles", url.Values{"name": {uniq("p")}, "scanner": {"nmap"}, "options": {"-sV"},
		"discovery_scanner": {"masscan"}, "discovery_options": {"-p22 --banners-nope"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "discovery_options"), "--banners-nope") {
		t.Errorf("bad discovery options: %d %q", w.Code, fieldError(w.Body.String(), "discovery_options"))
	}
	pname := uniq("p")
	if w := e.form(t, session, csrf, "/profiles", url.Values{"name": {pname}, "scanner": {"nmap"}, "options": {"-sV"},
		"discovery_scanner": {"zmap"}, "discovery_options": {"-p 443"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("profile: %d %s", w.Code, w.Body.String())
	}
	list := e.page(t, session, "GET", "/profiles?q="+url.QueryEscape(pname), nil).Body.String()
	m := regexp.MustCompile(`href="/profiles/(\d+)">` + regexp.QuoteMeta(pname)).FindStringSubmatch(list)
	if m == nil || !strings.Contains(list, "zmap <code>-p 443</code>, then nmap") {
		t.Fatalf("profiles page does not show the two stages")
	}
	page := e.page(t, session, "GET", "/profiles/"+m[1], nil).Body.String()
	if !strings.Contains(page, `<option value="zmap" selected>`) || !strings.Contains(page, `name="discovery_options" value="-p 443"`) {
		t.Errorf("profile page lacks its discovery settings")
	}
}
