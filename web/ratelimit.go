package web

import (
	"net/netip"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// loginLimiter slows password guessing: after too many failed logins from
// one client for one user name, or from one client in all, within the
// window, that client's further attempts are refused until the oldest
// failure leaves the window. Failures are never counted against a name
// alone: an attacker failing a name on purpose must not lock its owner
// out from another address. A success clears the client's failures for
// that name (not the client's overall count, so that an attacker holding
// one account cannot reset their count against others).
type loginLimiter struct {
	mu      sync.Mutex
	now     func() time.Time
	window  time.Duration
	perIP   int // failures from one client, any names
	perName int // failures from one client for one name
	fails   map[string][]time.Time
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, window: 15 * time.Minute, perIP: 20, perName: 5, fails: map[string][]time.Time{}}
}

func clientKey(ip string) string { return "client " + ip }

func pairKey(ip, name string) string { return "pair " + ip + " " + name }

// blocked returns how long the client must wait, or 0.
func (l *loginLimiter) blocked(ip, name string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	return max(l.wait(clientKey(ip), l.perIP, now), l.wait(pairKey(ip, name), l.perName, now))
}

func (l *loginLimiter) wait(key string, limit int, now time.Time) time.Duration {
	recent := l.prune(key, now)
	if len(recent) < limit {
		return 0
	}
	return recent[len(recent)-limit].Add(l.window).Sub(now)
}

// prune drops failures older than the window and returns the rest.
func (l *loginLimiter) prune(key string, now time.Time) []time.Time {
	list := l.fails[key]
	i := 0
	for i < len(list) && now.Sub(list[i]) >= l.window {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = list
	return list
}

func (l *loginLimiter) failed(ip, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, key := range []string{clientKey(ip), pairKey(ip, name)} {
		l.fails[key] = append(l.prune(key, now), now)
	}
	// Bound memory under a spray of names: forget what has aged out.
	if len(l.fails) > 10000 {
		for k := range l.fails {
			l.prune(k, now)
		}
	}
}

func (l *loginLimiter) succeeded(ip, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, pairKey(ip, name))
}

// limiterClient is the client a login attempt is counted against: the
// peer's address, or, from a trusted proxy, the right-most X-Forwarded-For
// hop that is not itself a trusted proxy (gin's ClientIP, as configured in
// engine). An IPv6 client counts as its /64, which one host usually holds
// whole.
func limiterClient(c *gin.Context) string {
	ip := c.ClientIP()
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.WithZone("").Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
