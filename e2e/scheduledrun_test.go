package e2e

import (
	"fmt"
	"net/http"
	"time"

	"github.com/scantron/scantron/scan"
)

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
