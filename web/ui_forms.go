package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
)

// The pages that change things post ordinary HTML forms. Each form handler
// turns the fields into the JSON body of the matching API call and runs
// that API handler in-process, so that a form and the API validate and
// store exactly alike; a refusal is shown on the page beside its field.

// captured collects what an API handler wrote.
type captured struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *captured) Header() http.Header { return w.header }

func (w *captured) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

func (w *captured) WriteHeader(status int) { w.status = status }

// callAPI runs handler as the page's user with body (nil for none) as its
// JSON request and the page's path parameters, decoding a success into
// out. A refusal comes back as the handler's *httpError.
func (h *uiHandlers) callAPI(c *gin.Context, handler func(*gin.Context) error, method string, params gin.Params, query string, body, out any) error {
	_, err := h.callAPIHeader(c, handler, method, params, query, body, out)
	return err
}

// callAPIHeader is callAPI that also returns the answer's header.
func (h *uiHandlers) callAPIHeader(c *gin.Context, handler func(*gin.Context) error, method string, params gin.Params, query string, body, out any) (http.Header, error) {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(c.Request.Context(), method, "/api/v1/ui?"+query, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w := &captured{header: http.Header{}}
	cc, _ := gin.CreateTestContext(w)
	cc.Request = req
	cc.Params = params
	if p := who(c); p != nil {
		cc.Set(principalKey, p)
	}
	if err := handler(cc); err != nil {
		return nil, err
	}
	if w.status >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(w.body.Bytes(), &e)
		return nil, errorf(w.status, "%s", e.Error)
	}
	if out != nil && w.body.Len() > 0 {
		if err := json.Unmarshal(w.body.Bytes(), out); err != nil {
			return nil, fmt.Errorf("web: decoding an in-process API answer: %w", err)
		}
	}
	return w.header, nil
}

// callList runs a list handler with query, decoding its page into out,
// and returns the list's total.
func (h *uiHandlers) callList(c *gin.Context, list func(*gin.Context) error, query string, out any) (int, error) {
	hdr, err := h.callAPIHeader(c, list, "GET", nil, query, nil, out)
	if err != nil {
		return 0, err
	}
	total, err := strconv.Atoi(hdr.Get("X-Total-Count"))
	if err != nil {
		return 0, fmt.Errorf("web: a list answered without X-Total-Count: %w", err)
	}
	return total, nil
}

// formError splits an error of a form post: a client error to show on the
// page (with the status to answer), or nil and the error itself for a
// failure that is ours.
func formError(err error) (*httpError, error) {
	var he *httpError
	if errors.As(err, &he) {
		return he, nil
	}
	return nil, err
}

// lines splits a textarea into entries, one per line or comma.
func lines(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// formID reads an id field of a form: 0 (which the API refuses as
// "required") when it is empty, -1 (refused as invalid) when it is not a
// number.
func formID(c *gin.Context, field string) int64 {
	raw := strings.TrimSpace(c.PostForm(field))
	if raw == "" {
		return 0
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return -1
	}
	return id
}

// can reports whether the page's user may do what needs role; templates
// use it to offer only the forms that would be accepted.
func can(u any, role string) bool {
	switch v := u.(type) {
	case accounts.User:
		return v.Role.Allows(accounts.Role(role))
	case *accounts.User:
		return v != nil && v.Role.Allows(accounts.Role(role))
	}
	return false
}

// listPage renders a page of one kind of row and its create form; errs and
// form hold a refused post to show again.
// The rows are paged (limit and offset in the page's address) and
// searched by name (q), with links to the pages before and after.
func (h *uiHandlers) listPage(c *gin.Context, status int, page, title string, list func(*gin.Context) error, out any, extra map[string]any) error {
	lq, err := readList(c)
	if err != nil {
		return err
	}
	total, err := h.callList(c, list, lq.apiQuery(), out)
	if err != nil {
		return err
	}
	data := map[string]any{"Title": title, "Rows": out, "Form": map[string]string{}, "Errors": map[string]string{},
		"Pager": newPager(c.Request.URL, lq, total)}
	for k, v := range extra {
		data[k] = v
	}
	return h.render(c, status, page, data)
}

// submit runs a form's API call; on a refusal it shows the page again with
// the message beside its field and what the user typed.
func (h *uiHandlers) submit(c *gin.Context, call func() error, redisplay func(status int, extra map[string]any) error, redirect func() string) error {
	err := call()
	if err == nil {
		c.Redirect(http.StatusSeeOther, redirect())
		return nil
	}
	he, err := formError(err)
	if err != nil {
		return err
	}
	form := map[string]string{}
	for k, v := range c.Request.PostForm {
		if k != csrfField && len(v) > 0 {
			form[k] = v[0]
		}
	}
	return redisplay(he.status, map[string]any{"Errors": fieldErrors(he), "Form": form})
}

// --- sites -------------------------------------------------------------

func (h *uiHandlers) sitesPage(c *gin.Context) error {
	return h.showSites(c, http.StatusOK, nil)
}

func (h *uiHandlers) showSites(c *gin.Context, status int, extra map[string]any) error {
	var rows []scan.Site
	return h.listPage(c, status, "sites", "Sites", h.srv.sites.list, &rows, extra)
}

func siteBody(c *gin.Context) map[string]any {
	return map[string]any{"name": c.PostForm("name"), "description": c.PostForm("description"),
		"targets": lines(c.PostForm("targets")), "exclusions": lines(c.PostForm("exclusions"))}
}

func (h *uiHandlers) siteCreate(c *gin.Context) error {
	var row scan.Site
	return h.submit(c,
		func() error { return h.callAPI(c, h.srv.sites.create, "POST", nil, "", siteBody(c), &row) },
		func(status int, extra map[string]any) error { return h.showSites(c, status, extra) },
		func() string { return fmt.Sprintf("/sites/%d", row.ID) })
}

func (h *uiHandlers) sitePage(c *gin.Context) error {
	return h.showSite(c, http.StatusOK, nil)
}

func (h *uiHandlers) showSite(c *gin.Context, status int, extra map[string]any) error {
	var row scan.Site
	if err := h.callAPI(c, h.srv.sites.get, "GET", c.Params, "", nil, &row); err != nil {
		return err
	}
	chart, err := h.siteChart(c, row.ID)
	if err != nil {
		return err
	}
	data := map[string]any{"Title": "Site " + row.Name, "Site": row, "Chart": chart, "Errors": map[string]string{},
		"Form": map[string]string{"name": row.Name, "description": row.Description,
			"targets": strings.Join(row.Targets, "\n"), "exclusions": strings.Join(row.Exclusions, "\n")}}
	for k, v := range extra {
		data[k] = v
	}
	return h.render(c, status, "site", data)
}

// siteChart plots the open ports of the latest runs of the site's scans.
func (h *uiHandlers) siteChart(c *gin.Context, siteID int64) (*portsChart, error) {
	ctx := c.Request.Context()
	scans, err := h.store.ListScans(ctx)
	if err != nil {
		return nil, err
	}
	var runs []scan.Run
	for _, s := range scans {
		if s.SiteID != siteID {
			continue
		}
		rs, err := h.store.ListRuns(ctx, postgres.RunFilter{ScanID: s.ID, Limit: maxChartRuns})
		if err != nil {
			return nil, err
		}
		runs = append(runs, rs...)
	}
	return newPortsChart(runs), nil
}

func (h *uiHandlers) siteUpdate(c *gin.Context) error {
	return h.submit(c,
		func() error { return h.callAPI(c, h.srv.sites.update, "PUT", c.Params, "", siteBody(c), nil) },
		func(status int, extra map[string]any) error { return h.showSite(c, status, extra) },
		func() string { return "/sites/" + c.Param("id") })
}

func (h *uiHandlers) siteDelete(c *gin.Context) error {
	return h.deleteThen(c, h.srv.sites.delete, "/sites")
}

// deleteThen deletes through the API and goes back to the list; a refusal
// (still in use, say) is shown as an error page naming the reason.
func (h *uiHandlers) deleteThen(c *gin.Context, del func(*gin.Context) error, back string) error {
	if err := h.callAPI(c, del, "DELETE", c.Params, "", nil, nil); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, back)
	return nil
}

// --- global exclusions -------------------------------------------------

func (h *uiHandlers) exclusionsPage(c *gin.Context) error {
	return h.showExclusions(c, http.StatusOK, nil)
}

func (h *uiHandlers) showExclusions(c *gin.Context, status int, extra map[string]any) error {
	var rows []scan.Exclusion
	return h.listPage(c, status, "exclusions", "Global exclusions", h.srv.exclusions.list, &rows, extra)
}

func (h *uiHandlers) exclusionCreate(c *gin.Context) error {
	body := map[string]any{"target": c.PostForm("target"), "note": c.PostForm("note")}
	return h.submit(c,
		func() error { return h.callAPI(c, h.srv.exclusions.create, "POST", nil, "", body, nil) },
		func(status int, extra map[string]any) error { return h.showExclusions(c, status, extra) },
		func() string { return "/exclusions" })
}

func (h *uiHandlers) exclusionDelete(c *gin.Context) error {
	return h.deleteThen(c, h.srv.exclusions.delete, "/exclusions")
}

// --- profiles ----------------------------------------------------------

func (h *uiHandlers) profilesPage(c *gin.Context) error {
	return h.showProfiles(c, http.StatusOK, nil)
}

func (h *uiHandlers) showProfiles(c *gin.Context, status int, extra map[string]any) error {
	var rows []scan.Profile
	return h.listPage(c, status, "profiles", "Scan profiles", h.srv.profiles.list, &rows, extra)
}

func profileBody(c *gin.Context) map[string]any {
	return map[string]any{"name": c.PostForm("name"), "description": c.PostForm("description"),
		"scanner": c.PostForm("scanner"), "options": c.PostForm("options"), "intrusive": c.PostForm("intrusive") != ""}
}

// intrusiveField is the form value of a profile's intrusive checkbox.
func intrusiveField(on bool) string {
	if on {
		return "on"
	}
	return ""
}

func (h *uiHandlers) profilePage(c *gin.Context) error {
	return h.showProfile(c, http.StatusOK, nil)
}

func (h *uiHandlers) showProfile(c *gin.Context, status int, extra map[string]any) error {
	var row scan.Profile
	if err := h.callAPI(c, h.srv.profiles.get, "GET", c.Params, "", nil, &row); err != nil {
		return err
	}
	data := map[string]any{"Title": "Profile " + row.Name, "Profile": row, "Errors": map[string]string{},
		"Form": map[string]string{"name": row.Name, "description": row.Description, "scanner": string(row.Scanner), "options": row.Options, "intrusive": intrusiveField(row.Intrusive)}}
	for k, v := range extra {
		data[k] = v
	}
	return h.render(c, status, "profile", data)
}

func (h *uiHandlers) profileUpdate(c *gin.Context) error {
	return h.submit(c,
		func() error { return h.callAPI(c, h.srv.profiles.update, "PUT", c.Params, "", profileBody(c), nil) },
		func(status int, extra map[string]any) error { return h.showProfile(c, status, extra) },
		func() string { return "/profiles/" + c.Param("id") })
}

func (h *uiHandlers) profileCreate(c *gin.Context) error {
	body := profileBody(c)
	return h.submit(c,
		func() error { return h.callAPI(c, h.srv.profiles.create, "POST", nil, "", body, nil) },
		func(status int, extra map[string]any) error { return h.showProfiles(c, status, extra) },
		func() string { return "/profiles" })
}

func (h *uiHandlers) profileDelete(c *gin.Context) error {
	return h.deleteThen(c, h.srv.profiles.delete, "/profiles")
}

// --- agents ------------------------------------------------------------

func (h *uiHandlers) agentsPage(c *gin.Context) error {
	return h.showAgents(c, http.StatusOK, nil)
}

func (h *uiHandlers) showAgents(c *gin.Context, status int, extra map[string]any) error {
	var rows []agentView
	// Admins also see the join tokens made lately, to revoke one.
	if p := who(c); p != nil && p.user.Role.Allows(accounts.Admin) {
		var tokens []accounts.JoinToken
		if err := h.callAPI(c, h.srv.enroll.listJoinTokens, "GET", nil, "", nil, &tokens); err != nil {
			return err
		}
		if extra == nil {
			extra = map[string]any{}
		}
		extra["JoinTokens"] = tokens
	}
	return h.listPage(c, status, "agents", "Agents", h.srv.agents.list, &rows, extra)
}

func (h *uiHandlers) agentCreate(c *gin.Context) error {
	body := map[string]any{"name": c.PostForm("name"), "description": c.PostForm("description")}
	var created struct {
		Name       string `json:"name"`
		Credential string `json:"credential"`
	}
	err := h.callAPI(c, h.srv.agents.create, "POST", nil, "", body, &created)
	if err == nil {
		// The credential is shown on this one answer and never again: the
		// agent's operator starts it with --credential.
		return h.showAgents(c, http.StatusCreated, map[string]any{"NewAgent": created.Name, "NewCredential": created.Credential})
	}
	return h.submit(c,
		func() error { return err },
		func(status int, extra map[string]any) error { return h.showAgents(c, status, extra) },
		func() string { return "/agents" })
}

// joinTokenCreate makes a join token and shows it, with the command that
// enrolls the agent, on this one answer.
func (h *uiHandlers) joinTokenCreate(c *gin.Context) error {
	body := map[string]any{"agent_name": c.PostForm("agent_name"), "pools": lines(c.PostForm("pools")), "ttl": c.PostForm("ttl")}
	var created createdJoinToken
	err := h.callAPI(c, h.srv.enroll.createJoinToken, "POST", nil, "", body, &created)
	if err == nil {
		c.Header("Cache-Control", "no-store")
		return h.showAgents(c, http.StatusCreated, map[string]any{"JoinToken": created,
			"EnrollCommand": fmt.Sprintf("scantron agent enroll --server %s --token %s", h.srv.enroll.serverURL(c), created.Token)})
	}
	return h.submit(c,
		func() error { return err },
		func(status int, extra map[string]any) error { return h.showAgents(c, status, extra) },
		func() string { return "/agents" })
}

func (h *uiHandlers) joinTokenDelete(c *gin.Context) error {
	return h.deleteThen(c, h.srv.enroll.deleteJoinToken, "/agents")
}

func (h *uiHandlers) agentDelete(c *gin.Context) error {
	return h.deleteThen(c, h.srv.agents.delete, "/agents")
}

// --- pools -------------------------------------------------------------

func (h *uiHandlers) poolsPage(c *gin.Context) error {
	return h.showPools(c, http.StatusOK, nil)
}

func (h *uiHandlers) showPools(c *gin.Context, status int, extra map[string]any) error {
	var rows []poolView
	return h.listPage(c, status, "pools", "Pools", h.srv.pools.list, &rows, extra)
}

func (h *uiHandlers) poolCreate(c *gin.Context) error {
	body := map[string]any{"name": c.PostForm("name"), "description": c.PostForm("description")}
	return h.submit(c,
		func() error { return h.callAPI(c, h.srv.pools.create, "POST", nil, "", body, nil) },
		func(status int, extra map[string]any) error { return h.showPools(c, status, extra) },
		func() string { return "/pools" })
}

func (h *uiHandlers) poolDelete(c *gin.Context) error {
	return h.deleteThen(c, h.srv.pools.delete, "/pools")
}

// --- scans -------------------------------------------------------------

func (h *uiHandlers) scansPage(c *gin.Context) error {
	return h.showScans(c, http.StatusOK, nil)
}

func (h *uiHandlers) showScans(c *gin.Context, status int, extra map[string]any) error {
	if extra == nil {
		// A new scan starts enabled.
		extra = map[string]any{"Form": map[string]string{"enabled": "on"}}
	}
	if err := h.scanChoices(c, extra); err != nil {
		return err
	}
	var rows []scan.Scan
	return h.listPage(c, status, "scans", "Scans", h.srv.scans.list, &rows, extra)
}

// scanChoices adds the sites, profiles and agents a scan form offers, and
// their names by id, to a page's data.
func (h *uiHandlers) scanChoices(c *gin.Context, data map[string]any) error {
	var sites []scan.Site
	var profiles []scan.Profile
	var agents []agentView
	var pools []poolView
	for _, l := range []struct {
		f   func(*gin.Context) error
		out any
	}{{h.srv.sites.list, &sites}, {h.srv.profiles.list, &profiles}, {h.srv.agents.list, &agents}, {h.srv.pools.list, &pools}} {
		if err := h.callAPI(c, l.f, "GET", nil, "", nil, l.out); err != nil {
			return err
		}
	}
	names := map[string]map[int64]string{"site": {}, "profile": {}, "agent": {}, "pool": {}}
	for _, s := range sites {
		names["site"][s.ID] = s.Name
	}
	for _, p := range profiles {
		names["profile"][p.ID] = p.Name
	}
	for _, a := range agents {
		names["agent"][a.ID] = a.Name
	}
	for _, p := range pools {
		names["pool"][p.ID] = p.Name
	}
	data["Sites"], data["Profiles"], data["Agents"], data["Pools"], data["Names"] = sites, profiles, agents, pools, names
	return nil
}

func scanBody(c *gin.Context) map[string]any {
	body := map[string]any{"name": c.PostForm("name"), "site_id": formID(c, "site_id"),
		"profile_id": formID(c, "profile_id"), "agent_id": formID(c, "agent_id"), "pool_id": formID(c, "pool_id"),
		"shard_size": formID(c, "shard_size"), "enabled": c.PostForm("enabled") == "on"}
	// Schedule fields go to the API only when filled in, so that an
	// on-demand scan does not depend on schedule support.
	for _, f := range []string{"time_zone", "start_at", "rrule"} {
		if v := strings.TrimSpace(c.PostForm(f)); v != "" {
			body[f] = v
		}
	}
	return body
}

func (h *uiHandlers) scanPage(c *gin.Context) error {
	return h.showScan(c, http.StatusOK, nil)
}

func (h *uiHandlers) showScan(c *gin.Context, status int, extra map[string]any) error {
	var view scanView
	if err := h.callAPI(c, h.srv.scans.get, "GET", c.Params, "", nil, &view); err != nil {
		return err
	}
	row := view.Scan
	form := map[string]string{"name": row.Name, "site_id": strconv.FormatInt(row.SiteID, 10),
		"profile_id": strconv.FormatInt(row.ProfileID, 10), "agent_id": strconv.FormatInt(row.AgentID, 10),
		"pool_id": strconv.FormatInt(row.PoolID, 10), "time_zone": row.TimeZone, "rrule": row.RRule}
	if row.ShardSize > 0 {
		form["shard_size"] = strconv.FormatUint(row.ShardSize, 10)
	}
	if row.Enabled {
		form["enabled"] = "on"
	}
	if row.StartAt != nil {
		form["start_at"] = row.StartAt.Format(time.RFC3339)
	}
	var notify notificationsView
	if err := h.callAPI(c, h.srv.notifications.get, "GET", c.Params, "", nil, &notify); err != nil {
		return err
	}
	notifyForm := map[string]string{"webhook_url": notify.WebhookURL, "email_to": strings.Join(notify.EmailTo, "\n")}
	for field, on := range map[string]bool{"on_completed": notify.OnCompleted, "on_failed": notify.OnFailed, "on_diff": notify.OnDiff} {
		if on {
			notifyForm[field] = "on"
		}
	}
	data := map[string]any{"Title": "Scan " + row.Name, "Scan": row, "Schedule": view.Schedule, "RecentRuns": view.RecentRuns,
		"Errors": map[string]string{}, "Form": form,
		"Notify": notify, "NotifyForm": notifyForm, "NotifyErrors": map[string]string{}}
	if err := h.scanChoices(c, data); err != nil {
		return err
	}
	for k, v := range extra {
		data[k] = v
	}
	return h.render(c, status, "scan", data)
}

// planPage shows the scan's plan: what a run started now would do.
func (h *uiHandlers) planPage(c *gin.Context) error {
	var p scanPlan
	if err := h.callAPI(c, h.srv.scans.plan, "GET", c.Params, "", nil, &p); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "plan", map[string]any{"Title": "Plan of " + p.Scan, "Plan": p})
}

func (h *uiHandlers) scanUpdate(c *gin.Context) error {
	return h.submit(c,
		func() error { return h.callAPI(c, h.srv.scans.update, "PUT", c.Params, "", scanBody(c), nil) },
		func(status int, extra map[string]any) error { return h.showScan(c, status, extra) },
		func() string { return "/scans/" + c.Param("id") })
}

func (h *uiHandlers) scanCreate(c *gin.Context) error {
	body := scanBody(c)
	return h.submit(c,
		func() error { return h.callAPI(c, h.srv.scans.create, "POST", nil, "", body, nil) },
		func(status int, extra map[string]any) error { return h.showScans(c, status, extra) },
		func() string { return "/scans" })
}

func (h *uiHandlers) scanDelete(c *gin.Context) error {
	return h.deleteThen(c, h.srv.scans.delete, "/scans")
}

// notificationsBody is the scan page's notifications form as the API
// takes it: an empty secret field keeps the stored secret.
func notificationsBody(c *gin.Context) map[string]any {
	body := map[string]any{"webhook_url": c.PostForm("webhook_url"), "email_to": lines(c.PostForm("email_to")),
		"on_completed": c.PostForm("on_completed") == "on", "on_failed": c.PostForm("on_failed") == "on",
		"on_diff": c.PostForm("on_diff") == "on"}
	if v := c.PostForm("webhook_secret"); v != "" {
		body["webhook_secret"] = v
	}
	return body
}

// notificationsUpdate saves the scan's notification settings; refused, it
// shows the form again with the reason beside the field (never the
// secret).
func (h *uiHandlers) notificationsUpdate(c *gin.Context) error {
	return h.submit(c,
		func() error {
			return h.callAPI(c, h.srv.notifications.put, "PUT", c.Params, "", notificationsBody(c), nil)
		},
		func(status int, extra map[string]any) error {
			form, _ := extra["Form"].(map[string]string)
			delete(form, "webhook_secret")
			return h.showScan(c, status, map[string]any{"NotifyErrors": extra["Errors"], "NotifyForm": form})
		},
		func() string { return "/scans/" + c.Param("id") + "#notifications" })
}

// notificationsTest sends the scan's test notification and shows the scan
// with what became of it.
func (h *uiHandlers) notificationsTest(c *gin.Context) error {
	var out scan.NotificationTest
	if err := h.callAPI(c, h.srv.notifications.test, "POST", c.Params, "", nil, &out); err != nil {
		return err
	}
	return h.showScan(c, http.StatusOK, map[string]any{"NotifyTest": &out})
}

// scanRun starts a run now and shows it.
func (h *uiHandlers) scanRun(c *gin.Context) error {
	var r struct {
		ID int64 `json:"id"`
	}
	if err := h.callAPI(c, h.srv.runs.start, "POST", c.Params, "", nil, &r); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/runs/%d", r.ID))
	return nil
}

// scanSchedule pauses, resumes or fires a scheduled scan through the API
// and shows the scan again; a refusal (no schedule, Temporal away) is an
// error page naming the reason.
func (h *uiHandlers) scanSchedule(api func(*gin.Context) error, note bool) func(*gin.Context) error {
	return func(c *gin.Context) error {
		var body any
		if note {
			body = map[string]any{"note": c.PostForm("note")}
		}
		if err := h.callAPI(c, api, "POST", c.Params, "", body, nil); err != nil {
			return err
		}
		c.Redirect(http.StatusSeeOther, "/scans/"+c.Param("id"))
		return nil
	}
}

// --- runs --------------------------------------------------------------

const runsPerPage = 50

func (h *uiHandlers) runsPage(c *gin.Context) error {
	lq, err := readList(c)
	if err != nil {
		return err
	}
	if _, ok := c.GetQuery("limit"); !ok {
		lq.Limit = runsPerPage
	}
	var runs []dashboardRun
	q := lq.apiQuery()
	if id := c.Query("scan_id"); id != "" {
		q += "&scan_id=" + url.QueryEscape(id)
	}
	total, err := h.callList(c, h.srv.runs.list, q, &runs)
	if err != nil {
		return err
	}
	ids := make([]int64, 0, len(runs))
	for _, r := range runs {
		ids = append(ids, r.ScanID)
	}
	names, err := h.store.ScanNames(c.Request.Context(), ids)
	if err != nil {
		return err
	}
	for i := range runs {
		runs[i].ScanName = names[runs[i].ScanID]
	}
	return h.render(c, http.StatusOK, "runs", map[string]any{
		"Title": "Runs", "Runs": runs, "Pager": newPager(c.Request.URL, lq, total),
	})
}

// runAction asks for something of a run through the API (pause, resume,
// reparse) and shows the run again; retry shows the new run it started.
// A refusal (the run is in the wrong state) is an error page naming why.
func (h *uiHandlers) runAction(api func(*gin.Context) error) func(*gin.Context) error {
	return func(c *gin.Context) error {
		var started struct {
			ID int64 `json:"id"`
		}
		if err := h.callAPI(c, api, "POST", c.Params, "", nil, &started); err != nil {
			return err
		}
		if started.ID != 0 {
			c.Redirect(http.StatusSeeOther, fmt.Sprintf("/runs/%d", started.ID))
			return nil
		}
		c.Redirect(http.StatusSeeOther, "/runs/"+c.Param("id"))
		return nil
	}
}

func (h *uiHandlers) runCancel(c *gin.Context) error {
	if err := h.callAPI(c, h.srv.runs.cancel, "POST", c.Params, "", nil, nil); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/runs/"+c.Param("id"))
	return nil
}
