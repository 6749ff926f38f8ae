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
	Timeouts     Timeouts
	// ExportTargets also receive each run's exports (a directory or an S3
	// prefix that log forwarders watch); none by default.
	ExportTargets []ExportTarget
	// Signer signs every spec dispatched to an agent; agents refuse
	// unsigned ones. Without it no run starts.
	Signer *signing.Signer
}

// specAttempts is how often the workflow tries one shard
// (workflows.scannerAttempts): a spec must stay valid for all of them.
const specAttempts = 3

// specLifetime is how long a dispatched spec stays valid: long enough for
// every attempt to wait for its agent and run to its time limit, plus the
// retry back-off between them.
func specLifetime(t Timeouts) time.Duration {
	return specAttempts*(t.ScheduleToStart+t.StartToClose) + 5*time.Minute
}

// StartRunInput identifies the run by its workflow, so a retried activity or
// a scheduled start finds the same row.
type StartRunInput struct {
	ScanID     int64  `json:"scan_id"`
	WorkflowID string `json:"workflow_id"`
}

// StartRunResult is the plan of the run: one spec per shard, all for the
// same agent.
type StartRunResult struct {
	RunID     int64       `json:"run_id"`
	Specs     []scan.Spec `json:"specs"`
	AgentName string      `json:"agent_name"`
	TaskQueue string      `json:"task_queue"`
	Timeouts  Timeouts    `json:"timeouts"`
}

// StartRun creates or finds the run row, resolves the targets minus site and
// global exclusions, checks the profile's options and records the shards:
// one per address family, since a scanner run takes only one. A scan that
// cannot run as defined fails here, before any agent is involved.
func (r *Results) StartRun(ctx context.Context, in StartRunInput) (StartRunResult, error) {
	run, err := r.Store.CreateRun(ctx, in.ScanID, in.WorkflowID)
	if err != nil {
		return StartRunResult{}, wrap("create run", err)
	}
	plan, err := r.Store.LoadPlan(ctx, in.ScanID)
	if err != nil {
		return StartRunResult{}, wrap("load scan", err)
	}
	if r.Signer == nil {
		err := fmt.Errorf("%w: the server has no signing key (SCANTRON_SIGNING_KEY); agents run signed specs only", scan.ErrInvalidSpec)
		return StartRunResult{}, nonRetryable(err)
	}
	base, resolved, err := r.specFor(plan)
	if err != nil {
		return StartRunResult{}, nonRetryable(err)
	}
	expires := time.Now().Add(specLifetime(r.timeouts()))
	if err := r.Store.SetRunTargets(ctx, run.ID, resolved); err != nil {
		return StartRunResult{}, wrap("store targets", err)
	}
	var specs []scan.Spec
	for i, part := range resolved.ByFamily() {
		shard, err := r.Store.CreateShard(ctx, run.ID, i, plan.Agent.ID, part.Targets)
		if err != nil {
			return StartRunResult{}, wrap("create shard", err)
		}
		spec := base
		spec.RunID, spec.ShardID = run.ID, shard.ID
		spec.Targets, spec.Excludes = part.Targets, part.Excludes
		if err := spec.Validate(); err != nil {
			return StartRunResult{}, nonRetryable(err)
		}
		specs = append(specs, r.Signer.Sign(spec, expires))
	}
	if err := r.Store.SetRunStatus(ctx, run.ID, scan.RunRunning, ""); err != nil {
		return StartRunResult{}, wrap("mark run running", err)
	}
	for _, spec := range specs {
		if err := r.Store.UpdateShard(ctx, scan.ShardUpdate{ID: spec.ShardID, Status: scan.ShardRunning}); err != nil {
			return StartRunResult{}, wrap("mark shard running", err)
		}
	}
	return StartRunResult{
		RunID:     run.ID,
		Specs:     specs,
		AgentName: plan.Agent.Name,
		TaskQueue: plan.Agent.TaskQueue,
		Timeouts:  r.timeouts(),
	}, nil
}

func (r *Results) specFor(plan scan.Plan) (scan.Spec, scan.Resolved, error) {
	targets, err := scan.ParseTargets(plan.Site.Targets)
	if err != nil {
		return scan.Spec{}, scan.Resolved{}, fmt.Errorf("site %q: %w", plan.Site.Name, err)
	}
	exclusions, err := scan.ParseTargets(append(append([]string{}, plan.Site.Exclusions...), plan.GlobalExclusions...))
	if err != nil {
		return scan.Spec{}, scan.Resolved{}, fmt.Errorf("exclusions: %w", err)
	}
	resolved, err := scan.Resolve(targets, exclusions, r.MaxAddresses)
	if err != nil {
		return scan.Spec{}, scan.Resolved{}, fmt.Errorf("site %q: %w", plan.Site.Name, err)
	}
	opts, err := scan.ParseOptions(plan.Profile.Scanner, plan.Profile.Options)
	if err != nil {
		return scan.Spec{}, scan.Resolved{}, fmt.Errorf("profile %q: %w", plan.Profile.Name, err)
	}
	return scan.Spec{Scanner: plan.Profile.Scanner, Options: opts}, resolved, nil
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

// ParseResultsInput names a shard's stored output.
type ParseResultsInput struct {
	RunID   int64        `json:"run_id"`
	ShardID int64        `json:"shard_id"`
	Attempt int          `json:"attempt"`
	Raw     scan.BlobRef `json:"raw"`
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
	if sh, err := r.Store.GetShard(ctx, in.ShardID); err != nil {
		return ParseResultsResult{}, wrap("find shard", err)
	} else if sh.Attempt > in.Attempt {
		activity.GetLogger(ctx).Warn("output of an older attempt arrived late; kept the newer attempt", "shard", in.ShardID, "attempt", in.Attempt, "stored", sh.Attempt)
		return ParseResultsResult{Stale: true}, nil
	}
	if err := r.Store.SetRunStatus(ctx, in.RunID, scan.RunParsing, ""); err != nil {
		return ParseResultsResult{}, wrap("mark run parsing", err)
	}
	if err := r.Store.UpdateShard(ctx, scan.ShardUpdate{ID: in.ShardID, Status: scan.ShardScanned, Attempt: in.Attempt, Raw: &in.Raw}); err != nil {
		return ParseResultsResult{}, wrap("mark shard scanned", err)
	}
	body, err := r.Objects.Get(ctx, in.Raw)
	if err != nil {
		return ParseResultsResult{}, wrap("read scanner output", err)
	}
	defer body.Close()

	var parsed int
	stats, err := r.Store.ReplaceShardResults(ctx, in.RunID, in.ShardID, in.Attempt, func(emit func(report.Host) error) error {
		_, err := report.ParseAny(body, func(h report.Host) error {
			parsed++
			if parsed%500 == 0 {
				activity.RecordHeartbeat(ctx, parsed)
			}
			return emit(h)
		})
		return err
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
	if err := r.Store.UpdateShard(ctx, scan.ShardUpdate{ID: in.ShardID, Status: scan.ShardCompleted, Attempt: in.Attempt, Raw: &in.Raw}); err != nil {
		return ParseResultsResult{}, wrap("mark shard completed", err)
	}
	return ParseResultsResult{Hosts: stats.Hosts, Ports: stats.Ports, Skipped: stats.Skipped}, nil
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
	return []string{
		timeText(row.ScanStart), timeText(row.ScanEnd), row.Site, row.Scan, row.Host, row.Hostname,
		port, row.Protocol, row.State, row.Service, row.Product, row.Version, row.ExtraInfo, row.Reason,
		openports, row.Agent, string(row.Scanner), row.Host, row.Service, banner,
	}
}

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
	if err := store.SetRunStatus(ctx, run.ID, in.Status, in.Error); err != nil {
		return scan.Run{}, wrap("set run status", err)
	}
	run.Status, run.Error = in.Status, in.Error
	return run, nil
}
