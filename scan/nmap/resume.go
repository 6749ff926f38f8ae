package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// A retried shard resumes at host level: while nmap runs, the agent saves
// the hosts it has finished to object storage and names them in its
// heartbeats; the retry, on whichever agent, reads the failed attempt's last
// heartbeat, fetches those hosts, tells nmap to skip them (--excludefile:
// the spec is only narrowed, never widened) and puts them in front of its
// own output, so the shard's output holds every host once. nmap's and
// masscan's own --resume files stay on the agent that died, so they are of
// no use to another. masscan cannot be resumed so: its output names an
// address as soon as one port answers, long before its other ports are
// probed, so no host in it is known to be finished; it resumes by probe
// index instead (masscanresume.go).

// DefaultPartialEvery is how often a running nmap scan's finished hosts are
// saved for a retry to resume from.
const DefaultPartialEvery = 30 * time.Second

// shardStore is the object storage one attempt of a shard may use: its own
// objects, and the resume state of the attempt before it.
type shardStore interface {
	PutFile(ctx context.Context, key, path, contentType string) (scan.BlobRef, error)
	// Get reads an object back, checking its size and SHA-256.
	Get(ctx context.Context, ref scan.BlobRef) (io.ReadCloser, error)
}

// resumed is what earlier attempts of a shard finished.
type resumed struct {
	ref   scan.BlobRef // the saved output it came from
	path  string       // that output, downloaded
	addrs []string     // the finished hosts' addresses
	skip  string       // a file listing addrs, for nmap --excludefile
}

func (a *Agent) partialEvery() time.Duration {
	if a.PartialEvery > 0 {
		return a.PartialEvery
	}
	return DefaultPartialEvery
}

// resume downloads into dir the hosts earlier attempts finished, if the
// previous attempt's progress names saved ones that are usable. Anything
// unusable is logged and the shard is scanned from its start: resuming is
// never a reason to fail.
func (a *Agent) resume(ctx context.Context, spec scan.Spec, dir string, obj shardStore, prev *scan.Progress) *resumed {
	if spec.Scanner != scan.Nmap || a.PartialEvery < 0 || prev == nil || prev.Partial == nil {
		return nil
	}
	log := activity.GetLogger(ctx)
	r, err := a.loadPartial(ctx, spec, obj, *prev.Partial, dir)
	if err != nil {
		log.Warn("cannot resume from the earlier attempt's finished hosts; scanning the whole shard", "shard", spec.ShardID, "key", prev.Partial.Key, "error", err)
		return nil
	}
	log.Info("resuming shard: skipping the hosts earlier attempts finished", "shard", spec.ShardID, "hosts_done", len(r.addrs), "key", r.ref.Key)
	return r
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

func (a *Agent) loadPartial(ctx context.Context, spec scan.Spec, obj shardStore, ref scan.BlobRef, dir string) (*resumed, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(ref.Key, scan.RunPrefix(spec.RunID)+fmt.Sprintf("%d/", spec.ShardID)) {
		return nil, fmt.Errorf("%s is not this shard's output", ref.Key)
	}
	body, err := obj.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	r := &resumed{ref: ref, path: filepath.Join(dir, "done.xml"), skip: filepath.Join(dir, "done.txt")}
	if err := copyToFile(r.path, body); err != nil {
		return nil, err
	}
	f, err := os.Open(r.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if r.addrs, err = finishedHosts(f, spec); err != nil {
		return nil, err
	}
	if err := os.WriteFile(r.skip, []byte(strings.Join(r.addrs, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	return r, nil
}

// copyToFile writes r to a new file at path; a read error (a checksum that
// does not match, say) is returned.
func copyToFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// finishedHosts returns the addresses of the complete hosts of a saved
// nmap output, which may be cut off. Each must be a target of spec, and
// appear once: a saved output that is not this shard's is not used.
func finishedHosts(r io.Reader, spec scan.Spec) ([]string, error) {
	targets, err := scan.ParseTargets(spec.Targets)
	if err != nil {
		return nil, err
	}
	var addrs []string
	seen := map[netip.Addr]bool{}
	_, err = report.Parse(r, func(h report.Host) error {
		ip, err := netip.ParseAddr(h.IP())
		if err != nil {
			return fmt.Errorf("a host has no IP address (%q)", h.IP())
		}
		if seen[ip] {
			return fmt.Errorf("host %s appears twice", ip)
		}
		if !inTargets(targets, ip, h.Hostnames) {
			return fmt.Errorf("host %s is not a target of the shard", ip)
		}
		seen[ip] = true
		addrs = append(addrs, ip.String())
		return nil
	})
	if err != nil && !errors.Is(err, report.ErrTruncated) {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("no finished host")
	}
	return addrs, nil
}

// inTargets says whether a host nmap reported is one of the targets: its
// address is in a range, or one of its names is a target host name.
func inTargets(targets []scan.Target, ip netip.Addr, names []report.Hostname) bool {
	for _, t := range targets {
		if t.Kind == scan.KindHost {
			for _, n := range names {
				if strings.EqualFold(n.Name, t.Host) {
					return true
				}
			}
			continue
		}
		if t.From.Is4() == ip.Is4() && !ip.Less(t.From) && !t.To.Less(ip) {
			return true
		}
	}
	return false
}

// withDone writes to out one nmap document: the hosts earlier attempts
// finished (if any), then those of this attempt's output at xmlPath. The
// output of a scanner still running is cut off, and its complete hosts are
// taken as they are; otherwise a cut-off output (a stopped scanner's) makes
// the document's exit "error", as it should.
func withDone(r *resumed, xmlPath, out string, running bool) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	m := report.NewMerger(f)
	add := func(path string, done bool) error {
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		if done {
			return m.AddDone(in)
		}
		return m.Add(in)
	}
	if r != nil {
		if err := add(r.path, true); err != nil {
			return fmt.Errorf("earlier attempts' hosts: %w", err)
		}
	}
	if err := add(xmlPath, running); err != nil {
		return err
	}
	if err := m.Close(); err != nil {
		return err
	}
	return f.Close()
}

// partialSaver saves, every PartialEvery while nmap runs, the hosts the
// shard has finished so far (earlier attempts' and this one's) and puts
// their reference in the heartbeat.
type partialSaver struct {
	a       *Agent
	obj     shardStore
	key     string
	xmlPath string
	tmp     string
	done    *resumed
	hb      *heartbeater
	size    int64 // of the scanner output last looked at
	hosts   int   // finished hosts last saved
}

func (s *partialSaver) loop(ctx context.Context, stop <-chan struct{}) {
	saveEvery(ctx, stop, s.a.partialEvery(), s.save, "could not save the finished hosts of a running scan", s.key)
}

// save uploads the finished hosts if the scanner has written more since the
// last look and they are more than were saved.
func (s *partialSaver) save(ctx context.Context) error {
	info, err := os.Stat(s.xmlPath)
	if err != nil || info.Size() <= s.size {
		return nil
	}
	size := info.Size()
	if err := withDone(s.done, s.xmlPath, s.tmp, true); err != nil {
		return err
	}
	f, err := os.Open(s.tmp)
	if err != nil {
		return err
	}
	hosts := 0
	_, err = report.Parse(f, func(report.Host) error { hosts++; return nil })
	f.Close()
	if err != nil {
		return err
	}
	if hosts <= s.hosts {
		s.size = size
		return nil
	}
	ref, err := s.obj.PutFile(ctx, s.key, s.tmp, "application/xml")
	if err != nil {
		return err // tried again at the next tick
	}
	s.size, s.hosts = size, hosts
	s.hb.setPartial(ref, hosts)
	return nil
}

// saveEvery calls save on a ticker until stop is closed or ctx is done; a
// failed save is logged and tried again at the next tick.
func saveEvery(ctx context.Context, stop <-chan struct{}, every time.Duration, save func(context.Context) error, failure, key string) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if err := save(ctx); err != nil && ctx.Err() == nil {
				activity.GetLogger(ctx).Warn(failure, "key", key, "error", err)
			}
		}
	}
}
