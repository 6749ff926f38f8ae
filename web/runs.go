package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/objects"
	"github.com/scantron/scantron/workflows"
)

// RunStore is what the run handlers read of runs and their results
// besides the operations (manage.RunStore).
type RunStore interface {
	ListRuns(ctx context.Context, f scan.RunFilter) ([]scan.Run, error)
	CountRuns(ctx context.Context, f scan.RunFilter) (int, error)
	ListShards(ctx context.Context, runID int64) ([]scan.Shard, error)
	LookupRunImport(ctx context.Context, runID int64) (scan.RunImport, bool, error)
	ListHosts(ctx context.Context, runID int64, f scan.HostFilter) ([]scan.HostRow, error)
	ListPorts(ctx context.Context, runID int64, f scan.PortFilter) ([]scan.PortRow, error)
	CountHosts(ctx context.Context, runID int64, f scan.HostFilter) (int, error)
	CountPorts(ctx context.Context, runID int64, f scan.PortFilter) (int, error)
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
	runs     RunService
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
	return runView{Run: r, TemporalURL: links.Workflow(r.WorkflowID), StatusDetail: statusDetail(r.Status, r.WindowOpensAt)}
}

// statusDetail says what holds an unfinished run, if anything.
func statusDetail(status scan.RunStatus, windowOpensAt *time.Time) string {
	if windowOpensAt == nil || status.Final() {
		return ""
	}
	return "waiting for window until " + windowOpensAt.UTC().Format("2006-01-02 15:04:05 UTC")
}

// runDetail is one run with its shards.
type runDetail struct {
	runView
	// Import says where an imported run came from; nil for a scanned one.
	Import *scan.RunImport `json:"import,omitempty"`
	Shards []scan.Shard    `json:"shards"`
	// Progress of the shards still scanning, while the run is unfinished.
	Progress []shardProgress `json:"progress"`
}

// RunService is what the run handlers and forms ask to be done to runs;
// *manage.Runs does it.
type RunService interface {
	Get(ctx context.Context, id int64) (scan.Run, error)
	Start(ctx context.Context, in workflows.ScanInput) (scan.Run, error)
	Retry(ctx context.Context, runID int64) (scan.Run, error)
	Reparse(ctx context.Context, runID int64) (scan.Run, string, error)
	Cancel(ctx context.Context, runID int64) (scan.Run, error)
	Signal(ctx context.Context, runID int64, name string) (scan.Run, error)
}

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
	run, err := h.runs.Start(c.Request.Context(), in)
	if err != nil {
		return err
	}
	h.started(c, run)
	return nil
}

// started answers 202 with a run just started.
func (h *runHandlers) started(c *gin.Context, run scan.Run) {
	c.Header("Location", fmt.Sprintf("/api/v1/runs/%d", run.ID))
	c.JSON(http.StatusAccepted, newRunView(run, h.links))
}

// retry runs a failed or cancelled run's scan again, as a new run.
func (h *runHandlers) retry(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	run, err := h.runs.Retry(c.Request.Context(), id)
	if err != nil {
		return err
	}
	h.started(c, run)
	return nil
}

// reparse parses a finished run again; it answers 202 at once.
func (h *runHandlers) reparse(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	r, wid, err := h.runs.Reparse(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, gin.H{"run_id": r.ID, "workflow_id": wid, "temporal_url": h.links.Workflow(wid)})
	return nil
}

func (h *runHandlers) list(c *gin.Context) error {
	var f scan.RunFilter
	var err error
	if f.ScanID, err = scanIDQuery(c); err != nil {
		return err
	}
	if f.Limit, f.Offset, err = page(c); err != nil {
		return err
	}
	out, total, err := h.page(c.Request.Context(), f)
	if err != nil {
		return err
	}
	writeList(c, out, total)
	return nil
}

// scanIDQuery reads the optional scan_id a list of runs is filtered by.
func scanIDQuery(c *gin.Context) (int64, error) {
	raw, ok := c.GetQuery("scan_id")
	if !ok || raw == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("scan_id: %q is not a valid id", raw)
	}
	return id, nil
}

// page is the runs f chooses, newest first, and how many it selects in all.
func (h *runHandlers) page(ctx context.Context, f scan.RunFilter) ([]runView, int, error) {
	runs, err := h.store.ListRuns(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	total, err := h.store.CountRuns(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	out := make([]runView, 0, len(runs))
	for _, r := range runs {
		out = append(out, newRunView(r, h.links))
	}
	return out, total, nil
}

// run loads the run named by :id, or answers 404.
func (h *runHandlers) run(c *gin.Context) (scan.Run, error) {
	id, err := pathID(c)
	if err != nil {
		return scan.Run{}, err
	}
	return h.runs.Get(c.Request.Context(), id)
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
	d := runDetail{
		runView:  newRunView(r, h.links),
		Shards:   nonNil(shards),
		Progress: scanProgress(c.Request.Context(), h.temporal, h.log, r, shards),
	}
	if imp, found, err := h.store.LookupRunImport(c.Request.Context(), r.ID); err != nil {
		return err
	} else if found {
		d.Import = &imp
	}
	c.JSON(http.StatusOK, d)
	return nil
}

func (h *runHandlers) cancel(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	r, err := h.runs.Cancel(c.Request.Context(), id)
	if err != nil {
		return err
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
	f := scan.HostFilter{Limit: limit, Offset: offset, WithPorts: true,
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
func portFilter(c *gin.Context) (scan.PortFilter, error) {
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
func hostPortFilter(c *gin.Context) (scan.PortFilter, error) {
	var f scan.PortFilter
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
	id, err := pathID(c)
	if err != nil {
		return err
	}
	r, err := h.runs.Signal(c.Request.Context(), id, name)
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, gin.H{"run_id": r.ID, "workflow_id": r.WorkflowID, name + "_requested": true})
	return nil
}
