package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/objects"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// RunStore keeps runs and their results.
type RunStore interface {
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
	CreateRun(ctx context.Context, scanID int64, workflowID string) (scan.Run, error)
	GetRun(ctx context.Context, id int64) (scan.Run, error)
	ListRuns(ctx context.Context, f postgres.RunFilter) ([]scan.Run, error)
	CountRuns(ctx context.Context, f postgres.RunFilter) (int, error)
	DeleteRun(ctx context.Context, id int64) error
	ListShards(ctx context.Context, runID int64) ([]scan.Shard, error)
	ListHosts(ctx context.Context, runID int64, f postgres.HostFilter) ([]scan.HostRow, error)
	ListPorts(ctx context.Context, runID int64, f postgres.PortFilter) ([]scan.PortRow, error)
	CountHosts(ctx context.Context, runID int64, f postgres.HostFilter) (int, error)
	CountPorts(ctx context.Context, runID int64, f postgres.PortFilter) (int, error)
}

// Objects opens stored scanner output and exports.
type Objects interface {
	Open(ctx context.Context, key string) (io.ReadCloser, int64, error)
}

// WorkflowClient is the part of Temporal's client.Client the web server
// uses: it starts, cancels, pauses and resumes runs, and asks who polls
// agents' task queues.
type WorkflowClient interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow interface{}, args ...interface{}) (client.WorkflowRun, error)
	CancelWorkflow(ctx context.Context, workflowID string, runID string) error
	SignalWorkflow(ctx context.Context, workflowID string, runID string, signalName string, arg interface{}) error
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
	AgentPresence
}

type runHandlers struct {
	base
	store    RunStore
	objects  Objects
	temporal WorkflowClient
	links    temporalLinks
	now      func() time.Time
	// downloadStall is how long a download may wait on its client.
	downloadStall time.Duration
}

// runView is a run as the API shows it: the stored run and a link to its
// workflow in Temporal Web.
type runView struct {
	scan.Run
	TemporalURL string `json:"temporal_url,omitempty"`
	// StatusDetail says what holds an unfinished run: "waiting for window
	// until <time>" while its scan's windows are closed.
	StatusDetail string `json:"status_detail,omitempty"`
}

func newRunView(r scan.Run, links temporalLinks) runView {
	v := runView{Run: r, TemporalURL: links.Workflow(r.WorkflowID)}
	if r.WindowOpensAt != nil && !r.Status.Final() {
		v.StatusDetail = "waiting for window until " + r.WindowOpensAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return v
}

// runDetail is one run with its shards.
type runDetail struct {
	runView
	Shards []scan.Shard `json:"shards"`
	// Progress of the shards still scanning, while the run is unfinished.
	Progress []shardProgress `json:"progress"`
}

// startTimeout bounds the whole start sequence. It is detached from the
// request so that a client hanging up halfway cannot leave a run row
// without its workflow.
const startTimeout = 15 * time.Second

// start begins a run of a scan now. The run keeps to the scan's windows
// unless ?ignore_windows=true, an operator's explicit override.
func (h *runHandlers) start(c *gin.Context) error {
	scanID, err := pathID(c)
	if err != nil {
		return err
	}
	in := workflows.ScanInput{ScanID: scanID}
	if v := c.Query("ignore_windows"); v != "" {
		if in.IgnoreWindows, err = strconv.ParseBool(v); err != nil {
			return badRequest("ignore_windows: %q is not true or false", clip(v))
		}
	}
	return h.launch(c, in)
}

// launch starts a new run of a scan and answers 202 with it.
func (h *runHandlers) launch(c *gin.Context, in workflows.ScanInput) error {
	scanID := in.ScanID
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), startTimeout)
	defer cancel()
	if _, err := h.store.GetScan(ctx, scanID); err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", scanID)
	}
	wid := workflows.ScanRunWorkflowID(scanID, h.now())
	run, err := h.store.CreateRun(ctx, scanID, wid)
	if err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", scanID)
	}
	opts := client.StartWorkflowOptions{
		ID:        wid,
		TaskQueue: workflows.ServerTaskQueue,
		// Each manual start has its own ID; meeting an existing workflow
		// under it means something else started it, and that one owns the
		// run row, so fail loudly rather than attach to it.
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
	if _, err := h.temporal.ExecuteWorkflow(ctx, opts, workflows.ScanWorkflow, in); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return errorf(http.StatusConflict, "a workflow with ID %q already exists", wid)
		}
		// A start that timed out may still have happened: then the run is
		// real and its workflow owns it.
		if _, derr := h.temporal.DescribeWorkflowExecution(ctx, wid, ""); derr == nil {
			h.log.WarnContext(ctx, "workflow start reported an error but the workflow exists", "workflow_id", wid, "err", err)
			c.Header("Location", fmt.Sprintf("/api/v1/runs/%d", run.ID))
			c.JSON(http.StatusAccepted, newRunView(run, h.links))
			return nil
		}
		h.log.ErrorContext(ctx, "starting scan workflow failed", "scan_id", scanID, "workflow_id", wid, "err", err)
		if derr := h.store.DeleteRun(ctx, run.ID); derr != nil {
			h.log.ErrorContext(ctx, "removing the run of a workflow that did not start failed",
				"run_id", run.ID, "workflow_id", wid, "err", derr)
			return errorf(http.StatusServiceUnavailable, "could not start the scan's workflow (is Temporal reachable?), nor remove its pending run %d", run.ID)
		}
		return errorf(http.StatusServiceUnavailable, "could not start the scan's workflow (is Temporal reachable?); no run was created")
	}
	c.Header("Location", fmt.Sprintf("/api/v1/runs/%d", run.ID))
	c.JSON(http.StatusAccepted, newRunView(run, h.links))
	return nil
}

// retry runs a failed or cancelled run's scan again, as a new run. A new run
// rather than the failed shards inside the old one: the old run keeps the
// record of how it ended (its error, its partial rows), a run's end is
// final, and the new run scans with the site, exclusions and profile as
// they are now, which is what the retry is usually for.
func (h *runHandlers) retry(c *gin.Context) error {
	r, err := h.run(c)
	if err != nil {
		return err
	}
	if r.Status != scan.RunFailed && r.Status != scan.RunCancelled {
		return errorf(http.StatusConflict, "run %d is %s; only failed or cancelled runs are retried", r.ID, r.Status)
	}
	return h.launch(c, workflows.ScanInput{ScanID: r.ScanID})
}

// reparse parses a finished run (completed, or failed with stored output)
// again from its shards' stored scanner output, replacing its hosts and
// ports; a completed run's exports, diffs and assets are worked out again
// too. One reparse of a run at a time; it answers 202 at once.
func (h *runHandlers) reparse(c *gin.Context) error {
	r, err := h.run(c)
	if err != nil {
		return err
	}
	if r.Status != scan.RunCompleted && r.Status != scan.RunFailed {
		return errorf(http.StatusConflict, "run %d is %s; only completed or failed runs can be parsed again", r.ID, r.Status)
	}
	shards, err := h.store.ListShards(c.Request.Context(), r.ID)
	if err != nil {
		return err
	}
	if !hasStoredOutput(shards) {
		return errorf(http.StatusConflict, "run %d has no stored scanner output to parse again", r.ID)
	}
	wid := workflows.ReparseWorkflowID(r.ID)
	opts := client.StartWorkflowOptions{
		ID:                                       wid,
		TaskQueue:                                workflows.ServerTaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
	ctx := c.Request.Context()
	if _, err := h.temporal.ExecuteWorkflow(ctx, opts, workflows.ReparseWorkflow, workflows.ReparseInput{RunID: r.ID}); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return errorf(http.StatusConflict, "run %d is already being parsed again", r.ID)
		}
		h.log.ErrorContext(ctx, "starting reparse workflow failed", "run_id", r.ID, "workflow_id", wid, "err", err)
		return errorf(http.StatusServiceUnavailable, "could not start parsing run %d again (is Temporal reachable?)", r.ID)
	}
	c.JSON(http.StatusAccepted, gin.H{"run_id": r.ID, "workflow_id": wid, "temporal_url": h.links.Workflow(wid)})
	return nil
}

// hasStoredOutput says whether any of a run's shards stored scanner output,
// which a parse again reads.
func hasStoredOutput(shards []scan.Shard) bool {
	return slices.ContainsFunc(shards, func(s scan.Shard) bool { return s.Raw != nil })
}

func (h *runHandlers) list(c *gin.Context) error {
	var f postgres.RunFilter
	if raw, ok := c.GetQuery("scan_id"); ok && raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return badRequest("scan_id: %q is not a valid id", raw)
		}
		f.ScanID = id
	}
	var err error
	if f.Limit, f.Offset, err = page(c); err != nil {
		return err
	}
	runs, err := h.store.ListRuns(c.Request.Context(), f)
	if err != nil {
		return err
	}
	total, err := h.store.CountRuns(c.Request.Context(), f)
	if err != nil {
		return err
	}
	out := make([]runView, 0, len(runs))
	for _, r := range runs {
		out = append(out, newRunView(r, h.links))
	}
	writeList(c, out, total)
	return nil
}

// run loads the run named by :id, or answers 404.
func (h *runHandlers) run(c *gin.Context) (scan.Run, error) {
	id, err := pathID(c)
	if err != nil {
		return scan.Run{}, err
	}
	r, err := h.store.GetRun(c.Request.Context(), id)
	if err != nil {
		return scan.Run{}, mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "run %d not found", id)
	}
	return r, nil
}

func (h *runHandlers) get(c *gin.Context) error {
	r, err := h.run(c)
	if err != nil {
		return err
	}
	shards, err := h.store.ListShards(c.Request.Context(), r.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, runDetail{
		runView:  newRunView(r, h.links),
		Shards:   nonNil(shards),
		Progress: scanProgress(c.Request.Context(), h.temporal, h.log, r, shards),
	})
	return nil
}

func (h *runHandlers) cancel(c *gin.Context) error {
	r, err := h.run(c)
	if err != nil {
		return err
	}
	if r.Status.Final() {
		return errorf(http.StatusConflict, "run %d is already %s", r.ID, r.Status)
	}
	// The workflow records the cancellation itself; this only asks.
	if err := h.temporal.CancelWorkflow(c.Request.Context(), r.WorkflowID, ""); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return errorf(http.StatusConflict, "the workflow of run %d is not running", r.ID)
		}
		h.log.ErrorContext(c.Request.Context(), "cancelling scan workflow failed", "run_id", r.ID, "workflow_id", r.WorkflowID, "err", err)
		return errorf(http.StatusServiceUnavailable, "could not ask Temporal to cancel run %d (is Temporal reachable?)", r.ID)
	}
	c.JSON(http.StatusAccepted, gin.H{"run_id": r.ID, "workflow_id": r.WorkflowID, "cancel_requested": true})
	return nil
}

func (h *runHandlers) hosts(c *gin.Context) error {
	r, err := h.run(c)
	if err != nil {
		return err
	}
	limit, offset, err := page(c)
	if err != nil {
		return err
	}
	pf, err := hostPortFilter(c)
	if err != nil {
		return err
	}
	f := postgres.HostFilter{Limit: limit, Offset: offset, WithPorts: true,
		Network: pf.Network, Port: pf.Port, Protocol: pf.Protocol, Service: pf.Service}
	hosts, err := h.store.ListHosts(c.Request.Context(), r.ID, f)
	if err != nil {
		return err
	}
	total, err := h.store.CountHosts(c.Request.Context(), r.ID, f)
	if err != nil {
		return err
	}
	writeList(c, hosts, total)
	return nil
}

// portStates are the states nmap and masscan report.
var portStates = map[string]bool{
	"open": true, "closed": true, "filtered": true, "unfiltered": true,
	"open|filtered": true, "closed|filtered": true,
}

func (h *runHandlers) ports(c *gin.Context) error {
	r, err := h.run(c)
	if err != nil {
		return err
	}
	f, err := portFilter(c)
	if err != nil {
		return err
	}
	if f.Limit, f.Offset, err = page(c); err != nil {
		return err
	}
	ports, err := h.store.ListPorts(c.Request.Context(), r.ID, f)
	if err != nil {
		return err
	}
	total, err := h.store.CountPorts(c.Request.Context(), r.ID, f)
	if err != nil {
		return err
	}
	writeList(c, ports, total)
	return nil
}

// portFilter reads the filters of a run's ports: state, ip (an address or
// CIDR block), port, protocol and service.
func portFilter(c *gin.Context) (postgres.PortFilter, error) {
	f, err := hostPortFilter(c)
	if err != nil {
		return f, err
	}
	if f.State = strings.TrimSpace(c.Query("state")); f.State != "" && !portStates[f.State] {
		return f, badRequest("state: %q is not a port state (open, closed, filtered, unfiltered, open|filtered, closed|filtered)", clip(f.State))
	}
	return f, nil
}

// hostPortFilter reads the filters that select hosts as well as ports:
// ip, port, protocol and service.
func hostPortFilter(c *gin.Context) (postgres.PortFilter, error) {
	var f postgres.PortFilter
	var err error
	if f.Network, err = queryNetwork(c, "ip"); err != nil {
		return f, err
	}
	if f.Port, err = queryInt(c, "port", 0, 0, 65535); err != nil {
		return f, err
	}
	if f.Protocol = strings.ToLower(strings.TrimSpace(c.Query("protocol"))); f.Protocol != "" && !assetProtocols[f.Protocol] {
		return f, badRequest("protocol: %q is not tcp, udp or sctp", clip(f.Protocol))
	}
	f.Service = strings.TrimSpace(c.Query("service"))
	if len(f.Service) > maxSearchLen {
		return f, badRequest("service: longer than %d characters", maxSearchLen)
	}
	if err := checkPrintable("service", f.Service); err != nil {
		return f, err
	}
	return f, nil
}

// raw streams the scanner's XML output of one shard. A run with a single
// shard needs no ?shard=.
func (h *runHandlers) raw(c *gin.Context) error {
	r, err := h.run(c)
	if err != nil {
		return err
	}
	shards, err := h.store.ListShards(c.Request.Context(), r.ID)
	if err != nil {
		return err
	}
	var shard *scan.Shard
	if raw, ok := c.GetQuery("shard"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return badRequest("shard: %q is not a shard index", clip(raw))
		}
		for i := range shards {
			if shards[i].Index == n {
				shard = &shards[i]
			}
		}
		if shard == nil {
			return errorf(http.StatusNotFound, "run %d has no shard %d", r.ID, n)
		}
	} else {
		switch len(shards) {
		case 0:
			return errorf(http.StatusNotFound, "the scanner output of run %d is not available yet", r.ID)
		case 1:
			shard = &shards[0]
		default:
			return badRequest("shard: run %d has %d shards; choose one with ?shard=", r.ID, len(shards))
		}
	}
	if shard.Raw == nil {
		return errorf(http.StatusNotFound, "the scanner output of run %d shard %d is not available yet", r.ID, shard.Index)
	}
	name := fmt.Sprintf("scantron-run-%d-shard-%d.xml", r.ID, shard.Index)
	return h.stream(c, shard.Raw.Key, "application/xml", name,
		fmt.Sprintf("the scanner output of run %d shard %d", r.ID, shard.Index))
}

func (h *runHandlers) csv(c *gin.Context) error {
	r, err := h.run(c)
	if err != nil {
		return err
	}
	if r.CSV == nil {
		return errorf(http.StatusNotFound, "the CSV export of run %d is not available yet", r.ID)
	}
	return h.stream(c, r.CSV.Key, "text/csv; charset=utf-8", fmt.Sprintf("scantron-run-%d.csv", r.ID),
		fmt.Sprintf("the CSV export of run %d", r.ID))
}

// jsonl streams the run's JSON Lines export: one host with its ports a line.
func (h *runHandlers) jsonl(c *gin.Context) error {
	return h.export(c, scan.JSONLExport, "application/jsonl", "JSON Lines export")
}

// xml streams the run's nmap XML, merged from every shard's output.
func (h *runHandlers) xml(c *gin.Context) error {
	return h.export(c, scan.XMLExport, "application/xml", "merged nmap XML")
}

// export streams one of a run's exports, which exist once it completed.
func (h *runHandlers) export(c *gin.Context, name, contentType, what string) error {
	r, err := h.run(c)
	if err != nil {
		return err
	}
	if r.CSV == nil {
		return errorf(http.StatusNotFound, "the %s of run %d is not available yet", what, r.ID)
	}
	return h.stream(c, scan.ExportKey(r.ID, name), contentType, scan.ExportFileName(r.ID, name),
		fmt.Sprintf("the %s of run %d", what, r.ID))
}

// stream copies an object to the client as a download. Downloads are
// attachments so that a browser never renders scanner output (which
// carries text from the scanned hosts) as a page of this site.
func (h *runHandlers) stream(c *gin.Context, key, contentType, filename, what string) error {
	body, size, err := h.objects.Open(c.Request.Context(), key)
	if err != nil {
		return mapErr(err, objects.ErrNotFound, http.StatusNotFound, "%s is missing from object storage", what)
	}
	defer body.Close()
	c.Header("Content-Type", contentType)
	c.Header("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	if size >= 0 {
		c.Header("Content-Length", strconv.FormatInt(size, 10))
	}
	c.Status(http.StatusOK)
	if err := copyDownload(c.Writer, body, h.downloadStall); err != nil {
		return fmt.Errorf("streaming %s: %w", key, err)
	}
	return nil
}

// pause asks the run's workflow to stop its shards until resumed.
func (h *runHandlers) pause(c *gin.Context) error { return h.signal(c, workflows.SignalPause) }

// resume asks a paused run's workflow to go on.
func (h *runHandlers) resume(c *gin.Context) error { return h.signal(c, workflows.SignalResume) }

func (h *runHandlers) signal(c *gin.Context, name string) error {
	r, err := h.run(c)
	if err != nil {
		return err
	}
	if r.Status.Final() {
		return errorf(http.StatusConflict, "run %d is already %s", r.ID, r.Status)
	}
	// The workflow records the pause or resume itself; this only asks.
	if err := h.temporal.SignalWorkflow(c.Request.Context(), r.WorkflowID, "", name, nil); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return errorf(http.StatusConflict, "the workflow of run %d is not running", r.ID)
		}
		h.log.ErrorContext(c.Request.Context(), "signalling scan workflow failed", "run_id", r.ID, "signal", name, "err", err)
		return errorf(http.StatusServiceUnavailable, "could not ask Temporal to %s run %d (is Temporal reachable?)", name, r.ID)
	}
	c.JSON(http.StatusAccepted, gin.H{"run_id": r.ID, "workflow_id": r.WorkflowID, name + "_requested": true})
	return nil
}
