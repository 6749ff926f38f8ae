package activities

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
	"github.com/scantron/scantron/scan/signing"
)

// RunStore is the part of the database the result activities use.
type RunStore interface {
	CreateRun(ctx context.Context, scanID int64, workflowID string) (scan.Run, error)
	GetRunByWorkflowID(ctx context.Context, workflowID string) (scan.Run, error)
	GetRun(ctx context.Context, id int64) (scan.Run, error)
	LoadPlan(ctx context.Context, scanID int64) (scan.Plan, error)
	SetRunTargets(ctx context.Context, runID int64, r scan.Resolved) error
	SetRunStatus(ctx context.Context, runID int64, status scan.RunStatus, errMsg string) error
	CompleteRun(ctx context.Context, runID int64, csv scan.BlobRef) (scan.Run, error)
	CreateShard(ctx context.Context, runID int64, index int, agentID int64, targets []string) (scan.Shard, error)
	ListShards(ctx context.Context, runID int64) ([]scan.Shard, error)
	GetShard(ctx context.Context, id int64) (scan.Shard, error)
	UpdateShard(ctx context.Context, u scan.ShardUpdate) error
	KeepPartial(ctx context.Context, runID int64) error
	// AgentPublicKey returns the key that checks the named agent's
	// results (nil for an agent without a credential) and whether such an
	// agent is registered.
	AgentPublicKey(ctx context.Context, name string) (key []byte, registered bool, err error)
	// RecordDispatch makes d the shard's current dispatch unless its run
	// has ended (ok false).
	RecordDispatch(ctx context.Context, runID, shardID int64, d scan.ShardDispatch) (ok bool, err error)
	// ShardDispatch returns the shard's current dispatch (zero if none
	// was recorded) and its run's status.
	ShardDispatch(ctx context.Context, runID, shardID int64) (scan.ShardDispatch, scan.RunStatus, error)
	// PoolMember says whether the agent is a recorded member of the pool,
	// and whether the pool has any recorded member.
	PoolMember(ctx context.Context, pool, agent string) (member, any bool, err error)
	ReplaceShardResults(ctx context.Context, runID, shardID int64, attempt int, parse func(emit func(report.Host) error) error) (scan.IngestStats, error)
	ExportRows(ctx context.Context, runID int64, fn func(scan.ExportRow) error) error
	ExportHosts(ctx context.Context, runID int64, fn func(run scan.ExportRow, h scan.HostRow) error) error
}

// Blobs reads and writes objects.
type Blobs interface {
	Get(ctx context.Context, ref scan.BlobRef) (io.ReadCloser, error)
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (scan.BlobRef, error)
}

// Timeouts bound a shard's scanner activity.
type Timeouts struct {
	// ScheduleToStart: how long a shard may wait for its agent to pick it up
	// before the agent counts as offline.
	ScheduleToStart time.Duration `json:"schedule_to_start"`
	// StartToClose: the longest one attempt of a scan may run.
	StartToClose time.Duration `json:"start_to_close"`
	// Heartbeat: silence after which the agent counts as dead mid-scan.
	Heartbeat time.Duration `json:"heartbeat"`
}

// Results runs on the server: it owns the database and the exports.
type Results struct {
	Store        RunStore
	Objects      Blobs
	MaxAddresses uint64
	// MaxRate is the server's packet-rate ceiling (packets/s; 0 = none),
	// applied with the site's max_rate to every spec: nmap's --max-rate,
	// masscan's rate.
	MaxRate  float64
	Timeouts Timeouts
	// ShardSize is the most addresses one shard covers when the scan does
	// not say (0 = scan.DefaultShardSize).
	ShardSize uint64
	// Capacity, when set, tells how many scans the agents polling a task
	// queue can run at once now (0 when none polls). A run keeps no more
	// shards in flight than that, so a shard waits in the queue only while
	// no agent is there to take it, and ScheduleToStart keeps meaning
	// "offline" rather than "busy".
	Capacity func(ctx context.Context, taskQueue string) (int, error)
	// Online, when set, tells which agents poll a task queue now, as they
	// announce themselves: the checks of a run's start read it (an agent
	// pinned to a scan that announced no raw sockets fails the run at
	// once).
	Online func(ctx context.Context, taskQueue string) ([]scan.AgentCaps, error)
	// ExportTargets also receive each run's exports (a directory or an S3
	// prefix that log forwarders watch); none by default.
	ExportTargets []ExportTarget
	// Signer signs every spec dispatched to an agent; agents refuse
	// unsigned ones. Without it no run starts.
	Signer *signing.Signer
	// AgentObjects presigns, for the object storage endpoint agents
	// reach, the URLs of each dispatched shard attempt's objects.
	AgentObjects Presigner
	// Metrics, when set, is told of ingests, finished shards and late
	// scheduled starts.
	Metrics ResultMetrics
}

// ResultMetrics records what the result activities observe.
// *metrics.Registry satisfies it.
type ResultMetrics interface {
	ObserveShard(scanner, outcome string, d time.Duration)
	ObserveIngest(rows int, d time.Duration)
	ObserveFireLag(d time.Duration)
}

// StartRunInput identifies the run by its workflow, so a retried activity or
// a scheduled start finds the same row.
type StartRunInput struct {
	ScanID     int64  `json:"scan_id"`
	WorkflowID string `json:"workflow_id"`
	// ScheduledAt is when the scan's schedule meant the run to start and
	// StartedAt when its workflow started (both unset for a run started by
	// hand): the difference is the schedule's fire lag.
	ScheduledAt *time.Time `json:"scheduled_at,omitempty"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
}

// StartRunResult is the plan of the run: one spec per shard, all for the
// same task queue: the scan's agent's, or its pool's.
type StartRunResult struct {
	RunID     int64       `json:"run_id"`
	Specs     []scan.Spec `json:"specs"`
	AgentName string      `json:"agent_name"`          // "" for a pool
	PoolName  string      `json:"pool_name,omitempty"` // "" for an agent
	TaskQueue string      `json:"task_queue"`
	Timeouts  Timeouts    `json:"timeouts"`
	// Parallel is how many shards may be in flight at once: the capacity
	// polling the task queue when the run started; 0 means no limit.
	Parallel int `json:"parallel,omitempty"`
}

// StartRun creates or finds the run row, resolves the targets minus site and
// global exclusions, checks the profile's options and records the shards:
// per address family, since a scanner run takes only one, and at most the
// shard size in addresses each. A scan that cannot run as defined fails
// here, before any agent is involved.
func (r *Results) StartRun(ctx context.Context, in StartRunInput) (StartRunResult, error) {
	run, err := r.Store.CreateRun(ctx, in.ScanID, in.WorkflowID)
	if err != nil {
		return StartRunResult{}, wrap("create run", err)
	}
	if r.Metrics != nil && in.ScheduledAt != nil && in.StartedAt != nil && activity.GetInfo(ctx).Attempt == 1 {
		r.Metrics.ObserveFireLag(in.StartedAt.Sub(*in.ScheduledAt))
	}
	plan, err := r.Store.LoadPlan(ctx, in.ScanID)
	if err != nil {
		return StartRunResult{}, wrap("load scan", err)
	}
	if r.Signer == nil {
		err := fmt.Errorf("%w: the server has no signing key (SCANTRON_SIGNING_KEY); agents run signed specs only", scan.ErrInvalidSpec)
		return StartRunResult{}, nonRetryable(err)
	}
	draft, err := DraftRun(plan, r.limits(), r.online(ctx, plan), r.poolSeen(ctx, plan))
	if err != nil {
		return StartRunResult{}, nonRetryable(err)
	}
	for _, f := range draft.Findings {
		if f.Warning {
			activity.GetLogger(ctx).Warn("scan check", "scan", plan.Scan.ID, "rule", f.Rule, "warning", f.Message)
		}
	}
	resolved, taskQueue := draft.Resolved, draft.TaskQueue
	if err := r.Store.SetRunTargets(ctx, run.ID, resolved); err != nil {
		return StartRunResult{}, wrap("store targets", err)
	}
	var specs []scan.Spec
	parallel := 0
	if r.Capacity != nil {
		n, err := r.Capacity(ctx, taskQueue)
		if err != nil {
			// Without it the run dispatches every shard at once, as before.
			activity.GetLogger(ctx).Warn("cannot learn the capacity of the task queue", "task_queue", taskQueue, "error", err)
		}
		parallel = n
	}
	for i, spec := range draft.Specs {
		shard, err := r.Store.CreateShard(ctx, run.ID, i, plan.Agent.ID, spec.Targets) // agent 0 for a pool
		if err != nil {
			return StartRunResult{}, wrap("create shard", err)
		}
		spec.RunID, spec.ShardID = run.ID, shard.ID
		if err := spec.Validate(); err != nil {
			return StartRunResult{}, nonRetryable(err)
		}
		// Unsigned: each attempt is signed when it is dispatched
		// (DispatchShard), for where it goes and for as long as it may run.
		specs = append(specs, spec)
	}
	if err := r.Store.SetRunStatus(ctx, run.ID, scan.RunRunning, ""); err != nil {
		return StartRunResult{}, wrap("mark run running", err)
	}
	for _, spec := range specs {
		if err := r.Store.UpdateShard(ctx, scan.ShardUpdate{ID: spec.ShardID, Status: scan.ShardRunning}); err != nil {
			return StartRunResult{}, wrap("mark shard running", err)
		}
	}
	out := StartRunResult{
		RunID:     run.ID,
		Specs:     specs,
		AgentName: plan.Agent.Name,
		TaskQueue: plan.Agent.TaskQueue,
		Timeouts:  r.timeouts(),
	}
	if plan.Scan.PoolID != 0 {
		out.AgentName, out.PoolName, out.TaskQueue = "", plan.Pool.Name, plan.Pool.TaskQueue
	}
	out.Parallel = parallel
	return out, nil
}

func (r *Results) limits() RunLimits {
	return RunLimits{MaxAddresses: r.MaxAddresses, MaxRate: r.MaxRate, ShardSize: r.ShardSize}
}

// online asks who polls the scan's task queue now, for the rules that
// read what agents announce; nil when it is not known.
func (r *Results) online(ctx context.Context, plan scan.Plan) []scan.AgentCaps {
	if r.Online == nil {
		return nil
	}
	q := plan.Agent.TaskQueue
	if plan.Scan.PoolID != 0 {
		q = plan.Pool.TaskQueue
	}
	agents, err := r.Online(ctx, q)
	if err != nil {
		activity.GetLogger(ctx).Warn("cannot learn who polls the task queue; checks of what agents announce are skipped", "task_queue", q, "error", err)
		return nil
	}
	return agents
}

// poolSeen says whether the scan's pool has had a member (true for a scan
// pinned to an agent, and when it cannot be learnt).
func (r *Results) poolSeen(ctx context.Context, plan scan.Plan) bool {
	if plan.Scan.PoolID == 0 {
		return true
	}
	_, seen, err := r.Store.PoolMember(ctx, plan.Pool.Name, "")
	return err != nil || seen
}

func (r *Results) timeouts() Timeouts {
	t := r.Timeouts
	if t.ScheduleToStart <= 0 {
		t.ScheduleToStart = 10 * time.Minute
	}
	if t.StartToClose <= 0 {
		t.StartToClose = 24 * time.Hour
	}
	if t.Heartbeat <= 0 {
		t.Heartbeat = 30 * time.Second
	}
	return t
}

// SetRunStatusInput records that a run was paused or resumed.
type SetRunStatusInput struct {
	RunID  int64          `json:"run_id"`
	Status scan.RunStatus `json:"status"` // paused or running
}

// SetRunStatus records a pause or a resume of a run.
func (r *Results) SetRunStatus(ctx context.Context, in SetRunStatusInput) error {
	if in.Status != scan.RunPaused && in.Status != scan.RunRunning {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("status %q is not paused or running", in.Status), ErrTypeInvalidSpec, nil)
	}
	return wrap("set run status", r.Store.SetRunStatus(ctx, in.RunID, in.Status, ""))
}

// ParseResultsInput names a shard's stored output.
type ParseResultsInput struct {
	RunID   int64        `json:"run_id"`
	ShardID int64        `json:"shard_id"`
	Attempt int          `json:"attempt"`
	Raw     scan.BlobRef `json:"raw"`
	Agent   string       `json:"agent,omitempty"` // who ran the scanner
	// Scanner says how to read Raw; "" is nmap.
	Scanner scan.Scanner `json:"scanner,omitempty"`
	// Signature is the agent's, from RunScanResult.
	Signature []byte `json:"signature,omitempty"`
	// Nonce is the dispatch's the result answers (DispatchShardResult,
	// never the agent's word): only the shard's current dispatch is
	// accepted. Empty for runs dispatched before dispatches existed.
	Nonce string `json:"nonce,omitempty"`
	// Partial is output of a scanner stopped by a cancel: a cut-off
	// document is expected, every complete host in it is stored, and the
	// shard is left to be closed as cancelled.
	Partial bool `json:"partial,omitempty"`
}

// ParseResultsResult counts what was stored.
type ParseResultsResult struct {
	Hosts   int `json:"hosts"`
	Ports   int `json:"ports"`
	Skipped int `json:"skipped"` // hosts without an IP address
	// Stale: the shard already holds a later attempt's results, so this
	// (late) attempt stored nothing.
	Stale bool `json:"stale,omitempty"`
}

// ParseResults streams the shard's XML from object storage into PostgreSQL.
// It replaces the shard's rows, so running it twice never duplicates them;
// an attempt older than the one already stored changes nothing.
func (r *Results) ParseResults(ctx context.Context, in ParseResultsInput) (ParseResultsResult, error) {
	if err := in.Raw.Validate(); err != nil {
		return ParseResultsResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadOutput, err)
	}
	if err := r.checkSignature(ctx, in); err != nil {
		return ParseResultsResult{}, err
	}
	if sh, err := r.Store.GetShard(ctx, in.ShardID); err != nil {
		return ParseResultsResult{}, wrap("find shard", err)
	} else if sh.Attempt > in.Attempt {
		activity.GetLogger(ctx).Warn("output of an older attempt arrived late; kept the newer attempt", "shard", in.ShardID, "attempt", in.Attempt, "stored", sh.Attempt)
		return ParseResultsResult{Stale: true}, nil
	}
	if err := r.Store.SetRunStatus(ctx, in.RunID, scan.RunParsing, ""); err != nil {
		return ParseResultsResult{}, wrap("mark run parsing", err)
	}
	if err := r.Store.UpdateShard(ctx, scan.ShardUpdate{ID: in.ShardID, Status: scan.ShardScanned, Attempt: in.Attempt, Raw: &in.Raw, RanBy: in.Agent}); err != nil {
		return ParseResultsResult{}, wrap("mark shard scanned", err)
	}
	body, err := r.Objects.Get(ctx, in.Raw)
	if err != nil {
		return ParseResultsResult{}, wrap("read scanner output", err)
	}
	defer body.Close()

	ingestStart := time.Now()
	stats, err := r.Store.ReplaceShardResults(ctx, in.RunID, in.ShardID, in.Attempt, func(emit func(report.Host) error) error {
		return parseOutput(ctx, body, in.Scanner, in.Partial, emit)
	})
	if errors.Is(err, report.ErrTruncated) {
		// The agent reported success, so a cut-off document means the stored
		// object is not what the scanner wrote; parsing it again won't help.
		return ParseResultsResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadOutput, err)
	}
	if err != nil {
		return ParseResultsResult{}, wrap("store results", err)
	}
	if stats.Stale {
		activity.GetLogger(ctx).Warn("results of an older attempt arrived late; kept the newer ones", "shard", in.ShardID, "attempt", in.Attempt)
		return ParseResultsResult{Stale: true}, nil
	}
	if r.Metrics != nil {
		r.Metrics.ObserveIngest(stats.Hosts+stats.Ports, time.Since(ingestStart))
	}
	if in.Partial {
		r.observeShard(ctx, in, "partial")
		return ParseResultsResult{Hosts: stats.Hosts, Ports: stats.Ports, Skipped: stats.Skipped}, nil
	}
	if err := r.Store.UpdateShard(ctx, scan.ShardUpdate{ID: in.ShardID, Status: scan.ShardCompleted, Attempt: in.Attempt, Raw: &in.Raw}); err != nil {
		return ParseResultsResult{}, wrap("mark shard completed", err)
	}
	r.observeShard(ctx, in, "completed")
	return ParseResultsResult{Hosts: stats.Hosts, Ports: stats.Ports, Skipped: stats.Skipped}, nil
}

// observeShard records how long the shard took from being marked running
// until its output was stored.
func (r *Results) observeShard(ctx context.Context, in ParseResultsInput, outcome string) {
	if r.Metrics == nil {
		return
	}
	sh, err := r.Store.GetShard(ctx, in.ShardID)
	if err != nil || sh.StartedAt == nil {
		return
	}
	end := time.Now()
	if sh.FinishedAt != nil {
		end = *sh.FinishedAt
	}
	r.Metrics.ObserveShard(string(in.Scanner), outcome, end.Sub(*sh.StartedAt))
}

// parseOutput reads a shard's scanner output and hands its hosts to emit,
// as a first parse and a parse again both store them: masscan's hosts
// merged by address (masscan writes a host element per port and per
// banner), one host each; nmap's as they come. A partial output (of a
// stopped scanner) may be cut off: the hosts before the cut are what the
// scan found.
func parseOutput(ctx context.Context, body io.Reader, scanner scan.Scanner, partial bool, emit func(report.Host) error) error {
	var merged *hostMerger
	if scanner == scan.Masscan {
		merged = newHostMerger()
	}
	parsed := 0
	_, err := report.ParseAny(body, func(h report.Host) error {
		if parsed++; parsed%500 == 0 {
			activity.RecordHeartbeat(ctx, parsed)
		}
		if merged != nil {
			merged.add(h)
			return nil
		}
		return emit(h)
	})
	if partial && errors.Is(err, report.ErrTruncated) {
		err = nil
	}
	if err == nil && merged != nil {
		err = merged.emit(emit)
	}
	return err
}

// ErrTypeUntrusted marks a result its agent did not sign.
const ErrTypeUntrusted = "UntrustedResult"

// checkSignature accepts a result only if it answers the shard's current
// dispatch of a run that has not ended, names the agent the shard was
// dispatched to (or a member of the pool it was dispatched to), and that
// agent signed it with its credential. Agents registered without a
// credential (before credentials existed, or directly in the database) have
// no key, and their results are taken unsigned.
func (r *Results) checkSignature(ctx context.Context, in ParseResultsInput) error {
	refuse := func(format string, args ...any) error {
		msg := fmt.Sprintf("result of shard %d ", in.ShardID) + fmt.Sprintf(format, args...) + ": refused"
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeUntrusted, nil)
	}
	if in.Agent == "" {
		// Every agent names itself in its results; an unnamed result could
		// come from anyone who can complete a task on the agent's queue.
		return refuse("names no agent")
	}
	d, status, err := r.Store.ShardDispatch(ctx, in.RunID, in.ShardID)
	if err != nil {
		return wrap("find shard dispatch", err)
	}
	switch {
	case d.Nonce == "" && in.Nonce != "":
		return refuse("answers a dispatch the server has no record of")
	case d.Nonce != "" && (in.Nonce != d.Nonce || in.Attempt != d.Attempt):
		return refuse("answers attempt %d, not the shard's current dispatch (attempt %d)", in.Attempt, d.Attempt)
	case d.Nonce != "" && status.Final():
		return refuse("comes after its run ended (%s)", status)
	case d.Agent != "" && in.Agent != d.Agent:
		return refuse("comes from agent %q; the shard was dispatched to agent %q", in.Agent, d.Agent)
	case d.Pool != "":
		member, any, err := r.Store.PoolMember(ctx, d.Pool, in.Agent)
		if err != nil {
			return wrap("find pool member", err)
		}
		if any && !member {
			return refuse("comes from agent %q, which is not a member of pool %q", in.Agent, d.Pool)
		}
		if !any {
			activity.GetLogger(ctx).Warn("pool has no recorded members: its shards' results are taken from any registered agent", "pool", d.Pool, "agent", in.Agent)
		}
	}
	key, registered, err := r.Store.AgentPublicKey(ctx, in.Agent)
	if err != nil {
		return wrap("find agent", err)
	}
	if !registered {
		return refuse("comes from agent %q, which is not registered", in.Agent)
	}
	if len(key) == 0 {
		return nil
	}
	claim := scan.ResultClaim{RunID: in.RunID, ShardID: in.ShardID, Attempt: in.Attempt, Agent: in.Agent, Raw: in.Raw, Nonce: in.Nonce}
	if !scan.VerifyResult(key, claim, in.Signature) {
		return refuse("is not signed by agent %q's credential for this dispatch", in.Agent)
	}
	return nil
}

// ExportResultsInput names the run to export.
type ExportResultsInput struct {
	RunID int64 `json:"run_id"`
}

// ExportResultsResult points at the exports.
type ExportResultsResult struct {
	CSV   scan.BlobRef `json:"csv"`
	Rows  int          `json:"rows"`
	JSONL scan.BlobRef `json:"jsonl"`
	XML   scan.BlobRef `json:"xml"`
}

// CSVHeader is the first line of a run's CSV export: the run and the host,
// then each port's detail.
//
// The last six are the old (Python) Scantron's own columns that the ones
// before do not already have, with its meanings, so that what consumed its
// CSV can consume this one:
// openports is "yes" on a port's row and "no" on the row of a host without
// ports; engine is the agent; scan_binary is nmap or masscan; target is the
// address; service_name is the service; banner is masscan's banner, or
// nmap's product, version and extra info.
var CSVHeader = []string{
	"start_time", "end_time", "site_name", "scan_name", "ip_address", "hostname",
	"port", "protocol", "state", "service", "product", "version", "extra_info", "reason",
	"openports", "engine", "scan_binary", "target", "service_name", "banner",
}

// ExportResults writes the run's exports to object storage, each streamed
// into its upload: the CSV and JSON Lines from the database, and one nmap
// XML merged from the shards' stored scanner output. Then it copies them to
// the export targets, if any. Every export has a fixed key, so running it
// again replaces rather than adds.
func (r *Results) ExportResults(ctx context.Context, in ExportResultsInput) (ExportResultsResult, error) {
	var out ExportResultsResult
	var err error
	out.CSV, err = r.upload(ctx, scan.ExportKey(in.RunID, scan.CSVExport), "text/csv", func(w io.Writer) error {
		cw := csv.NewWriter(w)
		err := cw.Write(CSVHeader)
		if err == nil {
			err = r.Store.ExportRows(ctx, in.RunID, func(row scan.ExportRow) error {
				out.Rows++
				return cw.Write(exportRecord(row))
			})
		}
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
		return err
	})
	if err != nil {
		return ExportResultsResult{}, wrap("upload CSV", err)
	}
	activity.RecordHeartbeat(ctx, "csv")
	out.JSONL, err = r.upload(ctx, scan.ExportKey(in.RunID, scan.JSONLExport), "application/jsonl", func(w io.Writer) error {
		return r.writeJSONL(ctx, in.RunID, w)
	})
	if err != nil {
		return ExportResultsResult{}, wrap("upload JSON Lines", err)
	}
	activity.RecordHeartbeat(ctx, "jsonl")
	out.XML, err = r.upload(ctx, scan.ExportKey(in.RunID, scan.XMLExport), "application/xml", func(w io.Writer) error {
		return r.writeMergedXML(ctx, in.RunID, w)
	})
	if err != nil {
		return ExportResultsResult{}, wrap("upload merged XML", err)
	}
	activity.RecordHeartbeat(ctx, "xml")
	for _, t := range r.ExportTargets {
		for _, e := range []struct {
			name string
			ref  scan.BlobRef
		}{{scan.CSVExport, out.CSV}, {scan.JSONLExport, out.JSONL}, {scan.XMLExport, out.XML}} {
			if err := r.copyToTarget(ctx, t, scan.ExportFileName(in.RunID, e.name), e.ref); err != nil {
				return ExportResultsResult{}, wrap("export to "+t.String(), err)
			}
			activity.RecordHeartbeat(ctx, "copied "+e.name)
		}
	}
	return out, nil
}

// upload streams what write produces into the object at key, heartbeating
// as the bytes go by, so that a large export is not taken for a stuck one.
func (r *Results) upload(ctx context.Context, key, contentType string, write func(io.Writer) error) (scan.BlobRef, error) {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(write(&heartbeatWriter{ctx: ctx, w: pw, what: key}))
	}()
	ref, err := r.Objects.Put(ctx, key, pr, -1, contentType)
	pr.CloseWithError(err) // unblocks the writer if the upload failed first
	return ref, err
}

// heartbeatWriter records a heartbeat every few megabytes written.
type heartbeatWriter struct {
	ctx     context.Context
	w       io.Writer
	what    string
	n, last int64
}

func (h *heartbeatWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.n += int64(n)
	if h.n-h.last >= 4<<20 {
		h.last = h.n
		activity.RecordHeartbeat(h.ctx, fmt.Sprintf("%s: %d bytes", h.what, h.n))
	}
	return n, err
}

// JSONLine is one line of a run's JSON Lines export: one host with its
// ports, and the run it belongs to.
type JSONLine struct {
	Run       int64     `json:"run_id"`
	Scan      string    `json:"scan"`
	Site      string    `json:"site"`
	ScanStart time.Time `json:"scan_start"`
	ScanEnd   time.Time `json:"scan_end"`
	scan.HostRow
	Ports []scan.PortRow `json:"ports"` // never omitted, unlike HostRow's
}

func (r *Results) writeJSONL(ctx context.Context, runID int64, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err := r.Store.ExportHosts(ctx, runID, func(run scan.ExportRow, h scan.HostRow) error {
		ports := h.Ports
		h.Ports = nil
		return enc.Encode(JSONLine{Run: runID, Scan: run.Scan, Site: run.Site, ScanStart: run.ScanStart, ScanEnd: run.ScanEnd, HostRow: h, Ports: ports})
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// writeMergedXML merges the stored scanner output of the run's shards, in
// shard order. A shard without stored output (it failed before its upload)
// contributes nothing.
func (r *Results) writeMergedXML(ctx context.Context, runID int64, w io.Writer) error {
	shards, err := r.Store.ListShards(ctx, runID)
	if err != nil {
		return err
	}
	m := report.NewMerger(w)
	for _, sh := range shards {
		if sh.Raw == nil {
			continue
		}
		body, err := r.Objects.Get(ctx, *sh.Raw)
		if err != nil {
			return fmt.Errorf("shard %d: %w", sh.Index, err)
		}
		err = m.Add(body)
		body.Close()
		if err != nil {
			return fmt.Errorf("shard %d: %w", sh.Index, err)
		}
	}
	return m.Close()
}

func exportRecord(row scan.ExportRow) []string {
	port := ""
	if row.Port > 0 {
		port = strconv.Itoa(row.Port)
	}
	openports := "no"
	if row.Protocol != "" {
		openports = "yes"
	}
	banner := row.Banner
	if banner == "" {
		banner = strings.Join(slices.DeleteFunc([]string{row.Product, row.Version, row.ExtraInfo}, func(s string) bool { return s == "" }), " ")
	}
	record := []string{
		timeText(row.ScanStart), timeText(row.ScanEnd), row.Site, row.Scan, row.Host, row.Hostname,
		port, row.Protocol, row.State, row.Service, row.Product, row.Version, row.ExtraInfo, row.Reason,
		openports, row.Agent, string(row.Scanner), row.Host, row.Service, banner,
	}
	for i, cell := range record {
		record[i] = spreadsheetSafe(cell)
	}
	return record
}

// spreadsheetSafe is the one rule for CSV cells, shared with the search export.
var spreadsheetSafe = scan.SpreadsheetSafe

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// FinishRunInput records how a run ended. The run is found by workflow ID, so
// a run that failed before its row was known can still be closed.
type FinishRunInput struct {
	WorkflowID string         `json:"workflow_id"`
	Status     scan.RunStatus `json:"status"`
	Error      string         `json:"error,omitempty"`
	CSV        *scan.BlobRef  `json:"csv,omitempty"`
}

// FinishRun sets the run's final status and closes its unfinished shards.
func (r *Results) FinishRun(ctx context.Context, in FinishRunInput) (scan.Run, error) {
	run, err := EndRun(ctx, r.Store, in)
	if err == nil && run.Status != in.Status {
		activity.GetLogger(ctx).Warn("run had already ended", "run", run.ID, "status", run.Status, "ignored", in.Status)
	}
	return run, err
}

// EndRun records how the run of a workflow ended and closes its unfinished
// shards. A run that has already ended stays as it ended (a cancel racing
// the last step): it is returned unchanged, since retrying cannot change it.
func EndRun(ctx context.Context, store RunStore, in FinishRunInput) (scan.Run, error) {
	run, err := store.GetRunByWorkflowID(ctx, in.WorkflowID)
	if err != nil {
		return scan.Run{}, wrap("find run", err)
	}
	if run.Status.Final() && run.Status != in.Status {
		return run, nil
	}
	if in.Status == scan.RunCompleted {
		if in.CSV == nil {
			return scan.Run{}, temporal.NewNonRetryableApplicationError("completed run without an export", ErrTypeBadOutput, nil)
		}
		return store.CompleteRun(ctx, run.ID, *in.CSV)
	}
	shardStatus := scan.ShardFailed
	if in.Status == scan.RunCancelled {
		shardStatus = scan.ShardCancelled
	}
	shards, err := store.ListShards(ctx, run.ID)
	if err != nil {
		return scan.Run{}, wrap("list shards", err)
	}
	for _, s := range shards {
		if s.Status == scan.ShardPending || s.Status == scan.ShardRunning || s.Status == scan.ShardScanned {
			if err := store.UpdateShard(ctx, scan.ShardUpdate{ID: s.ID, Status: shardStatus, Attempt: s.Attempt, Error: in.Error}); err != nil {
				return scan.Run{}, wrap("close shard", err)
			}
		}
	}
	if err := store.KeepPartial(ctx, run.ID); err != nil {
		return scan.Run{}, wrap("keep partial results", err)
	}
	if err := store.SetRunStatus(ctx, run.ID, in.Status, in.Error); err != nil {
		return scan.Run{}, wrap("set run status", err)
	}
	if ended, err := store.GetRunByWorkflowID(ctx, in.WorkflowID); err == nil {
		return ended, nil
	}
	run.Status, run.Error = in.Status, in.Error
	return run, nil
}
