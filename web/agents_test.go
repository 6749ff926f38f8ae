package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestAgentPresence: an agent whose worker polled a moment ago is online;
// one whose last poll is stale, or that never polled, is offline. The last
// poll seen is kept as last_seen_at.
func TestAgentPresence(t *testing.T) {
	e := newEnv(t)
	names := []string{uniq("live"), uniq("stale"), uniq("never")}
	ids := map[string]int64{}
	for _, n := range names {
		var a agentView
		e.mustDo(t, "POST", "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, n), http.StatusCreated, &a)
		ids[n] = a.ID
	}
	// Whole seconds: PostgreSQL keeps microseconds, the test clock has nanoseconds.
	fresh := e.now.Add(-10 * time.Second).Truncate(time.Second)
	stale := e.now.Add(-10 * time.Minute).Truncate(time.Second)
	e.temporal.pollers = map[string][]*taskqueuepb.PollerInfo{
		"agent." + names[0]: {{Identity: "scantron-agent-" + names[0] + "@host", LastAccessTime: timestamppb.New(fresh)}},
		"agent." + names[1]: {{Identity: "old@host", LastAccessTime: timestamppb.New(stale)}},
	}
	want := map[string]struct {
		online   bool
		lastSeen *time.Time
	}{
		names[0]: {true, &fresh},
		names[1]: {false, &stale},
		names[2]: {false, nil},
	}
	for _, n := range names {
		var got agentView
		e.mustDo(t, "GET", fmt.Sprintf("/api/v1/agents/%d", ids[n]), "", http.StatusOK, &got)
		w := want[n]
		if got.Online != w.online {
			t.Errorf("%s: online = %v, want %v", n, got.Online, w.online)
		}
		if (got.LastSeenAt == nil) != (w.lastSeen == nil) || (w.lastSeen != nil && !got.LastSeenAt.Equal(*w.lastSeen)) {
			t.Errorf("%s: last_seen_at = %v, want %v", n, got.LastSeenAt, w.lastSeen)
		}
		if w.online && (len(got.Pollers) != 1 || !strings.HasPrefix(got.Pollers[0], "scantron-agent-")) {
			t.Errorf("%s: pollers = %v", n, got.Pollers)
		}
	}
	// The dashboard says the same.
	page := e.do(t, "GET", "/", "").Body.String()
	if !strings.Contains(page, "agent-online") || !strings.Contains(page, "agent-offline") {
		t.Errorf("dashboard does not show agents' presence")
	}
	// Temporal forgets pollers after a while; the stored last-seen remains.
	e.temporal.pollers = nil
	var got agentView
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/agents/%d", ids[names[0]]), "", http.StatusOK, &got)
	if got.Online || got.LastSeenAt == nil || !got.LastSeenAt.Equal(fresh) {
		t.Errorf("after the poller is forgotten: %+v", got)
	}
}
