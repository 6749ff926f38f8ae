package web

import (
	"context"
	"log/slog"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"

	"github.com/scantron/scantron/internal/runtree"
	"github.com/scantron/scantron/scan"
)

// shardProgress is a running shard as Temporal sees it: the agent's last
// heartbeat, and the attempt with the failure of the one before it.
type shardProgress struct {
	scan.Progress
	ShardIndex    int       `json:"shard_index"`
	Attempt       int32     `json:"attempt"`
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	LastFailure   string    `json:"last_failure,omitempty"`
	// Waiting is true while no agent has picked the shard up yet.
	Waiting bool `json:"waiting"`
}

// scannerActivity is the activity type whose heartbeats carry progress.
const scannerActivity = "RunScan"

// scanProgress asks Temporal how far a run's scanners are. It is best
// effort: a run page must not fail because Temporal is slow or away.
func scanProgress(ctx context.Context, temporal WorkflowClient, log *slog.Logger, run scan.Run, shards []scan.Shard) []shardProgress {
	out := []shardProgress{}
	if run.Status.Final() || run.WorkflowID == "" {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	pending, err := pendingScanners(ctx, temporal, run.WorkflowID)
	if err != nil {
		log.DebugContext(ctx, "describe run workflow", "run_id", run.ID, "err", err)
	}
	dc := converter.GetDefaultDataConverter()
	for _, pa := range pending {
		p := shardProgress{Attempt: pa.GetAttempt(), LastFailure: pa.GetLastFailure().GetMessage()}
		if hb := pa.GetHeartbeatDetails(); hb != nil && len(hb.GetPayloads()) > 0 {
			if err := dc.FromPayloads(hb, &p.Progress); err != nil {
				log.DebugContext(ctx, "decode scanner progress", "run_id", run.ID, "err", err)
			}
			// Each attempt is its own activity: the agent says which.
			p.Attempt = max(p.Attempt, int32(p.ShardAttempt))
		}
		if t := pa.GetLastHeartbeatTime(); t != nil {
			p.LastHeartbeat = t.AsTime()
		}
		p.Waiting = pa.GetLastStartedTime() == nil || pa.GetLastStartedTime().AsTime().IsZero()
		for _, sh := range shards {
			if sh.ID == p.ShardID {
				p.ShardIndex = sh.Index
			}
		}
		out = append(out, p)
	}
	return out
}

// maxDescribed bounds how many workflows of one run a look at its
// scanners describes: a run fans out to child workflows, and only those
// in flight hold scanners.
const maxDescribed = 64

// pendingScanners are the scanner activities pending in a run's workflow
// and the children it fans out to.
func pendingScanners(ctx context.Context, temporal WorkflowDescriber, workflowID string) ([]*workflowpb.PendingActivityInfo, error) {
	return runtree.Pending(ctx, temporal, workflowID, scannerActivity, maxDescribed)
}

// runPercent is how far a run is: its finished shards count whole, the
// others by their scanners' last heartbeat.
func runPercent(status scan.RunStatus, shards []scan.Shard, progress []shardProgress) float64 {
	if status == scan.RunCompleted {
		return 100
	}
	if len(shards) == 0 {
		return 0
	}
	var sum float64
	done := map[int]bool{}
	for _, s := range shards {
		if s.Status == scan.ShardScanned || s.Status == scan.ShardCompleted {
			sum += 100
			done[s.Index] = true
		}
	}
	for _, p := range progress {
		if !done[p.ShardIndex] {
			sum += min(max(p.Percent, 0), 100)
		}
	}
	return sum / float64(len(shards))
}
