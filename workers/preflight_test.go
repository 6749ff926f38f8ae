package workers

import (
	"context"
	"errors"
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
}
