package web

import (
	"sync"
	"time"
)

// loginLimiter slows password guessing: after too many failed logins from
// one address, or for one user name, within the window, further attempts
// are refused until the oldest failure leaves the window. A success clears
// the name's failures (not the address's, so that an attacker holding one
// account cannot reset their count against others).
type loginLimiter struct {
	mu      sync.Mutex
	now     func() time.Time
	window  time.Duration
	perIP   int
	perName int
	fails   map[string][]time.Time
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, window: 15 * time.Minute, perIP: 20, perName: 5, fails: map[string][]time.Time{}}
}

// blocked returns how long the client must wait, or 0.
func (l *loginLimiter) blocked(ip, name string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	return max(l.wait("ip "+ip, l.perIP, now), l.wait("name "+name, l.perName, now))
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
	for _, key := range []string{"ip " + ip, "name " + name} {
		l.fails[key] = append(l.prune(key, now), now)
	}
	// Bound memory under a spray of names: forget what has aged out.
	if len(l.fails) > 10000 {
		for k := range l.fails {
			l.prune(k, now)
		}
	}
}

func (l *loginLimiter) succeeded(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, "name "+name)
}
