package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// planAnswer is the answer of GET /api/v1/scans/:id/plan, as far as the
// client prints it.
type planAnswer struct {
	Scan      string   `json:"scan"`
	Scanner   string   `json:"scanner"`
	Profile   string   `json:"profile"`
	Agent     string   `json:"agent"`
	Pool      string   `json:"pool"`
	Runnable  bool     `json:"runnable"`
	Error     string   `json:"error"`
	Targets   []string `json:"targets"`
	Addresses uint64   `json:"addresses"`
	Ports     int      `json:"ports"`
	ShardSize uint64   `json:"shard_size"`
	Resolved  struct {
		Targets  []string `json:"targets"`
		Excludes []string `json:"excludes"`
	} `json:"resolved"`
	Shards []struct {
		Index         int                 `json:"index"`
		Family        string              `json:"family"`
		Addresses     uint64              `json:"addresses"`
		Command       []string            `json:"command"`
		AgentCommands map[string][]string `json:"agent_commands"`
	} `json:"shards"`
	Agents []struct {
		Name       string   `json:"name"`
		Capacity   int      `json:"capacity"`
		MaxRate    float64  `json:"max_rate"`
		RawKnown   bool     `json:"raw_sockets_known"`
		RawSockets []string `json:"raw_sockets"`
		CanRun     bool     `json:"can_run"`
		Why        string   `json:"why"`
	} `json:"agents"`
	Estimate *struct {
		Seconds float64 `json:"seconds"`
		Detail  string  `json:"detail"`
	} `json:"estimate"`
	Findings []struct {
		Rule    string `json:"rule"`
		Message string `json:"message"`
		Warning bool   `json:"warning"`
	} `json:"findings"`
}

// errNotRunnable makes `scans plan` exit 1 for a scan a run of which would
// fail, after printing its plan.
var errNotRunnable = errors.New("a run of this scan would fail")

// runPlan prints a scan's plan: as the API answers it with --json, as
// text otherwise.
func runPlan(ctx context.Context, cc *call) error {
	return clientPlan(ctx, cc.api, cc.ids["id"], cc.json, cc.stdout)
}

// clientPlan prints a scan's plan.
func clientPlan(ctx context.Context, api apiClient, id int64, asJSON bool, stdout io.Writer) error {
	var raw json.RawMessage
	if err := api.do(ctx, "GET", fmt.Sprintf("/scans/%d/plan", id), nil, &raw); err != nil {
		return err
	}
	var p planAnswer
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("reading the plan: %w", err)
	}
	if asJSON {
		fmt.Fprintf(stdout, "%s\n", raw)
	} else {
		printPlan(stdout, p)
	}
	if !p.Runnable {
		return errNotRunnable
	}
	return nil
}

func printPlan(w io.Writer, p planAnswer) {
	on := "agent " + p.Agent
	if p.Pool != "" {
		on = "pool " + p.Pool
	}
	fmt.Fprintf(w, "scan %s: profile %s (%s) on %s\n", p.Scan, p.Profile, p.Scanner, on)
	if p.Runnable {
		fmt.Fprintln(w, "runnable")
	} else {
		fmt.Fprintf(w, "NOT RUNNABLE: %s\n", p.Error)
	}
	for _, f := range p.Findings {
		kind := "error"
		if f.Warning {
			kind = "warning"
		}
		fmt.Fprintf(w, "%s (%s): %s\n", kind, f.Rule, f.Message)
	}
	fmt.Fprintf(w, "targets: %s\n", strings.Join(p.Resolved.Targets, " "))
	if len(p.Resolved.Excludes) > 0 {
		fmt.Fprintf(w, "excluded: %s\n", strings.Join(p.Resolved.Excludes, " "))
	}
	fmt.Fprintf(w, "%d addresses, %d port(s) each, %d shard(s) of at most %d\n", p.Addresses, p.Ports, len(p.Shards), p.ShardSize)
	if p.Estimate != nil {
		fmt.Fprintf(w, "estimate: %s (%s)\n", (time.Duration(p.Estimate.Seconds) * time.Second).String(), p.Estimate.Detail)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tCAPACITY\tMAX RATE\tRAW SOCKETS\tCAN RUN")
	for _, a := range p.Agents {
		raw := "not announced"
		if a.RawKnown {
			raw = strings.Join(a.RawSockets, ",")
			if raw == "" {
				raw = "none"
			}
		}
		can := "yes"
		if !a.CanRun {
			can = "no: " + a.Why
		}
		fmt.Fprintf(tw, "%s\t%d\t%g\t%s\t%s\n", a.Name, a.Capacity, a.MaxRate, raw, can)
	}
	if len(p.Agents) == 0 {
		fmt.Fprintln(tw, "(none online)\t\t\t\t")
	}
	tw.Flush()
	for _, sh := range p.Shards {
		fmt.Fprintf(w, "shard %d (%s, %d addresses): %s\n", sh.Index, sh.Family, sh.Addresses, strings.Join(sh.Command, " "))
		for agent, cmd := range sh.AgentCommands {
			fmt.Fprintf(w, "  on %s: %s\n", agent, strings.Join(cmd, " "))
		}
	}
}
