package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// walkPorts are the target host's services the walk-through scans: few,
// so that each scan takes seconds.
const walkPorts = "2121,2222,8080"

// TestOperatorWalkThrough walks the estate as an operator does, through the
// UI in a real browser only (the API only reads facts back to compare):
// import two older scans of the site in which the SSH server's version
// changed, scan the site from the scan page and watch the run live, find
// the changed service with a search and follow it to the host, and set a
// webhook and send a test to it.
func TestOperatorWalkThrough(t *testing.T) {
	const public = "https://scantron.example.test"
	target := newTargetHost(t)
	base, admin, env := startServer(t, "SCANTRON_PUBLIC_URL="+public)
	hook := newWebhookReceiver(t)

	// Two older scans: a real nmap run of the host, timed three days and
	// two hours ago, the older with the SSH server a version behind.
	now := nmapXML(t, "-n", "-Pn", "-sT", "-sV", "--version-light", "-p", walkPorts, target.Addr)
	ssh := xmlPort(t, now, 2222)
	if ssh.Product != "OpenSSH" || ssh.Version == "" {
		t.Fatalf("nmap named the SSH port %+v", ssh)
	}
	const oldVersion = "8.4p1 Debian 5+deb11u1"
	older := shiftTimes(t, strings.Replace(now, `version="`+ssh.Version+`"`, `version="`+oldVersion+`"`, 1), -72*time.Hour)
	newer := shiftTimes(t, now, -2*time.Hour)
	if xmlPort(t, older, 2222).Version != oldVersion {
		t.Fatal("the older scan's SSH version was not rewritten")
	}
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "2026-week1.xml"), filepath.Join(dir, "2026-week2.xml")}
	for i, x := range []string{older, newer} {
		if err := os.WriteFile(files[i], []byte(x), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	b := browser{t: t, ctx: newBrowser(t)}
	b.login(base)
	b.run("register the agent",
		chromedp.Navigate(base+"/agents"),
		chromedp.SendKeys(chromedp.ID("agent-name"), "walk-agent"),
		chromedp.Submit(chromedp.ID("agent-name")),
		chromedp.WaitVisible(chromedp.ID("new-credential")),
	)
	// The agent is started later, once the run page is watching.
	credential := b.text("#new-credential")
	b.run("create the site",
		chromedp.Navigate(base+"/sites"),
		chromedp.SendKeys(chromedp.ID("site-name"), "walk-lab"),
		chromedp.SendKeys(chromedp.ID("site-targets"), target.Addr),
		chromedp.Submit(chromedp.ID("site-name")),
		chromedp.WaitVisible(`//h1[text()="Site walk-lab"]`),
	)
	sitePage := get(b, "note the site page", chromedp.Location())
	siteID := sitePage[strings.LastIndex(sitePage, "/")+1:]

	// 1. Import the two older scans with the site page's form: the page
	// goes to the newer one's run, which completes.
	b.run("import the older scans",
		chromedp.SetUploadFiles(chromedp.ID("import-file"), files),
		chromedp.Click(`//form[@id="import-form"]//button[@type="submit"]`),
		chromedp.WaitVisible(chromedp.ID("run-import")),
	)
	b.waitRun("the import")
	if imp := b.text("#run-import"); !strings.Contains(imp, "2026-week2.xml") || !strings.Contains(imp, adminUser) {
		t.Errorf("the imported run says %q", imp)
	}
	importRun := pageID(t, get(b, "note the import's run", chromedp.Location()))
	var imported runView
	admin.do("GET", "/runs/"+importRun, nil, http.StatusOK, &imported)
	if want := startTime(t, newer); !imported.CreatedAt.Equal(want) || imported.OpenPorts != len(target.Ports) {
		t.Errorf("the import's run: created %v (want %v), %d open ports (want %d)", imported.CreatedAt, want, imported.OpenPorts, len(target.Ports))
	}
	if ports := strings.TrimSpace(b.text("#run-open-ports")); ports != strconv.Itoa(imported.OpenPorts) {
		t.Errorf("the page says %s open ports, the API %d", ports, imported.OpenPorts)
	}
	// The newer import's changes since the older: the SSH server's version.
	// They are recorded just after the run completes: the operator reloads
	// the page until they show.
	deadline := time.Now().Add(2 * time.Minute)
	for !get(b, "look for the changes", chromedp.Evaluate[bool](`!!document.querySelector("#changes ~ table")`)) {
		if time.Now().After(deadline) {
			b.fail("see the import's changes", fmt.Errorf("no changes after %v", 2*time.Minute))
		}
		time.Sleep(500 * time.Millisecond)
		b.run("reload the import's run", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("changes")))
	}
	var diff struct {
		Changes []struct {
			Kind   string `json:"kind"`
			Port   int    `json:"port"`
			Before struct {
				Version string `json:"version"`
			} `json:"before"`
			After struct {
				Version string `json:"version"`
			} `json:"after"`
		} `json:"changes"`
	}
	admin.do("GET", "/runs/"+importRun+"/diff", nil, http.StatusOK, &diff)
	if len(diff.Changes) != 1 || diff.Changes[0].Kind != "changed_service" || diff.Changes[0].Port != 2222 ||
		diff.Changes[0].Before.Version != oldVersion || diff.Changes[0].After.Version != ssh.Version {
		t.Errorf("the newer import's diff: %+v", diff)
	}
	if changes := b.text(`//h2[@id="changes"]/following-sibling::table`); !strings.Contains(changes, "changed_service") ||
		!strings.Contains(changes, "2222") || !strings.Contains(changes, oldVersion) || !strings.Contains(changes, ssh.Version) {
		t.Errorf("the import's changes on its page: %q", changes)
	}
	b.screenshot("walk-01-imported")

	// 2. A profile and a scan, then a run from the scan page, watched live.
	b.run("create a profile",
		chromedp.Navigate(base+"/profiles"),
		chromedp.SendKeys(chromedp.ID("profile-name"), "walk-tcp"),
		chromedp.SendKeys(chromedp.ID("profile-options"), "-n -Pn -sT -sV --version-light -p "+walkPorts),
		chromedp.Submit(chromedp.ID("profile-name")),
		chromedp.WaitVisible(`//td/a[text()="walk-tcp"]`),
	)
	var profiles []scan.Profile
	admin.do("GET", "/profiles", nil, http.StatusOK, &profiles)
	var agents []scan.Agent
	admin.do("GET", "/agents", nil, http.StatusOK, &agents)
	profileID, agentID := "", ""
	for _, p := range profiles {
		if p.Name == "walk-tcp" {
			profileID = fmt.Sprint(p.ID)
		}
	}
	for _, a := range agents {
		if a.Name == "walk-agent" {
			agentID = fmt.Sprint(a.ID)
		}
	}
	if profileID == "" || agentID == "" {
		t.Fatalf("the profile (%q) or the agent (%q) was not created", profileID, agentID)
	}
	b.run("create the scan",
		chromedp.Navigate(base+"/scans"),
		chromedp.SendKeys(chromedp.ID("scan-name"), "walk-scan"),
		chromedp.SetValue(chromedp.ID("scan-site"), siteID),
		chromedp.SetValue(chromedp.ID("scan-profile"), profileID),
		chromedp.SetValue(chromedp.ID("scan-agent"), agentID),
		chromedp.Submit(chromedp.ID("scan-name")),
		chromedp.WaitVisible(`//td/a[text()="walk-scan"]`),
	)
	b.load("open the scan", chromedp.Click(`//td/a[text()="walk-scan"]`), `#notifications-form`)
	scanPage := get(b, "note the scan page", chromedp.Location())
	b.run("run it now",
		chromedp.Click(`//button[text()="Run now"]`),
		chromedp.WaitVisible(chromedp.ID("run-status")),
		// The shards are planned at once; a page made before would reload
		// itself to show them.
		chromedp.WaitVisible(chromedp.ID("shard-0-status")),
	)
	runPage := get(b, "note the run page", chromedp.Location())
	liveRun := pageID(t, runPage)
	// Every status the page shows from here on is noted with the page's
	// own life: kept in sessionStorage, they outlive the reload at the end,
	// and the note says whether the page had reloaded before it.
	get(b, "watch the status", chromedp.Evaluate[bool](`(function () {
		window.walkMarker = "loaded once";
		sessionStorage.setItem("walk-seen", "[]");
		var note = function () {
			var seen = JSON.parse(sessionStorage.getItem("walk-seen"));
			seen.push({run: document.getElementById("run-status").textContent.trim(),
				shard: document.getElementById("shard-0-status").textContent.trim(),
				same_page: window.walkMarker === "loaded once"});
			sessionStorage.setItem("walk-seen", JSON.stringify(seen));
		};
		var watch = {childList: true, characterData: true, subtree: true};
		new MutationObserver(note).observe(document.getElementById("run-status"), watch);
		new MutationObserver(note).observe(document.getElementById("shard-0-status"), watch);
		return true;
	})()`))
	before := strings.TrimSpace(b.text("#run-status"))
	if before != string(scan.RunPending) && before != string(scan.RunRunning) {
		t.Fatalf("the run is %q before its agent is up", before)
	}
	b.screenshot("walk-02-run-waiting")
	// The operator starts the agent with the credential the page showed.
	startAgent(t, env, "walk-agent", credential)
	b.waitRun("the live run")
	b.screenshot("walk-03-run-finished")
	seen := get(b, "read what the page showed", chromedp.Evaluate[[]map[string]any](`JSON.parse(sessionStorage.getItem("walk-seen") || "[]")`))
	live := false
	for _, s := range seen {
		if s["same_page"] == true && (s["run"] != before || s["shard"] != string(scan.ShardRunning)) && s["run"] != "" {
			live = true
		}
	}
	t.Logf("the run page showed, in order: %v", seen)
	if !live {
		t.Errorf("the run page showed no change without reloading; it noted %v", seen)
	}
	var run runView
	admin.do("GET", "/runs/"+liveRun, nil, http.StatusOK, &run)
	if run.Status != scan.RunCompleted || run.HostsUp != 1 || run.OpenPorts != len(target.Ports) {
		t.Fatalf("the live run: %+v", run.Run)
	}
	if up := strings.TrimSpace(b.text("#run-hosts-up")); up != "1" {
		t.Errorf("hosts up on the page: %q", up)
	}
	ports := b.text(`//h2[text()="Ports"]/following-sibling::table`)
	for p, svc := range target.Ports {
		if !strings.Contains(ports, fmt.Sprint(p)) || !strings.Contains(ports, svc.Name) {
			t.Errorf("the run page's ports lack %d (%s): %s", p, svc.Name, ports)
		}
	}
	if !strings.Contains(ports, ssh.Version) {
		t.Errorf("the run page does not show the SSH version %q: %s", ssh.Version, ports)
	}

	// 3. Search for what changed in the last day: the SSH server only
	// (the other ports were first seen three days ago, unchanged since).
	query := "site:walk-lab changed:24h"
	b.run("search",
		chromedp.Navigate(base+"/search"),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), query),
	)
	b.load("search", chromedp.Submit(chromedp.ID("q")), `#hits`)
	b.screenshot("walk-04-search")
	var found struct {
		Total int `json:"total"`
		Hits  []struct {
			Address string    `json:"address"`
			Port    int       `json:"port"`
			Service string    `json:"service"`
			Product string    `json:"product"`
			Version string    `json:"version"`
			First   time.Time `json:"first_seen"`
		} `json:"hits"`
	}
	admin.do("GET", "/search?q="+url.QueryEscape(query), nil, http.StatusOK, &found)
	if found.Total != 1 || len(found.Hits) != 1 || found.Hits[0].Port != 2222 || found.Hits[0].Address != target.Addr ||
		found.Hits[0].Version != ssh.Version || !found.Hits[0].First.Equal(startTime(t, older)) {
		t.Fatalf("the search's answer: %+v", found)
	}
	if total := b.text("#total"); total != "1" {
		t.Errorf("the page counts %q hits", total)
	}
	hits := b.text("#hits tbody")
	if !strings.Contains(hits, target.Addr) || !strings.Contains(hits, "2222/tcp") || !strings.Contains(hits, "OpenSSH") || !strings.Contains(hits, ssh.Version) {
		t.Errorf("the search page's hit: %q", hits)
	}

	// 4. Follow the hit to its site, to the host among the site's assets,
	// and to the host's page: its SSH port now, with the version it has
	// now, first seen in the older import, and in its history the version
	// change the newer import recorded.
	b.run("follow the hit to the host",
		chromedp.Click(`#hits tbody a[href="/sites/`+siteID+`"]`),
		chromedp.WaitVisible(`//h1[text()="Site walk-lab"]`),
		chromedp.Click(`//a[text()="Assets of this site"]`),
		chromedp.WaitVisible(`//h1[text()="Assets of walk-lab"]`),
		chromedp.SendKeys(chromedp.ID("q"), "port:2222 changed:24h"),
	)
	b.load("search the site's assets", chromedp.Submit(chromedp.ID("q")), `#assets a[href^="/assets/`+target.Addr+`"]`)
	if row := b.text(`//table[@id="assets"]//tr[td/a[text()="` + target.Addr + `"]]`); !strings.Contains(row, "2222/tcp") ||
		!strings.Contains(row, ssh.Version) || strings.Contains(row, "8080") {
		t.Errorf("the host among the site's assets: %q", row)
	}
	b.run("open the host's page",
		chromedp.Click(`#assets a[href^="/assets/`+target.Addr+`"]`),
		chromedp.WaitVisible(`//h1[text()="Host `+target.Addr+`"]`),
		chromedp.WaitVisible(chromedp.ID("events")),
	)
	b.screenshot("walk-05-host")
	var assets struct {
		Total  int `json:"total"`
		Assets []struct {
			Address string `json:"address"`
			Ports   []struct {
				Port    int       `json:"port"`
				State   string    `json:"state"`
				Version string    `json:"version"`
				First   time.Time `json:"first_seen"`
			} `json:"ports"`
		} `json:"assets"`
	}
	admin.do("GET", "/sites/"+siteID+"/assets?q="+url.QueryEscape("port:2222 ip:"+target.Addr), nil, http.StatusOK, &assets)
	if assets.Total != 1 || len(assets.Assets[0].Ports) != 1 || assets.Assets[0].Ports[0].Version != ssh.Version ||
		assets.Assets[0].Ports[0].State != "open" || !assets.Assets[0].Ports[0].First.Equal(startTime(t, older)) {
		t.Fatalf("the host's assets: %+v", assets)
	}
	nowRows := b.text(`#now table.host-ports tbody`)
	for p, svc := range target.Ports {
		if !strings.Contains(nowRows, fmt.Sprintf("%d/tcp", p)) || !strings.Contains(nowRows, svc.Name) {
			t.Errorf("the host page lacks %d (%s) now: %q", p, svc.Name, nowRows)
		}
	}
	if !strings.Contains(nowRows, ssh.Version) || strings.Contains(nowRows, oldVersion) {
		t.Errorf("the host page's SSH version now: %q", nowRows)
	}
	var history struct {
		Events []struct {
			Kind   string    `json:"kind"`
			At     time.Time `json:"at"`
			RunID  int64     `json:"run_id"`
			Port   int       `json:"port"`
			Before *struct {
				Version string `json:"version"`
			} `json:"before"`
			After *struct {
				Version string `json:"version"`
			} `json:"after"`
		} `json:"events"`
	}
	admin.do("GET", "/assets/"+target.Addr+"/history?site="+siteID, nil, http.StatusOK, &history)
	changed := 0
	for _, e := range history.Events {
		if e.Kind != string(scan.ServiceChanged) {
			continue
		}
		changed++
		if e.Port != 2222 || fmt.Sprint(e.RunID) != importRun || e.Before == nil || e.Before.Version != oldVersion || e.After == nil || e.After.Version != ssh.Version {
			t.Errorf("the history's version change: %+v", e)
		}
	}
	if changed != 1 {
		t.Errorf("%d version changes in the host's history, want 1: %+v", changed, history.Events)
	}
	row := b.text(`//table[@id="events"]//tr[contains(@class, "event-service_changed")]`)
	if !strings.Contains(row, "version changed") || !strings.Contains(row, "2222/tcp") || !strings.Contains(row, oldVersion) ||
		!strings.Contains(row, ssh.Version) || !strings.Contains(row, "#"+importRun) {
		t.Errorf("the version change on the host page: %q", row)
	}

	// 5. A webhook on the scan's page, and a test sent to it: it arrives
	// signed, with the scan's link under the public URL.
	b.run("set a webhook",
		chromedp.Navigate(scanPage),
		chromedp.WaitVisible(chromedp.ID("notifications-form")),
		chromedp.SendKeys(chromedp.ID("webhook-url"), hook.URL),
		chromedp.SendKeys(chromedp.ID("webhook-secret"), hook.secret),
		chromedp.Click(chromedp.ID("save-notifications")),
		chromedp.WaitVisible(`//span[@id="webhook-secret-state"][text()="set"]`),
		chromedp.Click(chromedp.ID("test-notifications")),
		chromedp.WaitVisible(chromedp.ID("test-webhook")),
	)
	b.screenshot("walk-06-webhook-test")
	if got := b.text("#test-webhook"); got != "sent, answered 200" {
		t.Errorf("the page says of the test's webhook: %q", got)
	}
	var settings struct {
		WebhookURL       string `json:"webhook_url"`
		WebhookSecretSet bool   `json:"webhook_secret_set"`
	}
	admin.do("GET", "/scans/"+pageID(t, scanPage)+"/notifications", nil, http.StatusOK, &settings)
	if settings.WebhookURL != hook.URL || !settings.WebhookSecretSet {
		t.Errorf("stored notification settings %+v", settings)
	}
	checkTestDelivery(t, hook, public+"/scans/"+pageID(t, scanPage), "walk-scan")
}

// xmlPort is what the nmap XML says of a TCP port.
func xmlPort(t *testing.T, xml string, port int) report.Service {
	t.Helper()
	var svc *report.Service
	if _, err := report.Parse(strings.NewReader(xml), func(h report.Host) error {
		for _, p := range h.Ports {
			if p.Number == port && p.Protocol == "tcp" {
				svc = &p.Service
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if svc == nil {
		t.Fatalf("no port %d in the scan", port)
	}
	return *svc
}

// unixTimes are nmap XML's attributes that hold a time in Unix seconds.
var unixTimes = regexp.MustCompile(`\b(start|time|starttime|endtime)="(\d+)"`)

// shiftTimes moves every time in an nmap XML by d, as if the scan had been
// made then.
func shiftTimes(t *testing.T, xml string, d time.Duration) string {
	t.Helper()
	return unixTimes.ReplaceAllStringFunc(xml, func(m string) string {
		sub := unixTimes.FindStringSubmatch(m)
		n, err := strconv.ParseInt(sub[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf(`%s="%d"`, sub[1], n+int64(d/time.Second))
	})
}

// pageID is the last segment of a page's URL: the id of what it shows.
func pageID(t *testing.T, page string) string {
	t.Helper()
	u, err := url.Parse(page)
	if err != nil {
		t.Fatal(err)
	}
	id := u.Path[strings.LastIndex(u.Path, "/")+1:]
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		t.Fatalf("no id in %s", page)
	}
	return id
}

// load does what leads to a new page (a form's submit, a link) and waits
// for sel on that page: the page before may have shown sel too, so it is
// marked first, and the wait is for a page without the mark.
func (b browser) load(what string, action chromedp.Action[chromedp.Void], sel string) {
	b.t.Helper()
	get(b, what+": mark the page", chromedp.Evaluate[bool](`window.walkPageBefore = true`))
	b.run(what, action)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		// A read while the page is being replaced may fail: it is tried again.
		fresh, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.walkPageBefore !== true && document.readyState === "complete"`))
		cancel()
		if err == nil && fresh {
			break
		}
		if time.Now().After(deadline) {
			b.fail(what, fmt.Errorf("no new page after 30s (%v)", err))
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.run(what+": wait for "+sel, chromedp.WaitVisible(sel))
}
