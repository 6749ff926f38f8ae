package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestWebhookURLRefusesInternalAddresses: an operator may not point a
// scan's webhook at the server's own machine, its networks or the cloud
// metadata service, by address or by a name that resolves there, unless
// an admin allows the network.
func TestWebhookURLRefusesInternalAddresses(t *testing.T) {
	e := newEnv(t)
	sc := e.makeScan(t, makeFixtures(t, e))
	path := fmt.Sprintf("/api/v1/scans/%d/notifications", sc.ID)
	put := func(env *testEnv, u string) *httptest.ResponseRecorder {
		return env.do(t, "PUT", path, fmt.Sprintf(`{"webhook_url": %q, "webhook_secret": "0123456789abcdef"}`, u))
	}
	for _, u := range []string{
		"http://127.0.0.1:8080/hook",
		"http://127.1/hook",
		"http://[::1]/hook",
		"http://[::ffff:127.0.0.1]/hook",
		"http://0.0.0.0/hook",
		"http://[::]/hook",
		"http://169.254.169.254/latest/meta-data/",
		"http://[fe80::1%25eth0]/hook",
		"http://10.0.0.1/hook",
		"http://172.16.5.4/hook",
		"http://192.168.1.1/hook",
		"http://100.64.0.1/hook",
		"http://[fd12:3456::1]/hook",
		"http://224.0.0.1/hook",
		"http://[ff02::1]/hook",
		"http://255.255.255.255/hook",
		"http://[64:ff9b::a00:1]/hook",
		"https://metadata.test/hook",
		"https://intranet.test/hook",
		"https://ula.test/hook",
		"https://unresolvable.invalid/hook",
	} {
		w := put(e, u)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), "webhook_url: ") {
			t.Errorf("%s: %d %s", u, w.Code, w.Body.String())
		}
	}
	if w := e.do(t, "GET", path, ""); !strings.Contains(w.Body.String(), `"webhook_url":""`) {
		t.Errorf("a refused URL was stored: %s", w.Body.String())
	}
	if w := put(e, "https://hooks.example.test/scantron"); w.Code != http.StatusOK {
		t.Errorf("a public host: %d %s", w.Code, w.Body.String())
	}

	// An admin's allowed network is accepted, and only that one.
	allowed := newEnv(t, withConfig(func(c *Config) {
		c.Webhooks.Allow = []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}
	}))
	sc = allowed.makeScan(t, makeFixtures(t, allowed))
	path = fmt.Sprintf("/api/v1/scans/%d/notifications", sc.ID)
	if w := put(allowed, "http://10.20.3.4:9000/hook"); w.Code != http.StatusOK {
		t.Errorf("allowed network: %d %s", w.Code, w.Body.String())
	}
	if w := put(allowed, "http://10.21.3.4:9000/hook"); w.Code != http.StatusBadRequest {
		t.Errorf("outside the allowed network: %d %s", w.Code, w.Body.String())
	}
}
