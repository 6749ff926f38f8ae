package scan

import "fmt"

// RawKey is where an agent stores one attempt of one shard's scanner output.
// Keys are deterministic so a retried upload overwrites rather than leaks.
func RawKey(runID, shardID int64, attempt int, scanner Scanner) string {
	return fmt.Sprintf("runs/%d/%d/%d/%s.xml", runID, shardID, attempt, scanner)
}

// ExportKey is where a run's export called name is stored.
func ExportKey(runID int64, name string) string {
	return fmt.Sprintf("runs/%d/export/%s", runID, name)
}
