package workers

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan/scanners"
)

// Every registered scanner is checked the same way: its version line when
// installed, an error naming its setting when not.
func TestPreflightScanners(t *testing.T) {
	ctx := context.Background()
	for _, d := range scanners.All() {
		name := string(d.Scanner())
		t.Run(name, func(t *testing.T) {
			if _, err := exec.LookPath(name); err == nil {
				v, err := Preflight(ctx, d, "")
				if err != nil || !strings.Contains(strings.ToLower(v), name[1:]) {
					t.Errorf("Preflight = %q, %v", v, err)
				}
			}
			_, err := Preflight(ctx, d, "/nonexistent/"+name)
			if !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), "SCANTRON_"+strings.ToUpper(name)+"_PATH") {
				t.Errorf("missing %s: %v", name, err)
			}
		})
	}
}
