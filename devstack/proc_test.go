package devstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAddrInUseReadsTheWholeRun: a child that logs its failed bind and
// then a long panic (the Temporal dev server does) is still recognised as
// a port clash, so that it is started again on other ports; what an
// earlier run of the same log file wrote does not count.
func TestAddrInUseReadsTheWholeRun(t *testing.T) {
	log := filepath.Join(t.TempDir(), "temporal.log")
	earlier := "level=ERROR msg=\"Failed to start gRPC listener\" error=\"listen tcp 127.0.0.1:1: bind: address already in use\"\n"
	if err := os.WriteFile(log, []byte(earlier), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &proc{spec: procSpec{name: "temporal", logPath: log}, logOffset: int64(len(earlier))}
	if p.addrInUse() {
		t.Fatal("an earlier run's failed bind counted for this one")
	}
	run := earlier + "panic: runtime error: invalid memory address or nil pointer dereference\n" +
		strings.Repeat("go.temporal.io/server/service/frontend.NewHTTPAPIServer(...)\n\t/some/path.go:83 +0x89\n", 200)
	if err := os.WriteFile(log, []byte(earlier+run), 0o644); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.logTail(), "address already in use") {
		t.Fatal("the test's log is too short: the tail already holds the failed bind")
	}
	if !p.addrInUse() {
		t.Error("a failed bind followed by a long panic was not taken for a port clash")
	}
}
