package schedule

import (
	"time"

	"github.com/teambition/rrule-go"
)

// Form is how a schedule is expressed in Temporal.
type Form string

const (
	// FormCalendar: the rule itself, as calendar specs. Only rules whose
	// calendar reading is provably the same as RFC 5545's get it.
	FormCalendar Form = "calendar"
	// FormInterval: the rule as a fixed interval with a phase. Only for
	// fixed-offset zones, where "every n hours" is an absolute duration.
	FormInterval Form = "interval"
	// FormEnumerated: the next fire times from rrule-go, each an exact UTC
	// calendar entry, topped up as they are used. Exact for every rule.
	FormEnumerated Form = "enumerated"
)

// Enumerate is how many fire times an enumerated spec lists; it is topped
// up when fewer than Enumerate/2 are left.
const Enumerate = 100

// Range is an inclusive range of values of one calendar field.
type Range struct{ Start, End int }

// Calendar matches the instants whose fields are all in the listed ranges.
// Every field but Year (nil: every year) is explicit. DayOfWeek is 0 =
// Sunday.
type Calendar struct {
	Second, Minute, Hour, DayOfMonth, Month, Year, DayOfWeek []Range
}

// Interval matches the instants t with (t - Unix epoch) mod Every = Offset.
type Interval struct {
	Every, Offset time.Duration
}

// Spec is a schedule in the terms of a Temporal ScheduleSpec.
type Spec struct {
	Form      Form
	Calendars []Calendar
	Intervals []Interval
	Skip      []Calendar
	StartAt   time.Time // zero: none
	EndAt     time.Time // zero: none
	TimeZone  string    // IANA name the calendars are read in
	// Through is the last fire time an enumerated spec lists; Complete
	// says it lists every remaining one (no top-up needed).
	Through  time.Time
	Complete bool
}

// Form reports which form Spec will use for this rule.
func (r *Rule) Form() Form {
	if r.calendarExact() {
		return FormCalendar
	}
	if r.intervalExact() {
		return FormInterval
	}
	return FormEnumerated
}

// Spec builds the Temporal form of the rule as of now.
func (r *Rule) Spec(now time.Time) Spec {
	switch r.Form() {
	case FormCalendar:
		return r.calendarSpec()
	case FormInterval:
		return r.intervalSpec()
	}
	return r.enumeratedSpec(now)
}

// calendarExact decides whether a calendar spec fires exactly when rrule-go
// does. A calendar matches field by field, every period alike; an RRULE
// agrees with that only when:
//   - the zone has a fixed offset: in a zone with DST a local time can be
//     missing or repeated, and RFC 5545, Go's time.Date and Temporal each
//     resolve those their own way;
//   - INTERVAL is 1 (a calendar has no notion of "every other week");
//   - there is no COUNT (kept in PostgreSQL's terms by enumerating, rather
//     than relying on the schedule's remaining-actions counter, which a
//     manual trigger must not consume);
//   - no BYSETPOS, BYWEEKNO or BYYEARDAY, no ordinal BYDAY (1MO, -1FR) and
//     no negative BYMONTHDAY: all count within a period, which calendar
//     fields cannot.
func (r *Rule) calendarExact() bool {
	o := r.Opt
	if o == nil || !fixedZone(r.Zone) {
		return false
	}
	if o.Interval > 1 || o.Count > 0 || len(o.Bysetpos) > 0 || len(o.Byweekno) > 0 || len(o.Byyearday) > 0 {
		return false
	}
	for _, d := range o.Bymonthday {
		if d < 0 {
			return false
		}
	}
	for _, w := range o.Byweekday {
		if w.N() != 0 {
			return false
		}
	}
	return true
}

// period is the length of one FREQ period in a fixed-offset zone.
var period = map[rrule.Frequency]time.Duration{
	rrule.MINUTELY: time.Minute, rrule.HOURLY: time.Hour, rrule.DAILY: 24 * time.Hour, rrule.WEEKLY: 7 * 24 * time.Hour,
}

// intervalExact decides whether "every INTERVAL periods from DTSTART" is
// the whole rule, so that an interval spec fires exactly when rrule-go
// does: a fixed-offset zone (a day is always 24 h), FREQ up to WEEKLY
// (months and years vary in length), no COUNT and no BY* part at all (with
// none, every field defaults to DTSTART's, and the occurrences are
// DTSTART + k*INTERVAL periods).
func (r *Rule) intervalExact() bool {
	o := r.Opt
	if o == nil || !fixedZone(r.Zone) || o.Count > 0 {
		return false
	}
	if _, ok := period[o.Freq]; !ok {
		return false
	}
	return len(o.Bysetpos)+len(o.Bymonth)+len(o.Bymonthday)+len(o.Byyearday)+len(o.Byweekno)+
		len(o.Byweekday)+len(o.Byhour)+len(o.Byminute)+len(o.Bysecond) == 0
}

func (r *Rule) intervalSpec() Spec {
	every := time.Duration(max(r.Opt.Interval, 1)) * period[r.Opt.Freq]
	offset := time.Duration(r.Start.Unix()%int64(every/time.Second)) * time.Second
	s := Spec{Form: FormInterval, Intervals: []Interval{{Every: every, Offset: offset}}, StartAt: r.Start, TimeZone: r.Zone.String()}
	if !r.Opt.Until.IsZero() {
		s.EndAt = r.Opt.Until
	}
	for _, ex := range r.ExDates {
		s.Skip = append(s.Skip, Exact(ex.In(r.Zone)))
	}
	return s
}

// fixedZone reports zones that never change offset.
func fixedZone(loc *time.Location) bool {
	switch n := loc.String(); n {
	case "UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu", "Etc/Greenwich", "Greenwich":
		return true
	default:
		return len(n) > 7 && n[:7] == "Etc/GMT"
	}
}

func ranges(vals []int) []Range {
	out := make([]Range, 0, len(vals))
	for _, v := range vals {
		out = append(out, Range{v, v})
	}
	return out
}

func one(v int) []Range { return []Range{{v, v}} }

// calendarSpec mirrors rrule-go's defaults (RFC 5545 and dateutil): the
// time fields not given come from DTSTART unless the frequency is finer;
// with no day-level BY* part, YEARLY takes DTSTART's month and day, MONTHLY
// its day, WEEKLY its weekday.
func (r *Rule) calendarSpec() Spec {
	o, st := r.Opt, r.Start
	c := Calendar{
		Second:     one(st.Second()),
		Minute:     one(st.Minute()),
		Hour:       one(st.Hour()),
		DayOfMonth: []Range{{1, 31}},
		Month:      []Range{{1, 12}},
		Year:       nil, // every year
		DayOfWeek:  []Range{{0, 6}},
	}
	if len(o.Bysecond) > 0 {
		c.Second = ranges(o.Bysecond)
	}
	switch {
	case len(o.Byminute) > 0:
		c.Minute = ranges(o.Byminute)
	case o.Freq == rrule.MINUTELY:
		c.Minute = []Range{{0, 59}}
	}
	switch {
	case len(o.Byhour) > 0:
		c.Hour = ranges(o.Byhour)
	case o.Freq == rrule.MINUTELY || o.Freq == rrule.HOURLY:
		c.Hour = []Range{{0, 23}}
	}
	if len(o.Bymonth) > 0 {
		c.Month = ranges(o.Bymonth)
	}
	if len(o.Bymonthday) > 0 {
		c.DayOfMonth = ranges(o.Bymonthday)
	}
	if len(o.Byweekday) > 0 {
		c.DayOfWeek = nil
		for _, w := range o.Byweekday {
			c.DayOfWeek = append(c.DayOfWeek, Range{(w.Day() + 1) % 7, (w.Day() + 1) % 7})
		}
	}
	if len(o.Bymonthday) == 0 && len(o.Byweekday) == 0 {
		switch o.Freq {
		case rrule.YEARLY:
			if len(o.Bymonth) == 0 {
				c.Month = one(int(st.Month()))
			}
			c.DayOfMonth = one(st.Day())
		case rrule.MONTHLY:
			c.DayOfMonth = one(st.Day())
		case rrule.WEEKLY:
			c.DayOfWeek = one(int(st.Weekday()))
		}
	}
	s := Spec{Form: FormCalendar, Calendars: []Calendar{c}, StartAt: st, TimeZone: r.Zone.String()}
	if !o.Until.IsZero() {
		s.EndAt = o.Until
	}
	for _, ex := range r.ExDates {
		s.Skip = append(s.Skip, Exact(ex.In(r.Zone)))
	}
	return s
}

// Exact is the calendar entry matching the one instant t, read in t's zone.
func Exact(t time.Time) Calendar {
	return Calendar{
		Second: one(t.Second()), Minute: one(t.Minute()), Hour: one(t.Hour()),
		DayOfMonth: one(t.Day()), Month: one(int(t.Month())), Year: one(t.Year()),
		DayOfWeek: []Range{{0, 6}},
	}
}

// Lookback is how far before now an enumerated spec still lists fire
// times. A fire due a moment before a top-up may not have been taken by
// Temporal's scheduler yet; keeping it listed means the update cannot drop
// it, and a fire already taken is never taken twice.
const Lookback = time.Minute

// enumeratedSpec lists the next Enumerate fire times after now-Lookback as
// UTC calendar entries: exact by construction, whatever the rule and zone.
func (r *Rule) enumeratedSpec(now time.Time) Spec {
	next := r.Next(now.Add(-Lookback), Enumerate+1)
	s := Spec{Form: FormEnumerated, TimeZone: "UTC", Complete: len(next) <= Enumerate}
	if len(next) > Enumerate {
		next = next[:Enumerate]
	}
	for _, t := range next {
		s.Calendars = append(s.Calendars, Exact(t.UTC()))
	}
	if len(next) > 0 {
		s.Through = next[len(next)-1]
	}
	return s
}
