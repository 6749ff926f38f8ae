package e2e

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// loopbackPort opens a TCP listener on 127.0.0.1 that accepts and closes
// every connection (an open port for a connect scan) and returns its port.
func loopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitScheduledRun waits until the scan's one scheduled run has ended and
// returns it.
func (a api) waitScheduledRun(scanID int64, deadline time.Time) scan.Run {
	a.t.Helper()
	var view struct {
		RecentRuns []scan.Run `json:"recent_runs"`
	}
	for {
		a.do("GET", fmt.Sprintf("/scans/%d", scanID), nil, http.StatusOK, &view)
		if len(view.RecentRuns) == 1 && view.RecentRuns[0].Status.Final() {
			return view.RecentRuns[0]
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("no finished scheduled run: %+v", view.RecentRuns)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
