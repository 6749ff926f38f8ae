//go:build linux

package nmap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// memHost is a driver.Host keeping saved resume states in memory.
type memHost struct {
	t       *testing.T
	mu      sync.Mutex
	saved   map[string][]byte
	resumed []driver.Resume
	percent []float64
}

func (h *memHost) Scanning() {}
func (h *memHost) Progress(p float64, _ string, _ time.Time) {
	h.mu.Lock()
	h.percent = append(h.percent, p)
	h.mu.Unlock()
}
func (h *memHost) Resumed(r driver.Resume) {
	h.mu.Lock()
	h.resumed = append(h.resumed, r)
	h.mu.Unlock()
}
func (h *memHost) SaveResume(_ context.Context, path string) (scan.BlobRef, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return scan.BlobRef{}, err
	}
	sum := sha256.Sum256(b)
	h.mu.Lock()
	defer h.mu.Unlock()
	key := scan.PartialKey(1, 1, len(h.saved)+1)
	h.saved[key] = b
	return scan.BlobRef{Bucket: "b", Key: key, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}, nil
}
func (h *memHost) LoadResume(_ context.Context, ref scan.BlobRef) (io.ReadCloser, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.saved[ref.Key]
	if !ok {
		return nil, fmt.Errorf("no %s", ref.Key)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}
func (h *memHost) Logger() driver.Logger { return testLogger{h.t} }

type testLogger struct{ t *testing.T }

func (l testLogger) Info(msg string, kv ...any) { l.t.Log(append([]any{msg}, kv...)...) }
func (l testLogger) Warn(msg string, kv ...any) { l.t.Log(append([]any{"WARN", msg}, kv...)...) }

// Each port group has its own -p and targets; the spec's options stay
// free of ports, and options that choose them are refused.
func TestGroupArgs(t *testing.T) {
	spec := scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Nmap, Options: []string{"-n", "-sV"},
		Targets: []string{"198.18.0.1", "198.18.0.2-198.18.0.3", "198.18.0.9"},
		Groups: []scan.PortGroup{{Ports: []uint16{22, 80}, Targets: []string{"198.18.0.1", "198.18.0.2-198.18.0.3"}},
			{Ports: []uint16{2121}, Targets: []string{"198.18.0.9"}}}}
	c := driver.Command{Spec: spec, Dir: "/w", Output: "/w/out.xml", PartialEvery: -1}
	all, err := groupArgs(c)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"-oX", "/w/group0.xml", "-n", "-sV", "-p", "T:22,80", "--", "198.18.0.1", "198.18.0.2/31"},
		{"-oX", "/w/group1.xml", "-n", "-sV", "-p", "T:2121", "--", "198.18.0.9"},
	}
	if len(all) != len(want) {
		t.Fatalf("groups' argv %q", all)
	}
	for i := range want {
		if !slices.Equal(all[i], want[i]) {
			t.Errorf("group %d argv %q, want %q", i, all[i], want[i])
		}
	}
	if first, err := (Driver{}).Args(c); err != nil || !slices.Equal(first, want[0]) {
		t.Errorf("Args = %q, %v; want the first group's", first, err)
	}
	bad := c
	bad.Spec.Options = []string{"-n", "--top-ports", "10"}
	if _, err := (Driver{}).Args(bad); err == nil || !strings.Contains(err.Error(), "--top-ports") {
		t.Errorf("options choosing ports: %v", err)
	}
}

// A grouped spec runs nmap once per group, each host on its group's ports
// alone, into one document; a retry skips a group whose hosts an earlier
// attempt finished and still returns every host.
func TestRunGroupsRealNmap(t *testing.T) {
	needNmap(t)
	openA, _ := loopbackPorts(t, "127.0.0.1", 0)
	openB, _ := loopbackPorts(t, "127.0.0.2", 0)
	spec := scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Nmap, Options: []string{"-n", "-Pn", "-sT"},
		Targets: []string{"127.0.0.1", "127.0.0.2"},
		Groups: []scan.PortGroup{{Ports: []uint16{uint16(openA)}, Targets: []string{"127.0.0.1"}},
			{Ports: []uint16{uint16(openB)}, Targets: []string{"127.0.0.2"}}}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{"127.0.0.1": {openA}, "127.0.0.2": {openB}}
	check := func(path string) {
		t.Helper()
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, hosts := hostsOf(t, doc)
		got := map[string][]int{}
		for _, h := range hosts {
			for _, p := range h.Ports {
				got[h.IP()] = append(got[h.IP()], p.Number)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ports scanned %v, want %v", got, want)
		}
	}
	h := &memHost{t: t, saved: map[string][]byte{}}
	dir := t.TempDir()
	c := driver.Command{Spec: spec, Dir: dir, Output: filepath.Join(dir, "out.xml"), PartialEvery: time.Hour}
	out, err := (Driver{}).Run(context.Background(), c, h)
	if err != nil {
		t.Fatal(err)
	}
	check(out)
	// Each finished group's hosts were saved for a retry.
	if len(h.resumed) != 2 || h.resumed[0].Hosts != 1 || h.resumed[1].Hosts != 2 {
		t.Fatalf("resume states %+v, want one host then two", h.resumed)
	}
	// A retry from the first group's save runs the second group alone.
	dir2 := t.TempDir()
	ref := h.resumed[0].Ref
	c2 := driver.Command{Spec: spec, Dir: dir2, Output: filepath.Join(dir2, "out.xml"), PartialEvery: time.Hour,
		Prev: &scan.Progress{Partial: &ref}}
	out, err = (Driver{}).Run(context.Background(), c2, h)
	if err != nil {
		t.Fatal(err)
	}
	check(out)
	if _, err := os.Stat(filepath.Join(dir2, "group0.xml")); !os.IsNotExist(err) {
		t.Errorf("the finished group ran again: %v", err)
	}
}
