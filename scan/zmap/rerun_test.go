package zmap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// abortingZmap stands in for zmap: it aborts as zmap 2.1.1's target
// generator does, as many times as the count file says, then writes one
// answer to the --output-file it was given.
const abortingZmap = `#!/bin/sh
count="$(dirname "$0")/aborts"
left=$(cat "$count")
for a in "$@"; do case "$a" in --output-file=*) out="${a#--output-file=}";; esac; done
if [ "$left" -gt 0 ]; then
	echo $((left - 1)) > "$count"
	echo "zmap: lib/constraint.c:231: constraint_lookup_index: Assertion \` + "`" + `index < con->root->count' failed." >&2
	kill -ABRT $$
fi
printf 'saddr,sport,classification,success,repeat,timestamp-ts\n198.18.0.2,22,synack,1,0,1800000000\n' > "$out"
`

type testHost struct {
	mu    sync.Mutex
	warns []string
}

func (h *testHost) Scanning()                           {}
func (h *testHost) Progress(float64, string, time.Time) {}
func (h *testHost) Resumed(driver.Resume)               {}
func (h *testHost) SaveResume(context.Context, string) (scan.BlobRef, error) {
	return scan.BlobRef{}, errors.New("no resume state for zmap")
}
func (h *testHost) LoadResume(context.Context, scan.BlobRef) (io.ReadCloser, error) {
	return nil, errors.New("no resume state for zmap")
}
func (h *testHost) Logger() driver.Logger { return h }
func (h *testHost) Info(string, ...any)   {}
func (h *testHost) Warn(msg string, _ ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.warns = append(h.warns, msg)
}

// TestRunAgainAfterGeneratorAbort: zmap's sporadic abort in its target
// generator starts zmap again, up to generatorTries times in all; any
// other failure, or that abort every time, is the attempt's failure.
func TestRunAgainAfterGeneratorAbort(t *testing.T) {
	for _, tt := range []struct {
		aborts int
		ok     bool
	}{{0, true}, {1, true}, {generatorTries - 1, true}, {generatorTries, false}} {
		bin := filepath.Join(t.TempDir(), "zmap")
		if err := os.WriteFile(bin, []byte(abortingZmap), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(filepath.Dir(bin), "aborts"), []byte(strconv.Itoa(tt.aborts)), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		spec := scan.Spec{RunID: 1, ShardID: 2, Scanner: scan.Zmap, Options: []string{"-p22"}, Targets: []string{"198.18.0.2"}}
		h := &testHost{}
		out, err := Driver{}.Run(context.Background(), driver.Command{Spec: spec, Binary: bin, Dir: dir, Output: filepath.Join(dir, "out.xml")}, h)
		if tt.ok {
			if err != nil {
				t.Fatalf("%d aborts: %v", tt.aborts, err)
			}
			b, err := os.ReadFile(out)
			if err != nil || !strings.Contains(string(b), `addr="198.18.0.2"`) || !strings.Contains(string(b), `portid="22"`) {
				t.Errorf("%d aborts: output %v %s", tt.aborts, err, b)
			}
			if len(h.warns) != tt.aborts {
				t.Errorf("%d aborts: %d warnings logged, want one per abort", tt.aborts, len(h.warns))
			}
			continue
		}
		if !errors.Is(err, driver.ErrScannerFailed) || !generatorBug(err) {
			t.Errorf("%d aborts: %v, want the last abort as the failure", tt.aborts, err)
		}
	}
	if generatorBug(fmt.Errorf("%w: exit status 1: zmap: could not open interface", driver.ErrScannerFailed)) {
		t.Error("an unrelated failure was taken for the generator's abort")
	}
}
