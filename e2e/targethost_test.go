package e2e

import (
	"testing"

	"github.com/scantron/scantron/internal/targethost"
)

// targetHost is a machine the tests scan (see internal/targethost).
type targetHost = targethost.Host

// newTargetHost makes this test process's first target host.
func newTargetHost(t *testing.T) *targetHost {
	t.Helper()
	return newTargetHostN(t, 0)
}

// newTargetHostN makes the index-th of several target hosts of one test
// process (index < 8).
func newTargetHostN(t *testing.T, index int) *targetHost {
	t.Helper()
	return targethost.New(t, targethost.Options{Name: "e2e", Net: 18, Index: index})
}
