package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// TestNotificationsOnScanPage: an operator sets a scan's webhook (its
// secret never shown back, only whether it is set), recipients and events
// on the scan's page, is told beside the field what is wrong, and sends a
// test that arrives at a real receiver on the loopback, signed, with the
// scan's link, and whose outcome the page shows. The API answers the same
// outcome.
func TestNotificationsOnScanPage(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, body)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	received := func() ([]*http.Request, [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		return append([]*http.Request(nil), got...), append([][]byte(nil), bodies...)
	}

	loopback := scan.WebhookPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	e := newEnv(t, func(c *Config, d *Deps) {
		c.Webhooks = loopback
		d.Notifier = &activities.Notifier{Store: testStore, Webhooks: loopback, PublicURL: "http://scantron.test/"}
	})
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	_, session, csrf := e.sessionFor(t, accounts.Operator)
	page := fmt.Sprintf("/scans/%d", s.ID)

	body := e.page(t, session, "GET", page, nil).Body.String()
	if !strings.Contains(body, `id="notifications-form"`) || !strings.Contains(body, `<span id="webhook-secret-state">not set</span>`) {
		t.Fatalf("the scan page has no notifications form:\n%s", body)
	}

	const secret = "a-secret-of-some-length"
	hook := srv.URL + "/hook"
	w := e.form(t, session, csrf, page+"/notifications", url.Values{"webhook_url": {hook}, "webhook_secret": {secret},
		"email_to": {"ops@example.test\nsec@example.test"}, "on_completed": {"on"}, "on_diff": {"on"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != page+"#notifications" {
		t.Fatalf("save: %d %s", w.Code, w.Body.String())
	}
	stored, err := testStore.GetNotifications(context.Background(), s.ID)
	must(t, err)
	if stored.WebhookURL != hook || stored.WebhookSecret != secret || strings.Join(stored.EmailTo, ",") != "ops@example.test,sec@example.test" ||
		!stored.OnCompleted || stored.OnFailed || !stored.OnDiff {
		t.Errorf("stored %+v", stored)
	}
	body = e.page(t, session, "GET", page, nil).Body.String()
	if strings.Contains(body, secret) || !strings.Contains(body, `<span id="webhook-secret-state">set</span>`) || !strings.Contains(body, hook) {
		t.Errorf("the page after saving shows the secret, or not that it is set, or not the URL")
	}

	// Refused: the reason beside the field, the secret not echoed.
	w = e.form(t, session, csrf, page+"/notifications", url.Values{"webhook_url": {"ftp://x.test/"}, "webhook_secret": {"another-secret-value"}})
	if w.Code != http.StatusBadRequest || !strings.HasPrefix(fieldError(w.Body.String(), "webhook_url"), "webhook_url: ") ||
		strings.Contains(w.Body.String(), "another-secret-value") {
		t.Errorf("bad URL: %d, error %q", w.Code, fieldError(w.Body.String(), "webhook_url"))
	}

	w = e.form(t, session, csrf, page+"/notifications/test", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("test: %d %s", w.Code, w.Body.String())
	}
	for _, want := range []string{`<dd id="test-webhook">sent, answered 202</dd>`, `<dd id="test-email">not sent: no SMTP server configured (SCANTRON_SMTP_ADDR)</dd>`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("the test's outcome lacks %s", want)
		}
	}
	reqs, bs := received()
	if len(reqs) != 1 {
		t.Fatalf("%d deliveries", len(reqs))
	}
	var p activities.WebhookPayload
	must(t, json.Unmarshal(bs[0], &p))
	if p.Scan.URL != fmt.Sprintf("http://scantron.test/scans/%d", s.ID) || strings.Join(p.Events, ",") != activities.EventTest ||
		reqs[0].Header.Get(activities.HeaderSignature) == "" {
		t.Errorf("delivery %s", bs[0])
	}

	// The API: the same outcome as JSON; a missing scan is 404.
	var out scan.NotificationTest
	e.mustDo(t, "POST", "/api/v1"+page+"/notifications/test", "", http.StatusOK, &out)
	if out != (scan.NotificationTest{Webhook: scan.ChannelOutcome{Sent: true, Status: 202},
		Email: scan.ChannelOutcome{Skipped: "no SMTP server configured (SCANTRON_SMTP_ADDR)"}}) {
		t.Errorf("API outcome %+v", out)
	}
	if w := e.do(t, "POST", "/api/v1/scans/987654321/notifications/test", ""); w.Code != http.StatusNotFound {
		t.Errorf("test of a missing scan: %d", w.Code)
	}
	// A server that cannot send says so.
	plain := newEnv(t)
	if w := plain.do(t, "POST", "/api/v1"+page+"/notifications/test", ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("without a notifier: %d %s", w.Code, w.Body.String())
	}
}
