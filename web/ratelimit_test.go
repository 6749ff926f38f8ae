package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/accounts"
)

func TestLoginLimiter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLoginLimiter(func() time.Time { return now })
	for i := range l.perName {
		if w := l.blocked("198.18.0.1", "alice"); w != 0 {
			t.Fatalf("blocked after %d failures", i)
		}
		l.failed("198.18.0.1", "alice")
		now = now.Add(time.Minute)
	}
	if w := l.blocked("198.18.0.1", "alice"); w != l.window-time.Duration(l.perName)*time.Minute {
		t.Fatalf("name not blocked as expected for the failing client: wait %v", w)
	}
	if w := l.blocked("198.18.0.2", "alice"); w != 0 {
		t.Fatalf("the name is blocked (%v) for another client", w)
	}
	if w := l.blocked("198.18.0.1", "bob"); w != 0 {
		t.Fatalf("another name from the same address is blocked (%v) before the address limit", w)
	}
	now = now.Add(l.window)
	if w := l.blocked("198.18.0.1", "alice"); w != 0 {
		t.Fatalf("still blocked after the window: %v", w)
	}

	// The client's limit holds across names, and a success does not lift it.
	for i := range l.perIP {
		l.failed("198.18.0.9", string(rune('a'+i%26))+"x")
	}
	l.succeeded("198.18.0.9", "ax")
	if w := l.blocked("198.18.0.9", "zz"); w <= 0 {
		t.Fatal("address not blocked after its limit")
	}
	l.failed("198.18.0.3", "carol")
	l.succeeded("198.18.0.3", "carol")
	if len(l.fails[pairKey("198.18.0.3", "carol")]) != 0 {
		t.Fatal("success did not clear the client's failures for the name")
	}
}

// loginFrom posts the API login from a peer address, with an optional
// X-Forwarded-For header.
func (e *testEnv) loginFrom(t *testing.T, peer, forwarded, name, password string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/login", strings.NewReader(fmt.Sprintf(`{"name": %q, "password": %q}`, name, password)))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = peer
	if forwarded != "" {
		req.Header.Set("X-Forwarded-For", forwarded)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

// TestFailedLoginsDoNotLockOutTheOwner: an attacker who fails a user's
// name on purpose locks only themselves out, whether they connect
// directly, claim another address in X-Forwarded-For, or come through
// the trusted proxy with a forged hop in front.
func TestFailedLoginsDoNotLockOutTheOwner(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}))
	victim := e.userWithPassword(t, accounts.Viewer)
	const (
		attacker = "198.18.0.66"
		owner    = "198.18.0.7"
		proxy    = "127.0.0.1:40000"
	)
	fail := func(peer, fwd string) {
		t.Helper()
		for i := range e.srv.auth.limiter.perName + 1 {
			w := e.loginFrom(t, peer, fwd, victim, fmt.Sprintf("guess number %d", i))
			if w.Code != http.StatusUnauthorized && w.Code != http.StatusTooManyRequests {
				t.Fatalf("guess %d: %d %s", i, w.Code, w.Body.String())
			}
		}
	}
	ownerLogsIn := func(how string) {
		t.Helper()
		w := e.loginFrom(t, proxy, owner, victim, testPassword)
		if w.Code != http.StatusCreated {
			t.Fatalf("after %s, the owner behind the proxy: %d %s", how, w.Code, w.Body.String())
		}
	}

	// Directly, and claiming to be the owner: the header of an untrusted
	// peer is ignored, so the attacker's own address is the one blocked.
	fail(attacker+":5555", owner)
	if w := e.loginFrom(t, attacker+":5556", "", victim, testPassword); w.Code != http.StatusTooManyRequests {
		t.Errorf("the attacker's address is not blocked: %d", w.Code)
	}
	if w := e.loginFrom(t, owner+":5555", "", victim, testPassword); w.Code != http.StatusCreated {
		t.Errorf("the owner connecting directly: %d %s", w.Code, w.Body.String())
	}
	ownerLogsIn("direct guesses")

	// Through the proxy, with a forged hop in front of its own: the
	// right-most untrusted hop is the attacker's.
	attacker2 := "198.18.0.67"
	fail(proxy, owner+", "+attacker2)
	if w := e.loginFrom(t, proxy, attacker2, victim, testPassword); w.Code != http.StatusTooManyRequests {
		t.Errorf("the attacker behind the proxy is not blocked: %d", w.Code)
	}
	ownerLogsIn("guesses through the proxy")

	// A chain of trusted proxies is walked past.
	if w := e.loginFrom(t, proxy, attacker2+", 127.0.0.9", victim, testPassword); w.Code != http.StatusTooManyRequests {
		t.Errorf("the attacker behind two proxies is not blocked: %d", w.Code)
	}
}

// TestUntrustedForwardedForIsIgnored: with no trusted proxies (the
// default), X-Forwarded-For cannot pick the address a client is counted
// against, so rotating it does not escape the limit.
func TestUntrustedForwardedForIsIgnored(t *testing.T) {
	e := newEnv(t)
	name := e.userWithPassword(t, accounts.Viewer)
	for i := range e.srv.auth.limiter.perName {
		e.loginFrom(t, "198.18.0.80:1000", fmt.Sprintf("198.18.1.%d", i), name, "wrong password here")
	}
	if w := e.loginFrom(t, "198.18.0.80:1000", "198.18.1.200", name, testPassword); w.Code != http.StatusTooManyRequests {
		t.Errorf("rotating X-Forwarded-For escaped the limit: %d", w.Code)
	}
	// An IPv6 client counts as its /64.
	for i := range e.srv.auth.limiter.perName {
		e.loginFrom(t, fmt.Sprintf("[2001:db8:1:2::%x]:1000", i+1), "", name, "wrong password here")
	}
	if w := e.loginFrom(t, "[2001:db8:1:2::ffff]:1000", "", name, testPassword); w.Code != http.StatusTooManyRequests {
		t.Errorf("rotating addresses within a /64 escaped the limit: %d", w.Code)
	}
}
