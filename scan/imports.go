package scan

import "time"

// RunImport says where an imported run came from: a file of scanner output
// someone brought in, rather than a scan Scantron ran. The file itself is
// kept as the run's one shard's raw output.
type RunImport struct {
	RunID      int64     `json:"run_id"`
	FileName   string    `json:"file_name"`
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	ImportedBy string    `json:"imported_by"`
	ImportedAt time.Time `json:"imported_at"`
}

// ImportedRun is what recording an imported run needs: the site's import
// scan, the run's times (from inside the file), the targets it counts as
// covering, and the stored file.
type ImportedRun struct {
	ScanID     int64
	WorkflowID string
	Start, End time.Time
	Targets    Resolved
	Raw        BlobRef
	FileName   string
	ImportedBy string
}
