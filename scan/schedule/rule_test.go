package schedule

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func TestParseRefusesBadSchedules(t *testing.T) {
	for _, c := range []struct {
		name, start, zone, rule, want string
	}{
		{"rrule without start", "", "UTC", "FREQ=DAILY", "start_at: required with rrule"},
		{"unknown zone", "2030-07-01T00:00:00Z", "Mars/Olympus", "FREQ=DAILY", `time_zone: "Mars/Olympus" is not a known IANA time zone`},
		{"local zone", "2030-07-01T00:00:00Z", "Local", "FREQ=DAILY", `time_zone: "Local"`},
		{"garbage", "2030-07-01T00:00:00Z", "UTC", "every tuesday", `rrule: "EVERY TUESDAY" is not a valid RRULE`},
		{"no freq", "2030-07-01T00:00:00Z", "UTC", "BYDAY=MO", "rrule: \"BYDAY=MO\" is not a valid RRULE: RRULE property FREQ is required"},
		{"bad freq", "2030-07-01T00:00:00Z", "UTC", "FREQ=FORTNIGHTLY", "rrule: \"FREQ=FORTNIGHTLY\" is not a valid RRULE"},
		{"secondly", "2030-07-01T00:00:00Z", "UTC", "FREQ=SECONDLY", "rrule: FREQ=SECONDLY is not supported"},
		{"bad bound", "2030-07-01T00:00:00Z", "UTC", "FREQ=MONTHLY;BYMONTHDAY=32", "bymonthday must be between 1 and 31"},
		{"dtstart inside", "2030-07-01T00:00:00Z", "UTC", "DTSTART:20300101T000000Z\nRRULE:FREQ=DAILY", "rrule: DTSTART is not allowed"},
		{"two rules", "2030-07-01T00:00:00Z", "UTC", "FREQ=DAILY\nFREQ=WEEKLY", "rrule: more than one RRULE line"},
		{"until before start", "2030-07-01T00:00:00Z", "UTC", "FREQ=DAILY;UNTIL=20300601T000000Z", "rrule: UNTIL 2030-06-01T00:00:00Z is before start_at 2030-07-01T00:00:00Z"},
		{"count exhausted", "2030-06-01T00:00:00Z", "UTC", "FREQ=DAILY;COUNT=3", "rrule: COUNT=3 is exhausted"},
		{"until past", "2030-06-01T00:00:00Z", "UTC", "FREQ=DAILY;UNTIL=20300610T000000Z", "rrule: UNTIL 2030-06-10T00:00:00Z is in the past"},
		{"never matches", "2030-07-01T00:00:00Z", "UTC", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "rrule: the rule has no occurrence between now and the end of 2100"},
		{"all excluded", "2030-07-01T09:00:00Z", "UTC", "FREQ=DAILY;COUNT=1\nEXDATE:20300701T090000Z", "rrule: COUNT=1 is exhausted"},
		{"bad exdate", "2030-07-01T00:00:00Z", "UTC", "FREQ=DAILY\nEXDATE:tomorrow", `rrule: EXDATE value "tomorrow" is not a date-time`},
		{"one-shot in the past", "2030-06-01T00:00:00Z", "UTC", "", "start_at: 2030-06-01T00:00:00Z is in the past"},
		{"fraction of a second", "2030-07-01T00:00:00.5Z", "UTC", "", "start_at: must be a whole second"},
		// COUNT=0 used to mean "no count" (fire without end), INTERVAL=0 "1".
		{"count zero", "2030-07-01T00:00:00Z", "UTC", "FREQ=DAILY;COUNT=0", "rrule: COUNT=0: must be a whole number of at least 1"},
		{"interval zero", "2030-07-01T00:00:00Z", "UTC", "FREQ=DAILY;INTERVAL=0", "rrule: INTERVAL=0: must be a whole number of at least 1"},
		{"count negative", "2030-07-01T00:00:00Z", "UTC", "FREQ=DAILY;COUNT=-2", "rrule: COUNT=-2"},
		{"interval not a number", "2030-07-01T00:00:00Z", "UTC", "FREQ=DAILY;INTERVAL=x", "rrule:"},
		{"start in year 0", "0000-01-01T00:00:00Z", "UTC", "FREQ=DAILY", "start_at: 0000-01-01T00:00:00Z is outside 2000-01-01T00:00:00Z to 2100-12-31T23:59:59Z"},
		{"start before 2000", "1999-12-31T23:59:59Z", "UTC", "", "start_at: 1999-12-31T23:59:59Z is outside"},
		{"start after 2100", "2101-01-01T00:00:00Z", "UTC", "FREQ=DAILY", "start_at: 2101-01-01T00:00:00Z is outside"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var start *time.Time
			if c.start != "" {
				start = at(c.start)
			}
			r, err := Parse(start, c.zone, c.rule, now)
			if err == nil {
				t.Fatalf("accepted: %+v", r)
			}
			e, ok := AsError(err)
			if !ok {
				t.Fatalf("%v is not a schedule.Error", err)
			}
			// Only a valid schedule with nothing left to fire is finished.
			wantFinished := map[string]bool{"count exhausted": true, "until past": true, "never matches": true, "all excluded": true, "one-shot in the past": true}[c.name]
			if e.Finished != wantFinished {
				t.Errorf("finished = %v, want %v", e.Finished, wantFinished)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestParseManualOnly(t *testing.T) {
	r, err := Parse(nil, "UTC", "  ", now)
	if r != nil || err != nil {
		t.Fatalf("manual scan: %v, %v; want nil, nil", r, err)
	}
}

func TestNextInZone(t *testing.T) {
	// 02:30 daily in New York: 2031-03-09 has no 02:30 (spring forward);
	// rrule-go, through time.Date, fires at 01:30 EST that day.
	r, err := Parse(at("2031-03-07T02:30:00-05:00"), "America/New_York", "FREQ=DAILY\nEXDATE;TZID=America/New_York:20310311T023000", now)
	if err != nil {
		t.Fatal(err)
	}
	got := r.Next(now, 5)
	want := []string{"2031-03-07T07:30:00Z", "2031-03-08T07:30:00Z", "2031-03-09T06:30:00Z", "2031-03-10T06:30:00Z", "2031-03-12T06:30:00Z"}
	for i, w := range want {
		if i >= len(got) || got[i].UTC().Format(time.RFC3339) != w {
			t.Fatalf("next = %v, want %v", got, want)
		}
	}
	if r.Form() != FormEnumerated {
		t.Errorf("a zone with DST must be enumerated, got %s", r.Form())
	}
	if b := r.Between(got[1], got[3], 10); len(b) != 3 {
		t.Errorf("between = %v, want 3 times", b)
	}
}

func TestForms(t *testing.T) {
	for rule, want := range map[string]Form{
		"FREQ=WEEKLY;BYDAY=MO,FR":                                    FormCalendar,
		"FREQ=MONTHLY;BYMONTHDAY=1,-1":                               FormEnumerated,
		"FREQ=MONTHLY;BYDAY=2TU":                                     FormEnumerated,
		"FREQ=DAILY;INTERVAL=2":                                      FormInterval,
		"FREQ=DAILY;INTERVAL=2;BYHOUR=9":                             FormEnumerated,
		"FREQ=MONTHLY;INTERVAL=2":                                    FormEnumerated,
		"FREQ=DAILY;COUNT=5":                                         FormEnumerated,
		"FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1":                           FormEnumerated,
		"FREQ=DAILY;UNTIL=20400101T000000Z\nEXDATE:20300702T000000Z": FormCalendar,
	} {
		r, err := Parse(at("2030-07-01T00:00:00Z"), "UTC", rule, now)
		if err != nil {
			t.Fatalf("%s: %v", rule, err)
		}
		if r.Form() != want {
			t.Errorf("%s: form %s, want %s", rule, r.Form(), want)
		}
	}
	s := mustParse(t, "FREQ=DAILY;COUNT=150").Spec(now)
	if len(s.Calendars) != Enumerate || s.Complete {
		t.Errorf("enumerated spec lists %d times (complete %v), want %d and not complete", len(s.Calendars), s.Complete, Enumerate)
	}
	s = mustParse(t, "FREQ=DAILY;COUNT=7").Spec(now)
	if len(s.Calendars) != 7 || !s.Complete || !s.Through.Equal(time.Date(2030, 7, 7, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("finite enumerated spec: %d times, complete %v, through %v", len(s.Calendars), s.Complete, s.Through)
	}
}

func mustParse(t *testing.T, rule string) *Rule {
	t.Helper()
	r, err := Parse(at("2030-07-01T00:00:00Z"), "UTC", rule, now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestEnumeratedLookback: a fire time due less than Lookback ago stays
// listed, so that a top-up at that moment cannot drop it; older ones go.
func TestEnumeratedLookback(t *testing.T) {
	start := now.Add(-3 * time.Minute)
	r, err := Parse(&start, "UTC", "FREQ=MINUTELY;INTERVAL=2;COUNT=1000", now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s := r.Spec(now.Add(-20 * time.Second)) // fires at -3m, -1m, +1m, …
	first := Exact(now.Add(-time.Minute))
	if len(s.Calendars) != Enumerate || fmt.Sprint(s.Calendars[0]) != fmt.Sprint(first) {
		t.Errorf("first listed %v, want %v (the fire 40 s before the top-up)", s.Calendars[0], first)
	}
	if s = r.Spec(now.Add(20 * time.Second)); fmt.Sprint(s.Calendars[0]) == fmt.Sprint(first) {
		t.Errorf("the fire 80 s before the top-up is still listed")
	}
}
