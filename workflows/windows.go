package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
)

// versionWindows marks runs that keep to their scan's windows: they wait
// for them to open, and pause when they close. Older histories have no
// windows to keep to.
const versionWindows = "scan-windows"

// windowGate follows a run's scan windows: whether they are open now, and
// a timer for when that changes.
type windowGate struct {
	windows scan.Windows
	zone    string
	state   windowState
	timer   workflow.Future
	cancel  workflow.CancelFunc
}

// windowState is scan.WindowState as recorded in the workflow's history.
type windowState struct {
	Open  bool      `json:"open"`
	Until time.Time `json:"until"`
	Err   string    `json:"err,omitempty"`
}

// newWindowGate returns the gate of a run whose scan has windows, or nil
// for one without, one started with ScanInput.IgnoreWindows, and one
// recorded before windows existed.
func newWindowGate(ctx workflow.Context, in ScanInput, start activities.StartRunResult) (*windowGate, error) {
	if len(start.Windows) == 0 || in.IgnoreWindows {
		return nil, nil
	}
	if workflow.GetVersion(ctx, versionWindows, workflow.DefaultVersion, 1) < 1 {
		return nil, nil
	}
	g := &windowGate{windows: start.Windows, zone: start.TimeZone}
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// check reads the windows' state as of workflow.Now and sets a timer for
// when it next changes. The state is computed in a side effect: it depends
// on the time zone database, which a replay on a worker with other tzdata
// must not read differently.
func (g *windowGate) check(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	var st windowState
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		loc, err := time.LoadLocation(g.zone)
		if err != nil {
			return windowState{Err: fmt.Sprintf("time zone %q of the scan's windows: %v", g.zone, err)}
		}
		s := g.windows.At(now, loc)
		return windowState{Open: s.Open, Until: s.Until}
	}).Get(&st)
	if err != nil {
		return err
	}
	if st.Err != "" {
		return temporal.NewNonRetryableApplicationError(st.Err, activities.ErrTypeInvalidSpec, nil)
	}
	g.state = st
	tctx, cancel := workflow.WithCancel(ctx)
	g.timer, g.cancel = workflow.NewTimer(tctx, max(st.Until.Sub(now), time.Second)), cancel
	return nil
}

// stop cancels the pending timer.
func (g *windowGate) stop() {
	if g != nil && g.cancel != nil {
		g.cancel()
		g.cancel = nil
	}
}

// closed reports whether the windows are closed.
func (g *windowGate) closed() bool { return g != nil && !g.state.Open }

// watch adds the pending timer to the selectors: when it fires, *signal
// is signalWindow. Each selector holds every timer: one the other has
// already handled, or one cancelled with the run, is signalStale.
func (g *windowGate) watch(ctx workflow.Context, signal *string, sels ...workflow.Selector) {
	if g == nil {
		return
	}
	timer := g.timer
	for _, sl := range sels {
		sl.AddFuture(timer, func(f workflow.Future) {
			if f == g.timer && f.Get(ctx, nil) == nil {
				*signal = signalWindow
			} else {
				*signal = signalStale
			}
		})
	}
}

// advance reads the windows again when their timer fired, watches the
// next timer, and says whether they opened or closed.
func (g *windowGate) advance(ctx workflow.Context, signal *string, sels ...workflow.Selector) (changed bool, err error) {
	was := g.closed()
	if err := g.check(ctx); err != nil {
		return false, err
	}
	g.watch(ctx, signal, sels...)
	if g.closed() == was {
		return false, nil
	}
	workflow.GetLogger(ctx).Info("scan windows changed", "open", !g.closed(), "until", g.state.Until)
	return true, nil
}
