package scan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is a span of local time, on some days of the week, in which a
// scan's shards may run: "mon-fri 22:00-06:00". A window whose end is not
// after its start crosses midnight and ends on the next day; Days are the
// days it starts on. Windows are read in the scan's time zone, by the wall
// clock: across a DST change a 22:00-06:00 window lasts 7 or 9 hours.
type Window struct {
	Days DaySet
	// Start and End are seconds after local midnight: Start up to
	// 23:59:59, End up to 24:00 (the end of the day). Windows are written
	// to the minute; seconds (HH:MM:SS) are allowed.
	Start, End int
}

// DaySet is a set of weekdays, bit time.Weekday each.
type DaySet uint8

// EveryDay holds all seven days.
const EveryDay DaySet = 1<<7 - 1

// Has reports whether d is in the set.
func (s DaySet) Has(d time.Weekday) bool { return s&(1<<d) != 0 }

// MaxWindows bounds how many windows a scan has.
const MaxWindows = 50

// maxWindowLen bounds a window's text: the longest useful one, every day
// by its full name, is well under it.
const maxWindowLen = 100

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseWindow reads a window written as "[DAYS ]HH:MM-HH:MM" (or with
// HH:MM:SS times). DAYS is a
// comma-separated list of days (mon, tue, ... or their full names) and day
// ranges (mon-fri; fri-mon wraps over the weekend); without it the window
// opens every day. End may be 24:00. A window that starts and ends at the
// same time is refused: it would be empty (or, read the other way, always
// open; leave the windows out for that).
func ParseWindow(s string) (Window, error) {
	if len(s) > maxWindowLen {
		return Window{}, fmt.Errorf("%d characters long; a window is written in at most %d", len(s), maxWindowLen)
	}
	fields := strings.Fields(s)
	var days, span string
	switch len(fields) {
	case 1:
		span = fields[0]
	case 2:
		days, span = fields[0], fields[1]
	default:
		return Window{}, fmt.Errorf("%q is not a window such as \"mon-fri 22:00-06:00\" or \"01:00-05:30\"", s)
	}
	w := Window{Days: EveryDay}
	if days != "" {
		var err error
		if w.Days, err = parseDays(days); err != nil {
			return Window{}, err
		}
	}
	from, to, ok := strings.Cut(span, "-")
	if !ok {
		return Window{}, fmt.Errorf("%q: the times are written HH:MM-HH:MM, such as 22:00-06:00", span)
	}
	var err error
	if w.Start, err = parseClock(from, false); err != nil {
		return Window{}, fmt.Errorf("start %w", err)
	}
	if w.End, err = parseClock(to, true); err != nil {
		return Window{}, fmt.Errorf("end %w", err)
	}
	if w.Start == w.End {
		return Window{}, fmt.Errorf("%q starts and ends at the same time, so it has no length", span)
	}
	return w, nil
}

// parseClock reads HH:MM or HH:MM:SS as seconds after midnight; 24:00
// only as an end.
func parseClock(s string, end bool) (int, error) {
	parts := strings.Split(s, ":")
	ok := len(parts) == 2 || len(parts) == 3
	secs := 0
	for i, p := range parts {
		if !ok {
			break
		}
		v, err := strconv.Atoi(p)
		ok = err == nil && (len(p) == 2 || (i == 0 && len(p) == 1))
		ok = ok && strings.Trim(p, "0123456789") == "" && (i == 0 || v <= 59)
		secs = secs*60 + v
	}
	if len(parts) == 2 {
		secs *= 60
	}
	if !ok || secs > 24*3600 || (secs == 24*3600 && !end) {
		limit := "23:59"
		if end {
			limit = "24:00"
		}
		return 0, fmt.Errorf("%q is not a time from 00:00 to %s", s, limit)
	}
	return secs, nil
}

// clock writes seconds after midnight as HH:MM, or HH:MM:SS when they
// have seconds.
func clock(secs int) string {
	if secs%60 != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	}
	return fmt.Sprintf("%02d:%02d", secs/3600, secs/60%60)
}

func parseDay(s string) (time.Weekday, bool) {
	for i, n := range dayNames {
		if strings.EqualFold(s, n) || strings.EqualFold(s, time.Weekday(i).String()) {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

func parseDays(s string) (DaySet, error) {
	var set DaySet
	for part := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok1 := parseDay(a)
		to, ok2 := from, true
		if isRange {
			to, ok2 = parseDay(b)
		}
		if !ok1 || !ok2 {
			return 0, fmt.Errorf("days %q: %q is not a day (mon, tue, wed, thu, fri, sat, sun) or a range of them (mon-fri)", s, part)
		}
		for d := from; ; d = (d + 1) % 7 {
			set |= 1 << d
			if d == to {
				break
			}
		}
	}
	return set, nil
}

// String writes the window as ParseWindow reads it, days in the shortest
// form: none for every day, runs of three or more as ranges.
func (w Window) String() string {
	span := clock(w.Start) + "-" + clock(w.End)
	if w.Days == EveryDay || w.Days == 0 {
		return span
	}
	var parts []string
	// Start after a day outside the set so that a run over the weekend
	// (sat-mon) is written as one range.
	first := 0
	for w.Days.Has(time.Weekday(first)) {
		first++
	}
	has := func(i int) bool { return w.Days.Has(time.Weekday((first + i) % 7)) }
	for i := 1; i < 7; {
		if !has(i) {
			i++
			continue
		}
		n := 0
		for i+n+1 < 7 && has(i+n+1) {
			n++
		}
		from, to := dayNames[(first+i)%7], dayNames[(first+i+n)%7]
		switch n {
		case 0:
			parts = append(parts, from)
		case 1:
			parts = append(parts, from, to)
		default:
			parts = append(parts, from+"-"+to)
		}
		i += n + 1
	}
	return strings.Join(parts, ",") + " " + span
}

// MarshalText writes the window's String form, which is how the API and
// the store keep it.
func (w Window) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText reads a window as ParseWindow does.
func (w *Window) UnmarshalText(b []byte) error {
	v, err := ParseWindow(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// Windows are the spans of time in which a scan's shards may run; none
// means any time.
type Windows []Window

// ParseWindows reads each of ss with ParseWindow; the error names the
// index of the first bad one.
func ParseWindows(ss []string) (Windows, error) {
	if len(ss) > MaxWindows {
		return nil, fmt.Errorf("%d windows, the limit is %d", len(ss), MaxWindows)
	}
	out := make(Windows, 0, len(ss))
	for i, s := range ss {
		w, err := ParseWindow(s)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, w)
	}
	return out, nil
}

// Strings writes each window in its String form.
func (ws Windows) Strings() []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	return out
}

// WindowState says whether a scan's windows are open at an instant, and
// until when that holds.
type WindowState struct {
	Open bool
	// Until is when the windows next close (Open) or open (not Open).
	// Zero when there are no windows: always open. Windows that overlap or
	// touch count as one; for windows that never close (every day
	// 00:00-24:00) it is about a week ahead, and the state is the same
	// there.
	Until time.Time
}

// horizonDays is how far ahead At looks: every window recurs within a week.
const horizonDays = 8

// At reports the state of the windows at t, read in loc.
//
// An edge at a wall-clock time that a DST change skips (02:30 on a night
// the clock jumps from 02:00 to 03:00) is at the jump; one at a time that a
// change repeats (01:30 on a night the clock goes back from 02:00 to
// 01:00) is at its first occurrence.
func (ws Windows) At(t time.Time, loc *time.Location) WindowState {
	if len(ws) == 0 {
		return WindowState{Open: true}
	}
	type span struct{ from, to time.Time }
	local := t.In(loc)
	y, m, d := local.Date()
	var spans []span
	for day := -1; day <= horizonDays; day++ {
		date := time.Date(y, m, d+day, 12, 0, 0, 0, time.UTC) // normalises the date
		for _, w := range ws {
			if !w.Days.Has(date.Weekday()) {
				continue
			}
			end := w.End
			if end <= w.Start {
				end += 24 * 3600
			}
			s := wallClock(date.Year(), date.Month(), date.Day(), w.Start, loc)
			e := wallClock(date.Year(), date.Month(), date.Day(), end, loc)
			if e.After(s) {
				spans = append(spans, span{s, e})
			}
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	var merged []span
	for _, s := range spans {
		if n := len(merged); n > 0 && !s.from.After(merged[n-1].to) {
			if s.to.After(merged[n-1].to) {
				merged[n-1].to = s.to
			}
			continue
		}
		merged = append(merged, s)
	}
	for _, s := range merged {
		if t.Before(s.from) {
			return WindowState{Open: false, Until: s.from}
		}
		if t.Before(s.to) {
			return WindowState{Open: true, Until: s.to}
		}
	}
	// Only days without windows in the next week: impossible for valid
	// windows, whose days are never empty; look again in a day.
	return WindowState{Open: false, Until: t.Add(24 * time.Hour)}
}

// wallClock is the instant at which loc's clock shows the date and secs
// seconds past its midnight (secs may run into the next day), with the
// rules for skipped and repeated times At documents.
func wallClock(y int, m time.Month, d, secs int, loc *time.Location) time.Time {
	want := time.Date(y, m, d, 0, 0, secs, 0, time.UTC)
	t := time.Date(y, m, d, 0, 0, secs, 0, loc)
	if got := civil(t, loc); !got.Equal(want) {
		// Skipped: time.Date lands an offset's difference off, on one
		// side of the jump or the other.
		start, end := t.ZoneBounds()
		if got.Before(want) && !end.IsZero() {
			return end.In(loc)
		}
		if !start.IsZero() {
			return start.In(loc)
		}
		return t
	}
	// Repeated: the same wall time in the period before this one's start
	// is the earlier occurrence.
	if start, _ := t.ZoneBounds(); !start.IsZero() {
		_, off := start.Add(-time.Nanosecond).In(loc).Zone()
		earlier := want.Add(-time.Duration(off) * time.Second).In(loc)
		if earlier.Before(start) && earlier.Before(t) && civil(earlier, loc).Equal(want) {
			return earlier
		}
	}
	return t
}

// civil is t's wall clock in loc, as the same fields in UTC.
func civil(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}
