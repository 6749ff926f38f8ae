package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// The verbs that are more than one API call, or stream what they get.

func runLogin(ctx context.Context, cc *call) error {
	u := *cc.values["url"]
	if !cc.set["url"] {
		u = cc.getenv("SCANTRON_URL")
	}
	return clientLogin(ctx, u, *cc.values["name"], cc.json, cc.getenv, cc.stdin, cc.stdout, cc.stderr)
}

func runLogout(ctx context.Context, cc *call) error {
	return clientLogout(ctx, cc.getenv, cc.json, cc.stdout)
}

// runChangeOwnPassword reads the current and the new password from the
// environment or, one a line, from standard input (asked for without echo
// on a terminal).
func runChangeOwnPassword(ctx context.Context, cc *call) error {
	in := bufio.NewReader(cc.stdin)
	cur, err := readPassword(cc.getenv, "SCANTRON_PASSWORD", cc.stdin, in, cc.stderr, "Current password: ")
	if err != nil {
		return err
	}
	next, err := readPassword(cc.getenv, "SCANTRON_USER_PASSWORD", cc.stdin, in, cc.stderr, "New password: ")
	if err != nil {
		return err
	}
	data, _, err := cc.api.read(ctx, "PUT", "/me/password", map[string]string{"current_password": cur, "new_password": next})
	if err != nil {
		return err
	}
	if cc.json {
		return cc.show(data)
	}
	_, err = fmt.Fprintln(cc.stdout, "password changed; your sessions have ended; log in again")
	return err
}

// runStart starts a run of a scan and, with --watch, follows it.
func runStart(ctx context.Context, cc *call) error {
	path := cc.path("/scans/{scan-id}/runs")
	if *cc.bools["ignore-windows"] {
		path += "?ignore_windows=true"
	}
	data, _, err := cc.api.read(ctx, "POST", path, nil)
	if err != nil {
		return err
	}
	var r clientRun
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("the answer is not a run: %w", err)
	}
	if !*cc.bools["watch"] || !cc.json {
		if cc.json {
			return cc.show(data)
		}
		fmt.Fprintf(cc.stdout, "started run %d (workflow %s)\n", r.ID, r.WorkflowID)
	}
	if !*cc.bools["watch"] {
		return nil
	}
	return watchRun(ctx, cc.api, r.ID, cc.json, cc.stdout, cc.stderr)
}

func runWatch(ctx context.Context, cc *call) error {
	return watchRun(ctx, cc.api, cc.ids["id"], cc.json, cc.stdout, cc.stderr)
}

// runRaw streams one shard's scanner output.
func runRaw(ctx context.Context, cc *call) error {
	if !cc.set["shard"] {
		return usageError{"--shard: which shard's output? (its index, from 'scantron runs show')"}
	}
	if cc.json {
		return usageError{"--json: the raw output is XML; leave --json out"}
	}
	return download(ctx, cc.api, fmt.Sprintf("/runs/%d/raw?shard=%s", cc.ids["id"], *cc.values["shard"]), *cc.values["output"], cc.stdout)
}

// runExport streams one of a completed run's exports.
func runExport(ctx context.Context, cc *call) error {
	format := *cc.values["format"]
	if cc.json {
		if cc.set["format"] && format != "jsonl" {
			return usageError{"--json and --format " + format + ": choose one"}
		}
		format = "jsonl"
	}
	if format != "csv" && format != "jsonl" && format != "xml" {
		return usageError{fmt.Sprintf("--format: %q is not csv, jsonl or xml", format)}
	}
	return download(ctx, cc.api, fmt.Sprintf("/runs/%d/%s", cc.ids["run-id"], format), *cc.values["output"], cc.stdout)
}

// download copies an answer to a file, or to stdout when output is "".
func download(ctx context.Context, api apiClient, path, output string, stdout io.Writer) (err error) {
	resp, err := api.send(ctx, "GET", path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
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
	_, err = io.Copy(w, resp.Body)
	return err
}

func runSearch(ctx context.Context, cc *call) error {
	return search(ctx, cc.api, cc.rest, cc.stdout)
}
