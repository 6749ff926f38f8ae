package schedules

import (
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
)

// TestHashStable: the same schedule-relevant fields give the same hash
// (other fields do not matter), and a change to any of them gives another.
func TestHashStable(t *testing.T) {
	start := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	base := scan.Scan{ID: 7, Name: "n", SiteID: 1, ProfileID: 2, AgentID: 3, StartAt: &start, TimeZone: "UTC",
		RRule: "FREQ=DAILY", Enabled: true, Overlap: "skip", CatchupWindowSeconds: 60, PauseNote: "x"}
	d := Defaults{CatchupWindow: 5 * time.Minute}
	h := Hash(base, d)
	if len(h) != 32 {
		t.Fatalf("hash %q", h)
	}
	sameStart := start.In(time.FixedZone("X", 3600))
	same := map[string]func(*scan.Scan, *Defaults){
		"name, site, profile, agent": func(s *scan.Scan, _ *Defaults) { s.Name, s.SiteID, s.ProfileID, s.AgentID = "m", 9, 9, 9 },
		"start in another zone":      func(s *scan.Scan, _ *Defaults) { s.StartAt = &sameStart },
		"default unused":             func(_ *scan.Scan, d *Defaults) { d.CatchupWindow = time.Hour },
		"keyed":                      func(_ *scan.Scan, d *Defaults) { d.Keyed = true },
	}
	for name, f := range same {
		s, d2 := base, d
		f(&s, &d2)
		if got := Hash(s, d2); got != h {
			t.Errorf("%s: hash changed", name)
		}
	}
	later := start.Add(time.Second)
	diff := map[string]func(*scan.Scan, *Defaults){
		"id":           func(s *scan.Scan, _ *Defaults) { s.ID = 8 },
		"start":        func(s *scan.Scan, _ *Defaults) { s.StartAt = &later },
		"manual":       func(s *scan.Scan, _ *Defaults) { s.StartAt = nil },
		"zone":         func(s *scan.Scan, _ *Defaults) { s.TimeZone = "Europe/Berlin" },
		"rule":         func(s *scan.Scan, _ *Defaults) { s.RRule = "FREQ=WEEKLY" },
		"enabled":      func(s *scan.Scan, _ *Defaults) { s.Enabled = false },
		"overlap":      func(s *scan.Scan, _ *Defaults) { s.Overlap = "buffer_one" },
		"catchup":      func(s *scan.Scan, _ *Defaults) { s.CatchupWindowSeconds = 61 },
		"pause note":   func(s *scan.Scan, _ *Defaults) { s.PauseNote = "y" },
		"default used": func(s *scan.Scan, d *Defaults) { s.CatchupWindowSeconds = 0; d.CatchupWindow = time.Hour },
		// Fields joined naively could collide; each is length-prefixed.
		"shifted text": func(s *scan.Scan, _ *Defaults) { s.TimeZone, s.RRule = "UTCF", "REQ=DAILY" },
	}
	seen := map[string]string{h: "base"}
	for name, f := range diff {
		s, d2 := base, d
		f(&s, &d2)
		got := Hash(s, d2)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: same hash as %s", name, prev)
		}
		seen[got] = name
	}
}

// TestKeyRoundTripAndDue: a Key survives its attribute text; an
// enumerated spec is due once half its fire times are used, a finite rule
// a minute after its last fire, an endless calendar rule never.
func TestKeyRoundTripAndDue(t *testing.T) {
	now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, k := range []Key{{Hash: "ab"}, {Hash: "cd", Due: now}} {
		if got := ParseKey(k.String()); got != k {
			t.Errorf("ParseKey(%q) = %+v", k.String(), got)
		}
	}
	for _, bad := range []string{"", "2:ab:0", "1::0", "1:ab:x", "1:ab"} {
		if k := ParseKey(bad); k.Current(k.Hash, now) {
			t.Errorf("ParseKey(%q) = %+v counts as current", bad, k)
		}
	}
	if (Key{Hash: "ab", Due: now}).Current("ab", now) || !(Key{Hash: "ab", Due: now}).Current("ab", now.Add(-time.Second)) {
		t.Error("a key is current strictly before its due time only")
	}
	start := now.Add(time.Hour)
	until := start.AddDate(0, 0, 10)
	cases := []struct {
		name, rule, zone string
		want             time.Time
	}{
		{"endless calendar", "FREQ=DAILY", "UTC", time.Time{}},
		{"until", "FREQ=DAILY;UNTIL=" + until.Format("20060102T150405Z"), "UTC", until.Add(time.Minute + time.Second)},
		{"one shot", "", "UTC", start.Add(time.Minute + time.Second)},
		// Berlin has DST: enumerated, two a day, so the 51st of 100 fires.
		{"enumerated", "FREQ=DAILY;BYHOUR=2,3;BYMINUTE=30", "Europe/Berlin", time.Time{}},
	}
	for _, c := range cases {
		sc := scan.Scan{ID: 1, StartAt: &start, TimeZone: c.zone, RRule: c.rule, Enabled: true}
		want, err := Desired(sc, Defaults{CatchupWindow: time.Minute, Keyed: true}, now)
		if err != nil || want == nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		exp := c.want
		if want.Spec.Form == schedule.FormEnumerated && !want.Spec.Complete {
			times, _ := EnumeratedTimes(want.Options.Spec)
			exp = times[schedule.Enumerate/2]
		}
		if !want.Key.Due.Equal(exp) {
			t.Errorf("%s (%s): due %v, want %v", c.name, want.Spec.Form, want.Key.Due, exp)
		}
		if want.Key.Hash != Hash(sc, Defaults{CatchupWindow: time.Minute}) {
			t.Errorf("%s: Desired's key hash differs from Hash", c.name)
		}
		if got := want.Options.TypedSearchAttributes.Size(); got != 1 {
			t.Errorf("%s: %d search attributes, want the key", c.name, got)
		}
	}
}
