package workers

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestPreflightScanners(t *testing.T) {
	ctx := context.Background()
	if _, err := exec.LookPath("masscan"); err == nil {
		v, err := PreflightMasscan(ctx, "masscan")
		if err != nil || !strings.Contains(v, "asscan") {
			t.Errorf("PreflightMasscan = %q, %v", v, err)
		}
	}
	_, err := PreflightMasscan(ctx, "/nonexistent/masscan")
	if !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), "SCANTRON_MASSCAN_PATH") {
		t.Errorf("missing masscan: %v", err)
	}
	if os.Geteuid() == 0 && !RawSockets() {
		t.Error("root without CAP_NET_RAW? RawSockets says false")
	}
}

func TestFileRawSockets(t *testing.T) {
	dir := t.TempDir()
	plain := dir + "/plain"
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if FileRawSockets(plain) {
		t.Error("a file without capabilities reported CAP_NET_RAW")
	}
	capped := dir + "/capped"
	if err := os.WriteFile(capped, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("setcap", "cap_net_raw+ep", capped).CombinedOutput(); err != nil {
		t.Skipf("setcap unavailable here: %v %s", err, out)
	}
	if !FileRawSockets(capped) {
		t.Error("setcap cap_net_raw+ep not seen")
	}
}
