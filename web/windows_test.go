package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/workflows"
)

// A scan's windows are stored in their written form and shown with whether
// they are open now; bad windows are refused naming the field and the
// window.
func TestScanWindowsAPI(t *testing.T) {
	e := newEnv(t) // now is Wednesday 2030-01-02 03:04:05Z, 04:04 in Berlin
	f := makeFixtures(t, e)
	body := func(name, extra string) string {
		return fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d%s}`, name, f.site.ID, f.profile.ID, f.agent.ID, extra)
	}
	var v struct {
		ID          int64    `json:"id"`
		Windows     []string `json:"windows"`
		WindowState *struct {
			Open  bool      `json:"open"`
			Until time.Time `json:"until"`
		} `json:"window_state"`
	}
	e.mustDo(t, "POST", "/api/v1/scans", body(uniq("win"), `, "time_zone": "Europe/Berlin", "windows": ["Mon-Fri 22:00-06:00", " sat,sun 00:00-24:00 "]`), http.StatusCreated, &v)
	if strings.Join(v.Windows, "|") != "mon-fri 22:00-06:00|sat,sun 00:00-24:00" || v.WindowState == nil ||
		!v.WindowState.Open || !v.WindowState.Until.Equal(time.Date(2030, 1, 2, 5, 0, 0, 0, time.UTC)) {
		t.Fatalf("created scan: windows %q, state %+v", v.Windows, v.WindowState)
	}
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/scans/%d", v.ID), "", http.StatusOK, &v)
	if len(v.Windows) != 2 || v.WindowState == nil {
		t.Fatalf("scan read back: windows %q, state %+v", v.Windows, v.WindowState)
	}

	t.Run("no windows", func(t *testing.T) {
		var raw map[string]any
		e.mustDo(t, "POST", "/api/v1/scans", body(uniq("nowin"), ""), http.StatusCreated, &raw)
		if w, ok := raw["windows"].([]any); !ok || len(w) != 0 || raw["window_state"] != nil {
			t.Errorf("a scan without windows shows windows %v, state %v", raw["windows"], raw["window_state"])
		}
	})

	many := `"01:00-02:00"` + strings.Repeat(`, "01:00-02:00"`, 50)
	cases := []struct{ name, extra, want string }{
		{"zero length", `, "windows": ["01:00-02:00", "22:00-22:00"]`, `windows[1]: "22:00-22:00" starts and ends at the same time, so it has no length`},
		{"bad day", `, "windows": ["mon-fry 22:00-06:00"]`, `windows[0]: days "mon-fry": "mon-fry" is not a day`},
		{"bad time", `, "windows": ["22:00-25:00"]`, `windows[0]: end "25:00" is not a time from 00:00 to 24:00`},
		{"no times", `, "windows": ["weekdays"]`, `windows[0]: "weekdays": the times are written HH:MM-HH:MM`},
		{"too many", `, "windows": [` + many + `]`, "windows: 51 windows, the limit is 50"},
		{"not a list of strings", `, "windows": [{"start": "22:00"}]`, "windows"},
		{"unknown zone", `, "time_zone": "Mars/Olympus", "windows": ["22:00-06:00"]`, `time_zone: "Mars/Olympus" is not a known IANA time zone`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := e.do(t, "POST", "/api/v1/scans", body(uniq("badwin"), c.extra))
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", w.Code, w.Body.String())
			}
			if msg := errorOf(t, w); !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not contain %q", msg, c.want)
			}
		})
	}

	t.Run("edit clears them", func(t *testing.T) {
		v.Windows, v.WindowState = nil, nil
		e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/scans/%d", v.ID), body(uniq("win"), `, "windows": []`), http.StatusOK, &v)
		if len(v.Windows) != 0 || v.WindowState != nil {
			t.Errorf("after the edit: windows %q, state %+v", v.Windows, v.WindowState)
		}
	})
}

// Run now keeps to the windows unless ?ignore_windows=true; the run of a
// scan waiting for its windows says until when, in the API and on its page.
func TestRunWindowsOverrideAndWaiting(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	var s struct {
		ID int64 `json:"id"`
	}
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "windows": ["22:00-06:00"]}`,
		uniq("win"), f.site.ID, f.profile.ID, f.agent.ID), http.StatusCreated, &s)
	input := func() workflows.ScanInput {
		e.temporal.mu.Lock()
		defer e.temporal.mu.Unlock()
		last := e.temporal.starts[len(e.temporal.starts)-1]
		return last.args[0].(workflows.ScanInput)
	}
	r := e.startRun(t, s.ID)
	if in := input(); in.IgnoreWindows || in.ScanID != s.ID {
		t.Errorf("run now started %+v", in)
	}
	e.now = e.now.Add(time.Second)
	e.mustDo(t, "POST", fmt.Sprintf("/api/v1/scans/%d/runs?ignore_windows=true", s.ID), "", http.StatusAccepted, nil)
	if in := input(); !in.IgnoreWindows {
		t.Errorf("run now with ignore_windows started %+v", in)
	}
	w := e.do(t, "POST", fmt.Sprintf("/api/v1/scans/%d/runs?ignore_windows=maybe", s.ID), "")
	if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), `ignore_windows: "maybe" is not true or false`) {
		t.Errorf("ignore_windows=maybe: %d %s", w.Code, w.Body.String())
	}

	opens := time.Date(2030, 1, 2, 22, 0, 0, 0, time.UTC)
	if err := testStore.SetRunWaiting(context.Background(), r.ID, opens); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Status        string    `json:"status"`
		StatusDetail  string    `json:"status_detail"`
		WindowOpensAt time.Time `json:"window_opens_at"`
	}
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/runs/%d", r.ID), "", http.StatusOK, &got)
	if got.Status != "paused" || got.StatusDetail != "waiting for window until 2030-01-02 22:00:00 UTC" || !got.WindowOpensAt.Equal(opens) {
		t.Errorf("waiting run: %+v", got)
	}
	page := e.do(t, "GET", fmt.Sprintf("/runs/%d", r.ID), "").Body.String()
	if !strings.Contains(page, `<span id="run-status-detail">waiting for window until 2030-01-02 22:00:00 UTC</span>`) {
		t.Errorf("run page does not say the run waits for its window")
	}
	// An operator may still pause it, to hold it when the window opens.
	if !strings.Contains(page, `id="pause-run"`) || !strings.Contains(page, `id="resume-run"`) {
		t.Errorf("the waiting run's page lacks its pause or resume button")
	}
	list := e.do(t, "GET", fmt.Sprintf("/runs?scan_id=%d", s.ID), "").Body.String()
	if !strings.Contains(list, "waiting for window until 2030-01-02 22:00:00 UTC") {
		t.Errorf("runs page does not say the run waits for its window")
	}
}

// The scan form takes windows one a line, shows a refused one beside the
// field, and the scan page shows whether they are open (at the env's
// clock, Tuesday 22:04 in New York: closed until Wednesday 22:00) and
// offers a run that ignores them.
func TestScanWindowsForm(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	_, session, csrf := e.sessionFor(t, accounts.Operator)
	fields := func(name, windows string) url.Values {
		return url.Values{"name": {name}, "site_id": {fmt.Sprint(f.site.ID)}, "profile_id": {fmt.Sprint(f.profile.ID)},
			"agent_id": {fmt.Sprint(f.agent.ID)}, "enabled": {"on"}, "time_zone": {"America/New_York"}, "windows": {windows}}
	}
	name := uniq("ui-win")
	w := e.form(t, session, csrf, "/scans", fields(name, "mon,wed,fri 22:00-06:00\r\n10:00-10:00\r\n"))
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "windows"), "windows[1]: &#34;10:00-10:00&#34; starts and ends at the same time") {
		t.Fatalf("zero-length window: %d %q", w.Code, fieldError(w.Body.String(), "windows"))
	}
	if !strings.Contains(w.Body.String(), "mon,wed,fri 22:00-06:00") {
		t.Error("the windows typed are not kept after a refusal")
	}
	if w := e.form(t, session, csrf, "/scans", fields(name, "mon,wed,fri 22:00-06:00\r\n\r\nsat 10:00-12:00")); w.Code != http.StatusSeeOther {
		t.Fatalf("scan with windows: %d %s", w.Code, w.Body.String())
	}
	body := e.page(t, session, "GET", "/scans?q="+url.QueryEscape(name), nil).Body.String()
	m := regexp.MustCompile(`action="/scans/(\d+)/run"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("scans page lacks the scan")
	}
	page := e.page(t, session, "GET", "/scans/"+m[1], nil).Body.String()
	for _, want := range []string{"mon,wed,fri 22:00-06:00\nsat 10:00-12:00</textarea>", `id="window-state">Closed now, until 2030-01-03 03:00:00 UTC.`, "(America/New_York)", "Run now (waits for its window)", `name="ignore_windows" value="true"`} {
		if !strings.Contains(page, want) {
			t.Errorf("scan page lacks %q", want)
		}
	}
	e.now = e.now.Add(time.Second)
	if w := e.form(t, session, csrf, "/scans/"+m[1]+"/run", url.Values{"ignore_windows": {"true"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("run ignoring windows: %d %s", w.Code, w.Body.String())
	}
	e.temporal.mu.Lock()
	last := e.temporal.starts[len(e.temporal.starts)-1].args[0].(workflows.ScanInput)
	e.temporal.mu.Unlock()
	if !last.IgnoreWindows {
		t.Errorf("the scan page's override started %+v", last)
	}
}
