package web

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/scantron/scantron/scan"
)

// RunEvents is the feed of runs' changes and their current state;
// *postgres.Store provides it over LISTEN/NOTIFY.
type RunEvents interface {
	ListenRunEvents(ctx context.Context, ready func(backendPID uint32), fn func(scan.RunEvent)) error
	RunState(ctx context.Context, runID int64) (scan.RunEvent, error)
	RecentRunStates(ctx context.Context, limit int) ([]scan.RunEvent, error)
}

// subscriberBuffer is how many events a stream may fall behind before it is
// dropped (and its client reconnects and reads the state afresh).
const subscriberBuffer = 256

// eventHub shares one listener among the server's event streams. The
// listener runs while at least one stream is subscribed: the last one to go
// stops it, which closes its database connection.
type eventHub struct {
	src RunEvents
	log *slog.Logger

	mu   sync.Mutex
	subs map[*subscription]struct{}
	// cur is the running listener, nil when none.
	cur *listener
}

// listener is one run of src.ListenRunEvents.
type listener struct {
	cancel context.CancelFunc
	// ready is closed once the listener listens, or has failed (err set).
	ready chan struct{}
	err   error
	pid   uint32
	// done is closed when the listener has returned and its connection is
	// closed.
	done chan struct{}
}

// subscription is one stream's share of the events: those of one run, or
// of all runs when runID is 0. ch is closed when the stream must end: the
// listener was lost, or the stream fell too far behind.
type subscription struct {
	runID int64
	ch    chan scan.RunEvent
	hub   *eventHub
	l     *listener
	once  sync.Once
}

func newEventHub(src RunEvents, log *slog.Logger) *eventHub {
	return &eventHub{src: src, log: log, subs: map[*subscription]struct{}{}}
}

// errNoEvents is returned when live updates are not available.
var errNoEvents = errors.New("live updates are not available")

// subscribe adds a subscription and returns once the listener listens, so
// that the caller may read the current state knowing that every change
// after it will arrive.
func (h *eventHub) subscribe(ctx context.Context, runID int64) (*subscription, error) {
	if h == nil || h.src == nil {
		return nil, errNoEvents
	}
	sub := &subscription{runID: runID, ch: make(chan scan.RunEvent, subscriberBuffer), hub: h}
	h.mu.Lock()
	if h.cur == nil {
		h.cur = h.start()
	}
	l := h.cur
	sub.l = l
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	select {
	case <-l.ready:
	case <-ctx.Done():
		sub.close()
		return nil, ctx.Err()
	}
	if l.err != nil {
		sub.close()
		return nil, l.err
	}
	return sub, nil
}

// start runs a listener; h.mu is held.
func (h *eventHub) start() *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{cancel: cancel, ready: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		readied := false
		err := h.src.ListenRunEvents(ctx, func(pid uint32) {
			l.pid = pid
			readied = true
			close(l.ready)
		}, func(ev scan.RunEvent) { h.deliver(l, ev) })
		if err == nil && ctx.Err() == nil {
			err = errors.New("the run event listener stopped")
		}
		if err != nil {
			h.log.Warn("run event listener lost; open streams end and their clients reconnect", "err", err)
		}
		if !readied {
			l.err = errNoEvents
			if err != nil {
				l.err = errors.Join(errNoEvents, err)
			}
			close(l.ready)
		}
		// Whoever listened through this listener has missed what follows:
		// end their streams.
		h.mu.Lock()
		if h.cur == l {
			h.cur = nil
		}
		var lost []*subscription
		for s := range h.subs {
			if s.l == l {
				lost = append(lost, s)
			}
		}
		h.mu.Unlock()
		if ctx.Err() == nil {
			for _, s := range lost {
				s.close()
			}
		}
	}()
	return l
}

// deliver hands ev to every subscription that wants it, dropping those
// that have fallen behind rather than waiting for them.
func (h *eventHub) deliver(l *listener, ev scan.RunEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur != l {
		return
	}
	for s := range h.subs {
		if s.l != l || (s.runID != 0 && s.runID != ev.RunID) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			delete(h.subs, s)
			s.once.Do(func() { close(s.ch) })
		}
	}
}

// close ends a subscription; the last one stops the listener.
func (s *subscription) close() {
	h := s.hub
	h.mu.Lock()
	delete(h.subs, s)
	s.once.Do(func() { close(s.ch) })
	var stop *listener
	if len(h.subs) == 0 && h.cur != nil {
		stop, h.cur = h.cur, nil
	}
	h.mu.Unlock()
	if stop != nil {
		stop.cancel()
	}
}
