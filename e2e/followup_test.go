package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// webhookReceiver is a local endpoint for a scan's webhook that keeps the
// deliveries whose signature verifies.
type webhookReceiver struct {
	URL    string
	secret string
	mu     sync.Mutex
	got    []map[string]any
	bad    []string
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	w := &webhookReceiver{secret: "e2e-webhook-secret-0123"}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(w.secret))
		mac.Write([]byte(r.Header.Get("X-Scantron-Timestamp") + "."))
		mac.Write(body)
		ts, _ := strconv.ParseInt(r.Header.Get("X-Scantron-Timestamp"), 10, 64)
		w.mu.Lock()
		defer w.mu.Unlock()
		if !hmac.Equal([]byte(r.Header.Get("X-Scantron-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil)))) ||
			time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
			w.bad = append(w.bad, string(body))
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p map[string]any
		if err := json.Unmarshal(body, &p); err != nil {
			w.bad = append(w.bad, string(body))
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.got = append(w.got, p)
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL + "/scantron"
	return w
}

// deliveries waits up to limit for the first delivery that verifies and
// returns the deliveries that have come by then; one that does not verify
// fails the test.
func (w *webhookReceiver) deliveries(t *testing.T, limit time.Duration) []map[string]any {
	t.Helper()
	var got []map[string]any
	deadline := time.Now().Add(limit)
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		w.mu.Lock()
		got = append([]map[string]any(nil), w.got...)
		if len(w.bad) > 0 {
			t.Errorf("deliveries that did not verify: %v", w.bad)
		}
		w.mu.Unlock()
	}
	return got
}

// checkFollowUp checks what follows a completed first run: its (empty)
// diff, the site's assets, and a signed webhook delivery.
func checkFollowUp(t *testing.T, c api, hook *webhookReceiver, runID, siteID int64, target *targetHost, wantPorts []int) {
	t.Helper()
	deliveries := hook.deliveries(t, time.Minute)
	if len(deliveries) != 1 {
		t.Fatalf("%d webhook deliveries within a minute, want 1", len(deliveries))
	}
	p := deliveries[0]
	run, _ := p["run"].(map[string]any)
	if fmt.Sprint(p["events"]) != "[run.completed]" || run["id"] != float64(runID) || run["status"] != "completed" {
		t.Errorf("webhook payload = %v", p)
	}

	var d scan.Diff
	c.do("GET", fmt.Sprintf("/runs/%d/diff", runID), nil, http.StatusOK, &d)
	if d.PreviousRunID != nil || len(d.Changes) != 0 {
		t.Errorf("first run's diff = %+v, want nothing to compare with", d)
	}
	var assets struct {
		Total  int              `json:"total"`
		Assets []scan.AssetHost `json:"assets"`
	}
	c.do("GET", fmt.Sprintf("/sites/%d/assets", siteID), nil, http.StatusOK, &assets)
	if assets.Total != 1 || assets.Assets[0].Address != target.Addr || assets.Assets[0].State != "up" {
		t.Fatalf("assets = %+v, want %s up", assets, target.Addr)
	}
	var ports []int
	for _, ap := range assets.Assets[0].Ports {
		if ap.State == "open" {
			ports = append(ports, ap.Port)
		}
	}
	if fmt.Sprint(ports) != fmt.Sprint(wantPorts) {
		t.Errorf("asset ports = %v, want %v open", ports, wantPorts)
	}
}

// checkSecondRun shuts one of the target's services down and runs the scan
// again: the diff has that port closed, the asset too, and the webhook
// tells of the diff.
func checkSecondRun(t *testing.T, c api, hook *webhookReceiver, scanID, siteID, firstRunID int64, target *targetHost) {
	t.Helper()
	const gone = 2121
	target.ClosePort(gone)
	var run scan.Run
	c.do("POST", fmt.Sprintf("/scans/%d/runs", scanID), nil, http.StatusAccepted, &run)
	view := c.waitRun(run.ID, 4*time.Minute, nil)
	if view.Status != scan.RunCompleted {
		t.Fatalf("second run ended %s: %s", view.Status, view.Error)
	}

	var events string
	deadline := time.Now().Add(time.Minute)
	for events == "" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		hook.mu.Lock()
		if len(hook.got) > 1 {
			events = fmt.Sprint(hook.got[1]["events"])
		}
		hook.mu.Unlock()
	}
	if events != "[run.completed run.diff]" {
		t.Errorf("second delivery's events = %q, want run.completed and run.diff", events)
	}

	// Notifications follow the diff, so once the webhook has come the diff
	// is there.
	var d scan.Diff
	c.do("GET", fmt.Sprintf("/runs/%d/diff", run.ID), nil, http.StatusOK, &d)
	if d.PreviousRunID == nil || *d.PreviousRunID != firstRunID || len(d.Changes) != 1 ||
		d.Changes[0].Kind != scan.ClosedPort || d.Changes[0].Port != gone || d.Changes[0].Address != target.Addr {
		t.Errorf("second run's diff = %+v, want %s tcp/%d closed since run %d", d, target.Addr, gone, firstRunID)
	}

	var assets struct {
		Assets []scan.AssetHost `json:"assets"`
	}
	c.do("GET", fmt.Sprintf("/sites/%d/assets?q=port:%d", siteID, gone), nil, http.StatusOK, &assets)
	if len(assets.Assets) != 1 || len(assets.Assets[0].Ports) != 1 || assets.Assets[0].Ports[0].State != "closed" {
		t.Errorf("asset port %d = %+v, want closed", gone, assets)
	}
}
