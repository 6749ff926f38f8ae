package activities

// This file writes a finished run's exports (CSV, JSON Lines, merged XML)
// to object storage and copies them to the export targets (exports.go).

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

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
// ports; engine is the agent; scan_binary is the scanner; target is the
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
