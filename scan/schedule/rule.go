// Package schedule turns an operator's schedule — a start time, a time zone,
// an iCalendar RRULE and EXDATEs — into fire times (from rrule-go, the
// reference) and into the form a Temporal Schedule can express exactly.
//
// It depends on the standard library and rrule-go only; the Temporal client
// types are built from its Spec in package workflows.
package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// LastFireTime is the end of time for schedules: Temporal's calendars only
// know the years 2000 to 2100, so occurrences after 2100 are not fire times.
// It also ends the search of a rule that can never match (30 February)
// instead of running on to year 9999.
var LastFireTime = time.Date(2100, 12, 31, 23, 59, 59, 0, time.UTC)

// FirstStartTime is the earliest start_at, for the same reason: a rule
// that starts in year 0 would also be walked minute by minute from there.
var FirstStartTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Error is a schedule the operator must fix. Field names the request field
// at fault (start_at, time_zone or rrule).
type Error struct {
	Field string
	Msg   string
	// Finished marks a valid schedule that has no fire time left.
	Finished bool
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

func errf(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func finished(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...), Finished: true}
}

// Rule is a parsed, validated schedule.
type Rule struct {
	// Start is start_at in the scan's zone: DTSTART of the rule, or the one
	// fire time of a one-shot scan.
	Start time.Time
	// Zone is the scan's time zone.
	Zone *time.Location
	// Opt is the parsed RRULE (nil for a one-shot scan) with DTSTART set.
	Opt *rrule.ROption
	// ExDates are the excluded occurrences.
	ExDates []time.Time

	set *rrule.Set
}

// Parse validates a schedule: start_at (nil: manual only), the IANA zone
// name and the rule text. The text holds an RRULE line ("FREQ=…" or
// "RRULE:FREQ=…") and optional "EXDATE:" lines whose values are local
// date-times in the zone (20300105T090000) or UTC (…Z). A schedule
// without future occurrence after now is an error: it would never fire.
// Parse returns (nil, nil) for a manual-only scan.
func Parse(startAt *time.Time, zone, text string, now time.Time) (*Rule, error) {
	loc, err := LoadZone(zone)
	if err != nil {
		return nil, err
	}
	text = strings.TrimSpace(text)
	if startAt == nil {
		if text != "" {
			return nil, errf("start_at", "required with rrule: it is the rule's DTSTART")
		}
		return nil, nil
	}
	if startAt.Before(FirstStartTime) || startAt.After(LastFireTime) {
		return nil, errf("start_at", "%s is outside %s to %s, the years Temporal's schedules know",
			startAt.UTC().Format(time.RFC3339), FirstStartTime.Format(time.RFC3339), LastFireTime.Format(time.RFC3339))
	}
	r := &Rule{Start: startAt.In(loc).Truncate(time.Second), Zone: loc}
	if !r.Start.Equal(*startAt) {
		return nil, errf("start_at", "must be a whole second")
	}
	if text == "" {
		if r.Start.After(LastFireTime) {
			return nil, errf("start_at", "schedules end with the year 2100")
		}
		if !r.Start.After(now) {
			return nil, finished("start_at", "%s is in the past; a one-shot scan would never run", r.Start.Format(time.RFC3339))
		}
		return r, nil
	}
	var ruleLine string
	for line := range strings.SplitSeq(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		upper := strings.ToUpper(line)
		switch {
		case line == "":
		case strings.HasPrefix(upper, "EXDATE"):
			ex, err := parseExDates(line, loc)
			if err != nil {
				return nil, err
			}
			r.ExDates = append(r.ExDates, ex...)
		case strings.HasPrefix(upper, "DTSTART"):
			return nil, errf("rrule", "DTSTART is not allowed; the rule starts at start_at")
		case strings.HasPrefix(upper, "RDATE"):
			return nil, errf("rrule", "RDATE is not supported")
		default:
			if ruleLine != "" {
				return nil, errf("rrule", "more than one RRULE line")
			}
			ruleLine = strings.TrimPrefix(upper, "RRULE:")
		}
	}
	if ruleLine == "" {
		return nil, errf("rrule", "no RRULE line (FREQ=…) found")
	}
	for part := range strings.SplitSeq(ruleLine, ";") {
		if strings.HasPrefix(part, "DTSTART") {
			return nil, errf("rrule", "DTSTART is not allowed; the rule starts at start_at")
		}
	}
	opt, err := rrule.StrToROptionInLocation(ruleLine, loc)
	if err != nil {
		return nil, errf("rrule", "%q is not a valid RRULE: %v", clip(ruleLine), err)
	}
	switch opt.Freq {
	case rrule.MINUTELY, rrule.HOURLY, rrule.DAILY, rrule.WEEKLY, rrule.MONTHLY, rrule.YEARLY:
	default:
		return nil, errf("rrule", "FREQ=%v is not supported; use MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY", opt.Freq)
	}
	if len(opt.Byeaster) > 0 {
		return nil, errf("rrule", "BYEASTER is not supported")
	}
	// rrule-go reads COUNT=0 as "no count" (endless) and INTERVAL=0 as 1;
	// both are outside RFC 5545, which wants positive integers.
	for part := range strings.SplitSeq(ruleLine, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		if name != "COUNT" && name != "INTERVAL" {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(val)); err != nil || n < 1 {
			return nil, errf("rrule", "%s=%s: must be a whole number of at least 1", name, clip(val))
		}
	}
	if !opt.Until.IsZero() && opt.Until.Before(r.Start) {
		return nil, errf("rrule", "UNTIL %s is before start_at %s", opt.Until.In(loc).Format(time.RFC3339), r.Start.Format(time.RFC3339))
	}
	opt.Dtstart = r.Start
	r.Opt = opt
	capped := *opt
	if capped.Until.IsZero() || capped.Until.After(LastFireTime) {
		capped.Until = LastFireTime
	}
	rr, err := rrule.NewRRule(capped)
	if err != nil {
		return nil, errf("rrule", "%q is not a valid RRULE: %v", clip(ruleLine), err)
	}
	r.set = &rrule.Set{}
	r.set.RRule(rr)
	r.set.SetExDates(r.ExDates)
	if next := r.Next(now, 1); len(next) == 0 {
		switch {
		case opt.Count > 0:
			return nil, finished("rrule", "COUNT=%d is exhausted: every occurrence is before now", opt.Count)
		case !opt.Until.IsZero() && opt.Until.Before(now):
			return nil, finished("rrule", "UNTIL %s is in the past: the rule has no future occurrence", opt.Until.In(loc).Format(time.RFC3339))
		default:
			return nil, finished("rrule", "the rule has no occurrence between now and the end of 2100")
		}
	}
	return r, nil
}

// LoadZone loads an IANA zone; "Local" and "" are refused, since they would
// mean whatever zone the server runs in.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errf("time_zone", "%q is not a known IANA time zone", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errf("time_zone", "%q is not a known IANA time zone", clip(name))
	}
	return loc, nil
}

func parseExDates(line string, loc *time.Location) ([]time.Time, error) {
	name, values, ok := strings.Cut(line, ":")
	if !ok || values == "" {
		return nil, errf("rrule", "%q: EXDATE needs values, e.g. EXDATE:20300105T090000", clip(line))
	}
	zone := loc
	for param := range strings.SplitSeq(name, ";") {
		k, v, _ := strings.Cut(param, "=")
		switch strings.ToUpper(k) {
		case "EXDATE":
		case "TZID":
			l, err := LoadZone(v)
			if err != nil {
				return nil, errf("rrule", "EXDATE TZID %q is not a known IANA time zone", clip(v))
			}
			zone = l
		case "VALUE":
			if strings.ToUpper(v) != "DATE-TIME" {
				return nil, errf("rrule", "EXDATE VALUE=%s is not supported; give date-times", clip(v))
			}
		default:
			return nil, errf("rrule", "EXDATE parameter %q is not supported", clip(k))
		}
	}
	var out []time.Time
	for v := range strings.SplitSeq(values, ",") {
		v = strings.TrimSpace(v)
		var t time.Time
		var err error
		if strings.HasSuffix(v, "Z") {
			t, err = time.Parse("20060102T150405Z", v)
		} else {
			t, err = time.ParseInLocation("20060102T150405", v, zone)
		}
		if err != nil {
			return nil, errf("rrule", "EXDATE value %q is not a date-time such as 20300105T090000 or 20300105T080000Z", clip(v))
		}
		out = append(out, t)
	}
	return out, nil
}

// Next returns up to n fire times strictly after t, in the scan's zone.
//
// Local times in a DST gap do not exist; rrule-go (through time.Date) maps
// them onto instants it has already produced or that lie before them. A
// schedule fires once per instant and never goes back, so an occurrence
// not later than the previous one is dropped.
func (r *Rule) Next(after time.Time, n int) []time.Time {
	if r == nil || n <= 0 {
		return nil
	}
	if r.set == nil {
		if r.Start.After(after) {
			return []time.Time{r.Start}
		}
		return nil
	}
	var out []time.Time
	next := r.set.Iterator()
	for len(out) < n {
		t, ok := next()
		if !ok {
			break
		}
		if t.After(after) && (len(out) == 0 || t.After(out[len(out)-1])) {
			out = append(out, t)
		}
	}
	return out
}

// FiresBefore reports whether the rule has more than limit fire times
// before t, looking at no more than limit+1 of them. Finding the next fire
// time walks the rule from its start, so a start far behind a frequent
// rule costs that much on every look.
func (r *Rule) FiresBefore(t time.Time, limit int) bool {
	if r == nil || r.set == nil {
		return false
	}
	next := r.set.Iterator()
	for range limit + 1 {
		v, ok := next()
		if !ok || v.After(t) {
			return false
		}
	}
	return true
}

// Finite reports whether the rule ends (one-shot, COUNT or UNTIL).
func (r *Rule) Finite() bool {
	return r.set == nil || r.Opt.Count > 0 || !r.Opt.Until.IsZero()
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// AsError returns the schedule error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Between returns the fire times in [from, to], at most max+1 of them (so
// that a caller can tell "more than max").
func (r *Rule) Between(from, to time.Time, max int) []time.Time {
	var out []time.Time
	for _, t := range r.Next(from.Add(-time.Nanosecond), max+1) {
		if t.After(to) {
			break
		}
		out = append(out, t)
	}
	return out
}
