package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/internal/targethost"
)

// TestCLIAgainstServer drives every verb of the command table against a
// real server, Temporal, PostgreSQL, S3 and an agent that scans a port on
// the loopback: each verb's answer for people, its --json (the API's
// answer as it is), an API error passed through as the API words it, and
// usage errors that name the flag or argument.
func TestCLIAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	s := startCLIStack(t)

	// Before logging in: a usage error.
	if code, _, errOut := s.run("", "sites", "list"); code != 2 || !strings.Contains(errOut, "not logged in") {
		t.Fatalf("sites list before login: %d %s", code, errOut)
	}
	if code, _, errOut := s.run("wrong\n", "login", "--url", s.base, "--name", "admin"); code != 1 || !strings.Contains(errOut, "wrong user name or password") {
		t.Fatalf("login with a wrong password: %d %s", code, errOut)
	}
	code, out, errOut := s.run("cli admin password\n", "login", "--url", s.base, "--name", "admin", "--json")
	var login struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &login) != nil || !strings.HasPrefix(login.Token, "sct_") {
		t.Fatalf("login --json: %d %s %s", code, out, errOut)
	}
	s.token = login.Token

	t.Run("accounts", func(t *testing.T) {
		s.t = t
		s.must(`name:\s+admin`, s.ok("me", "show"))
		s.sameAsAPI("/me", "me", "show")
		var tt struct {
			Token     string `json:"token"`
			Namespace string `json:"namespace"`
			Role      string `json:"role"`
		}
		s.json(&tt, "me", "temporal-token")
		if tt.Token == "" || tt.Namespace == "" || tt.Role != "admin" {
			t.Errorf("me temporal-token --json: %+v", tt)
		}
		s.must(`(?m)^role:\s+admin$`, s.ok("me", "temporal-token"))

		m := s.must(`created token (\d+) ci, expires .*:\n(sct_\S+)`, s.ok("tokens", "create", "--name", "ci", "--expires-in-days", "3"))
		var tok struct {
			idName
			Token string `json:"token"`
		}
		s.json(&tok, "tokens", "create", "--name", "ci-json")
		if tok.Name != "ci-json" || !strings.HasPrefix(tok.Token, "sct_") {
			t.Errorf("tokens create --json: %+v", tok)
		}
		s.must(`(?m)^`+m[1]+`\s+ci\s`, s.ok("tokens", "list"))
		s.sameAsAPI("/tokens?limit=2&offset=1", "tokens", "list", "--limit", "2", "--offset", "1")
		if out := s.ok("tokens", "list", "--match", "json"); strings.Contains(out, " ci ") || !strings.Contains(out, "ci-json") {
			t.Errorf("tokens list --match json:\n%s", out)
		}
		s.must(`revoked token `+m[1], s.ok("tokens", "revoke", m[1]))
		s.ok("tokens", "revoke", id(tok.ID), "--json")

		// Users: the password comes from the environment or stdin.
		s.env["SCANTRON_USER_PASSWORD"] = "carol's first password"
		s.must(`created user \d+ carol \(viewer\)`, s.ok("users", "create", "--name", "carol", "--role", "viewer"))
		delete(s.env, "SCANTRON_USER_PASSWORD")
		var dave idName
		if code, out, errOut := s.run("dave's password\n", "users", "create", "--name", "dave", "--role", "operator", "--json"); code != 0 || json.Unmarshal([]byte(out), &dave) != nil {
			t.Fatalf("users create --json: %d %s %s", code, out, errOut)
		}
		carol := s.must(`(?m)^(\d+)\s+carol\s+viewer`, s.ok("users", "list"))[1]
		s.sameAsAPI("/users?limit=500&offset=0", "users", "list", "--limit", "500", "--offset", "0")
		s.must(`role:\s+viewer`, s.ok("users", "show", carol))
		s.sameAsAPI("/users/"+carol, "users", "show", carol)
		s.must(`updated user `+carol+` carol \(operator\)`, s.ok("users", "update", carol, "--role", "operator"))
		var upd struct {
			Role string `json:"role"`
		}
		s.json(&upd, "users", "update", carol, "--role", "admin")
		if upd.Role != "admin" {
			t.Errorf("users update --json: role %q", upd.Role)
		}

		// carol logs in with her own config, changes her password and
		// logs out; the admin sees and revokes a token of hers.
		c := &cliStack{t: t, base: s.base, used: s.used, env: map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "HOME": t.TempDir()}}
		if code, out, errOut := c.run("carol's first password\n", "login", "--url", s.base, "--name", "carol"); code != 0 || !strings.Contains(out, "logged in") {
			t.Fatalf("carol login: %d %s %s", code, out, errOut)
		}
		c.must(`password changed`, c.ok2("carol's first password\ncarol's second password\n", "me", "password"))
		if code, out, errOut := c.run("x\n", "login", "--url", s.base, "--name", "carol"); code != 1 || !strings.Contains(errOut, "wrong user name or password") {
			t.Errorf("login with the old password: %d %s %s", code, out, errOut)
		}
		c.ok2("carol's second password\n", "login", "--url", s.base, "--name", "carol")
		c.env["SCANTRON_PASSWORD"], c.env["SCANTRON_USER_PASSWORD"] = "carol's second password", "carol's third password"
		c.ok("me", "password", "--json")
		delete(c.env, "SCANTRON_PASSWORD") // login would take it
		c.ok2("carol's third password\n", "login", "--url", s.base, "--name", "carol")
		var theirs []idName
		s.json(&theirs, "users", "tokens", carol)
		if len(theirs) == 0 {
			t.Fatal("users tokens: carol has none")
		}
		s.sameAsAPI("/users/"+carol+"/tokens?limit=500&offset=0", "users", "tokens", carol, "--limit", "500", "--offset", "0")
		s.must(`(?m)^`+id(theirs[0].ID)+`\s`, s.ok("users", "tokens", carol))
		s.must(fmt.Sprintf(`revoked token %d of user %s`, theirs[0].ID, carol), s.ok("users", "revoke-token", carol, id(theirs[0].ID)))
		if code, _, errOut := c.run("", "me", "show"); code != 1 || !strings.Contains(errOut, "HTTP 401") {
			t.Errorf("carol's revoked token still works: %d %s", code, errOut)
		}
		c.must(`logged out`, c.ok("logout"))
		c.ok("logout", "--json")
		status, b := s.api("POST", "/login", map[string]string{"name": "carol", "password": "carol's third password", "token_name": "more"})
		var more idName
		if status != http.StatusCreated || json.Unmarshal(b, &more) != nil {
			t.Fatalf("login as carol: %d %s", status, b)
		}
		s.ok("users", "revoke-token", carol, id(more.ID), "--json")
		if code, _, errOut := s.run("", "users", "revoke-token", carol, id(more.ID)); code != 1 ||
			errOut != fmt.Sprintf("scantron users revoke-token: token %d not found among carol's tokens (HTTP 404)\n", more.ID) {
			t.Errorf("revoke a revoked token: %d %q", code, errOut)
		}
		s.must(`deleted user `+carol, s.ok("users", "delete", carol))
		s.ok("users", "delete", id(dave.ID), "--json")
	})

	// Configuration.
	var siteID, profileID, poolID, agentID, exclID int64
	t.Run("configuration", func(t *testing.T) {
		s.t = t
		// An API error comes back as the API words it, with exit 1.
		status, apiAnswer := s.api("POST", "/sites", map[string]any{"name": "bad", "targets": []string{"198.18.0.0/33"}})
		var apiErr struct {
			Error string `json:"error"`
		}
		if status != http.StatusBadRequest || json.Unmarshal(apiAnswer, &apiErr) != nil || apiErr.Error == "" {
			t.Fatalf("the API took a bad site: %d %s", status, apiAnswer)
		}
		code, out, errOut := s.run("", "sites", "create", "--name", "bad", "--targets", "198.18.0.0/33")
		if want := "scantron sites create: " + apiErr.Error + " (HTTP 400)\n"; code != 1 || errOut != want || out != "" {
			t.Errorf("bad site: exit %d, stderr %q, want %q", code, errOut, want)
		}

		m := s.must(`created site (\d+) lab`, s.ok("sites", "create", "--name", "lab", "--targets", "127.0.0.1", "--exclusions", "127.0.0.2", "--description", "loopback"))
		fmt.Sscan(m[1], &siteID)
		var site struct {
			idName
			Targets []string `json:"targets"`
			MaxRate int      `json:"max_rate"`
		}
		s.json(&site, "sites", "create", "--name", "lab-2", "--targets", "127.0.0.3,127.0.0.4", "--max-rate", "100")
		if len(site.Targets) != 2 || site.MaxRate != 100 {
			t.Errorf("sites create --json: %+v", site)
		}
		s.must(`(?m)^`+m[1]+`\s+lab\s+127\.0\.0\.1\s+127\.0\.0\.2`, s.ok("sites", "list"))
		s.sameAsAPI("/sites?limit=1&offset=1", "sites", "list", "--limit", "1", "--offset", "1")
		if _, _, errOut := s.run("", "sites", "list", "--limit", "1"); !strings.Contains(errOut, "1-1 of 2; --offset 1 for more") {
			t.Errorf("sites list --limit 1: no note of the next page: %q", errOut)
		}
		var all []idName
		s.json(&all, "sites", "list", "--match", "lab-")
		if len(all) != 1 || all[0].ID != site.ID {
			t.Errorf("sites list --match lab- --json: %+v", all)
		}
		s.must(`description:\s+loopback`, s.ok("sites", "show", m[1]))
		s.sameAsAPI("/sites/"+m[1], "sites", "show", m[1])
		// An update changes only the fields given.
		s.must(`updated site `+m[1]+` lab`, s.ok("sites", "update", m[1], "--description", "the loopback"))
		s.json(&site, "sites", "update", id(site.ID), "--name", "lab-two")
		if site.Name != "lab-two" || len(site.Targets) != 2 || site.MaxRate != 100 {
			t.Errorf("sites update kept too little: %+v", site)
		}
		s.must(`(?s)name:\s+lab\n.*description:\s+the loopback\n.*targets:\s+127\.0\.0\.1\n`, s.ok("sites", "show", m[1]))
		s.must(`deleted site `+id(site.ID), s.ok("sites", "delete", id(site.ID)))
		s.json(&site, "sites", "create", "--name", "lab-3", "--targets", "127.0.0.5")
		s.ok("sites", "delete", id(site.ID), "--json")
		if code, _, errOut := s.run("", "sites", "show", id(site.ID)); code != 1 || !strings.Contains(errOut, "not found (HTTP 404)") {
			t.Errorf("deleted site: %d %s", code, errOut)
		}

		m = s.must(`created exclusion (\d+) 127\.0\.0\.9`, s.ok("exclusions", "create", "--target", "127.0.0.9", "--note", "printer"))
		fmt.Sscan(m[1], &exclID)
		var excl struct {
			ID     int64  `json:"id"`
			Target string `json:"target"`
		}
		s.json(&excl, "exclusions", "create", "--target", "127.0.0.10")
		s.must(`(?m)^`+m[1]+`\s+127\.0\.0\.9\s+printer`, s.ok("exclusions", "list"))
		s.sameAsAPI("/exclusions?limit=500&offset=0", "exclusions", "list", "--limit", "500")
		s.must(`deleted exclusion `+m[1], s.ok("exclusions", "delete", m[1]))
		s.ok("exclusions", "delete", id(excl.ID), "--json")

		m = s.must(`created profile (\d+) tcp`, s.ok("profiles", "create", "--name", "tcp", "--scanner", "nmap", "--options", "-n -Pn -sT -p 1"))
		fmt.Sscan(m[1], &profileID)
		var prof struct {
			idName
			Options string `json:"options"`
		}
		s.json(&prof, "profiles", "create", "--name", "tcp-2", "--scanner", "nmap", "--options", "-n -sT -p 80")
		s.must(`(?m)^`+m[1]+`\s+tcp\s+nmap\s+-n -Pn -sT -p 1\s+false`, s.ok("profiles", "list"))
		s.sameAsAPI("/profiles?limit=500&offset=0", "profiles", "list", "--limit", "500")
		s.sameAsAPI("/profiles/"+m[1], "profiles", "show", m[1])
		s.must(`scanner:\s+nmap`, s.ok("profiles", "show", m[1]))
		s.json(&prof, "profiles", "update", id(prof.ID), "--options", "-n -sT -p 81")
		if prof.Name != "tcp-2" || prof.Options != "-n -sT -p 81" {
			t.Errorf("profiles update --json: %+v", prof)
		}
		s.must(`deleted profile `+id(prof.ID), s.ok("profiles", "delete", id(prof.ID)))
		s.json(&prof, "profiles", "create", "--name", "tcp-3", "--scanner", "nmap", "--options", "-n -sT -p 82")
		s.ok("profiles", "delete", id(prof.ID), "--json")
		if code, _, errOut := s.run("", "profiles", "show", id(prof.ID)); code != 1 || errOut != fmt.Sprintf("scantron profiles show: profile %d not found (HTTP 404)\n", prof.ID) {
			t.Errorf("deleted profile: %d %q", code, errOut)
		}

		m = s.must(`created pool (\d+) edge`, s.ok("pools", "create", "--name", "edge", "--description", "nobody polls it"))
		fmt.Sscan(m[1], &poolID)
		var pool idName
		s.json(&pool, "pools", "create", "--name", "spare")
		s.must(`(?m)^`+m[1]+`\s+edge\s+\S+\s+false`, s.ok("pools", "list"))
		s.sameAsAPI("/pools?limit=500&offset=0", "pools", "list", "--limit", "500")
		s.sameAsAPI("/pools/"+m[1], "pools", "show", m[1])
		s.must(`name:\s+edge`, s.ok("pools", "show", m[1]))

		// The agent that runs the scans below.
		var agent struct {
			idName
			Credential string `json:"credential"`
		}
		s.json(&agent, "agents", "create", "--name", "local", "--description", "this machine")
		if agent.Credential == "" {
			t.Fatalf("agents create --json: no credential")
		}
		agentID = agent.ID
		s.startAgent("local", agent.Credential)
		m = s.must(`created agent (\d+) spare-agent; its credential \(shown this once\):\n(\S+)`, s.ok("agents", "create", "--name", "spare-agent"))
		s.must(`(?m)^`+id(agentID)+`\s+local\s`, s.ok("agents", "list"))
		s.sameAsAPI("/agents/"+m[1], "agents", "show", m[1])
		s.must(`name:\s+local`, s.ok("agents", "show", id(agentID)))
		var ag []json.RawMessage
		s.json(&ag, "agents", "list")
		if len(ag) != 2 {
			t.Errorf("agents list --json: %d agents", len(ag))
		}
		s.must(`pools:\s+spare`, s.ok("agents", "set-pools", m[1], "--pools", "spare"))
		var pools struct {
			Pools []string `json:"pools"`
		}
		s.json(&pools, "agents", "set-pools", m[1], "--pools", "spare,edge")
		if strings.Join(pools.Pools, ",") != "edge,spare" && strings.Join(pools.Pools, ",") != "spare,edge" {
			t.Errorf("agents set-pools --json: %+v", pools)
		}
		s.must(`pools:\s+\S*edge`, s.ok("agents", "pools", m[1]))
		s.sameAsAPI("/agents/"+m[1]+"/pools", "agents", "pools", m[1])
		s.must(`deleted agent `+m[1], s.ok("agents", "delete", m[1]))
		var gone idName
		s.json(&gone, "agents", "create", "--name", "gone")
		s.ok("agents", "delete", id(gone.ID), "--json")

		jt := s.must(`join token for agent edge-9, usable once until .*:\n(\S+)\n\nOn the agent's machine run:\n  scantron agent enroll --server `+regexpQuote(s.base)+` --token (\S+)`,
			s.ok("agents", "join-token", "create", "--name", "edge-9", "--pools", "edge", "--ttl", "10m"))
		if jt[1] != jt[2] {
			t.Errorf("join token %q, enroll command has %q", jt[1], jt[2])
		}
		var jtok struct {
			ID    int64  `json:"id"`
			Token string `json:"token"`
		}
		s.json(&jtok, "agents", "join-token", "create", "--name", "edge-10")
		s.must(`(?m)^\d+\s+edge-9\s+edge\s+pending`, s.ok("agents", "join-token", "list"))
		s.sameAsAPI("/join-tokens?limit=500&offset=0", "agents", "join-token", "list", "--limit", "500")
		s.must(fmt.Sprintf(`deleted join token %d`, jtok.ID), s.ok("agents", "join-token", "delete", id(jtok.ID)))
		var jts []struct {
			ID        int64  `json:"id"`
			AgentName string `json:"agent_name"`
		}
		s.json(&jts, "agents", "join-token", "list", "--match", "edge-9")
		if len(jts) != 1 {
			t.Fatalf("join-token list --match edge-9: %+v", jts)
		}
		s.ok("agents", "join-token", "delete", id(jts[0].ID), "--json")
	})

	// Scans, schedules and runs.
	port := targethost.Loopback(t, nil)
	t.Run("scans and runs", func(t *testing.T) {
		s.t = t
		s.ok("profiles", "update", id(profileID), "--options", fmt.Sprintf("-n -Pn -sT -p %d", port))
		m := s.must(`created scan (\d+) now`, s.ok("scans", "create", "--name", "now", "--site", id(siteID), "--profile", id(profileID), "--agent", id(agentID)))
		scanID := m[1]
		// Every field the API takes, with the schedule in a zone.
		type scanJSON struct {
			ID                   int64  `json:"id"`
			PoolID               int64  `json:"pool_id"`
			AgentID              int64  `json:"agent_id"`
			ShardSize            int64  `json:"shard_size"`
			StartAt              string `json:"start_at"`
			TimeZone             string `json:"time_zone"`
			RRule                string `json:"rrule"`
			Enabled              bool   `json:"enabled"`
			Overlap              string `json:"overlap"`
			CatchupWindowSeconds int64  `json:"catchup_window_seconds"`
		}
		var sched scanJSON
		s.json(&sched, "scans", "create", "--name", "nightly", "--site", id(siteID), "--profile", id(profileID), "--pool", id(poolID),
			"--shard-size", "16", "--start", "2030-01-01T00:00:00Z", "--time-zone", "Europe/Berlin", "--rrule", "FREQ=DAILY;BYHOUR=3",
			"--enabled=false", "--overlap", "buffer_one", "--catchup-window", "3600")
		if sched.PoolID != poolID || sched.ShardSize != 16 || sched.TimeZone != "Europe/Berlin" || sched.RRule != "FREQ=DAILY;BYHOUR=3" ||
			sched.Enabled || sched.Overlap != "buffer_one" || sched.CatchupWindowSeconds != 3600 || !strings.HasPrefix(sched.StartAt, "2030-01-01") {
			t.Errorf("scans create --json: %+v", sched)
		}
		s.must(`(?m)^`+scanID+`\s+now\s+`+id(siteID)+`\s+`+id(profileID)+`\s+`+id(agentID)+`\s`, s.ok("scans", "list"))
		s.sameAsAPI("/scans?limit=500&offset=0", "scans", "list", "--limit", "500", "--offset", "0")
		s.must(`rrule:\s+FREQ=DAILY;BYHOUR=3`, s.ok("scans", "show", id(sched.ID)))
		s.sameAsAPI("/scans/"+scanID, "scans", "show", scanID)
		// The plan: the shard's command line, nothing run.
		s.must(`(?m)^runnable$`, s.ok("scans", "plan", scanID))
		s.must(fmt.Sprintf(`shard 0 \(ipv4, \d+ addresses\): nmap -oX \$SHARD_DIR/out.xml --stats-every 2s .*-n -Pn -sT -p %d`, port), s.ok("scans", "plan", scanID))
		var plan struct {
			Runnable bool `json:"runnable"`
			Shards   []struct {
				Command []string `json:"command"`
			} `json:"shards"`
		}
		s.json(&plan, "scans", "plan", scanID)
		if !plan.Runnable || len(plan.Shards) == 0 || plan.Shards[0].Command[0] != "nmap" {
			t.Errorf("scans plan --json: %+v", plan)
		}
		// Update: the name changes, the schedule stays; --agent takes the
		// place of the pool.
		s.must(`updated scan \d+ nightly-2`, s.ok("scans", "update", id(sched.ID), "--name", "nightly-2", "--enabled"))
		sched = scanJSON{ID: sched.ID}
		s.json(&sched, "scans", "update", id(sched.ID), "--agent", id(agentID))
		if sched.AgentID != agentID || sched.PoolID != 0 || sched.RRule != "FREQ=DAILY;BYHOUR=3" || sched.TimeZone != "Europe/Berlin" || !sched.Enabled || sched.Overlap != "buffer_one" {
			t.Errorf("scans update kept too little: %+v", sched)
		}
		sched = scanJSON{ID: sched.ID}
		start := time.Now().UTC().Truncate(time.Hour).Add(-5 * time.Hour)
		s.json(&sched, "scans", "update", id(sched.ID), "--pool", id(poolID), "--rrule", "FREQ=HOURLY", "--start", start.Format(time.RFC3339), "--time-zone", "UTC")
		if sched.PoolID != poolID || sched.AgentID != 0 || sched.RRule != "FREQ=HOURLY" || sched.ShardSize != 16 {
			t.Errorf("scans update --pool --rrule: %+v", sched)
		}
		s.must(`(?s)form:\s+\S+.*next:\s+2030-01-01T03:00:00\+01:00,2030-01-02T03:00:00\+01:00,.*time_zone:\s+Europe/Berlin`, s.ok("scans", "preview", "--rrule", "FREQ=DAILY;BYHOUR=3", "--start", "2030-01-01T00:00:00+01:00", "--time-zone", "Europe/Berlin"))
		var preview struct {
			Next []time.Time `json:"next"`
		}
		s.json(&preview, "scans", "preview", "--rrule", "FREQ=WEEKLY;BYDAY=MO", "--start", "2030-01-07T02:00:00Z")
		if len(preview.Next) != 10 || !preview.Next[0].Equal(time.Date(2030, 1, 7, 2, 0, 0, 0, time.UTC)) {
			t.Errorf("scans preview --json: %v", preview.Next)
		}
		s.must(`(?s)pause_note:\s+paused by \S+ at .*: change freeze`, s.ok("scans", "pause", id(sched.ID), "--note", "change freeze"))
		var paused struct {
			Schedule struct {
				Paused bool `json:"paused"`
			} `json:"schedule"`
		}
		s.json(&paused, "scans", "resume", id(sched.ID), "--note", "thaw")
		if paused.Schedule.Paused {
			t.Errorf("scans resume --json: still paused")
		}
		s.json(&paused, "scans", "pause", id(sched.ID))
		s.ok("scans", "resume", id(sched.ID))
		s.must(`schedule_id:\s+\S+`, s.ok("scans", "trigger", id(sched.ID)))
		var fired struct {
			FireTimes []time.Time `json:"fire_times"`
		}
		now := time.Now().UTC().Truncate(time.Hour)
		s.json(&fired, "scans", "backfill", id(sched.ID), "--start", now.Add(-150*time.Minute).Format(time.RFC3339), "--end", now.Add(-30*time.Minute).Format(time.RFC3339))
		if len(fired.FireTimes) != 2 {
			t.Errorf("scans backfill --json: %v", fired.FireTimes)
		}
		s.must(`trigger|schedule_id`, s.ok("scans", "trigger", id(sched.ID), "--json"))

		// Notifications.
		hook := startHookReceiver(t)
		s.must(`webhook_url:\s+`+regexpQuote(hook), s.ok("scans", "notifications", "set", scanID, "--webhook-url", hook, "--webhook-secret", "a secret of 16+ chars", "--on-completed"))
		var notes struct {
			WebhookURL       string   `json:"webhook_url"`
			EmailTo          []string `json:"email_to"`
			OnCompleted      bool     `json:"on_completed"`
			OnFailed         bool     `json:"on_failed"`
			WebhookSecretSet bool     `json:"webhook_secret_set"`
		}
		s.json(&notes, "scans", "notifications", "set", scanID, "--on-failed")
		if notes.WebhookURL != hook || !notes.OnCompleted || !notes.OnFailed || !notes.WebhookSecretSet {
			t.Errorf("notifications set kept too little: %+v", notes)
		}
		s.must(`on_completed:\s+true`, s.ok("scans", "notifications", "show", scanID))
		s.sameAsAPI("/scans/"+scanID+"/notifications", "scans", "notifications", "show", scanID)
		s.must(`(?m)^webhook\.sent:\s+true$`, s.ok("scans", "notifications", "test", scanID))
		var tested struct {
			Webhook struct {
				Sent bool `json:"sent"`
			} `json:"webhook"`
		}
		s.json(&tested, "scans", "notifications", "test", scanID)
		if !tested.Webhook.Sent {
			t.Errorf("notifications test --json: %+v", tested)
		}
		s.must(`removed the notification settings of scan `+scanID, s.ok("scans", "notifications", "delete", scanID))
		s.ok("scans", "notifications", "set", scanID, "--email-to", "ops@example.com", "--json")
		s.ok("scans", "notifications", "delete", scanID, "--json")

		// A run to its end, watched.
		code, out, errOut := s.run("", "run", "start", scanID, "--watch")
		if code != 0 || !strings.Contains(out, "completed: 1 hosts up, 1 open ports") || !strings.Contains(errOut, "100.0%") {
			t.Fatalf("run start --watch: %d\n%s\n%s", code, out, errOut)
		}
		runID := s.must(`started run (\d+)`, out)[1]
		var done struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		}
		s.json(&done, "runs", "watch", runID)
		if done.Status != "completed" {
			t.Errorf("runs watch --json: %+v", done)
		}
		s.must(`completed: 1 hosts up`, s.ok("runs", "watch", runID))
		var second struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		}
		s.json(&second, "runs", "start", scanID, "--watch")
		if second.Status != "completed" {
			t.Errorf("runs start --watch --json: %+v", second)
		}
		s.must(`(?m)^`+runID+`\s+`+scanID+`\s+completed\s+1\s+1\s`, s.ok("runs", "list", "--scan", scanID))
		s.sameAsAPI("/runs?limit=500&offset=0&scan_id="+scanID, "runs", "list", "--scan", scanID, "--limit", "500", "--offset", "0")
		s.must(`status:\s+completed`, s.ok("runs", "show", runID))
		s.sameAsAPI("/runs/"+runID, "runs", "show", runID)
		s.must(`(?m)^127\.0\.0\.1\s+up\s+.*`+fmt.Sprint(port)+`/tcp`, s.ok("runs", "hosts", runID))
		s.sameAsAPI("/runs/"+runID+"/hosts?limit=500&offset=0", "runs", "hosts", runID, "--limit", "500", "--offset", "0")
		s.must(fmt.Sprintf(`(?m)^127\.0\.0\.1\s+%d\s+tcp\s+open`, port), s.ok("runs", "ports", runID, "--state", "open"))
		s.sameAsAPI(fmt.Sprintf("/runs/%s/ports?limit=500&offset=0&port=%d", runID, port), "runs", "ports", runID, "--port", fmt.Sprint(port), "--limit", "500", "--offset", "0")
		if out := s.ok("runs", "raw", runID, "--shard", "0"); !strings.Contains(out, "<nmaprun") {
			t.Errorf("runs raw: %.200s", out)
		}
		rawFile := filepath.Join(t.TempDir(), "raw.xml")
		s.ok("runs", "raw", runID, "--shard", "0", "--output", rawFile)
		if b, err := os.ReadFile(rawFile); err != nil || !strings.Contains(string(b), "<nmaprun") {
			t.Errorf("runs raw --output: %v %.200s", err, b)
		}
		s.must(`(?m)^KIND\s+ADDRESS`, s.ok("runs", "diff", id(second.ID)))
		s.sameAsAPI("/runs/"+runID+"/diff", "runs", "diff", runID)
		s.must(`(?m)^RUN ID\s+PREVIOUS RUN ID`, s.ok("scans", "diffs", scanID))
		s.sameAsAPI("/scans/"+scanID+"/diffs?limit=500&offset=0", "scans", "diffs", scanID, "--limit", "500", "--offset", "0")
		s.must(`run `+runID+`: reparse started`, s.ok("runs", "reparse", runID))
		s.waitStatus(runID, "completed")
		var reparse struct {
			RunID int64 `json:"run_id"`
		}
		s.json(&reparse, "runs", "reparse", id(second.ID))
		if reparse.RunID != second.ID {
			t.Errorf("runs reparse --json: %+v", reparse)
		}

		// Exports, and the assets the runs left.
		for format, want := range map[string]string{"csv": "127.0.0.1", "jsonl": `"address":"127.0.0.1"`, "xml": "<nmaprun"} {
			if out := s.ok("export", runID, "--format", format); !strings.Contains(out, want) {
				t.Errorf("export --format %s: %.300s", format, out)
			}
		}
		if out := s.ok("export", runID, "--json"); !strings.Contains(out, `"address":"127.0.0.1"`) {
			t.Errorf("export --json: %.300s", out)
		}
		csvFile := filepath.Join(t.TempDir(), "run.csv")
		s.ok("export", "--output", csvFile, runID)
		if b, err := os.ReadFile(csvFile); err != nil || !strings.Contains(string(b), "127.0.0.1") {
			t.Errorf("export --output: %v %s", err, b)
		}
		s.must(`(?m)^`+id(siteID)+`\s+127\.0\.0\.1\s+up\s`, s.ok("assets", "list"))
		s.sameAsAPI("/assets?q=ip:127.0.0.1", "assets", "list", "--q", "ip:127.0.0.1")
		s.must(`(?m)^`+id(siteID)+`\s+127\.0\.0\.1\s+up\s.*`+fmt.Sprint(port)+`/tcp`, s.ok("sites", "assets", id(siteID)))
		s.sameAsAPI(fmt.Sprintf("/sites/%d/assets?q=port:%d", siteID, port), "sites", "assets", id(siteID), "--q", fmt.Sprintf("port:%d", port))
		s.must(`\sport_opened\s+tcp\s+`+fmt.Sprint(port)+`\s`, s.ok("assets", "history", "127.0.0.1", "--site", id(siteID)))
		s.sameAsAPI(fmt.Sprintf("/assets/127.0.0.1/history?site=%d", siteID), "assets", "history", "127.0.0.1", "--site", id(siteID))
		s.must(`(?m)^lab\s+127\.0\.0\.1\s+`+fmt.Sprint(port)+`/tcp\s+open`, s.ok("search", fmt.Sprintf("port:%d", port)))
		var hits struct {
			Total int `json:"total"`
		}
		s.json(&hits, "search", "ip:127.0.0.1")
		if hits.Total != 1 {
			t.Errorf("search --json: %+v", hits)
		}

		// Scanner output from before, imported as runs of the site, by its
		// name and by its id.
		older := filepath.Join(t.TempDir(), "older.xml")
		if err := os.WriteFile(older, []byte(importFixture(port)), 0o600); err != nil {
			t.Fatal(err)
		}
		s.must(`(?m)^\d+\s+older\.xml\s+nmap\s+2023-11-14T22:13:20Z\s+completed\s+1\s+1$`, s.ok("import", "--site", "lab", older))
		var imported struct {
			Runs []struct {
				RunID  int64  `json:"run_id"`
				Status string `json:"status"`
			} `json:"runs"`
		}
		s.json(&imported, "import", "--site", id(siteID), older)
		if len(imported.Runs) != 1 || imported.Runs[0].Status != "completed" {
			t.Errorf("import --json: %+v", imported)
		}

		// A run that waits for the pool's agents (there are none): pause,
		// resume, cancel, retry.
		var waiting struct {
			ID         int64  `json:"id"`
			WorkflowID string `json:"workflow_id"`
		}
		s.json(&waiting, "runs", "start", id(sched.ID))
		w := id(waiting.ID)
		s.must(`run `+w+`: pause requested`, s.ok("runs", "pause", w))
		var sig map[string]any
		s.json(&sig, "runs", "resume", w)
		if sig["resume_requested"] != true {
			t.Errorf("runs resume --json: %v", sig)
		}
		s.json(&sig, "runs", "pause", w)
		s.must(`run `+w+`: resume requested`, s.ok("runs", "resume", w))
		s.must(`run `+w+`: cancel requested`, s.ok("runs", "cancel", w))
		s.waitStatus(w, "cancelled")
		m = s.must(`started run (\d+) \(workflow (\S+)\)`, s.ok("runs", "retry", w))
		s.json(&sig, "runs", "cancel", m[1])
		if sig["cancel_requested"] != true {
			t.Errorf("runs cancel --json: %v", sig)
		}
		s.waitStatus(m[1], "cancelled")
		var retried struct {
			ID int64 `json:"id"`
		}
		s.json(&retried, "runs", "retry", m[1])
		s.ok("runs", "cancel", id(retried.ID))
		// An API error for a run that already ended, worded by the API.
		if code, _, errOut := s.run("", "runs", "pause", runID); code != 1 || !strings.Contains(errOut, "run "+runID+" is already completed (HTTP 409)") {
			t.Errorf("pause a completed run: %d %s", code, errOut)
		}

		// A scan with runs stays; one without goes.
		if code, _, errOut := s.run("", "scans", "delete", id(sched.ID)); code != 1 || !strings.Contains(errOut, "has runs; delete its runs first (HTTP 409)") {
			t.Errorf("delete a scan with runs: %d %s", code, errOut)
		}
		for _, asJSON := range []bool{false, true} {
			var other idName
			s.json(&other, "scans", "create", "--name", fmt.Sprint("gone-", asJSON), "--site", id(siteID), "--profile", id(profileID), "--agent", id(agentID))
			if asJSON {
				s.ok("scans", "delete", id(other.ID), "--json")
			} else {
				s.must(`deleted scan `+id(other.ID), s.ok("scans", "delete", id(other.ID)))
			}
		}
		var spare []idName
		s.json(&spare, "pools", "list", "--match", "spare")
		s.must(`deleted pool `+id(spare[0].ID), s.ok("pools", "delete", id(spare[0].ID)))
		var temp idName
		s.json(&temp, "pools", "create", "--name", "temp")
		s.ok("pools", "delete", id(temp.ID), "--json")
	})

	t.Run("usage errors", func(t *testing.T) {
		s.t = t
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"sites", "create", "--nmae", "x"}, "flag provided but not defined: -nmae"},
			{[]string{"sites", "show"}, "want ID"},
			{[]string{"sites", "show", "abc"}, `ID: "abc" is not an id`},
			{[]string{"sites", "show", "1", "2"}, "want ID"},
			{[]string{"sites", "list", "--limit", "ten"}, `--limit: "ten" is not a number`},
			{[]string{"scans", "create", "--site", "x"}, `--site: "x" is not a whole number`},
			{[]string{"export", "1", "--format", "pdf"}, `--format: "pdf" is not csv, jsonl or xml`},
			{[]string{"runs", "raw", "1"}, "--shard"},
			{[]string{"sites", "frobnicate"}, "want one of: sites list"},
			{[]string{"users", "revoke-token", "1"}, "want ID TOKEN_ID"},
			{[]string{"search", "--limit"}, "--limit needs a value"},
			{[]string{"import", "older.xml"}, "--site is required"},
		} {
			code, out, errOut := s.run("", tc.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("scantron %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
			}
		}
		if code, _, errOut := s.run("", "sites", "create", "-h"); code != 0 || !strings.Contains(errOut, "--targets A,B") {
			t.Errorf("sites create -h: %d %s", code, errOut)
		}
		if code, out, _ := s.run("", "scans", "notifications", "-h"); code != 0 || !strings.Contains(out, "scans notifications set ID [--webhook-url URL]") {
			t.Errorf("scans notifications -h: %d %s", code, out)
		}
	})

	// Every verb ran, and every verb ran with --json.
	if t.Failed() {
		return
	}
	for _, c := range commands {
		k := strings.Join(c.words, " ")
		if !s.used[k] {
			t.Errorf("verb %q was not tried", k)
		}
		if !s.used["--json "+k] && k != "runs raw" && k != "login" && k != "logout" {
			t.Errorf("verb %q was not tried with --json", k)
		}
	}
}

// ok2 runs a verb with stdin that must succeed.
func (s *cliStack) ok2(stdin string, args ...string) string {
	s.t.Helper()
	code, out, errOut := s.run(stdin, args...)
	if code != 0 {
		s.t.Fatalf("scantron %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// waitStatus polls 'runs show --json' for up to two minutes until the run
// has the status.
func (s *cliStack) waitStatus(runID, status string) {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var r struct {
			Status string `json:"status"`
		}
		s.json(&r, "runs", "show", runID)
		if r.Status == status {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("run %s is %s after two minutes, not %s", runID, r.Status, status)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func regexpQuote(s string) string { return regexp.QuoteMeta(s) }

// startHookReceiver is a webhook receiver on the loopback.
func startHookReceiver(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}
