package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scantron/scantron/scan"
)

// chromium is Debian's package, installed by `make tools`.
const chromium = "/usr/bin/chromium"

// artifacts is where screenshots go: kept after the test, ignored by git.
var artifacts = filepath.Join("..", ".artifacts", "browser")

// newBrowser starts a headless Chromium with a throwaway profile that
// fetches nothing on its own.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (make tools): %v", chromium, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// browser runs actions with a time limit and fails the test on error,
// keeping a screenshot of where it stopped.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func (b browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

// fail ends the test with a screenshot and the page's text.
func (b browser) fail(what string, err error) {
	b.t.Helper()
	b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	b.t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
}

func (b browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 gives a PNG
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		b.t.Fatal(err)
	}
	file := filepath.Join(artifacts, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", file)
}

// login signs in as the first admin with the login form and waits for the
// dashboard.
func (b browser) login(base string) {
	b.t.Helper()
	b.run("log in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), adminUser),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(`//h1[text()="Dashboard"]`),
	)
}

// get runs one action that answers a value, failing the test on error.
func get[T any](b browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// text reads the text of the element a CSS selector or XPath query finds.
func (b browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		b.fail("read "+sel, err)
	}
	return s
}

// TestBrowser is an operator's session in a real browser: log in, register
// the agent, create a site (after a refused one), a profile and a scan, run
// it against a namespace host, watch the page follow it to the end, and see
// its ports.
func TestBrowser(t *testing.T) {
	target := newTargetHost(t)
	base, admin, env := startServer(t)
	b := browser{t: t, ctx: newBrowser(t)}

	b.login(base)
	b.screenshot("01-dashboard")

	b.run("register the agent",
		chromedp.Navigate(base+"/agents"),
		chromedp.SendKeys(chromedp.ID("agent-name"), "browser-agent"),
		chromedp.Submit(chromedp.ID("agent-name")),
		chromedp.WaitVisible(`//td[text()="browser-agent"]`),
		chromedp.WaitVisible(chromedp.ID("new-credential")),
	)
	// The operator starts the agent with the credential the page showed.
	startAgent(t, env, "browser-agent", b.text("#new-credential"))

	// A bad target is refused on the page, beside the targets field.
	b.run("submit a bad site",
		chromedp.Navigate(base+"/sites"),
		chromedp.SendKeys(chromedp.ID("site-name"), "browser-lab"),
		chromedp.SendKeys(chromedp.ID("site-targets"), "198.18.0.0/33"),
		chromedp.Submit(chromedp.ID("site-name")),
		chromedp.WaitVisible(chromedp.ID("targets-error")),
	)
	if msg := b.text("#targets-error"); !strings.Contains(msg, "targets[0]") || !strings.Contains(msg, "198.18.0.0/33") {
		t.Errorf("targets error on the page: %q", msg)
	}
	b.screenshot("02-site-refused")
	b.run("fix the site",
		chromedp.SetValue(chromedp.ID("site-targets"), target.Addr),
		chromedp.Submit(chromedp.ID("site-name")),
		chromedp.WaitVisible(`//h1[text()="Site browser-lab"]`),
	)

	b.run("create a profile",
		chromedp.Navigate(base+"/profiles"),
		chromedp.SendKeys(chromedp.ID("profile-name"), "browser-tcp"),
		chromedp.SendKeys(chromedp.ID("profile-options"), "-n -Pn -T4 -sV --version-light -p 1-3000,8000-8100"),
		chromedp.Submit(chromedp.ID("profile-name")),
		chromedp.WaitVisible(`//td/a[text()="browser-tcp"]`),
	)

	var sites []scan.Site
	admin.do("GET", "/sites", nil, http.StatusOK, &sites)
	var profiles []scan.Profile
	admin.do("GET", "/profiles", nil, http.StatusOK, &profiles)
	var agents []scan.Agent
	admin.do("GET", "/agents", nil, http.StatusOK, &agents)
	id := func(name string, names map[string]int64) string {
		if names[name] == 0 {
			t.Fatalf("%s was not created", name)
		}
		return fmt.Sprint(names[name])
	}
	byName := map[string]int64{}
	for _, s := range sites {
		byName["site "+s.Name] = s.ID
	}
	for _, p := range profiles {
		byName["profile "+p.Name] = p.ID
	}
	for _, a := range agents {
		byName["agent "+a.Name] = a.ID
	}
	// The schedule fields preview the next fire times as they are typed,
	// and a bad rule is refused beside its field before anything is saved.
	// The schedule starts in 2099: it never fires during the test.
	b.run("preview a schedule",
		chromedp.Navigate(base+"/scans"),
		chromedp.SendKeys(chromedp.ID("scan-name"), "browser-scan"),
		chromedp.SetValue(chromedp.ID("scan-site"), id("site browser-lab", byName)),
		chromedp.SetValue(chromedp.ID("scan-profile"), id("profile browser-tcp", byName)),
		chromedp.SetValue(chromedp.ID("scan-agent"), id("agent browser-agent", byName)),
		chromedp.SendKeys(chromedp.ID("scan-start"), "2099-01-05T02:00:00Z"),
		chromedp.SendKeys(chromedp.ID("scan-rrule"), "FREQ=WEEKLY;BYDAY=MO"),
		chromedp.WaitVisible(`#schedule-preview-times li:nth-child(10)`),
	)
	if times := b.text("#schedule-preview-times"); !strings.Contains(times, "2099-01-05T02:00:00Z") || !strings.Contains(times, "2099-03-09T02:00:00Z") {
		t.Errorf("previewed fire times: %q", times)
	}
	b.screenshot("03-schedule-preview")
	// SetValue fires no input event; the key typed after it does.
	b.run("preview a bad rule",
		chromedp.SetValue(chromedp.ID("scan-rrule"), "FREQ=WEEKLY;BYDAY=X"),
		chromedp.SendKeys(chromedp.ID("scan-rrule"), "X"),
		chromedp.WaitVisible(chromedp.ID("rrule-error")),
	)
	if msg := b.text("#rrule-error"); !strings.Contains(msg, "not a valid RRULE") {
		t.Errorf("rrule error beside the field: %q", msg)
	}
	b.screenshot("04-schedule-refused")
	b.run("create a scheduled scan",
		chromedp.SetValue(chromedp.ID("scan-rrule"), "FREQ=WEEKLY;BYDAY=M"),
		chromedp.SendKeys(chromedp.ID("scan-rrule"), "O"),
		chromedp.WaitNotPresent(chromedp.ID("rrule-error")),
		chromedp.WaitVisible(`#schedule-preview-times li:nth-child(10)`),
		chromedp.Submit(chromedp.ID("scan-name")),
		chromedp.WaitVisible(`//td/a[text()="browser-scan"]`),
	)
	b.screenshot("05-scans")

	// The scan's page shows its schedule, and pausing it says so.
	b.run("pause the schedule",
		chromedp.Click(`//td/a[text()="browser-scan"]`),
		chromedp.WaitVisible(chromedp.ID("next-fire-times")),
		chromedp.SendKeys(`//form[button[@id="pause-schedule"]]/input[@name="note"]`, "browser test"),
		chromedp.Click(chromedp.ID("pause-schedule")),
		chromedp.WaitVisible(chromedp.ID("resume-schedule")),
	)
	if st := b.text("#schedule-state"); !strings.Contains(st, "paused") || !strings.Contains(st, "browser test") {
		t.Errorf("schedule state after a pause: %q", st)
	}
	if form := b.text("#schedule-form"); form != "calendar" {
		t.Errorf("schedule form on the scan page: %q", form)
	}
	b.screenshot("06-scan-schedule-paused")

	b.run("run it now",
		chromedp.Click(`//button[text()="Run now"]`),
		chromedp.WaitVisible(chromedp.ID("run-status")),
	)
	b.screenshot("07-run-started")
	b.waitRun("first run")
	b.screenshot("08-run-finished")
	b.run("see the ports", chromedp.WaitVisible(`//h2[text()="Ports"]/following-sibling::table`))
	ports := b.text(`//h2[text()="Ports"]/following-sibling::table`)
	for p, svc := range target.Ports {
		if !strings.Contains(ports, fmt.Sprint(p)) || !strings.Contains(ports, svc.Name) {
			t.Errorf("the run page's ports lack %d (%s): %s", p, svc.Name, ports)
		}
	}
	if hosts := strings.TrimSpace(b.text("#run-hosts-up")); hosts != "1" {
		t.Errorf("hosts up on the page: %q", hosts)
	}
	b.screenshot("09-ports")
	firstRun := get(b, "note the run", chromedp.Location())

	b.run("see the site's chart",
		chromedp.Navigate(base+"/sites/"+id("site browser-lab", byName)),
		chromedp.WaitVisible(chromedp.ID("exposure-chart")),
	)
	// The point's tooltip is an SVG <title>, which has text content but is
	// not rendered text.
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	label, err := chromedp.Run(ctx, chromedp.TextContent(`//*[@id="exposure-chart"]//*[local-name()="circle"]/*[local-name()="title"][contains(., "open ports")]`))
	cancel()
	if err != nil || !strings.Contains(label, fmt.Sprintf("%d open ports", len(target.Ports))) {
		t.Errorf("chart point label %q: %v", label, err)
	}
	b.screenshot("10-site-chart")

	// One service goes away; the next run's page shows the port closed
	// since the first run, and the dashboard lists the change.
	const gone = 2121
	target.ClosePort(gone)
	b.run("run it again",
		chromedp.Navigate(base+"/scans"),
		chromedp.Click(`//tr[td/a[text()="browser-scan"]]//button[text()="Run now"]`),
		chromedp.WaitVisible(chromedp.ID("run-status")),
	)
	b.waitRun("second run")
	b.run("see the changes", chromedp.WaitVisible(chromedp.ID("changes")))
	firstID := firstRun[strings.LastIndex(firstRun, "/")+1:]
	if h := b.text("#changes"); !strings.Contains(h, "since run #"+firstID) {
		t.Errorf("changes heading %q, want since run #%s", h, firstID)
	}
	changes := b.text(`//h2[@id="changes"]/following-sibling::table`)
	if !strings.Contains(changes, "closed_port") || !strings.Contains(changes, target.Addr) || !strings.Contains(changes, fmt.Sprint(gone)) ||
		strings.Count(changes, "closed_port") != 1 {
		t.Errorf("the second run's changes: %q", changes)
	}
	b.screenshot("11-run-changes")
	b.run("see the latest changes",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`#latest-changes table`),
	)
	second := get(b, "find the second run on the dashboard", chromedp.AttributeValue(`#latest-changes a[href$="#changes"]`, "href")).Value
	if second == "" || strings.HasSuffix(second, "/"+firstID+"#changes") {
		t.Errorf("the dashboard's latest change links %q", second)
	}
	b.screenshot("12-dashboard-changes")
}

// waitRun reads the run page until the run ends: the page follows the run
// by itself (app.js follows the run's event stream and reloads when it ends).
func (b browser) waitRun(what string) {
	b.t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	status := ""
	for time.Now().Before(deadline) {
		// The page may be reloading as it is read: a failed read is retried.
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("run-status")))
		cancel()
		if err == nil {
			status = strings.TrimSpace(s)
		}
		if status == "completed" || status == "failed" || status == "cancelled" {
			break
		}
		time.Sleep(time.Second)
	}
	if status != "completed" {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: status on the page %q", what, status)
	}
}
