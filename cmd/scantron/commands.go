package main

import (
	"context"
	"io"
	"strings"

	"github.com/scantron/scantron/scan"
)

// commands is the CLI's whole command set: one row per client verb, with
// the API route it calls and how its flags and arguments become the
// request. Usage, the README's verb table and the test that every API
// route has a verb are all read from here.
var commands = []command{
	// Accounts.
	{words: []string{"login"}, routes: []string{"POST /login"}, run: runLogin,
		help:  "log in with --url and --name; the password is read from SCANTRON_PASSWORD or standard input; the API token is stored in ~/.config/scantron/",
		flags: []param{{flag: "url", meta: "URL", help: "server address, e.g. http://127.0.0.1:8080"}, {flag: "name", meta: "NAME", help: "user name"}}},
	{words: []string{"logout"}, routes: []string{"DELETE /tokens/{id}"}, run: runLogout,
		help: "revoke the stored token and forget it"},
	{words: []string{"me", "show"}, method: "GET", path: "/me", help: "the calling user"},
	{words: []string{"me", "password"}, routes: []string{"PUT /me/password"}, run: runChangeOwnPassword,
		help: "change your password: the current one from SCANTRON_PASSWORD, the new one from SCANTRON_USER_PASSWORD (or two lines of standard input); every session of yours ends"},
	{words: []string{"me", "temporal-token"}, method: "POST", path: "/me/temporal-token",
		help: "a short-lived token for Temporal's own tools, with the Temporal role of your role"},
	{words: []string{"tokens", "list"}, method: "GET", path: "/tokens", list: true, help: "your API tokens (without secrets)",
		columns: []string{"id", "name", "prefix", "created_at", "last_used_at", "expires_at"}},
	{words: []string{"tokens", "create"}, method: "POST", path: "/tokens", help: "make an API token; its secret is shown this once",
		body: []param{{flag: "name", help: "token name"}, {flag: "expires-in-days", field: "expires_in_days", kind: kindInt, help: "days until it expires (0: the server's default)"}},
		say:  "created token {.id} {.name}, expires {.expires_at}:\n{.token}"},
	{words: []string{"tokens", "revoke"}, method: "DELETE", path: "/tokens/{id}", args: []string{"id"}, help: "revoke one of your tokens",
		say: "revoked token {id}"},
	{words: []string{"users", "list"}, method: "GET", path: "/users", list: true, help: "users (admins)",
		columns: []string{"id", "name", "role", "created_at"}},
	{words: []string{"users", "show"}, method: "GET", path: "/users/{id}", args: []string{"id"}, help: "a user (admins)"},
	{words: []string{"users", "create"}, method: "POST", path: "/users", help: "create a user; the password is read from SCANTRON_USER_PASSWORD or standard input (admins)",
		body: []param{{flag: "name", help: "user name"}, {flag: "role", meta: "ROLE", help: "viewer, operator or admin"}, {field: "password", kind: kindPassword}},
		say:  "created user {.id} {.name} ({.role})"},
	{words: []string{"users", "update"}, method: "PUT", path: "/users/{id}", args: []string{"id"}, merge: true,
		help: "change a user's role, and with --password their password (read as for create; ends their sessions) (admins)",
		body: []param{{flag: "role", meta: "ROLE", help: "viewer, operator or admin"}, {flag: "password", field: "password", kind: kindPassword, help: "also set a new password"}},
		say:  "updated user {.id} {.name} ({.role})"},
	{words: []string{"users", "delete"}, method: "DELETE", path: "/users/{id}", args: []string{"id"}, help: "delete a user with their tokens and sessions (admins)",
		say: "deleted user {id}"},
	{words: []string{"users", "tokens"}, method: "GET", path: "/users/{id}/tokens", args: []string{"id"}, list: true, help: "a user's API tokens (admins)",
		columns: []string{"id", "name", "prefix", "created_at", "last_used_at", "expires_at"}},
	{words: []string{"users", "revoke-token"}, method: "DELETE", path: "/users/{id}/tokens/{token_id}", args: []string{"id", "token_id"},
		help: "revoke any user's token (admins)", say: "revoked token {token_id} of user {id}"},

	// What to scan and how.
	{words: []string{"sites", "list"}, method: "GET", path: "/sites", list: true, help: "sites",
		columns: []string{"id", "name", "targets", "exclusions", "max_rate"}},
	{words: []string{"sites", "show"}, method: "GET", path: "/sites/{id}", args: []string{"id"}, help: "a site"},
	{words: []string{"sites", "create"}, method: "POST", path: "/sites", help: "create a site", body: siteFields, say: "created site {.id} {.name}"},
	{words: []string{"sites", "update"}, method: "PUT", path: "/sites/{id}", args: []string{"id"}, merge: true, help: "change a site: the flags given replace those fields",
		body: siteFields, say: "updated site {.id} {.name}"},
	{words: []string{"sites", "delete"}, method: "DELETE", path: "/sites/{id}", args: []string{"id"}, help: "delete a site", say: "deleted site {id}"},
	{words: []string{"sites", "assets"}, method: "GET", path: "/sites/{id}/assets", args: []string{"id"}, list: true, query: assetFilters,
		help: "hosts and services a site's runs found, with first and last seen", items: "assets", columns: assetColumns},
	{words: []string{"exclusions", "list"}, method: "GET", path: "/exclusions", list: true, help: "global exclusions, never scanned",
		columns: []string{"id", "target", "note", "created_at"}},
	{words: []string{"exclusions", "create"}, method: "POST", path: "/exclusions", help: "add a global exclusion",
		body: []param{{flag: "target", help: "address, CIDR or range never to scan"}, {flag: "note", help: "why"}},
		say:  "created exclusion {.id} {.target}"},
	{words: []string{"exclusions", "delete"}, method: "DELETE", path: "/exclusions/{id}", args: []string{"id"}, help: "remove a global exclusion",
		say: "deleted exclusion {id}"},
	{words: []string{"profiles", "list"}, method: "GET", path: "/profiles", list: true, help: "scan profiles",
		columns: []string{"id", "name", "scanner", "options", "intrusive"}},
	{words: []string{"profiles", "show"}, method: "GET", path: "/profiles/{id}", args: []string{"id"}, help: "a profile"},
	{words: []string{"profiles", "create"}, method: "POST", path: "/profiles", help: "create a profile", body: profileFields,
		say: "created profile {.id} {.name}"},
	{words: []string{"profiles", "update"}, method: "PUT", path: "/profiles/{id}", args: []string{"id"}, merge: true,
		help: "change a profile: the flags given replace those fields", body: profileFields, say: "updated profile {.id} {.name}"},
	{words: []string{"profiles", "delete"}, method: "DELETE", path: "/profiles/{id}", args: []string{"id"}, help: "delete a profile",
		say: "deleted profile {id}"},

	// Agents and pools.
	{words: []string{"agents", "list"}, method: "GET", path: "/agents", list: true, help: "agents, with whether they are online",
		columns: []string{"id", "name", "task_queue", "online", "version", "running_shards", "last_seen_at"}},
	{words: []string{"agents", "show"}, method: "GET", path: "/agents/{id}", args: []string{"id"}, help: "an agent"},
	{words: []string{"agents", "create"}, method: "POST", path: "/agents", help: "register an agent; its credential is shown this once (admins)",
		body: []param{{flag: "name", help: "agent name"}, {flag: "description", help: "description"}},
		say:  "created agent {.id} {.name}; its credential (shown this once):\n{.credential}"},
	{words: []string{"agents", "delete"}, method: "DELETE", path: "/agents/{id}", args: []string{"id"}, help: "delete an agent (admins)",
		say: "deleted agent {id}"},
	{words: []string{"agents", "pools"}, method: "GET", path: "/agents/{id}/pools", args: []string{"id"}, help: "the pools an agent belongs to"},
	{words: []string{"agents", "set-pools"}, method: "PUT", path: "/agents/{id}/pools", args: []string{"id"},
		help: "set the pools an agent belongs to (admins)", body: []param{{flag: "pools", kind: kindList, help: "comma-separated pool names; empty for none"}}},
	{words: []string{"agents", "join-token", "create"}, method: "POST", path: "/join-tokens",
		help: "a one-time token that enrolls agent --name (admins; it expires within the hour)",
		body: []param{{flag: "name", field: "agent_name", help: "the agent's name (registered at enrollment if new)"},
			{flag: "pools", kind: kindList, help: "comma-separated pools the agent takes shards from"},
			{flag: "ttl", def: "30m", meta: "DURATION", help: "how long the token may wait to be used, 1m to 1h"}},
		say: "join token for agent {.agent_name}, usable once until {.expires_at}:\n{.token}\n\nOn the agent's machine run:\n  scantron agent enroll --server {url} --token {.token}"},
	{words: []string{"agents", "join-token", "list"}, method: "GET", path: "/join-tokens", list: true,
		help: "join tokens: pending, and spent or expired ones for a week (admins)", columns: []string{"id", "agent_name", "pools", "state", "created_at", "expires_at", "used_at"}},
	{words: []string{"agents", "join-token", "delete"}, method: "DELETE", path: "/join-tokens/{id}", args: []string{"id"},
		help: "revoke a join token, or forget a spent one (admins)", say: "deleted join token {id}"},
	{words: []string{"pools", "list"}, method: "GET", path: "/pools", list: true, help: "pools with their members",
		columns: []string{"id", "name", "task_queue", "online", "capacity", "members"}},
	{words: []string{"pools", "show"}, method: "GET", path: "/pools/{id}", args: []string{"id"}, help: "a pool with its members"},
	{words: []string{"pools", "create"}, method: "POST", path: "/pools", help: "create a pool (admins)",
		body: []param{{flag: "name", help: "pool name"}, {flag: "description", help: "description"}}, say: "created pool {.id} {.name}"},
	{words: []string{"pools", "delete"}, method: "DELETE", path: "/pools/{id}", args: []string{"id"}, help: "delete a pool no scan uses (admins)",
		say: "deleted pool {id}"},

	// Scans and their schedules.
	{words: []string{"scans", "list"}, method: "GET", path: "/scans", list: true, help: "scans",
		columns: []string{"id", "name", "site_id", "profile_id", "agent_id", "pool_id", "rrule", "enabled"}},
	{words: []string{"scans", "show"}, method: "GET", path: "/scans/{id}", args: []string{"id"}, help: "a scan with its schedule and latest runs"},
	{words: []string{"scans", "create"}, method: "POST", path: "/scans", body: scanFields, say: "created scan {.id} {.name}",
		help: "create a scan of a site with a profile, on an agent or a pool, by hand or on a schedule"},
	{words: []string{"scans", "update"}, method: "PUT", path: "/scans/{id}", args: []string{"id"}, merge: true, body: scanFields,
		help: "change a scan: the flags given replace those fields", say: "updated scan {.id} {.name}"},
	{words: []string{"scans", "delete"}, method: "DELETE", path: "/scans/{id}", args: []string{"id"}, help: "delete a scan and its schedule",
		say: "deleted scan {id}"},
	{words: []string{"scans", "pause"}, method: "POST", path: "/scans/{id}/pause", args: []string{"id"}, body: noteFields,
		help: "pause a scan's schedule, noting who and why"},
	{words: []string{"scans", "resume"}, method: "POST", path: "/scans/{id}/resume", args: []string{"id"}, body: noteFields,
		help: "resume a scan's schedule, noting who and why"},
	{words: []string{"scans", "trigger"}, method: "POST", path: "/scans/{id}/trigger", args: []string{"id"},
		help: "fire a scheduled scan now, under its overlap policy"},
	{words: []string{"scans", "backfill"}, method: "POST", path: "/scans/{id}/backfill", args: []string{"id"},
		help: "start the runs a past window would have fired",
		body: []param{{flag: "start", meta: "TIME", help: "window start, RFC 3339"}, {flag: "end", meta: "TIME", help: "window end, RFC 3339"}, {flag: "by", help: "who asks (default: you)"}}},
	{words: []string{"scans", "preview"}, method: "POST", path: "/schedules/preview",
		help: "check a schedule as saving a scan would, and show its next 10 fire times",
		body: []param{{flag: "start", field: "start_at", meta: "TIME", help: "first fire time, RFC 3339"}, {flag: "time-zone", field: "time_zone", meta: "ZONE", help: "IANA zone (default UTC)"},
			{flag: "rrule", meta: "RULE", help: "RFC 5545 recurrence rule, e.g. FREQ=DAILY;BYHOUR=2"}}},
	{words: []string{"scans", "plan"}, routes: []string{"GET /scans/{id}/plan"}, args: []string{"id"}, run: runPlan,
		help: "what a run would do, without running it: targets, shards with each one's command line, agents, estimate and the checks; non-zero exit when a run would fail"},
	{words: []string{"scans", "diffs"}, method: "GET", path: "/scans/{id}/diffs", args: []string{"id"}, list: true,
		help:    "the diffs of a scan's runs, newest first (counts only)",
		columns: []string{"run_id", "previous_run_id", "counts.new_hosts", "counts.gone_hosts", "counts.opened_ports", "counts.closed_ports", "counts.changed_services", "created_at"}},
	{words: []string{"scans", "notifications", "show"}, method: "GET", path: "/scans/{id}/notifications", args: []string{"id"},
		help: "a scan's notification settings"},
	{words: []string{"scans", "notifications", "set"}, method: "PUT", path: "/scans/{id}/notifications", args: []string{"id"}, merge: true, mergeMissing: true,
		help: "set a scan's notification settings: the flags given replace those fields",
		body: []param{{flag: "webhook-url", field: "webhook_url", meta: "URL", help: "URL to POST run events to"},
			{flag: "webhook-secret", field: "webhook_secret", help: "HMAC secret of the webhook (kept when not given)"},
			{flag: "email-to", field: "email_to", kind: kindList, help: "comma-separated recipients"},
			{flag: "on-completed", field: "on_completed", kind: kindBool, help: "notify when a run completes"},
			{flag: "on-failed", field: "on_failed", kind: kindBool, help: "notify when a run fails"},
			{flag: "on-diff", field: "on_diff", kind: kindBool, help: "notify when a run finds changes"}}},
	{words: []string{"scans", "notifications", "delete"}, method: "DELETE", path: "/scans/{id}/notifications", args: []string{"id"},
		help: "remove a scan's notification settings", say: "removed the notification settings of scan {id}"},
	{words: []string{"scans", "notifications", "test"}, method: "POST", path: "/scans/{id}/notifications/test", args: []string{"id"},
		help: "send a test notification now and tell what became of each channel"},

	// Runs and their results.
	{words: []string{"runs", "list"}, method: "GET", path: "/runs", list: true, help: "runs, newest first",
		query:   []param{{flag: "scan", field: "scan_id", kind: kindInt, help: "only this scan's runs"}},
		columns: []string{"id", "scan_id", "status", "hosts_up", "open_ports", "created_at", "finished_at"}},
	{words: []string{"runs", "show"}, method: "GET", path: "/runs/{id}", args: []string{"id"}, help: "a run with its shards and live progress"},
	{words: []string{"runs", "start"}, routes: []string{"POST /scans/{id}/runs", "GET /runs/{id}/events", "GET /runs/{id}"}, args: []string{"scan-id"}, run: runStart,
		help: "start a run of scan SCAN-ID now; --watch follows it to its end",
		flags: []param{{flag: "watch", kind: kindBool, help: "follow the run's progress until it ends"},
			{flag: "ignore-windows", kind: kindBool, help: "run now even outside the scan's windows (an override)"}}},
	{words: []string{"runs", "watch"}, routes: []string{"GET /runs/{id}/events", "GET /runs/{id}"}, args: []string{"id"}, run: runWatch,
		help: "follow a run until it ends, by its event stream: a progress bar on standard error; non-zero exit unless it completes"},
	{words: []string{"runs", "cancel"}, method: "POST", path: "/runs/{id}/cancel", args: []string{"id"}, help: "cancel a run",
		say: "run {.run_id}: cancel requested"},
	{words: []string{"runs", "pause"}, method: "POST", path: "/runs/{id}/pause", args: []string{"id"},
		help: "pause a running run: no new shard starts, running shards stop", say: "run {.run_id}: pause requested"},
	{words: []string{"runs", "resume"}, method: "POST", path: "/runs/{id}/resume", args: []string{"id"}, help: "resume a paused run",
		say: "run {.run_id}: resume requested"},
	{words: []string{"runs", "retry"}, method: "POST", path: "/runs/{id}/retry", args: []string{"id"},
		help: "start a new run of a failed or cancelled run's scan", say: "started run {.id} (workflow {.workflow_id})"},
	{words: []string{"runs", "reparse"}, method: "POST", path: "/runs/{id}/reparse", args: []string{"id"},
		help: "parse a run again from its stored scanner output", say: "run {.run_id}: reparse started (workflow {.workflow_id})"},
	{words: []string{"runs", "diff"}, method: "GET", path: "/runs/{id}/diff", args: []string{"id"},
		help: "changes against the previous completed run of the scan", items: "changes",
		columns: []string{"kind", "address", "port", "protocol", "before.service", "after.service", "after.product", "after.version"}},
	{words: []string{"runs", "hosts"}, method: "GET", path: "/runs/{id}/hosts", args: []string{"id"}, list: true, help: "hosts a run found, with their ports",
		query:   []param{{flag: "ip", meta: "CIDR", help: "address or CIDR"}, {flag: "port", kind: kindInt, help: "port number"}, {flag: "protocol", help: "tcp or udp"}, {flag: "service", help: "service name"}},
		columns: []string{"address", "status", "hostnames", "ports"}},
	{words: []string{"runs", "ports"}, method: "GET", path: "/runs/{id}/ports", args: []string{"id"}, list: true, help: "ports a run found",
		query: []param{{flag: "ip", meta: "CIDR", help: "address or CIDR"}, {flag: "port", kind: kindInt, help: "port number"}, {flag: "protocol", help: "tcp or udp"},
			{flag: "service", help: "service name"}, {flag: "state", help: "open, closed, filtered, ..."}},
		columns: []string{"address", "port", "protocol", "state", "service", "product", "version"}},
	{words: []string{"runs", "raw"}, routes: []string{"GET /runs/{id}/raw"}, args: []string{"id"}, run: runRaw,
		help:  "one shard's raw scanner output (XML)",
		flags: []param{{flag: "shard", kind: kindInt, help: "shard index"}, {flag: "output", meta: "FILE", help: "file to write (default: standard output)"}}},
	{words: []string{"export"}, routes: []string{"GET /runs/{id}/csv", "GET /runs/{id}/jsonl", "GET /runs/{id}/xml"}, args: []string{"run-id"}, run: runExport,
		help:  "a completed run's results: CSV, JSON Lines (one host with its ports a line; also --json) or merged nmap XML",
		flags: []param{{flag: "format", def: "csv", meta: "csv|jsonl|xml", help: "csv, jsonl or xml"}, {flag: "output", meta: "FILE", help: "file to write (default: standard output)"}}},

	// What is out there now.
	{words: []string{"import"}, routes: []string{"GET /sites", "POST /sites/{id}/imports"}, run: runImport, ownArgs: "--site SITE FILE...",
		help: "import nmap XML or masscan XML/JSON files as runs of site SITE (a name or id), ordered by the scan time inside each; non-zero exit if any is refused or fails"},
	{words: []string{"assets", "list"}, method: "GET", path: "/assets", list: true, query: assetFilters,
		help: "assets across all sites", items: "assets", columns: assetColumns},
	{words: []string{"assets", "history"}, method: "GET", path: "/assets/{ip}/history", args: []string{"ip"},
		query: []param{{flag: "site", kind: kindInt, meta: "ID", help: "only this site's runs"},
			{flag: "runs", kind: kindInt, help: "how many of the newest runs that saw the address to read (default 500)"}},
		help: "a host's history: ports opened and closed, version changes, with run and agent", items: "events",
		columns: []string{"at", "site", "kind", "protocol", "port", "before.version", "after.product", "after.version", "run_id", "agent"}},
	{words: []string{"search"}, routes: []string{"GET /search"}, run: runSearch, ownArgs: "[--format csv|jsonl] [--limit N] [--offset N] QUERY...",
		help: "search the current assets (or run:ID) with the search language, e.g. scantron search port:443 -service:https seen:<7d"},
}

// notCovered are the API routes no verb calls, each with the reason.
var notCovered = map[string]string{
	// The API's own description, for tools.
	"GET /openapi.json": "the machine-readable API description itself",
	// Agent-only endpoints: an agent calls them with its credential or a join token.
	"POST /enroll":                "called by 'scantron agent enroll' with a join token",
	"POST /agents/temporal-token": "called by a running agent, signed with its credential",
	// Live pages' stream of every run; the client follows one run.
	"GET /events": "the dashboard's stream of every run's changes; 'runs watch' follows one run's",
}

var (
	siteFields = []param{
		{flag: "name", help: "site name"},
		{flag: "description", help: "description"},
		{flag: "targets", kind: kindList, help: "comma-separated addresses, CIDRs or ranges"},
		{flag: "exclusions", kind: kindList, help: "comma-separated targets to leave out"},
		{flag: "max-rate", field: "max_rate", kind: kindInt, help: "packets per second cap for the site's scans (0: none)"},
	}
	profileFields = []param{
		{flag: "name", help: "profile name"},
		{flag: "description", help: "description"},
		{flag: "scanner", meta: strings.ReplaceAll(scan.ScannerList(), ", ", "|"), help: "one of " + scan.ScannerList()},
		{flag: "options", help: "scanner options, e.g. \"-sT -p 1-1024\""},
		{flag: "intrusive", kind: kindBool, help: "the options run intrusive scripts (needs an admin)"},
		{flag: "discovery-scanner", field: "discovery_scanner", help: "a fast scanner run first (masscan, zmap); the scanner then scans only the open ports it found (\"\": one stage)"},
		{flag: "discovery-options", field: "discovery_options", help: "the discovery scanner's options, e.g. \"-p1-65535 --rate 10000\""},
	}
	scanFields = []param{
		{flag: "name", help: "scan name"},
		{flag: "site", field: "site_id", kind: kindInt, help: "site id"},
		{flag: "profile", field: "profile_id", kind: kindInt, help: "profile id"},
		{flag: "agent", field: "agent_id", kind: kindInt, clears: "pool_id", help: "agent id that runs the scan (or --pool)"},
		{flag: "pool", field: "pool_id", kind: kindInt, clears: "agent_id", help: "pool id whose agents share the scan (or --agent)"},
		{flag: "shard-size", field: "shard_size", kind: kindInt, help: "addresses per shard (0: the server's setting)"},
		{flag: "start", field: "start_at", meta: "TIME", help: "first fire time, RFC 3339 (\"\" for none)"},
		{flag: "time-zone", field: "time_zone", meta: "ZONE", help: "IANA zone of the schedule (default UTC)"},
		{flag: "rrule", meta: "RULE", help: "RFC 5545 recurrence rule, e.g. FREQ=WEEKLY;BYDAY=MO;BYHOUR=2 (\"\" for by hand only)"},
		{flag: "enabled", kind: kindBool, help: "whether the schedule fires (default true; --enabled=false stops it)"},
		{flag: "overlap", meta: "POLICY", help: "when a run is still going at the next fire time: skip, buffer_one, buffer_all, cancel_other, terminate_other or allow_all"},
		{flag: "catchup-window", field: "catchup_window_seconds", kind: kindInt, help: "seconds after a missed fire time that it still runs (0: the server's default)"},
		{flag: "windows", kind: kindSemiList, meta: "W;W", help: "when shards may run, in the scan's zone, ';'-separated, e.g. \"mon-fri 22:00-06:00;sat 10:00-12:00\" (\"\" for any time)"},
	}
	noteFields = []param{{flag: "note", help: "why"}, {flag: "by", help: "who (default: you)"}}

	assetFilters = []param{
		{flag: "q", meta: "QUERY", help: "the search language: the hosts with a port it matches, e.g. 'port:22 -product:OpenSSH*'"},
	}
	assetColumns = []string{"site_id", "address", "state", "hostnames", "ports", "last_seen"}
)

// A command is one client verb.
type command struct {
	words []string // the words that name it: "sites", "create"
	help  string

	// method and path are the route a generic verb calls; {name} in path
	// takes the positional argument of that name, in args.
	method, path string
	args         []string
	body         []param // flags that become fields of the JSON body
	query        []param // flags that become query parameters
	list         bool    // a paged list: --limit and --offset
	// merge: an update that reads the current object, keeps the fields of
	// the body it has, and replaces those whose flags are given; the API
	// replaces whole objects. mergeMissing: a 404 on the read starts from
	// nothing.
	merge, mergeMissing bool
	columns             []string // a table of these JSON fields (dotted for nested)
	items               string   // the field of an object answer that holds the rows
	// say is the human answer: {.field} of the API's answer, {arg} of the
	// positional arguments, {url} the server's address. Without it an
	// object answer is shown field by field.
	say string

	// run, when set, does the verb instead; routes are the ones it calls,
	// and flags its own flags.
	run    func(ctx context.Context, cc *call) error
	routes []string
	flags  []param
	// ownArgs, when set, is the synopsis of the flags and arguments the
	// verb's run reads itself, from call.rest (search's words may start
	// with "-"; import takes any number of files).
	ownArgs string
}

// kind is how a flag's value goes into the request.
type kind int

const (
	kindString   kind = iota
	kindInt           // a JSON number
	kindBool          // a JSON boolean
	kindList          // comma-separated, a JSON array of strings
	kindSemiList      // semicolon-separated (its items hold commas), a JSON array of strings
	kindPassword      // read from SCANTRON_USER_PASSWORD or standard input, never a flag's value
)

// A param is one flag of a verb.
type param struct {
	flag   string // flag name; "" for a password the verb always asks for
	field  string // JSON field or query parameter; "" means flag
	kind   kind
	def    string // the value sent when the flag is not given; "" sends nothing
	help   string
	clears string // a field that giving this flag sets to zero (agent vs pool)
	meta   string // the value's placeholder in usage, e.g. FILE
}

func (p param) name() string {
	if p.field != "" {
		return p.field
	}
	return p.flag
}

// call is one verb's invocation.
type call struct {
	cmd    *command
	api    apiClient
	creds  credentials
	args   map[string]string // positional, by name
	ids    map[string]int64
	set    map[string]bool // flags given
	values map[string]*string
	bools  map[string]*bool
	json   bool
	limit  string
	offset string
	rest   []string // arguments a custom verb reads itself
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}
