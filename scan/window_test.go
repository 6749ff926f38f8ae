package scan

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the host has
)

func TestParseWindow(t *testing.T) {
	tests := []struct {
		in   string
		want string // String form; "" when refused
		err  string // part of the error
	}{
		{"22:00-06:00", "22:00-06:00", ""},
		{" mon-fri  22:00-06:00 ", "mon-fri 22:00-06:00", ""},
		{"MON,Tuesday,wed 1:05-2:10", "mon-wed 01:05-02:10", ""},
		{"sat,sun 00:00-24:00", "sat,sun 00:00-24:00", ""},
		{"fri-mon 20:00-04:00", "fri-mon 20:00-04:00", ""},
		{"sun,mon,tue,wed,thu,fri,sat 09:00-17:00", "09:00-17:00", ""},
		{"wed,sat-mon 01:00-02:00", "wed,sat-mon 01:00-02:00", ""},
		{"mon,wed,fri 12:00-13:00", "mon,wed,fri 12:00-13:00", ""},
		{"22:00-22:00", "", "no length"},
		{"22:00:30-22:01", "22:00:30-22:01", ""},
		{"09:00:00-17:00:00", "09:00-17:00", ""},
		{"22:00:00-22:00", "", "no length"},
		{"01:00:60-02:00", "", "not a time"},
		{"01:00:0-02:00", "", "not a time"},
		{"+1:00-02:00", "", "not a time"},
		{"01:00-02:00:00:00", "", "not a time"},
		{"24:00:01-01:00", "", "not a time"},
		{"00:00-24:00", "00:00-24:00", ""},
		{"24:00-01:00", "", "start"},
		{"01:00-24:01", "", "end"},
		{"25:00-01:00", "", "not a time"},
		{"01:60-02:00", "", "not a time"},
		{"1-2", "", "not a time"},
		{"22:00", "", "HH:MM-HH:MM"},
		{"mon-xyz 01:00-02:00", "", "not a day"},
		{"mon fri 01:00-02:00", "", "is not a window"},
		{"", "", "is not a window"},
		{"mon, 01:00-02:00", "", "not a day"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			w, err := ParseWindow(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseWindow(%q) = %v, %v; want an error with %q", tt.in, w, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWindow(%q): %v", tt.in, err)
			}
			if got := w.String(); got != tt.want {
				t.Fatalf("ParseWindow(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			again, err := ParseWindow(w.String())
			if err != nil || again != w {
				t.Fatalf("String form %q reads back as %v, %v", w.String(), again, err)
			}
		})
	}
}

func TestParseWindowsNamesTheBadOne(t *testing.T) {
	_, err := ParseWindows([]string{"01:00-02:00", "03:00-03:00"})
	if err == nil || !strings.HasPrefix(err.Error(), "[1]: ") {
		t.Fatalf("got %v, want an error naming index 1", err)
	}
	many := make([]string, MaxWindows+1)
	if _, err := ParseWindows(many); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("got %v for %d windows, want the limit", err, len(many))
	}
}

func TestWindowJSON(t *testing.T) {
	ws, err := ParseWindows([]string{"mon-fri 22:00-06:00", "sat 10:00-12:00"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ws)
	if err != nil || string(b) != `["mon-fri 22:00-06:00","sat 10:00-12:00"]` {
		t.Fatalf("json = %s, %v", b, err)
	}
	var back Windows
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back[0] != ws[0] || back[1] != ws[1] {
		t.Fatalf("read back %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`["mon 01:00-01:00"]`), &back); err == nil {
		t.Fatal("a zero-length window read from JSON")
	}
}

func TestWindowsAt(t *testing.T) {
	zone := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	ny, berlin := zone("America/New_York"), zone("Europe/Berlin")
	tests := []struct {
		name    string
		windows []string
		loc     *time.Location
		at      string // RFC 3339
		open    bool
		until   string // RFC 3339 (Z), "" for none
	}{
		{"no windows: always open", nil, time.UTC, "2026-01-05T12:00:00Z", true, ""},
		{"before a daily window", []string{"22:00-06:00"}, time.UTC, "2026-01-05T12:00:00Z", false, "2026-01-05T22:00:00Z"},
		{"at its opening", []string{"22:00-06:00"}, time.UTC, "2026-01-05T22:00:00Z", true, "2026-01-06T06:00:00Z"},
		{"after midnight inside it", []string{"22:00-06:00"}, time.UTC, "2026-01-06T05:59:59Z", true, "2026-01-06T06:00:00Z"},
		{"at its close", []string{"22:00-06:00"}, time.UTC, "2026-01-06T06:00:00Z", false, "2026-01-06T22:00:00Z"},
		// 2026-01-09 is a Friday: its window runs into Saturday, and the
		// next opens on Monday.
		{"friday night of a weekday window", []string{"mon-fri 22:00-06:00"}, time.UTC, "2026-01-09T23:00:00Z", true, "2026-01-10T06:00:00Z"},
		{"weekend of a weekday window", []string{"mon-fri 22:00-06:00"}, time.UTC, "2026-01-10T12:00:00Z", false, "2026-01-12T22:00:00Z"},
		{"in its zone, not UTC", []string{"22:00-06:00"}, berlin, "2026-01-05T20:30:00Z", false, "2026-01-05T21:00:00Z"},
		{"touching windows are one", []string{"01:00-03:00", "03:00-05:00"}, time.UTC, "2026-01-05T02:00:00Z", true, "2026-01-05T05:00:00Z"},
		{"overlapping windows are one", []string{"01:00-04:00", "02:00-05:00", "sat 04:30-07:00"}, time.UTC, "2026-01-10T01:30:00Z", true, "2026-01-10T07:00:00Z"},
		{"the earlier of two windows", []string{"tue 10:00-11:00", "mon 23:00-01:00"}, time.UTC, "2026-01-05T12:00:00Z", false, "2026-01-05T23:00:00Z"},
		{"never closing: a week ahead, still open", []string{"00:00-24:00"}, time.UTC, "2026-01-05T12:00:00Z", true, "2026-01-14T00:00:00Z"},
		// New York: 2026-03-08 02:00 EST jumps to 03:00 EDT; 2026-11-01
		// 02:00 EDT goes back to 01:00 EST.
		{"overnight window over spring forward is 7 hours", []string{"22:00-06:00"}, ny, "2026-03-08T04:00:00Z", true, "2026-03-08T10:00:00Z"},
		{"overnight window over fall back is 9 hours", []string{"22:00-06:00"}, ny, "2026-11-01T03:00:00Z", true, "2026-11-01T11:00:00Z"},
		{"opening in the skipped hour is at the jump", []string{"02:30-04:00"}, ny, "2026-03-08T05:00:00Z", false, "2026-03-08T07:00:00Z"},
		{"opening in the repeated hour is at its first occurrence", []string{"01:30-05:00"}, ny, "2026-11-01T04:00:00Z", false, "2026-11-01T05:30:00Z"},
		{"closing in the repeated hour is at its first occurrence", []string{"00:00-01:30"}, ny, "2026-11-01T05:00:00Z", true, "2026-11-01T05:30:00Z"},
		// Berlin: 2026-03-29 02:00 CET jumps to 03:00 CEST; 2026-10-25
		// 03:00 CEST goes back to 02:00 CET.
		{"a window the jump skips whole does not open that night", []string{"02:15-02:45"}, berlin, "2026-03-28T23:00:00Z", false, "2026-03-30T00:15:00Z"},
		{"repeated hour east of UTC: first occurrence", []string{"02:30-03:00"}, berlin, "2026-10-24T22:00:00Z", false, "2026-10-25T00:30:00Z"},
		{"…and it closes at the one 03:00", []string{"02:30-03:00"}, berlin, "2026-10-25T00:45:00Z", true, "2026-10-25T02:00:00Z"},
		{"days are the local days", []string{"sun 00:00-01:00"}, berlin, "2026-01-10T23:30:00Z", true, "2026-01-11T00:00:00Z"},
		{"to the second", []string{"12:00:05-12:00:10"}, time.UTC, "2026-01-05T12:00:00Z", false, "2026-01-05T12:00:05Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, err := ParseWindows(tt.windows)
			if err != nil {
				t.Fatal(err)
			}
			at, err := time.Parse(time.RFC3339, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			got := ws.At(at, tt.loc)
			var until time.Time
			if tt.until != "" {
				if until, err = time.Parse(time.RFC3339, tt.until); err != nil {
					t.Fatal(err)
				}
			}
			if got.Open != tt.open || !got.Until.Equal(until) {
				t.Fatalf("At(%s) = open %v until %s; want open %v until %s", tt.at, got.Open, got.Until.UTC().Format(time.RFC3339), tt.open, tt.until)
			}
			// Just before Until the state is the same; from Until on,
			// it changes (unless the windows never close).
			if !until.IsZero() && tt.name != "never closing: a week ahead, still open" {
				if before := ws.At(until.Add(-time.Second), tt.loc); before.Open != tt.open {
					t.Fatalf("a second before %s the state is %v", tt.until, before.Open)
				}
				if after := ws.At(until, tt.loc); after.Open == tt.open || !after.Until.After(until) {
					t.Fatalf("at %s the state is %+v; want it changed", tt.until, after)
				}
			}
		})
	}
}
