package nmap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/report"
)

// A retried shard resumes at host level: while nmap runs, the agent saves
// the hosts it has finished to object storage and names them in its
// heartbeats; the retry, on whichever agent, reads the failed attempt's last
// heartbeat, fetches those hosts, tells nmap to skip them (--excludefile:
// the spec is only narrowed, never widened) and puts them in front of its
// own output, so the shard's output holds every host once. nmap's own
// --resume file stays on the agent that died, so it is of no use to
// another.

// resumed is what earlier attempts of a shard finished.
type resumed struct {
	ref   scan.BlobRef // the saved output it came from
	path  string       // that output, downloaded
	addrs []string     // the finished hosts' addresses
	skip  string       // a file listing addrs, for nmap --excludefile
}

// resume downloads into c.Dir the hosts earlier attempts finished, if the
// previous attempt's progress names saved ones that are usable. Anything
// unusable is logged and the shard is scanned from its start: resuming is
// never a reason to fail.
func resume(ctx context.Context, c driver.Command, h driver.Host) *resumed {
	if c.PartialEvery < 0 || c.Prev == nil || c.Prev.Partial == nil {
		return nil
	}
	log := h.Logger()
	r, err := loadPartial(ctx, c.Spec, h, *c.Prev.Partial, c.Dir)
	if err != nil {
		log.Warn("cannot resume from the earlier attempt's finished hosts; scanning the whole shard", "shard", c.Spec.ShardID, "key", c.Prev.Partial.Key, "error", err)
		return nil
	}
	log.Info("resuming shard: skipping the hosts earlier attempts finished", "shard", c.Spec.ShardID, "hosts_done", len(r.addrs), "key", r.ref.Key)
	return r
}

func loadPartial(ctx context.Context, spec scan.Spec, h driver.Host, ref scan.BlobRef, dir string) (*resumed, error) {
	if err := driver.ShardKey(spec, ref); err != nil {
		return nil, err
	}
	body, err := h.LoadResume(ctx, ref)
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
		if !driver.InTargets(targets, ip, h.Hostnames) {
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
// shard has finished so far (earlier attempts' and this one's) and names
// them in the heartbeat.
type partialSaver struct {
	h       driver.Host
	xmlPath string
	tmp     string
	done    *resumed
	size    int64 // of the scanner output last looked at
	hosts   int   // finished hosts last saved
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
	ref, err := s.h.SaveResume(ctx, s.tmp)
	if err != nil {
		return err // tried again at the next tick
	}
	s.size, s.hosts = size, hosts
	s.h.Resumed(driver.Resume{Ref: ref, Hosts: hosts})
	return nil
}
