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
	b.login(base)
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

	checkTestDelivery(t, hook, fmt.Sprintf("%s/scans/%d", public, sc.ID), "notify-scan")
}

// checkTestDelivery checks that the webhook received one delivery, a
// signed test of the scan with its link.
func checkTestDelivery(t *testing.T, hook *webhookReceiver, scanURL, scanName string) {
	t.Helper()
	deliveries := hook.deliveries(t, 30*time.Second)
	if len(deliveries) != 1 {
		t.Fatalf("%d deliveries, want the one test", len(deliveries))
	}
	d := deliveries[0]
	s, _ := d["scan"].(map[string]any)
	events, _ := d["events"].([]any)
	if s == nil || s["url"] != scanURL || s["name"] != scanName ||
		len(events) != 1 || events[0] != "test" || !strings.HasPrefix(fmt.Sprint(d["delivery"]), "test-") {
		t.Errorf("test delivery %v", d)
	}
}
