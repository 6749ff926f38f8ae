package scan

import (
	"fmt"
	"path"
)

// RawKey is where an agent stores one attempt of one shard's scanner output.
// Keys are deterministic so a retried upload overwrites rather than leaks.
func RawKey(runID, shardID int64, attempt int, scanner Scanner) string {
	return fmt.Sprintf("runs/%d/%d/%d/%s.xml", runID, shardID, attempt, scanner)
}

// PartialKey is where an agent saves, while the scanner runs, the hosts one
// attempt of one shard has finished so far, so that a retry on any agent can
// skip them (see Progress.Partial).
func PartialKey(runID, shardID int64, attempt int) string {
	return fmt.Sprintf("runs/%d/%d/%d/partial.xml", runID, shardID, attempt)
}

// RunPrefix is the key prefix of every object of a run: its shards' raw
// output and its exports.
func RunPrefix(runID int64) string {
	return fmt.Sprintf("runs/%d/", runID)
}

// ExportKey is where a run's export called name is stored.
func ExportKey(runID int64, name string) string {
	return fmt.Sprintf("runs/%d/export/%s", runID, name)
}

// The exports of a run, by their name under ExportKey.
const (
	CSVExport   = "results.csv"
	JSONLExport = "results.jsonl"
	XMLExport   = "results.xml"
)

// ExportFileName is the stable name a run's export has when downloaded or
// copied to an export target, e.g. scantron-run-42.jsonl: forwarders can
// match on the extension.
func ExportFileName(runID int64, export string) string {
	return fmt.Sprintf("scantron-run-%d%s", runID, path.Ext(export))
}
