package activities

import (
	"context"
	"io"

	"go.temporal.io/sdk/activity"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// A retried shard resumes from what its earlier attempt saved: while the
// scanner runs, its driver saves resume state to object storage (nmap: the
// hosts it has finished; masscan: the open ports found and its probe
// index) and the agent names it in every heartbeat. The retry, on whichever
// agent, reads the failed attempt's last heartbeat and hands it to the
// driver, which scans only the rest. The scanners' own --resume files stay
// on the agent that died, so they are of no use to another.

// DefaultPartialEvery is how often a running scan's resume state is saved.
const DefaultPartialEvery = driver.DefaultPartialEvery

// shardStore is the object storage one attempt of a shard may use: its own
// objects, and the resume state of the attempt before it.
type shardStore interface {
	PutFile(ctx context.Context, key, path, contentType string) (scan.BlobRef, error)
	// Get reads an object back, checking its size and SHA-256.
	Get(ctx context.Context, ref scan.BlobRef) (io.ReadCloser, error)
}

// previousProgress is the last progress of the shard's previous attempt:
// handed over by the workflow, which dispatches each attempt itself, or
// (for a Temporal retry of the same activity) its last heartbeat.
func previousProgress(ctx context.Context, in RunScanInput) *scan.Progress {
	if in.Resume != nil {
		return in.Resume
	}
	if !activity.HasHeartbeatDetails(ctx) {
		return nil
	}
	var p scan.Progress
	if err := activity.GetHeartbeatDetails(ctx, &p); err != nil {
		activity.GetLogger(ctx).Warn("cannot read the earlier attempt's progress; scanning the whole shard", "shard", in.Spec.ShardID, "error", err)
		return nil
	}
	return &p
}
