package web

import (
	"testing"
	"time"
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
	if w := l.blocked("198.18.0.2", "alice"); w != l.window-time.Duration(l.perName)*time.Minute {
		t.Fatalf("name not blocked as expected from another address: wait %v", w)
	}
	if w := l.blocked("198.18.0.1", "bob"); w != 0 {
		t.Fatalf("another name from the same address is blocked (%v) before the address limit", w)
	}
	now = now.Add(l.window)
	if w := l.blocked("198.18.0.1", "alice"); w != 0 {
		t.Fatalf("still blocked after the window: %v", w)
	}

	// The address limit holds across names, and a success does not lift it.
	for i := range l.perIP {
		l.failed("198.18.0.9", string(rune('a'+i%26))+"x")
	}
	l.succeeded("ax")
	if w := l.blocked("198.18.0.9", "zz"); w <= 0 {
		t.Fatal("address not blocked after its limit")
	}
	l.failed("198.18.0.3", "carol")
	l.succeeded("carol")
	if len(l.fails["name carol"]) != 0 {
		t.Fatal("success did not clear the name's failures")
	}
}
