package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// The pages that change things post ordinary HTML forms. Each form handler
// reads its fields into the input of the same operation the matching API
// call runs (package manage), so that a form and the API validate and
// store exactly alike; a refusal is shown on the page beside its field.

// formError splits an error of a form post: a client error to show on the
// page (with the status to answer), or nil and the error itself for a
// failure that is ours.
func formError(err error) (*httpError, error) {
	if he, ok := clientError(err); ok {
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
func listPage[T any](h *uiHandlers, c *gin.Context, status int, page, title string, rows func(context.Context, listQuery) ([]T, int, error), extra map[string]any) error {
	lq, err := readList(c)
	if err != nil {
		return err
	}
	lq.Paged = true // a page shows one page, whether or not its address says which
	out, total, err := rows(c.Request.Context(), lq)
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
	return listPage(h, c, status, "sites", "Sites", pagedList(h.ops.sites.List, func(s scan.Site) string { return s.Name }), extra)
}

func siteInput(c *gin.Context) manage.SiteInput {
	return manage.SiteInput{Name: c.PostForm("name"), Description: c.PostForm("description"),
		Targets: lines(c.PostForm("targets")), Exclusions: lines(c.PostForm("exclusions"))}
}

func (h *uiHandlers) siteCreate(c *gin.Context) error {
	var row scan.Site
	return h.submit(c,
		func() (err error) { row, err = h.ops.sites.Create(c.Request.Context(), siteInput(c)); return err },
		func(status int, extra map[string]any) error { return h.showSites(c, status, extra) },
		func() string { return fmt.Sprintf("/sites/%d", row.ID) })
}

func (h *uiHandlers) sitePage(c *gin.Context) error {
	return h.showSite(c, http.StatusOK, nil)
}

func (h *uiHandlers) showSite(c *gin.Context, status int, extra map[string]any) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	row, err := h.ops.sites.Get(c.Request.Context(), id)
	if err != nil {
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

func (h *uiHandlers) siteUpdate(c *gin.Context) error {
	return h.submit(c,
		func() error {
			id, err := pathID(c)
			if err == nil {
				_, err = h.ops.sites.Update(c.Request.Context(), id, siteInput(c))
			}
			return err
		},
		func(status int, extra map[string]any) error { return h.showSite(c, status, extra) },
		func() string { return "/sites/" + c.Param("id") })
}

func (h *uiHandlers) siteDelete(c *gin.Context) error {
	return h.deleteThen(c, h.ops.sites.Delete, "/sites")
}

// deleteThen deletes the row :id names and goes back to the list; a
// refusal (still in use, say) is shown as an error page naming the reason.
func (h *uiHandlers) deleteThen(c *gin.Context, del func(context.Context, int64) error, back string) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := del(c.Request.Context(), id); err != nil {
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
	return listPage(h, c, status, "exclusions", "Global exclusions",
		pagedList(h.ops.exclusions.List, func(e scan.Exclusion) string { return e.Target + " " + e.Note }), extra)
}

func (h *uiHandlers) exclusionCreate(c *gin.Context) error {
	in := manage.ExclusionInput{Target: c.PostForm("target"), Note: c.PostForm("note")}
	return h.submit(c,
		func() error { _, err := h.ops.exclusions.Create(c.Request.Context(), in); return err },
		func(status int, extra map[string]any) error { return h.showExclusions(c, status, extra) },
		func() string { return "/exclusions" })
}

func (h *uiHandlers) exclusionDelete(c *gin.Context) error {
	return h.deleteThen(c, h.ops.exclusions.Delete, "/exclusions")
}

// --- profiles ----------------------------------------------------------

func (h *uiHandlers) profilesPage(c *gin.Context) error {
	return h.showProfiles(c, http.StatusOK, nil)
}

func (h *uiHandlers) showProfiles(c *gin.Context, status int, extra map[string]any) error {
	return listPage(h, c, status, "profiles", "Scan profiles", pagedList(h.ops.profiles.List, func(p scan.Profile) string { return p.Name }), extra)
}

func profileInput(c *gin.Context) manage.ProfileInput {
	return manage.ProfileInput{Name: c.PostForm("name"), Description: c.PostForm("description"),
		Scanner: c.PostForm("scanner"), Options: c.PostForm("options"), Intrusive: c.PostForm("intrusive") != "",
		DiscoveryScanner: c.PostForm("discovery_scanner"), DiscoveryOptions: c.PostForm("discovery_options")}
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
	id, err := pathID(c)
	if err != nil {
		return err
	}
	row, err := h.ops.profiles.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	data := map[string]any{"Title": "Profile " + row.Name, "Profile": row, "Errors": map[string]string{},
		"Form": map[string]string{"name": row.Name, "description": row.Description, "scanner": string(row.Scanner), "options": row.Options, "intrusive": intrusiveField(row.Intrusive),
			"discovery_scanner": string(row.DiscoveryScanner), "discovery_options": row.DiscoveryOptions}}
	for k, v := range extra {
		data[k] = v
	}
	return h.render(c, status, "profile", data)
}

func (h *uiHandlers) profileUpdate(c *gin.Context) error {
	return h.submit(c,
		func() error {
			id, err := pathID(c)
			if err == nil {
				_, err = h.ops.profiles.Update(c.Request.Context(), roleOf(c), id, profileInput(c))
			}
			return err
		},
		func(status int, extra map[string]any) error { return h.showProfile(c, status, extra) },
		func() string { return "/profiles/" + c.Param("id") })
}

func (h *uiHandlers) profileCreate(c *gin.Context) error {
	return h.submit(c,
		func() error {
			_, err := h.ops.profiles.Create(c.Request.Context(), roleOf(c), profileInput(c))
			return err
		},
		func(status int, extra map[string]any) error { return h.showProfiles(c, status, extra) },
		func() string { return "/profiles" })
}

func (h *uiHandlers) profileDelete(c *gin.Context) error {
	return h.deleteThen(c, h.ops.profiles.Delete, "/profiles")
}

// --- agents ------------------------------------------------------------

func (h *uiHandlers) agentsPage(c *gin.Context) error {
	return h.showAgents(c, http.StatusOK, nil)
}

func (h *uiHandlers) showAgents(c *gin.Context, status int, extra map[string]any) error {
	// Admins also see the join tokens made lately, to revoke one.
	if p := who(c); p != nil && p.user.Role.Allows(accounts.Admin) {
		tokens, err := h.ops.joinTokens.List(c.Request.Context())
		if err != nil {
			return err
		}
		if extra == nil {
			extra = map[string]any{}
		}
		extra["JoinTokens"] = tokens
	}
	return listPage(h, c, status, "agents", "Agents", h.srv.agents.page, extra)
}

func (h *uiHandlers) agentCreate(c *gin.Context) error {
	in := manage.AgentInput{Name: c.PostForm("name"), Description: c.PostForm("description")}
	row, credential, err := h.ops.agents.Create(c.Request.Context(), in)
	if err == nil {
		// The credential is shown on this one answer and never again: the
		// agent's operator starts it with --credential.
		return h.showAgents(c, http.StatusCreated, map[string]any{"NewAgent": row.Name, "NewCredential": credential})
	}
	return h.submit(c,
		func() error { return err },
		func(status int, extra map[string]any) error { return h.showAgents(c, status, extra) },
		func() string { return "/agents" })
}

// joinTokenCreate makes a join token and shows it, with the command that
// enrolls the agent, on this one answer.
func (h *uiHandlers) joinTokenCreate(c *gin.Context) error {
	in := manage.JoinTokenInput{AgentName: c.PostForm("agent_name"), Pools: lines(c.PostForm("pools")), TTL: c.PostForm("ttl")}
	row, secret, err := h.ops.joinTokens.Create(c.Request.Context(), who(c).user, in)
	if err == nil {
		c.Header("Cache-Control", "no-store")
		created := h.srv.enroll.shown(c, row, secret)
		return h.showAgents(c, http.StatusCreated, map[string]any{"JoinToken": created, "EnrollCommand": created.EnrollCommand})
	}
	return h.submit(c,
		func() error { return err },
		func(status int, extra map[string]any) error { return h.showAgents(c, status, extra) },
		func() string { return "/agents" })
}

func (h *uiHandlers) joinTokenDelete(c *gin.Context) error {
	return h.deleteThen(c, h.ops.joinTokens.Delete, "/agents")
}

func (h *uiHandlers) agentDelete(c *gin.Context) error {
	return h.deleteThen(c, h.ops.agents.Delete, "/agents")
}

// --- pools -------------------------------------------------------------

func (h *uiHandlers) poolsPage(c *gin.Context) error {
	return h.showPools(c, http.StatusOK, nil)
}

func (h *uiHandlers) showPools(c *gin.Context, status int, extra map[string]any) error {
	return listPage(h, c, status, "pools", "Pools", h.srv.pools.page, extra)
}

func (h *uiHandlers) poolCreate(c *gin.Context) error {
	in := manage.PoolInput{Name: c.PostForm("name"), Description: c.PostForm("description")}
	return h.submit(c,
		func() error { _, err := h.ops.pools.Create(c.Request.Context(), in); return err },
		func(status int, extra map[string]any) error { return h.showPools(c, status, extra) },
		func() string { return "/pools" })
}

func (h *uiHandlers) poolDelete(c *gin.Context) error {
	return h.deleteThen(c, h.ops.pools.Delete, "/pools")
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
	return listPage(h, c, status, "scans", "Scans", h.srv.scans.page, extra)
}

// scanChoices adds the sites, profiles and agents a scan form offers, and
// their names by id, to a page's data.
func (h *uiHandlers) scanChoices(c *gin.Context, data map[string]any) error {
	ctx := c.Request.Context()
	sites, err := h.ops.sites.List(ctx)
	if err != nil {
		return err
	}
	profiles, err := h.ops.profiles.List(ctx)
	if err != nil {
		return err
	}
	all := listQuery{} // not paged: every row
	agents, _, err := h.srv.agents.page(ctx, all)
	if err != nil {
		return err
	}
	pools, _, err := h.srv.pools.page(ctx, all)
	if err != nil {
		return err
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

func scanInput(c *gin.Context) manage.ScanInput {
	enabled := c.PostForm("enabled") == "on"
	in := manage.ScanInput{Name: c.PostForm("name"), SiteID: formID(c, "site_id"),
		ProfileID: formID(c, "profile_id"), AgentID: formID(c, "agent_id"), PoolID: formID(c, "pool_id"),
		ShardSize: formID(c, "shard_size"), Enabled: &enabled,
		TimeZone: strings.TrimSpace(c.PostForm("time_zone")), RRule: strings.TrimSpace(c.PostForm("rrule")),
		Windows: windowLines(c.PostForm("windows"))}
	if v := strings.TrimSpace(c.PostForm("start_at")); v != "" {
		in.StartAt = &v
	}
	return in
}

// windowLines reads the windows field: one window a line (commas belong
// to the days of a window).
func windowLines(s string) []string {
	out := []string{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (h *uiHandlers) scanPage(c *gin.Context) error {
	return h.showScan(c, http.StatusOK, nil)
}

func (h *uiHandlers) showScan(c *gin.Context, status int, extra map[string]any) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	s, err := h.ops.scans.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	view, err := h.srv.scans.view(c.Request.Context(), s, true)
	if err != nil {
		return err
	}
	row := view.Scan
	form := map[string]string{"name": row.Name, "site_id": strconv.FormatInt(row.SiteID, 10),
		"profile_id": strconv.FormatInt(row.ProfileID, 10), "agent_id": strconv.FormatInt(row.AgentID, 10),
		"pool_id": strconv.FormatInt(row.PoolID, 10), "time_zone": row.TimeZone, "rrule": row.RRule,
		"windows": strings.Join(row.Windows.Strings(), "\n")}
	if row.ShardSize > 0 {
		form["shard_size"] = strconv.FormatUint(row.ShardSize, 10)
	}
	if row.Enabled {
		form["enabled"] = "on"
	}
	if row.StartAt != nil {
		form["start_at"] = row.StartAt.Format(time.RFC3339)
	}
	stored, err := h.ops.notifications.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	notify := viewNotifications(stored)
	notifyForm := map[string]string{"webhook_url": notify.WebhookURL, "email_to": strings.Join(notify.EmailTo, "\n")}
	for field, on := range map[string]bool{"on_completed": notify.OnCompleted, "on_failed": notify.OnFailed, "on_diff": notify.OnDiff} {
		if on {
			notifyForm[field] = "on"
		}
	}
	data := map[string]any{"Title": "Scan " + row.Name, "Scan": row, "Schedule": view.Schedule, "RecentRuns": view.RecentRuns,
		"Errors": map[string]string{}, "Form": form, "WindowState": view.WindowState,
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
	id, err := pathID(c)
	if err != nil {
		return err
	}
	p, err := h.srv.scans.planner.plan(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "plan", map[string]any{"Title": "Plan of " + p.Scan, "Plan": p})
}

func (h *uiHandlers) scanUpdate(c *gin.Context) error {
	return h.submit(c,
		func() error {
			id, err := pathID(c)
			if err != nil {
				return err
			}
			_, err = h.ops.scans.Update(c.Request.Context(), id, scanInput(c), c.ClientIP())
			return err
		},
		func(status int, extra map[string]any) error { return h.showScan(c, status, extra) },
		func() string { return "/scans/" + c.Param("id") })
}

func (h *uiHandlers) scanCreate(c *gin.Context) error {
	return h.submit(c,
		func() error {
			_, err := h.ops.scans.Create(c.Request.Context(), scanInput(c))
			return err
		},
		func(status int, extra map[string]any) error { return h.showScans(c, status, extra) },
		func() string { return "/scans" })
}

func (h *uiHandlers) scanDelete(c *gin.Context) error {
	return h.deleteThen(c, h.ops.scans.Delete, "/scans")
}

// notificationsInput is the scan page's notifications form: an empty
// secret field keeps the stored secret.
func notificationsInput(c *gin.Context) manage.NotificationsInput {
	completed, failed, diff := c.PostForm("on_completed") == "on", c.PostForm("on_failed") == "on", c.PostForm("on_diff") == "on"
	in := manage.NotificationsInput{WebhookURL: c.PostForm("webhook_url"), EmailTo: lines(c.PostForm("email_to")),
		OnCompleted: &completed, OnFailed: &failed, OnDiff: &diff}
	if v := c.PostForm("webhook_secret"); v != "" {
		in.WebhookSecret = &v
	}
	return in
}

// notificationsUpdate saves the scan's notification settings; refused, it
// shows the form again with the reason beside the field (never the
// secret).
func (h *uiHandlers) notificationsUpdate(c *gin.Context) error {
	return h.submit(c,
		func() error {
			id, err := pathID(c)
			if err == nil {
				_, err = h.ops.notifications.Put(c.Request.Context(), id, notificationsInput(c))
			}
			return err
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
	id, err := pathID(c)
	if err != nil {
		return err
	}
	out, err := h.ops.notifications.Test(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return h.showScan(c, http.StatusOK, map[string]any{"NotifyTest": &out})
}

// scanRun starts a run now and shows it.
func (h *uiHandlers) scanRun(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	r, err := h.ops.runs.Start(c.Request.Context(), workflows.ScanInput{ScanID: id, IgnoreWindows: c.PostForm("ignore_windows") == "true"})
	if err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/runs/%d", r.ID))
	return nil
}

// scanPause pauses or resumes a scheduled scan, with the form's note, and
// shows the scan again; a refusal (no schedule, Temporal away) is an
// error page naming the reason.
func (h *uiHandlers) scanPause(paused bool) func(*gin.Context) error {
	return func(c *gin.Context) error {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		in := manage.PauseInput{Note: c.PostForm("note")}
		if _, err := h.ops.scans.SetPaused(c.Request.Context(), id, paused, in, caller(c)); err != nil {
			return err
		}
		c.Redirect(http.StatusSeeOther, "/scans/"+c.Param("id"))
		return nil
	}
}

// scanTrigger fires a scheduled scan now and shows the scan again.
func (h *uiHandlers) scanTrigger(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, _, err := h.ops.scans.Trigger(c.Request.Context(), id, caller(c)); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/scans/"+c.Param("id"))
	return nil
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
	scanID, err := scanIDQuery(c)
	if err != nil {
		return err
	}
	rows, total, err := h.srv.runs.page(c.Request.Context(), scan.RunFilter{ScanID: scanID, Limit: lq.Limit, Offset: lq.Offset})
	if err != nil {
		return err
	}
	runs := make([]dashboardRun, 0, len(rows))
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		runs = append(runs, dashboardRun{Run: r.Run})
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

// runAction does something to a run (pause, resume, reparse) and shows
// the run again; retry shows the new run it started (op returns its id).
// A refusal (the run is in the wrong state) is an error page naming why.
func (h *uiHandlers) runAction(op func(ctx context.Context, runID int64) (started int64, err error)) func(*gin.Context) error {
	return func(c *gin.Context) error {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		started, err := op(c.Request.Context(), id)
		if err != nil {
			return err
		}
		if started != 0 {
			c.Redirect(http.StatusSeeOther, fmt.Sprintf("/runs/%d", started))
			return nil
		}
		c.Redirect(http.StatusSeeOther, "/runs/"+c.Param("id"))
		return nil
	}
}

// runSignal pauses or resumes a run.
func (h *uiHandlers) runSignal(name string) func(context.Context, int64) (int64, error) {
	return func(ctx context.Context, id int64) (int64, error) {
		_, err := h.ops.runs.Signal(ctx, id, name)
		return 0, err
	}
}

// runRetry starts a failed or cancelled run's scan again.
func (h *uiHandlers) runRetry(ctx context.Context, id int64) (int64, error) {
	r, err := h.ops.runs.Retry(ctx, id)
	return r.ID, err
}

// runReparse parses a finished run again.
func (h *uiHandlers) runReparse(ctx context.Context, id int64) (int64, error) {
	_, _, err := h.ops.runs.Reparse(ctx, id)
	return 0, err
}

func (h *uiHandlers) runCancel(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := h.ops.runs.Cancel(c.Request.Context(), id); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/runs/"+c.Param("id"))
	return nil
}

// siteImport imports the uploaded files as runs of the site, through the
// same operation as the API, and shows the newest run.
func (h *uiHandlers) siteImport(c *gin.Context) error {
	files, _, err := h.srv.imports.importFiles(c)
	if err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/runs/%d", files[len(files)-1].RunID))
	return nil
}
