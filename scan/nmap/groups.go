package nmap

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// A grouped spec (a second stage's: hosts grouped by the ports found open
// on them) is one nmap run per group, one after another in the same
// attempt, each with its own -p and targets; their outputs are merged into
// the shard's one document as they finish. Resuming stays at host level:
// each host is in one group, so the hosts earlier attempts finished are
// skipped in every group (a group they cover entirely is not run), and the
// finished groups' hosts are saved for a retry as soon as a group ends.

// groupCommand is c narrowed to its spec's i-th group: the group's
// targets, the spec's options with the group's ports, its own output.
func groupCommand(c driver.Command, i int) (driver.Command, error) {
	g := c.Spec.Groups[i]
	opts, err := Driver{}.PortOptions(c.Spec.Options, g.Ports)
	if err != nil {
		return driver.Command{}, fmt.Errorf("port group %d: %w", i, err)
	}
	gc := c
	gc.Spec.Options, gc.Spec.Targets, gc.Spec.Groups = opts, g.Targets, nil
	gc.Output = filepath.Join(c.Dir, fmt.Sprintf("group%d.xml", i))
	return gc, nil
}

// groupArgs are the arguments of every group of c, in order.
func groupArgs(c driver.Command, extra ...Option) ([][]string, error) {
	var out [][]string
	for i := range c.Spec.Groups {
		gc, err := groupCommand(c, i)
		if err != nil {
			return nil, err
		}
		argv, err := args(gc, extra...)
		if err != nil {
			return nil, fmt.Errorf("port group %d: %w", i, err)
		}
		out = append(out, argv)
	}
	return out, nil
}

// runGroups runs a grouped spec's groups in turn and returns the merged
// output (on a stop, what was finished and the running group's hosts).
func (Driver) runGroups(ctx context.Context, c driver.Command, h driver.Host) (string, error) {
	done := resume(ctx, c, h)
	var skip []Option
	finished := map[netip.Addr]bool{}
	if done != nil {
		skip = append(skip, WithExcludeFile(done.skip))
		h.Resumed(driver.Resume{Ref: done.ref, Hosts: len(done.addrs)})
		for _, a := range done.addrs {
			if ip, err := netip.ParseAddr(a); err == nil {
				finished[ip] = true
			}
		}
	}
	if _, err := groupArgs(c, skip...); err != nil {
		return "", err
	}
	h.Scanning()
	n := len(c.Spec.Groups)
	acc, saved := done, 0 // the finished hosts: earlier attempts', then this one's groups'
	if done != nil {
		saved = len(done.addrs)
	}
	for i := range c.Spec.Groups {
		if allFinished(c.Spec.Groups[i].Targets, finished) {
			continue
		}
		gc, err := groupCommand(c, i)
		if err != nil {
			return "", err
		}
		argv, err := args(gc, skip...)
		if err != nil {
			return "", err
		}
		stopSaver := func() {}
		if c.PartialEvery >= 0 {
			saver := &partialSaver{h: h, xmlPath: gc.Output, tmp: filepath.Join(c.Dir, "partial.xml"), done: acc, hosts: saved}
			stopSaver = driver.Saver(ctx, h.Logger(), c.PartialEveryOrDefault(), saver.save, "could not save the finished hosts of a running scan", "partial")
		}
		runErr := Run(ctx, RunOptions{
			Binary: c.BinaryOr(scan.Nmap),
			Args:   argv,
			Env:    c.Env,
			Dir:    c.Dir,
			OnProgress: func(p Progress) {
				h.Progress((float64(i)*100+p.Percent)/float64(n), p.Task, p.ETC)
			},
		})
		stopSaver()
		if ctx.Err() != nil {
			return stopped(gc, h, acc), runErr
		}
		if runErr != nil {
			return "", runErr
		}
		next := &resumed{path: filepath.Join(c.Dir, fmt.Sprintf("groups%d.xml", i))}
		if err := withDone(acc, gc.Output, next.path, false); err != nil {
			return "", fmt.Errorf("merge port group %d's output: %w", i, err)
		}
		acc = next
		if c.PartialEvery >= 0 {
			saved = saveFinished(ctx, c, h, acc, saved)
		}
	}
	if acc == nil {
		return "", fmt.Errorf("%w: no port group to run", scan.ErrInvalidSpec)
	}
	return acc.path, nil
}

// saveFinished saves the hosts finished so far (acc) for a retry to skip,
// if they are more than the saved ones, and returns how many are saved.
// Failing to save is logged: the next save, or a rerun, covers it.
func saveFinished(ctx context.Context, c driver.Command, h driver.Host, acc *resumed, saved int) int {
	f, err := os.Open(acc.path)
	if err != nil {
		h.Logger().Warn("could not read the finished port groups", "shard", c.Spec.ShardID, "error", err)
		return saved
	}
	addrs, err := finishedHosts(f, c.Spec)
	f.Close()
	if err != nil || len(addrs) <= saved {
		return saved
	}
	ref, err := h.SaveResume(ctx, acc.path)
	if err != nil {
		h.Logger().Warn("could not save the hosts of the finished port groups", "shard", c.Spec.ShardID, "error", err)
		return saved
	}
	h.Resumed(driver.Resume{Ref: ref, Hosts: len(addrs)})
	return len(addrs)
}

// allFinished says whether every address of targets (a group's: addresses
// and short ranges of found hosts) is among finished.
func allFinished(targets []string, finished map[netip.Addr]bool) bool {
	if len(finished) == 0 {
		return false
	}
	for _, s := range targets {
		t, err := scan.ParseTarget(s)
		if err != nil || t.Kind == scan.KindHost {
			return false
		}
		for a := t.From; ; a = a.Next() {
			if !finished[a] {
				return false
			}
			if a == t.To {
				break
			}
		}
	}
	return true
}
