package workers

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"
)

// slotInfo is what the SDK passes about a permit; only Permit is read.
type slotInfo struct {
	worker.SlotReleaseInfo // nil: the other methods are not called
	permit                 *worker.SlotPermit
}

func (i slotInfo) Permit() *worker.SlotPermit { return i.permit }

// Slots are counted when a task arrives: idle polls on several queues do
// not use the capacity up, running scans do, and a freed slot lets a
// waiting poll go on.
func TestSharedSlotsCountRunningTasks(t *testing.T) {
	s := newSharedSlots(2)
	ctx := context.Background()
	reserve := func() *worker.SlotPermit {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		p, err := s.ReserveSlot(cctx, nil)
		if err != nil {
			return nil
		}
		return p
	}
	own, pool := reserve(), reserve()
	if own == nil || pool == nil || reserve() == nil {
		t.Fatal("idle polls were refused a slot")
	}
	s.MarkSlotUsed(slotInfo{permit: own})
	s.MarkSlotUsed(slotInfo{permit: pool})
	if reserve() != nil || s.TryReserveSlot(nil) != nil {
		t.Fatal("a third poll got a slot while two scans run at capacity 2")
	}
	got := make(chan *worker.SlotPermit)
	go func() {
		p, _ := s.ReserveSlot(ctx, nil)
		got <- p
	}()
	unused := &worker.SlotPermit{}
	s.ReleaseSlot(slotInfo{permit: unused}) // an empty poll ending frees nothing
	select {
	case <-got:
		t.Fatal("a slot was handed out before a scan ended")
	case <-time.After(50 * time.Millisecond):
	}
	s.ReleaseSlot(slotInfo{permit: own})
	select {
	case p := <-got:
		if p == nil {
			t.Fatal("nil permit")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting poll did not get the freed slot")
	}
}
