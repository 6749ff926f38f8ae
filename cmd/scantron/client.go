package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The client verbs talk to a Scantron server's REST API with an API token,
// which `scantron login` stores in the user's config directory.

const clientUsage = `Usage: scantron <verb> [flags]

Client verbs (against a server's API):
  login  --url URL --name NAME    log in; the password is read from
                                  SCANTRON_PASSWORD or standard input; the API
                                  token is stored in ~/.config/scantron/
  logout                          revoke the stored token and forget it
  sites list | sites create --name N --targets T[,T...] [--exclusions E[,E...]]
  scans list | scans create --name N --site ID --profile ID --agent ID
  scans plan SCAN_ID [--json]     what a run would do, without running it:
                                  targets, shards and each one's command
                                  line, agents, estimate, and the checks
                                  (exit 1 when a run would fail)
  run start SCAN_ID [--watch]     start a run now; --watch shows its progress
  run watch RUN_ID                follow a run until it ends
  export RUN_ID [--format csv|jsonl] [--output FILE]
  agents join-token create --name N [--pools a,b] [--ttl 30m]
                                  a one-time token that enrolls agent N
                                  (admins; it expires within the hour)
  search [--json | --format csv|jsonl] [--limit N] [--offset N] QUERY...
                                  search the current assets (or run:ID) with
                                  the search language, e.g.
                                  scantron search port:443 -service:https seen:<7d

SCANTRON_URL and SCANTRON_TOKEN, when set, take the place of the stored login.
`

// credentials are what login stores.
type credentials struct {
	URL     string `json:"url"`
	Token   string `json:"token"`
	TokenID int64  `json:"token_id"`
	User    string `json:"user"`
}

func credentialsPath(getenv func(string) string) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the login")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "scantron", "credentials.json"), nil
}

func loadCredentials(getenv func(string) string) (credentials, error) {
	var c credentials
	if path, err := credentialsPath(getenv); err == nil {
		if b, err := os.ReadFile(path); err == nil {
			if err := json.Unmarshal(b, &c); err != nil {
				return c, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	if v := getenv("SCANTRON_URL"); v != "" {
		c.URL = v
	}
	if v := getenv("SCANTRON_TOKEN"); v != "" {
		c.Token = v
	}
	if c.URL == "" || c.Token == "" {
		return c, usageError{"not logged in: run 'scantron login --url URL --name NAME', or set SCANTRON_URL and SCANTRON_TOKEN"}
	}
	return c, nil
}

// apiClient sends JSON requests with the token and turns the API's
// {"error": ...} answers into errors.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func newAPIClient(c credentials) apiClient {
	return apiClient{base: strings.TrimRight(c.URL, "/") + "/api/v1", token: c.Token, http: &http.Client{Timeout: 60 * time.Second}}
}

// apiError is an error answer of the API.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.msg, e.status) }

func (a apiClient) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return nil, &apiError{status: resp.StatusCode, msg: e.Error}
	}
	return resp, nil
}

func (a apiClient) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := a.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// runClient runs a client verb and returns the exit code.
func runClient(ctx context.Context, verb string, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := clientVerb(ctx, verb, args, getenv, stdin, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "scantron %s: %v\n", verb, err)
	var usage usageError
	if errors.As(err, &usage) {
		return 2
	}
	return 1
}

func clientVerb(ctx context.Context, verb string, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scantron "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, clientUsage) }
	sub := ""
	if verb != "login" && verb != "logout" && verb != "export" && verb != "search" {
		if len(args) == 0 {
			return usageError{"which? see 'scantron help'"}
		}
		sub, args = args[0], args[1:]
	}
	switch verb + " " + sub {
	case "login ":
		u := fs.String("url", getenv("SCANTRON_URL"), "server address, e.g. http://127.0.0.1:8080")
		name := fs.String("name", "", "user name")
		if err := fs.Parse(args); err != nil {
			return err
		}
		return clientLogin(ctx, *u, *name, getenv, stdin, stdout, stderr)
	case "logout ":
		if err := fs.Parse(args); err != nil {
			return err
		}
		return clientLogout(ctx, getenv, stdout)
	}
	creds, err := loadCredentials(getenv)
	if err != nil {
		return err
	}
	api := newAPIClient(creds)
	switch verb + " " + sub {
	case "sites list":
		var sites []struct {
			ID         int64    `json:"id"`
			Name       string   `json:"name"`
			Targets    []string `json:"targets"`
			Exclusions []string `json:"exclusions"`
		}
		if err := api.do(ctx, "GET", "/sites", nil, &sites); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTARGETS\tEXCLUSIONS")
		for _, s := range sites {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.ID, s.Name, strings.Join(s.Targets, ","), strings.Join(s.Exclusions, ","))
		}
		return tw.Flush()
	case "sites create":
		name := fs.String("name", "", "site name")
		desc := fs.String("description", "", "description")
		targets := fs.String("targets", "", "comma-separated targets")
		excl := fs.String("exclusions", "", "comma-separated exclusions")
		if err := fs.Parse(args); err != nil {
			return err
		}
		var s struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		body := map[string]any{"name": *name, "description": *desc, "targets": splitList(*targets), "exclusions": splitList(*excl)}
		if err := api.do(ctx, "POST", "/sites", body, &s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created site %d %s\n", s.ID, s.Name)
		return nil
	case "agents join-token":
		if len(args) == 0 || args[0] != "create" {
			return usageError{"agents join-token: want 'create'"}
		}
		name := fs.String("name", "", "the agent's name (registered at enrollment if new)")
		pools := fs.String("pools", "", "comma-separated pools the agent takes shards from")
		ttl := fs.String("ttl", "30m", "how long the token may wait to be used, 1m to 1h")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		var tok struct {
			Token         string    `json:"token"`
			ExpiresAt     time.Time `json:"expires_at"`
			EnrollCommand string    `json:"enroll_command"`
		}
		body := map[string]any{"agent_name": *name, "pools": splitList(*pools), "ttl": *ttl}
		if err := api.do(ctx, "POST", "/join-tokens", body, &tok); err != nil {
			return err
		}
		// The command names the server as this client reaches it, which
		// may not be how the server saw the request (behind a proxy).
		fmt.Fprintf(stdout, "join token for agent %s, usable once until %s:\n%s\n\nOn the agent's machine run:\n  scantron agent enroll --server %s --token %s\n",
			*name, tok.ExpiresAt.Local().Format(time.RFC3339), tok.Token, strings.TrimRight(creds.URL, "/"), tok.Token)
		return nil
	case "scans list":
		type scanRow struct {
			ID        int64  `json:"id"`
			Name      string `json:"name"`
			SiteID    int64  `json:"site_id"`
			ProfileID int64  `json:"profile_id"`
			AgentID   int64  `json:"agent_id"`
			RRule     string `json:"rrule"`
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSITE\tPROFILE\tAGENT\tRRULE")
		// The server answers scans a page at a time.
		const pageSize = 500
		for offset := 0; ; offset += pageSize {
			var scans []scanRow
			if err := api.do(ctx, "GET", fmt.Sprintf("/scans?limit=%d&offset=%d", pageSize, offset), nil, &scans); err != nil {
				return err
			}
			for _, s := range scans {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\n", s.ID, s.Name, s.SiteID, s.ProfileID, s.AgentID, s.RRule)
			}
			if len(scans) < pageSize {
				return tw.Flush()
			}
		}
	case "scans create":
		name := fs.String("name", "", "scan name")
		site := fs.Int64("site", 0, "site id")
		profile := fs.Int64("profile", 0, "profile id")
		agent := fs.Int64("agent", 0, "agent id")
		if err := fs.Parse(args); err != nil {
			return err
		}
		var s struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		body := map[string]any{"name": *name, "site_id": *site, "profile_id": *profile, "agent_id": *agent}
		if err := api.do(ctx, "POST", "/scans", body, &s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created scan %d %s\n", s.ID, s.Name)
		return nil
	case "scans plan":
		asJSON := fs.Bool("json", false, "print the plan as the API answers it")
		if err := fs.Parse(reorder(args)); err != nil {
			return err
		}
		id, err := argID(fs, "scans plan")
		if err != nil {
			return err
		}
		return clientPlan(ctx, api, id, *asJSON, stdout)
	case "run start", "run watch":
		watch := fs.Bool("watch", sub == "watch", "follow the run's progress until it ends")
		if err := fs.Parse(reorder(args)); err != nil {
			return err
		}
		id, err := argID(fs, sub)
		if err != nil {
			return err
		}
		if sub == "start" {
			var r clientRun
			if err := api.do(ctx, "POST", fmt.Sprintf("/scans/%d/runs", id), nil, &r); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "started run %d (workflow %s)\n", r.ID, r.WorkflowID)
			id = r.ID
		}
		if !*watch {
			return nil
		}
		return watchRun(ctx, api, id, stdout, stderr)
	}
	if verb == "search" {
		return search(ctx, api, args, stdout)
	}
	if verb == "export" {
		format := fs.String("format", "csv", "csv or jsonl")
		output := fs.String("output", "", "file to write (default: standard output)")
		if err := fs.Parse(reorder(args)); err != nil {
			return err
		}
		id, err := argID(fs, "export")
		if err != nil {
			return err
		}
		return export(ctx, api, id, *format, *output, stdout)
	}
	return usageError{fmt.Sprintf("unknown verb %q; see 'scantron help'", strings.TrimSpace(verb+" "+sub))}
}

// reorder moves a leading positional argument behind the flags, so that
// both "export 5 --format jsonl" and "export --format jsonl 5" work.
func reorder(args []string) []string {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return append(args[1:], args[0])
	}
	return args
}

func argID(fs *flag.FlagSet, what string) (int64, error) {
	if fs.NArg() != 1 {
		return 0, usageError{what + ": want exactly one id"}
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError{fmt.Sprintf("%s: %q is not an id", what, fs.Arg(0))}
	}
	return id, nil
}

func splitList(s string) []string {
	out := []string{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func clientLogin(ctx context.Context, base, name string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{"--url: want the server's http(s) address, e.g. http://127.0.0.1:8080"}
	}
	if name == "" {
		return usageError{"--name is required"}
	}
	password := getenv("SCANTRON_PASSWORD")
	if password == "" {
		p, ok, err := readPasswordFromTerminal(stdin, stderr, "Password for "+name+": ")
		if err != nil {
			return err
		}
		if !ok {
			line, _ := io.ReadAll(io.LimitReader(stdin, 4096))
			p = strings.TrimRight(strings.SplitN(string(line), "\n", 2)[0], "\r")
		}
		password = p
	}
	host, _ := os.Hostname()
	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	api := newAPIClient(credentials{URL: base})
	if err := api.do(ctx, "POST", "/login", map[string]string{"name": name, "password": password, "token_name": "cli@" + host}, &tok); err != nil {
		return err
	}
	path, err := credentialsPath(getenv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(credentials{URL: strings.TrimRight(base, "/"), Token: tok.Token, TokenID: tok.ID, User: name}, "", "  ")
	// Written under a temporary name with 0600 from the first byte, then
	// renamed, so the token is never readable by others, even briefly.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "logged in to %s as %s; token stored in %s\n", base, name, path)
	return nil
}

func clientLogout(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	path, err := credentialsPath(getenv)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stdout, "not logged in")
		return nil
	}
	if err != nil {
		return err
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err == nil && c.TokenID > 0 {
		err := newAPIClient(c).do(ctx, "DELETE", fmt.Sprintf("/tokens/%d", c.TokenID), nil, nil)
		var ae *apiError
		if err != nil && !(errors.As(err, &ae) && (ae.status == http.StatusUnauthorized || ae.status == http.StatusNotFound)) {
			return fmt.Errorf("revoke the token (still stored in %s): %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "logged out; the token is revoked")
	return nil
}

// clientRun is what the CLI reads of a run.
type clientRun struct {
	ID         int64  `json:"id"`
	WorkflowID string `json:"workflow_id"`
	Status     string `json:"status"`
	Error      string `json:"error"`
	HostsUp    int    `json:"hosts_up"`
	OpenPorts  int    `json:"open_ports"`
	Shards     []struct {
		Index  int    `json:"index"`
		Status string `json:"status"`
	} `json:"shards"`
	Progress []struct {
		ShardIndex int     `json:"shard_index"`
		Percent    float64 `json:"percent"`
		Task       string  `json:"task"`
		Waiting    bool    `json:"waiting"`
	} `json:"progress"`
}

func (r clientRun) final() bool {
	return r.Status == "completed" || r.Status == "failed" || r.Status == "cancelled"
}

// percent is the run's progress: finished shards count whole, running
// ones by their last heartbeat.
func (r clientRun) percent() float64 {
	if r.Status == "completed" {
		return 100
	}
	if len(r.Shards) == 0 {
		return 0
	}
	var sum float64
	done := map[int]bool{}
	for _, s := range r.Shards {
		if s.Status == "scanned" || s.Status == "completed" {
			sum += 100
			done[s.Index] = true
		}
	}
	for _, p := range r.Progress {
		if !done[p.ShardIndex] {
			sum += p.Percent
		}
	}
	return sum / float64(len(r.Shards))
}

// progressBar draws "[#####.....]  50.0%".
func progressBar(pct float64, width int) string {
	pct = min(max(pct, 0), 100)
	n := int(pct / 100 * float64(width))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "] " + fmt.Sprintf("%5.1f%%", pct)
}

// watchRun polls a run, drawing a progress bar on stderr, until it ends;
// a run that does not complete is an error.
func watchRun(ctx context.Context, api apiClient, id int64, stdout, stderr io.Writer) error {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		var r clientRun
		if err := api.do(ctx, "GET", fmt.Sprintf("/runs/%d", id), nil, &r); err != nil {
			return err
		}
		task := ""
		for _, p := range r.Progress {
			if p.Task != "" {
				task = p.Task
			} else if p.Waiting && task == "" {
				task = "waiting for the agent"
			}
		}
		fmt.Fprintf(stderr, "\rrun %d %s %-9s %-32.32s", r.ID, progressBar(r.percent(), 30), r.Status, task)
		if r.final() {
			fmt.Fprintln(stderr)
			fmt.Fprintf(stdout, "run %d %s: %d hosts up, %d open ports\n", r.ID, r.Status, r.HostsUp, r.OpenPorts)
			if r.Status != "completed" {
				return fmt.Errorf("run %d %s: %s", r.ID, r.Status, r.Error)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr)
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// export writes a run's results: the server's CSV export, or one JSON host
// (with its ports) per line, read page by page.
func export(ctx context.Context, api apiClient, id int64, format, output string, stdout io.Writer) (err error) {
	if format != "csv" && format != "jsonl" {
		return usageError{fmt.Sprintf("--format: %q is not csv or jsonl", format)}
	}
	w := stdout
	if output != "" {
		f, err := os.Create(output)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
		w = f
	}
	if format == "csv" {
		resp, err := api.send(ctx, "GET", fmt.Sprintf("/runs/%d/csv", id), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(w, resp.Body)
		return err
	}
	const pageSize = 500
	enc := json.NewEncoder(w)
	for offset := 0; ; offset += pageSize {
		var hosts []json.RawMessage
		if err := api.do(ctx, "GET", fmt.Sprintf("/runs/%d/hosts?limit=%d&offset=%d", id, pageSize, offset), nil, &hosts); err != nil {
			return err
		}
		for _, h := range hosts {
			if err := enc.Encode(h); err != nil {
				return err
			}
		}
		if len(hosts) < pageSize {
			return nil
		}
	}
}
