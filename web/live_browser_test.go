package web

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// chromiumPath is Debian's chromium, which `make tools` installs.
const chromiumPath = "/usr/bin/chromium"

// TestPagesFollowRunsLive opens a run's page in a real browser and changes
// the run in the database: the page shows the new status without
// reloading (a value the test leaves on the page survives), and reloads
// itself once the run has ended, to show its results. Then the dashboard
// does the same for another run's row, and announces a run started since
// it was loaded.
func TestPagesFollowRunsLive(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("this test needs Debian's chromium at %s (make tools): %v", chromiumPath, err)
	}
	e, base := liveEnv(t)
	r := e.startRun(t, e.makeScan(t, makeFixtures(t, e)).ID)
	ctx := context.Background()
	const password = "live page password 0123"
	hash, err := accounts.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := testStore.CreateUser(ctx, accounts.User{Name: uniq("watcher"), Role: accounts.Viewer, PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}

	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true))
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// Started on the browser's own context: one derived with a timeout
	// would take the browser down with it.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			// The page as it stood, to see what it showed instead.
			tctx, tcancel := context.WithTimeout(bctx, 10*time.Second)
			defer tcancel()
			body, _ := chromedp.Run(tctx, chromedp.Text("body"))
			t.Fatalf("%s: %v\n%s", what, err, body)
		}
	}
	status := `//span[@id="run-status" and text()="%s"]`
	do("log in and open the run",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), u.Name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(`//h1[text()="Dashboard"]`),
		chromedp.Navigate(fmt.Sprintf("%s/runs/%d", base, r.ID)),
		chromedp.WaitVisible(fmt.Sprintf(status, "pending")),
	)
	eval := func(expr string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 60*time.Second)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	eval(`window.liveMarker = "still here"`)
	// The page's stream listens before the change is made.
	waitStream := func() {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for e.srv.live.hub.subscribers() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the page opened no event stream")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitStream()

	if err := testStore.SetRunStatus(ctx, r.ID, scan.RunRunning, ""); err != nil {
		t.Fatal(err)
	}
	do("see the run running", chromedp.WaitVisible(fmt.Sprintf(status, "running")))
	if marker := eval(`String(window.liveMarker)`); marker != "still here" {
		t.Errorf("the page reloaded to show the change (marker %q)", marker)
	}

	if err := testStore.SetRunStatus(ctx, r.ID, scan.RunFailed, "the agent went away"); err != nil {
		t.Fatal(err)
	}
	do("see the run failed, reloaded", chromedp.WaitVisible(fmt.Sprintf(status, "failed")),
		chromedp.WaitVisible(`//dd[@class="error" and text()="the agent went away"]`))
	if marker := eval(`String(window.liveMarker)`); marker != "undefined" {
		t.Errorf("the page did not reload at the end (marker %q)", marker)
	}

	// The dashboard: a row of each unfinished run follows it.
	r2 := e.startRun(t, e.makeScan(t, makeFixtures(t, e)).ID)
	row := fmt.Sprintf(`//tr[@data-run-id="%d"]`, r2.ID)
	do("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(row+`//span[text()="pending"]`))
	eval(`window.liveMarker = "still here"`)
	waitStream()
	if err := testStore.SetRunStatus(ctx, r2.ID, scan.RunRunning, ""); err != nil {
		t.Fatal(err)
	}
	do("see the row running", chromedp.WaitVisible(row+`//span[text()="running"]`))
	if err := testStore.SetRunStatus(ctx, r2.ID, scan.RunCancelled, ""); err != nil {
		t.Fatal(err)
	}
	// A finished run's rows stop following it.
	do("see the row cancelled", chromedp.WaitVisible(fmt.Sprintf(`//tr[td/a[@href="/runs/%d"]]//span[text()="cancelled"]`, r2.ID)),
		chromedp.WaitNotPresent(row))
	r3 := e.startRun(t, e.makeScan(t, makeFixtures(t, e)).ID)
	do("see the new run announced", chromedp.WaitVisible(fmt.Sprintf(`//p[@id="run-%d-new"]/a[@href="/runs/%d"]`, r3.ID, r3.ID)))
	if marker := eval(`String(window.liveMarker)`); marker != "still here" {
		t.Errorf("the dashboard reloaded (marker %q)", marker)
	}
}
