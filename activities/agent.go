package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/scanners"
	"github.com/scantron/scantron/scan/signing"
)

// Agent runs scanners on the machine of one agent. It needs only its scanner
// binaries, an outbound connection to Temporal and one to object storage,
// for which it holds no credentials: each spec carries presigned URLs for
// its own objects.
type Agent struct {
	Name string
	// HTTPClient makes the object storage requests (nil: a default one).
	HTTPClient *http.Client
	// Binaries are the scanner programs, by scanner (a missing one: the
	// scanner's name, looked up in PATH).
	Binaries map[scan.Scanner]string
	// Adapter, AdapterIP and RouterMAC tell the scanners that build their
	// own packets (masscan, zmap) which interface, source address and
	// next-hop MAC to use on this machine. They are the agent operator's
	// to set, never a profile's.
	Adapter, AdapterIP, RouterMAC string
	// Credential, when set, signs every result the agent reports (see
	// scan.NewCredential), so results cannot be forged by anyone with
	// access to Temporal alone.
	Credential string
	// NoRawSockets names the scanners that cannot open raw sockets here
	// (no CAP_NET_RAW, neither the agent's nor the binary's own): their
	// specs that need raw sockets are refused at once with a clear error,
	// rather than failing in the scanner attempt after attempt.
	NoRawSockets map[scan.Scanner]bool
	// WorkDir holds scanner output until it is uploaded ("" = os.TempDir()).
	WorkDir string
	// HeartbeatEvery is how often progress is reported. It must be well under
	// the heartbeat timeout the workflow sets.
	HeartbeatEvery time.Duration
	// MaxRate caps the packets per second of every scanner the agent runs
	// (0 = no cap of the agent's), whatever the spec says: nmap's
	// --max-rate is lowered or added (and --min-rate lowered), masscan's
	// --rate lowered.
	MaxRate float64
	// Interface, if set, is the network interface scanners use (nmap -e);
	// profiles cannot choose one.
	Interface string
	// Verifier holds the server's public key. Specs that it does not verify
	// are refused; with no Verifier, every spec is.
	Verifier *signing.Verifier
	// UploadMargin is kept free at the end of an attempt when a failed
	// upload of a finished scan's output is retried (with backoff,
	// heartbeating) up to the attempt's deadline; 0 means
	// DefaultUploadMargin.
	UploadMargin time.Duration
	// PartialEvery is how often the hosts a running nmap scan has finished
	// are saved to object storage (for masscan: the open ports found and
	// how far it got), so that a retry of the shard, on this agent or
	// another, scans only the rest; 0 means DefaultPartialEvery,
	// a negative value turns resuming off.
	PartialEvery time.Duration

	// ran holds the nonces of the dispatches this agent has started, until
	// their specs expire: a dispatch runs once.
	ranMu sync.Mutex
	ran   map[string]time.Time
}

// DefaultUploadMargin leaves the attempt time to report its failure before
// its deadline.
const DefaultUploadMargin = 30 * time.Second

// RunScanInput is one shard's job.
type RunScanInput struct {
	Spec scan.Spec `json:"spec"`
	// Resume is the last progress of the shard's previous attempt, which
	// names the state it saved (see scan.Progress.Partial); nil on a first
	// attempt. It can only narrow what is scanned.
	Resume *scan.Progress `json:"resume,omitempty"`
}

// RunScanResult points at the stored output; the output itself never travels
// through Temporal.
type RunScanResult struct {
	Raw      scan.BlobRef  `json:"raw"`
	Agent    string        `json:"agent"`
	Attempt  int           `json:"attempt"`
	Duration time.Duration `json:"duration"`
	// Signature is the agent's signature of the shard, attempt, agent and
	// output (scan.ResultClaim); empty from an agent without a credential.
	Signature []byte `json:"signature,omitempty"`
	// Command is the command line of the scanner's first attempt of the
	// shard, as CommandLine writes it (the work directory and values
	// derived from the run as tokens), to be compared with the scan's
	// plan.
	Command []string `json:"command,omitempty"`
}

// RunScan runs the scanner for one shard, heartbeating with progress, then
// uploads the XML and returns a reference to it. Cancelling the activity (or
// losing the server) kills the scanner process group.
func (a *Agent) RunScan(ctx context.Context, in RunScanInput) (RunScanResult, error) {
	start := time.Now()
	spec := in.Spec
	// Only specs the server signed for this dispatch, to the queue this
	// task came from, run: Temporal access alone must not be enough to
	// make an agent scan.
	if err := a.Verify(spec, activity.GetInfo(ctx).TaskQueue, start); err != nil {
		return RunScanResult{}, nonRetryable(err)
	}
	// The agent checks again what the server already checked: a spec altered
	// on the way is refused before anything runs.
	if err := spec.Validate(); err != nil {
		return RunScanResult{}, nonRetryable(err)
	}
	if a.NoRawSockets[spec.Scanner] {
		if opt, ok := needsRawSockets(spec); ok {
			err := fmt.Errorf("agent %q cannot run this %s scan (%s): neither it nor %s has CAP_NET_RAW; run the agent as root or give %s the capability", a.Name, spec.Scanner, opt, spec.Scanner, spec.Scanner)
			return RunScanResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "ScannerMissing", err)
		}
	}
	drv, err := scanners.Lookup(spec.Scanner)
	if err != nil {
		return RunScanResult{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	if _, ok := drv.(driver.PairScanner); len(spec.Groups) > 0 && !ok {
		return RunScanResult{}, nonRetryable(fmt.Errorf("%w: %s does not run port groups", scan.ErrInvalidSpec, spec.Scanner))
	}
	attempt := spec.Dispatch.Attempt
	obj := a.objectsFor(spec)

	dir, err := os.MkdirTemp(a.WorkDir, fmt.Sprintf("scantron-run%d-shard%d-", spec.RunID, spec.ShardID))
	if err != nil {
		return RunScanResult{}, wrap("work dir", err)
	}
	defer os.RemoveAll(dir)

	cmd := a.commandFor(spec, dir)
	access, err := checkRawSockets(cmd.BinaryOr(spec.Scanner), spec)
	if err != nil {
		return RunScanResult{}, err
	}
	cmd.Privileged = access.NeedsPrivilegedFlag()
	cmd.Prev = previousProgress(ctx, in)
	// The command line is checked before anything runs: a spec the
	// scanner's driver refuses is not retried.
	argv, err := scanners.Argv(cmd)
	if err != nil {
		return RunScanResult{}, nonRetryable(err)
	}
	command := recordedCommand(cmd, argv)
	activity.GetLogger(ctx).Info("running scanner", "shard", spec.ShardID, "attempt", attempt, "command", command)

	host := &attemptHost{ctx: ctx, every: a.heartbeatEvery(), obj: obj, key: scan.PartialKey(spec.RunID, spec.ShardID, attempt),
		first: scan.Progress{ShardID: spec.ShardID, Phase: "scanning", Agent: a.Name, ShardAttempt: attempt}}
	// The driver starts the heartbeat once it has loaded what it resumes
	// from; if it does not, the agent does, well before the heartbeat
	// timeout.
	late := time.AfterFunc(a.heartbeatEvery(), host.Scanning)
	defer late.Stop()
	defer host.stop()
	out, runErr := drv.Run(ctx, cmd, host)
	late.Stop()
	hb := host.heartbeater()
	if ctx.Err() != nil {
		if lost := lostTemporal(ctx); lost != nil {
			// Not a cancel: the SDK gave up on heartbeats (Temporal down
			// longer than the heartbeat's retries, or not yet serving the
			// namespace after a restart). Fail the attempt, retryably, so
			// the workflow dispatches the shard again and it resumes from
			// the progress saved so far, instead of reporting a cancel
			// nobody asked for, which would end the whole run cancelled.
			activity.GetLogger(ctx).Warn("scanner stopped: heartbeats to Temporal failed; the shard will be dispatched again", "shard", spec.ShardID, "attempt", attempt, "error", lost)
			return RunScanResult{}, hb.failed(fmt.Errorf("scanner stopped: the agent could not report progress to Temporal: %w", lost))
		}
		return a.keepPartial(ctx, spec, obj, attempt, out, start)
	}
	if runErr != nil {
		if errors.Is(runErr, driver.ErrScannerNotFound) {
			return RunScanResult{}, temporal.NewNonRetryableApplicationError(runErr.Error(), "ScannerMissing", runErr)
		}
		if errors.Is(runErr, scan.ErrInvalidSpec) || errors.Is(runErr, scan.ErrInvalidOptions) {
			return RunScanResult{}, nonRetryable(runErr)
		}
		return RunScanResult{}, hb.failed(runErr)
	}

	hb.set(scan.Progress{Phase: "uploading", Percent: 100})
	key := scan.RawKey(spec.RunID, spec.ShardID, attempt, spec.Scanner)
	ref, err := a.upload(ctx, hb, obj, key, out)
	if err != nil {
		return RunScanResult{}, hb.failed(fmt.Errorf("upload scanner output: %w", err))
	}
	return a.signed(spec, RunScanResult{Raw: ref, Agent: a.Name, Attempt: attempt, Duration: time.Since(start), Command: command})
}

// commandFor is spec's command in dir, as this agent runs it.
func (a *Agent) commandFor(spec scan.Spec, dir string) driver.Command {
	return driver.Command{
		Spec:   spec,
		Binary: a.Binaries[spec.Scanner],
		Dir:    dir,
		Output: outputPath(dir),
		Env:    ScannerEnv(dir),
		Machine: driver.Machine{Interface: a.Interface, Adapter: a.Adapter, AdapterIP: a.AdapterIP,
			RouterMAC: a.RouterMAC, MaxRate: a.MaxRate},
		StatsEvery:   a.heartbeatEvery(),
		PartialEvery: a.PartialEvery,
	}
}

// attemptHost is what a running driver gets of its attempt: the
// heartbeat, and the attempt's resume state in object storage.
type attemptHost struct {
	ctx   context.Context
	every time.Duration
	obj   shardStore
	key   string

	mu    sync.Mutex
	first scan.Progress // until the heartbeat starts
	hb    *heartbeater
}

// Scanning starts the heartbeat, with the progress so far (what the
// attempt resumes from).
func (h *attemptHost) Scanning() { h.heartbeater() }

// heartbeater is the attempt's heartbeater, started on first use.
func (h *attemptHost) heartbeater() *heartbeater {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hb == nil {
		h.hb = newHeartbeater(h.ctx, h.first, h.every)
	}
	return h.hb
}

func (h *attemptHost) stop() {
	h.mu.Lock()
	hb := h.hb
	h.mu.Unlock()
	if hb != nil {
		hb.stop()
	}
}

func (h *attemptHost) Progress(percent float64, task string, etc time.Time) {
	h.heartbeater().set(scan.Progress{Phase: "scanning", Percent: percent, Task: task, ETC: etc})
}

func (h *attemptHost) Resumed(r driver.Resume) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hb == nil {
		ref := r.Ref
		h.first.Partial, h.first.HostsDone = &ref, r.Hosts
		h.first.MasscanSeed, h.first.MasscanIndex = r.Seed, r.Index
		return
	}
	h.hb.setResume(r)
}

func (h *attemptHost) SaveResume(ctx context.Context, path string) (scan.BlobRef, error) {
	return h.obj.PutFile(ctx, h.key, path, "application/xml")
}

func (h *attemptHost) LoadResume(ctx context.Context, ref scan.BlobRef) (io.ReadCloser, error) {
	return h.obj.Get(ctx, ref)
}

func (h *attemptHost) Logger() driver.Logger { return activityLogger{activity.GetLogger(h.ctx)} }

// activityLogger adapts Temporal's activity logger to driver.Logger.
type activityLogger struct{ log log.Logger }

func (l activityLogger) Info(msg string, kv ...any) { l.log.Info(msg, kv...) }
func (l activityLogger) Warn(msg string, kv ...any) { l.log.Warn(msg, kv...) }

// signed adds the agent's signature to a result.
func (a *Agent) signed(spec scan.Spec, res RunScanResult) (RunScanResult, error) {
	if a.Credential == "" {
		return res, nil
	}
	claim := scan.ResultClaim{RunID: spec.RunID, ShardID: spec.ShardID, Attempt: res.Attempt, Agent: res.Agent, Raw: res.Raw}
	if spec.Dispatch != nil {
		claim.Nonce = spec.Dispatch.Nonce
	}
	sig, err := scan.SignResult(a.Credential, claim)
	if err != nil {
		return RunScanResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadCredential", err)
	}
	res.Signature = sig
	return res, nil
}

// needsRawSockets says whether spec needs raw sockets, and why: a scanner
// whose every scan does (masscan, zmap), or the options that do.
func needsRawSockets(spec scan.Spec) (string, bool) {
	set, err := scan.ParseOptionArgs(spec.Scanner, spec.Options)
	if err != nil {
		return "", false
	}
	need := set.RawSocketOptions()
	switch {
	case len(need) == 0:
		return "", false
	case need[0] == string(spec.Scanner):
		return string(spec.Scanner) + " sends raw packets", true
	}
	return "option " + strings.Join(need, " "), true
}

// ScannerEnv is the whole environment a scanner runs with: a search path,
// a locale, and HOME and TMPDIR in the shard's own work directory (private,
// removed after the attempt). Nothing else of the agent's environment,
// where its credential and Temporal settings may be, reaches the scanner or
// the NSE scripts it runs.
func ScannerEnv(dir string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	lang := os.Getenv("LANG")
	if lang == "" {
		lang = "C.UTF-8"
	}
	return []string{"PATH=" + path, "LANG=" + lang, "HOME=" + dir, "TMPDIR=" + dir}
}

// lostTemporal says why the activity's context ended when that was not a
// cancel: the SDK also ends it when a heartbeat finds the activity or its
// namespace unknown (a Temporal that is restarting says so), or when
// heartbeats keep failing for longer than their retries. A cancel the
// workflow asked for, a pause or reset of the activity, or the agent
// stopping (its worker shutting down) return nil.
func lostTemporal(ctx context.Context) error {
	cause := context.Cause(ctx)
	var cancelled *temporal.CanceledError
	switch {
	case cause == nil, errors.Is(cause, context.Canceled), errors.As(cause, &cancelled),
		errors.Is(cause, activity.ErrActivityPaused), errors.Is(cause, activity.ErrActivityReset),
		errors.Is(cause, worker.ErrWorkerShutdown):
		return nil
	}
	return cause
}

// partialUploadTimeout bounds the upload of a stopped scanner's output.
const partialUploadTimeout = 30 * time.Second

// keepPartial is RunScan's end when the activity was cancelled: the scanner
// has been killed, and what it wrote so far is uploaded and returned in the
// cancellation's details, so the run keeps the hosts it had finished. A
// scanner that wrote nothing, or an upload that fails, leaves a plain
// cancellation.
func (a *Agent) keepPartial(ctx context.Context, spec scan.Spec, obj shardStore, attempt int, xmlPath string, start time.Time) (RunScanResult, error) {
	if xmlPath == "" {
		return RunScanResult{}, ctx.Err()
	}
	if info, err := os.Stat(xmlPath); err != nil || info.Size() == 0 {
		return RunScanResult{}, ctx.Err()
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), partialUploadTimeout)
	defer cancel()
	key := scan.RawKey(spec.RunID, spec.ShardID, attempt, spec.Scanner)
	ref, err := obj.PutFile(uctx, key, xmlPath, "application/xml")
	if err != nil {
		activity.GetLogger(ctx).Warn("could not keep a stopped scan's output", "shard", spec.ShardID, "error", err)
		return RunScanResult{}, ctx.Err()
	}
	res, err := a.signed(spec, RunScanResult{Raw: ref, Agent: a.Name, Attempt: attempt, Duration: time.Since(start)})
	if err != nil {
		return RunScanResult{}, ctx.Err()
	}
	return RunScanResult{}, temporal.NewCanceledError(res)
}

// Verify is the agent's check of a spec before anything runs: signed by the
// server's key for this dispatch to taskQueue, unexpired, and not a
// dispatch that already ran here (a replay).
func (a *Agent) Verify(spec scan.Spec, taskQueue string, now time.Time) error {
	if a.Verifier == nil {
		return fmt.Errorf("%w: this agent has no server public key (SCANTRON_SERVER_PUBLIC_KEY) to verify specs with", scan.ErrInvalidSpec)
	}
	if err := a.Verifier.VerifyDispatch(spec, taskQueue, now); err != nil {
		return err
	}
	return a.claimDispatch(spec, now)
}

// claimDispatch records that spec's dispatch runs now, and refuses one that
// already ran here: a dispatch is one attempt, so the same spec sent again
// (a replay, of a run perhaps cancelled since) is not run again. The server
// refuses the result of anything but the current dispatch in any case.
func (a *Agent) claimDispatch(spec scan.Spec, now time.Time) error {
	a.ranMu.Lock()
	defer a.ranMu.Unlock()
	if a.ran == nil {
		a.ran = map[string]time.Time{}
	}
	for nonce, expires := range a.ran {
		if !now.Before(expires) {
			delete(a.ran, nonce)
		}
	}
	if _, ok := a.ran[spec.Dispatch.Nonce]; ok {
		return fmt.Errorf("%w: this dispatch of shard %d (attempt %d) has already run on this agent: a replay", scan.ErrInvalidSpec, spec.ShardID, spec.Dispatch.Attempt)
	}
	a.ran[spec.Dispatch.Nonce] = spec.Expires
	return nil
}

// checkRawSockets refuses, before anything runs, a profile that needs raw
// sockets (-sS, -O, any masscan scan) on an agent whose scanner binary
// cannot open them, and says how the binary gets them.
func checkRawSockets(binary string, spec scan.Spec) (driver.RawAccess, error) {
	set, err := scan.ParseOptionArgs(spec.Scanner, spec.Options)
	if err != nil {
		return driver.RawAccess{}, nonRetryable(fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err))
	}
	access := driver.RawSocketAccess(binary)
	if need := set.RawSocketOptions(); len(need) > 0 && !access.OK() {
		err := fmt.Errorf("the profile needs raw sockets (%s) and %s has %s: %s",
			strings.Join(need, " "), binary, access, driver.RawSocketHelp)
		return access, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNoRawSockets, err)
	}
	return access, nil
}

// upload stores the scanner's output, retrying with backoff while the
// heartbeater keeps the attempt alive, up to the attempt's own deadline
// (less UploadMargin): object storage briefly away must not cost a finished
// scan. The key is the attempt's own, so a retried upload overwrites, never
// adds; the presigned URL is valid as long as the attempt.
func (a *Agent) upload(ctx context.Context, hb *heartbeater, obj shardStore, key, path string) (scan.BlobRef, error) {
	margin := a.UploadMargin
	if margin <= 0 {
		margin = DefaultUploadMargin
	}
	deadline := activity.GetInfo(ctx).Deadline.Add(-margin)
	first := time.Now()
	wait := time.Second
	for tries := 1; ; tries++ {
		ref, err := obj.PutFile(ctx, key, path, "application/xml")
		if err == nil || ctx.Err() != nil {
			return ref, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ref, fmt.Errorf("%w (%d tries in %s, up to the attempt's deadline)", err, tries, time.Since(first).Round(time.Second))
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

// DefaultHeartbeatEvery is how often a scanning agent reports progress,
// and the interval of nmap's --stats-every, unless HeartbeatEvery is set
// (shorter). Every agent runs with it (workers.RunAgent), so a scan's plan
// shows the --stats-every agents use.
const DefaultHeartbeatEvery = 2 * time.Second

func (a *Agent) heartbeatEvery() time.Duration {
	if a.HeartbeatEvery > 0 {
		return a.HeartbeatEvery
	}
	return DefaultHeartbeatEvery
}

// heartbeater records the latest progress on a ticker, independent of how
// often the scanner prints, so a quiet scanner still proves the agent lives.
type heartbeater struct {
	mu   sync.Mutex
	last scan.Progress
	done chan struct{}
	wg   sync.WaitGroup
}

func newHeartbeater(ctx context.Context, first scan.Progress, every time.Duration) *heartbeater {
	h := &heartbeater{last: first, done: make(chan struct{})}
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
	p.Agent, p.ShardID, p.ShardAttempt = h.last.Agent, h.last.ShardID, h.last.ShardAttempt
	p.Partial, p.HostsDone = h.last.Partial, h.last.HostsDone
	p.MasscanSeed, p.MasscanIndex = h.last.MasscanSeed, h.last.MasscanIndex
	h.last = p
	h.mu.Unlock()
}

// setResume names the latest saved resume state in every heartbeat from
// now on: it is what a retry resumes from.
func (h *heartbeater) setResume(r driver.Resume) {
	h.mu.Lock()
	ref := r.Ref
	h.last.Partial, h.last.HostsDone = &ref, r.Hosts
	h.last.MasscanSeed, h.last.MasscanIndex = r.Seed, r.Index
	h.mu.Unlock()
}

// failed returns err as a retryable failure that carries the attempt's last
// progress, so that the next attempt, which the workflow dispatches anew,
// resumes from the state this one saved.
func (h *heartbeater) failed(err error) error {
	h.mu.Lock()
	p := h.last
	h.mu.Unlock()
	return temporal.NewApplicationErrorWithCause(err.Error(), ErrTypeAttemptFailed, err, p)
}

// ErrTypeAttemptFailed marks a shard attempt that failed in a way another
// attempt may not; its details are the attempt's last scan.Progress.
const ErrTypeAttemptFailed = "AttemptFailed"

func (h *heartbeater) stop() {
	close(h.done)
	h.wg.Wait()
}
