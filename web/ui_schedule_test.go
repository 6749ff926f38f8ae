package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/accounts"
)

// TestSchedulePreview: the preview checks a schedule as saving a scan
// would, answering its Temporal form and next 10 fire times in its zone,
// or a 400 naming the field at fault; a viewer may use it.
func TestSchedulePreview(t *testing.T) {
	e := newEnv(t) // now is 2030-01-02T03:04:05Z
	viewer := e.userToken(t, accounts.Viewer)
	cases := []struct {
		name, body string
		status     int
		form       string
		first      string // the first fire time, RFC 3339
		step       time.Duration
		err        string
	}{
		{"weekly", `{"start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=WEEKLY;BYDAY=MO"}`, 200, "calendar", "2030-02-04T09:00:00Z", 7 * 24 * time.Hour, ""},
		{"hourly in a zone", `{"start_at": "2030-01-10T08:30:00+01:00", "time_zone": "Europe/Berlin", "rrule": "RRULE:FREQ=HOURLY;INTERVAL=6"}`, 200, "", "2030-01-10T08:30:00+01:00", 6 * time.Hour, ""},
		{"one shot", `{"start_at": "2030-03-01T00:00:00Z"}`, 200, "", "2030-03-01T00:00:00Z", 0, ""},
		{"by hand", `{"start_at": "", "time_zone": "", "rrule": ""}`, 200, "manual", "", 0, ""},
		{"bad rrule", `{"start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=DAILY;BYDAY=XX"}`, 400, "", "", 0, `rrule: "FREQ=DAILY;BYDAY=XX" is not a valid RRULE`},
		{"unsupported freq", `{"start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=SECONDLY"}`, 400, "", "", 0, "rrule: FREQ=SECONDLY is not supported"},
		{"bad zone", `{"start_at": "2030-02-01T09:00:00Z", "time_zone": "Mars/Olympus", "rrule": "FREQ=DAILY"}`, 400, "", "", 0, `time_zone: "Mars/Olympus" is not a known IANA time zone`},
		{"bad start", `{"start_at": "tomorrow", "rrule": "FREQ=DAILY"}`, 400, "", "", 0, `start_at: "tomorrow" is not an RFC 3339 time`},
		{"rule without start", `{"rrule": "FREQ=DAILY"}`, 400, "", "", 0, "start_at: required with rrule"},
		{"in the past", `{"start_at": "2029-12-01T09:00:00Z", "rrule": "FREQ=DAILY;COUNT=5"}`, 400, "", "", 0, "rrule: COUNT=5 is exhausted"},
		{"not json", `{"rrule": `, 400, "", "", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := e.doAs(t, viewer, "POST", "/api/v1/schedules/preview", c.body)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body.String())
			}
			if c.status != http.StatusOK {
				if msg := errorOf(t, w); !strings.Contains(msg, c.err) {
					t.Errorf("error %q does not contain %q", msg, c.err)
				}
				return
			}
			var got struct {
				Form string   `json:"form"`
				Next []string `json:"next"`
			}
			decode(t, w, &got)
			if c.form != "" && got.Form != c.form {
				t.Errorf("form %q, want %q", got.Form, c.form)
			}
			if c.first == "" {
				if len(got.Next) != 0 {
					t.Errorf("a scan started by hand has fire times %v", got.Next)
				}
				return
			}
			if got.Next[0] != c.first {
				t.Errorf("first fire time %s, want %s", got.Next[0], c.first)
			}
			if c.step == 0 {
				if len(got.Next) != 1 {
					t.Errorf("a one-shot schedule has %d fire times", len(got.Next))
				}
				return
			}
			if len(got.Next) != 10 {
				t.Fatalf("%d fire times, want 10: %v", len(got.Next), got.Next)
			}
			for i := 1; i < len(got.Next); i++ {
				a, _ := time.Parse(time.RFC3339, got.Next[i-1])
				b, err := time.Parse(time.RFC3339, got.Next[i])
				if err != nil || b.Sub(a) != c.step {
					t.Errorf("fire times %s and %s are not %s apart", got.Next[i-1], got.Next[i], c.step)
				}
			}
		})
	}
}

// TestScanSchedulePage: a scheduled scan's page shows its rule, Temporal
// form and next fire times, and its pause/resume (with a note) and trigger
// forms reach the schedule; the form carries the preview's place.
func TestScanSchedulePage(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	_, session, csrf := e.sessionFor(t, accounts.Operator)
	sched := e.temporal.ScheduleClient().(*fakeSchedules)
	var v scanView
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "start_at": "2030-02-01T09:00:00Z", "rrule": "FREQ=WEEKLY;BYDAY=MO"}`,
		uniq("sched"), f.site.ID, f.profile.ID, f.agent.ID), http.StatusCreated, &v)
	path := fmt.Sprintf("/scans/%d", v.ID)

	body := e.page(t, session, "GET", path, nil).Body.String()
	for _, want := range []string{`id="scan-schedule"`, `<dd id="schedule-form">calendar</dd>`, "<li>2030-02-04 09:00:00 UTC</li>",
		`action="` + path + `/pause"`, `id="pause-schedule"`, `action="` + path + `/trigger"`, `id="schedule-preview"`} {
		if !strings.Contains(body, want) {
			t.Errorf("scan page lacks %s", want)
		}
	}
	if n := strings.Count(body, "<li>20"); n != 10 {
		t.Errorf("scan page shows %d fire times, want 10", n)
	}

	steps := []struct {
		action, note string
		paused       bool
		button       string
	}{
		{"pause", "maintenance", true, `id="resume-schedule"`},
		{"resume", "", false, `id="pause-schedule"`},
	}
	for _, s := range steps {
		w := e.form(t, session, csrf, path+"/"+s.action, url.Values{"note": {s.note}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != path {
			t.Fatalf("%s: %d %s", s.action, w.Code, w.Body.String())
		}
		got, err := testStore.GetScan(context.Background(), v.ID)
		if err != nil || got.Enabled == s.paused || !strings.Contains(got.PauseNote, s.note) {
			t.Errorf("after %s: scan %+v %v", s.action, got, err)
		}
		body := e.page(t, session, "GET", path, nil).Body.String()
		if !strings.Contains(body, s.button) || !strings.Contains(body, got.PauseNote) {
			t.Errorf("after %s the page lacks %s or the note %q", s.action, s.button, got.PauseNote)
		}
	}

	if w := e.form(t, session, csrf, path+"/trigger", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("trigger: %d %s", w.Code, w.Body.String())
	}
	sched.mu.Lock()
	triggers := sched.triggers
	sched.mu.Unlock()
	if triggers != 1 {
		t.Errorf("%d triggers reached Temporal, want 1", triggers)
	}

	// Without the CSRF token nothing changes.
	if w := e.page(t, session, "POST", path+"/pause", url.Values{}); w.Code != http.StatusForbidden {
		t.Errorf("pause without CSRF: %d", w.Code)
	}
	// A scan started by hand has no schedule section, and pausing it is
	// refused with the reason.
	s := e.makeScan(t, f)
	hand := fmt.Sprintf("/scans/%d", s.ID)
	if body := e.page(t, session, "GET", hand, nil).Body.String(); strings.Contains(body, `id="scan-schedule"`) {
		t.Error("a scan started by hand shows a schedule")
	}
	if w := e.form(t, session, csrf, hand+"/pause", nil); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "has no schedule") {
		t.Errorf("pause of a scan without schedule: %d", w.Code)
	}
	// A viewer sees the schedule but no buttons.
	_, viewer, _ := e.sessionFor(t, accounts.Viewer)
	body = e.page(t, viewer, "GET", path, nil).Body.String()
	if !strings.Contains(body, `id="next-fire-times"`) || strings.Contains(body, `id="pause-schedule"`) || strings.Contains(body, `id="trigger-schedule"`) {
		t.Error("a viewer's scan page: schedule missing or buttons offered")
	}
}
