package chaos

import (
	"testing"

	"github.com/scantron/scantron/internal/targethost"
)

// targetHost is the machine the suite scans (see internal/targethost). Its
// addresses are in 198.19.x, so the e2e package (198.18.x) can run
// alongside.
type targetHost = targethost.Host

func newTargetHost(t *testing.T) *targetHost {
	t.Helper()
	return targethost.New(t, targethost.Options{Name: "chaos", Net: 19})
}
