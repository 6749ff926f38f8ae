package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scantron/scantron/scan"
)

// TestBrowserNotifications: on a scan's page in a real browser, an
// operator sets a webhook (to a receiver on the loopback, which the
// server's settings allow) and sends a test; the test arrives signed with
// the scan's link under the server's public URL, and the page says it was
// delivered.
func TestBrowserNotifications(t *testing.T) {
	const public = "https://scantron.example.test"
	base, admin, _ := startServer(t, "SCANTRON_PUBLIC_URL="+public)
	hook := newWebhookReceiver(t)

	var site scan.Site
	admin.do("POST", "/sites", map[string]any{"name": "notify-lab", "targets": []string{"198.18.0.0/30"}}, http.StatusCreated, &site)
	var profile scan.Profile
	admin.do("POST", "/profiles", map[string]any{"name": "notify-tcp", "scanner": "nmap", "options": "-n -Pn -sT -p 22"}, http.StatusCreated, &profile)
	var agent scan.Agent
	admin.do("POST", "/agents", map[string]any{"name": "notify-agent"}, http.StatusCreated, &agent)
	var sc scan.Scan
	admin.do("POST", "/scans", map[string]any{"name": "notify-scan", "site_id": site.ID, "profile_id": profile.ID, "agent_id": agent.ID}, http.StatusCreated, &sc)

	b := browser{t: t, ctx: newBrowser(t)}
	b.run("log in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), adminUser),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(`//h1[text()="Dashboard"]`),
	)
	b.run("set a webhook",
		chromedp.Navigate(fmt.Sprintf("%s/scans/%d", base, sc.ID)),
		chromedp.WaitVisible(chromedp.ID("notifications-form")),
		chromedp.SendKeys(chromedp.ID("webhook-url"), hook.URL),
		chromedp.SendKeys(chromedp.ID("webhook-secret"), hook.secret),
		chromedp.Click(chromedp.ID("save-notifications")),
		chromedp.WaitVisible(`//span[@id="webhook-secret-state"][text()="set"]`),
	)
	if v := get(b, "read the secret field", chromedp.Value(chromedp.ID("webhook-secret"))); v != "" {
		t.Errorf("the secret field shows %q after saving", v)
	}
	b.screenshot("notify-01-webhook-set")
	b.run("send a test",
		chromedp.Click(chromedp.ID("test-notifications")),
		chromedp.WaitVisible(chromedp.ID("test-webhook")),
	)
	if got := b.text("#test-webhook"); got != "sent, answered 200" {
		t.Errorf("the page says of the test's webhook: %q", got)
	}
	b.screenshot("notify-02-test-sent")

	var deliveries []map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for len(deliveries) == 0 && time.Now().Before(deadline) {
		hook.mu.Lock()
		deliveries = append(deliveries, hook.got...)
		if len(hook.bad) > 0 {
			t.Errorf("deliveries that did not verify: %v", hook.bad)
		}
		hook.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	if len(deliveries) != 1 {
		t.Fatalf("%d deliveries, want the one test", len(deliveries))
	}
	d := deliveries[0]
	s, _ := d["scan"].(map[string]any)
	events, _ := d["events"].([]any)
	if s == nil || s["url"] != fmt.Sprintf("%s/scans/%d", public, sc.ID) || s["name"] != "notify-scan" ||
		len(events) != 1 || events[0] != "test" || !strings.HasPrefix(fmt.Sprint(d["delivery"]), "test-") {
		t.Errorf("test delivery %v", d)
	}
}
