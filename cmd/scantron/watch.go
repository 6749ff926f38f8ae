package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// watchIdle is how long a run's event stream may stay silent before the
// CLI takes it for dead and opens it again: the server sends a heartbeat
// comment every 15 seconds.
const watchIdle = 45 * time.Second

// watchRetry is the pause before opening a stream that broke off again.
const watchRetry = time.Second

// watchState is what the CLI knows of a run it follows.
type watchState struct {
	ID        int64   `json:"run_id"`
	Status    string  `json:"status"`
	Error     string  `json:"error"`
	HostsUp   int     `json:"hosts_up"`
	OpenPorts int     `json:"open_ports"`
	hosts     int     // stored so far
	percent   float64 // of the whole run
	task      string
	ended     bool
}

// watchRun follows a run over its event stream (GET /runs/:id/events),
// drawing a progress bar on stderr, until it ends; a run that does not
// complete is an error. A stream that breaks off, or ends at the server's
// stream lifetime, is opened again and starts from the run's state. asJSON
// prints the API's answer about the ended run instead of the summary.
func watchRun(ctx context.Context, api apiClient, id int64, asJSON bool, stdout, stderr io.Writer) error {
	st := watchState{ID: id}
	for {
		err := followRun(ctx, api, id, &st, stderr)
		if st.ended {
			fmt.Fprintln(stderr)
			if asJSON {
				data, _, err := api.read(ctx, "GET", fmt.Sprintf("/runs/%d", id), nil)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s\n", bytes.TrimSpace(data))
			} else {
				fmt.Fprintf(stdout, "run %d %s: %d hosts up, %d open ports\n", id, st.Status, st.HostsUp, st.OpenPorts)
			}
			if st.Status != "completed" {
				return fmt.Errorf("run %d %s: %s", id, st.Status, st.Error)
			}
			return nil
		}
		var ae *apiError
		if ctx.Err() != nil || (errors.As(err, &ae) && ae.status != http.StatusTooManyRequests && ae.status < 500) {
			fmt.Fprintln(stderr)
			if err == nil {
				err = ctx.Err()
			}
			return err
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr)
			return ctx.Err()
		case <-time.After(watchRetry):
		}
	}
}

// followRun reads one event stream of the run into st until it ends.
func followRun(ctx context.Context, api apiClient, id int64, st *watchState, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := time.AfterFunc(watchIdle, cancel)
	defer idle.Stop()
	resp, err := api.sendWith(ctx, api.stream, "GET", fmt.Sprintf("/runs/%d/events", id), "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("the server answered %q, not an event stream", ct)
	}
	return readEvents(resp.Body, func() { idle.Reset(watchIdle) }, func(name string, data []byte) bool {
		switch name {
		case "run", "end":
			if err := json.Unmarshal(data, st); err != nil {
				return true
			}
			if st.Status == "completed" {
				st.percent = 100
			}
			// Only "end" ends the watch. The server sends it after a
			// final status, and for a completed run once the run's changes
			// against the previous one are recorded (or a while after),
			// so that what a script asks next, the run's diff, is there.
			st.ended = name == "end"
		case "shards":
			var s struct {
				Hosts int `json:"hosts"`
			}
			if json.Unmarshal(data, &s) == nil {
				st.hosts = s.Hosts
			}
		case "progress":
			var p struct {
				Percent float64 `json:"percent"`
				Shards  []struct {
					Task    string `json:"task"`
					Waiting bool   `json:"waiting"`
				} `json:"shards"`
			}
			if json.Unmarshal(data, &p) != nil {
				return true
			}
			st.percent, st.task = p.Percent, ""
			for _, s := range p.Shards {
				if s.Task != "" {
					st.task = s.Task
				} else if s.Waiting && st.task == "" {
					st.task = "waiting for the agent"
				}
			}
		default:
			return true
		}
		fmt.Fprintf(stderr, "\rrun %d %s %-9s %4d hosts %-32.32s", id, progressBar(st.percent, 30), st.Status, max(st.hosts, st.HostsUp), st.task)
		return !st.ended
	})
}

// readEvents parses a Server-Sent Events stream, calling seen on every line
// and on with each event (name and data), until on returns false or the
// stream ends.
func readEvents(r io.Reader, seen func(), on func(name string, data []byte) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	name, data := "", []byte(nil)
	for sc.Scan() {
		seen()
		line := sc.Text()
		switch {
		case line == "":
			if data != nil {
				if name == "" {
					name = "message"
				}
				if !on(name, data) {
					return nil
				}
			}
			name, data = "", nil
		case strings.HasPrefix(line, ":"):
			// A comment: the server's heartbeat.
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				name = value
			case "data":
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

// progressBar draws "[#####.....]  50.0%".
func progressBar(pct float64, width int) string {
	pct = min(max(pct, 0), 100)
	n := int(pct / 100 * float64(width))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "] " + fmt.Sprintf("%5.1f%%", pct)
}
