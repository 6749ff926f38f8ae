package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/nmap"
	"github.com/scantron/scantron/scan/signing"
)

// RawUploader stores a scanner's output file.
type RawUploader interface {
	PutFile(ctx context.Context, key, path, contentType string) (scan.BlobRef, error)
}

// Agent runs scanners on the machine of one agent. It needs only its scanner
// binaries, an outbound connection to Temporal and one to object storage.
type Agent struct {
	Name     string
	Objects  RawUploader
	NmapPath string
	// WorkDir holds scanner output until it is uploaded ("" = os.TempDir()).
	WorkDir string
	// HeartbeatEvery is how often progress is reported. It must be well under
	// the heartbeat timeout the workflow sets.
	HeartbeatEvery time.Duration
	// Interface, if set, is the network interface scanners use (nmap -e);
	// profiles cannot choose one.
	Interface string
	// Verifier holds the server's public key. Specs that it does not verify
	// are refused; with no Verifier, every spec is.
	Verifier *signing.Verifier
	// UploadRetry is how long a failed upload of a finished scan's output is
	// retried (with backoff, heartbeating) before the attempt fails and the
	// scan has to run again; 0 means DefaultUploadRetry.
	UploadRetry time.Duration
}

// DefaultUploadRetry rides out a restart or short outage of object storage:
// a scan's output is worth more than a minute's wait.
const DefaultUploadRetry = time.Minute

// RunScanInput is one shard's job.
type RunScanInput struct {
	Spec scan.Spec `json:"spec"`
}

// RunScanResult points at the stored output; the output itself never travels
// through Temporal.
type RunScanResult struct {
	Raw      scan.BlobRef  `json:"raw"`
	Agent    string        `json:"agent"`
	Attempt  int           `json:"attempt"`
	Duration time.Duration `json:"duration"`
}

// RunScan runs the scanner for one shard, heartbeating with progress, then
// uploads the XML and returns a reference to it. Cancelling the activity (or
// losing the server) kills the scanner process group.
func (a *Agent) RunScan(ctx context.Context, in RunScanInput) (RunScanResult, error) {
	start := time.Now()
	spec := in.Spec
	// Only specs the server signed run: Temporal access alone must not be
	// enough to make an agent scan.
	if err := a.verify(spec, start); err != nil {
		return RunScanResult{}, nonRetryable(err)
	}
	// The agent checks again what the server already checked: a spec altered
	// on the way is refused before anything runs.
	if err := spec.Validate(); err != nil {
		return RunScanResult{}, nonRetryable(err)
	}
	if spec.Scanner != scan.Nmap {
		err := fmt.Errorf("%w: this agent does not run %s scans yet", scan.ErrInvalidSpec, spec.Scanner)
		return RunScanResult{}, nonRetryable(err)
	}
	attempt := int(activity.GetInfo(ctx).Attempt)

	dir, err := os.MkdirTemp(a.WorkDir, fmt.Sprintf("scantron-run%d-shard%d-", spec.RunID, spec.ShardID))
	if err != nil {
		return RunScanResult{}, wrap("work dir", err)
	}
	defer os.RemoveAll(dir)
	xmlPath := filepath.Join(dir, "out.xml")

	access, err := checkRawSockets(a.NmapPath, spec)
	if err != nil {
		return RunScanResult{}, err
	}
	var extra []nmap.Option
	if access.NeedsPrivilegedFlag() {
		extra = append(extra, nmap.WithPrivileged())
	}
	if a.Interface != "" {
		extra = append(extra, nmap.WithInterface(a.Interface))
	}
	args, err := nmap.SpecArgs(spec, xmlPath, a.heartbeatEvery(), extra...)
	if err != nil {
		return RunScanResult{}, nonRetryable(err)
	}

	hb := newHeartbeater(ctx, a.Name, spec.ShardID, a.heartbeatEvery())
	defer hb.stop()
	runErr := nmap.Run(ctx, nmap.RunOptions{
		Binary: a.NmapPath,
		Args:   args,
		Dir:    dir,
		OnProgress: func(p nmap.Progress) {
			hb.set(scan.Progress{Phase: "scanning", Percent: p.Percent, Task: p.Task, ETC: p.ETC})
		},
	})
	if ctx.Err() != nil {
		return RunScanResult{}, ctx.Err()
	}
	if runErr != nil {
		if errors.Is(runErr, nmap.ErrScannerNotFound) {
			return RunScanResult{}, temporal.NewNonRetryableApplicationError(runErr.Error(), "ScannerMissing", runErr)
		}
		return RunScanResult{}, runErr
	}

	hb.set(scan.Progress{Phase: "uploading", Percent: 100})
	key := scan.RawKey(spec.RunID, spec.ShardID, attempt, spec.Scanner)
	ref, err := a.upload(ctx, hb, key, xmlPath)
	if err != nil {
		return RunScanResult{}, wrap("upload scanner output", err)
	}
	return RunScanResult{Raw: ref, Agent: a.Name, Attempt: attempt, Duration: time.Since(start)}, nil
}

func (a *Agent) verify(spec scan.Spec, now time.Time) error {
	if a.Verifier == nil {
		return fmt.Errorf("%w: this agent has no server public key (SCANTRON_SERVER_PUBLIC_KEY) to verify specs with", scan.ErrInvalidSpec)
	}
	return a.Verifier.Verify(spec, now)
}

// checkRawSockets refuses, before anything runs, a profile that needs raw
// sockets (-sS, -O, any masscan scan) on an agent whose scanner binary
// cannot open them, and says how the binary gets them.
func checkRawSockets(binary string, spec scan.Spec) (nmap.RawAccess, error) {
	set, err := scan.ParseOptionArgs(spec.Scanner, spec.Options)
	if err != nil {
		return nmap.RawAccess{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	access := nmap.RawSocketAccess(binary)
	if need := set.RawSocketOptions(); len(need) > 0 && !access.OK() {
		err := fmt.Errorf("the profile needs raw sockets (%s) and %s has %s: %s",
			strings.Join(need, " "), binary, access, nmap.RawSocketHelp)
		return access, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNoRawSockets, err)
	}
	return access, nil
}

// upload stores the scanner's output, retrying with backoff for up to
// UploadRetry while the heartbeater keeps the attempt alive. The key is the
// attempt's own, so a retried upload overwrites, never adds.
func (a *Agent) upload(ctx context.Context, hb *heartbeater, key, path string) (scan.BlobRef, error) {
	limit := a.UploadRetry
	if limit <= 0 {
		limit = DefaultUploadRetry
	}
	deadline := time.Now().Add(limit)
	wait := time.Second
	for tries := 1; ; tries++ {
		ref, err := a.Objects.PutFile(ctx, key, path, "application/xml")
		if err == nil || ctx.Err() != nil {
			return ref, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ref, fmt.Errorf("%w (%d tries in %s)", err, tries, limit)
		}
		wait = min(wait, left)
		activity.GetLogger(ctx).Warn("upload of scanner output failed; retrying", "key", key, "try", tries, "in", wait, "error", err)
		hb.set(scan.Progress{Phase: "uploading", Percent: 100, Task: fmt.Sprintf("upload failed %d times: %v", tries, err)})
		select {
		case <-ctx.Done():
			return ref, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 15*time.Second)
	}
}

func (a *Agent) heartbeatEvery() time.Duration {
	if a.HeartbeatEvery > 0 {
		return a.HeartbeatEvery
	}
	return 5 * time.Second
}

// heartbeater records the latest progress on a ticker, independent of how
// often the scanner prints, so a quiet scanner still proves the agent lives.
type heartbeater struct {
	mu   sync.Mutex
	last scan.Progress
	done chan struct{}
	wg   sync.WaitGroup
}

func newHeartbeater(ctx context.Context, agent string, shardID int64, every time.Duration) *heartbeater {
	h := &heartbeater{last: scan.Progress{ShardID: shardID, Phase: "scanning", Agent: agent}, done: make(chan struct{})}
	activity.RecordHeartbeat(ctx, h.last)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.mu.Lock()
				p := h.last
				h.mu.Unlock()
				activity.RecordHeartbeat(ctx, p)
			}
		}
	}()
	return h
}

func (h *heartbeater) set(p scan.Progress) {
	h.mu.Lock()
	p.Agent, p.ShardID = h.last.Agent, h.last.ShardID
	h.last = p
	h.mu.Unlock()
}

func (h *heartbeater) stop() {
	close(h.done)
	h.wg.Wait()
}
