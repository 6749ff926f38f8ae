package activities

// This file holds Results, the struct of the server-side run activities, and
// the dependencies it consumes. Its activities live one concern per file:
// startrun.go (plan a run), dispatch.go (sign a shard attempt), accept.go
// (take or refuse a result), parse.go (ingest), exportrun.go (exports),
// finish.go (close a run), reparse.go (parse a run again).

import (
	"context"
	"io"
	"time"

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
	SetRunWaiting(ctx context.Context, runID int64, opensAt time.Time) error
	CompleteRun(ctx context.Context, runID int64, csv scan.BlobRef) (scan.Run, error)
	CreateShard(ctx context.Context, runID int64, index int, agentID int64, targets []string) (scan.Shard, error)
	// SetRunPlan stores what the run's shards' specs are built from,
	// CreateShards records shards first, first+1, ... on targets, running,
	// and ShardSpec builds shard index's spec from them.
	SetRunPlan(ctx context.Context, runID int64, plan scan.RunPlan) error
	CreateShards(ctx context.Context, runID int64, agentID int64, first int, targets [][]string) error
	ShardSpec(ctx context.Context, runID int64, index int) (scan.Spec, error)
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
	// Batch is how many shards one child workflow of a run holds, and
	// Fanout how many children one workflow starts at most (0: the
	// workflows' defaults). They travel with the run's start, so a run
	// keeps the shape it started with.
	Batch, Fanout int
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
