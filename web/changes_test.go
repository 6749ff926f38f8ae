package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// completedRun stores a completed run of scanID whose one shard covered
// 198.18.0.0/28 and found hosts, then records its diff and assets as the
// workflow's follow-up does.
func completedRun(t *testing.T, scanID, agentID int64, hosts ...report.Host) scan.Run {
	t.Helper()
	ctx := context.Background()
	r, err := testStore.CreateRun(ctx, scanID, uniq("wf"))
	must(t, err)
	must(t, testStore.SetRunStatus(ctx, r.ID, scan.RunRunning, ""))
	sh, err := testStore.CreateShard(ctx, r.ID, 0, agentID, []string{"198.18.0.0/28"})
	must(t, err)
	_, err = testStore.ReplaceShardResults(ctx, r.ID, sh.ID, 1, func(emit func(report.Host) error) error {
		for _, h := range hosts {
			if err := emit(h); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, err)
	must(t, testStore.UpdateShard(ctx, scan.ShardUpdate{ID: sh.ID, Status: scan.ShardCompleted}))
	r, err = testStore.CompleteRun(ctx, r.ID, scan.BlobRef{Bucket: "b", Key: "k", SHA256: sha})
	must(t, err)
	c := &activities.Changes{Store: testStore}
	if _, err := c.RecordChanges(ctx, activities.RecordChangesInput{RunID: r.ID, Options: []string{"-p", "22,80,443"}}); err != nil {
		t.Fatalf("RecordChanges: %v", err)
	}
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func upHost(addr string, ports ...report.Port) report.Host {
	return report.Host{Addresses: []report.Address{{Addr: addr, Type: "ipv4"}}, Status: "up", Ports: ports}
}

func openPort(n int, svc, product, version string) report.Port {
	return report.Port{Protocol: "tcp", Number: n, State: "open", Service: report.Service{Name: svc, Product: product, Version: version}}
}

type assetPageJSON struct {
	Total  int              `json:"total"`
	Limit  int              `json:"limit"`
	Offset int              `json:"offset"`
	Next   string           `json:"next"`
	Assets []scan.AssetHost `json:"assets"`
}

func TestDiffsAndAssets(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	r1 := completedRun(t, s.ID, f.agent.ID,
		upHost("198.18.0.2", openPort(22, "ssh", "OpenSSH", "8.9"), openPort(80, "http", "nginx", "")),
		upHost("198.18.0.3", openPort(443, "https", "", "")))
	r2 := completedRun(t, s.ID, f.agent.ID,
		upHost("198.18.0.2", openPort(22, "ssh", "OpenSSH", "9.6")),
		upHost("198.18.0.4", openPort(80, "http", "Apache httpd", "2.4")))

	var d scan.Diff
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/runs/%d/diff", r2.ID), "", http.StatusOK, &d)
	if d.PreviousRunID == nil || *d.PreviousRunID != r1.ID ||
		d.Counts != (scan.DiffCounts{NewHosts: 1, GoneHosts: 1, OpenedPorts: 1, ClosedPorts: 1, ChangedServices: 1}) || len(d.Changes) != 5 {
		t.Fatalf("diff = %+v", d)
	}
	var first scan.Diff
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/runs/%d/diff", r1.ID), "", http.StatusOK, &first)
	if first.PreviousRunID != nil || len(first.Changes) != 0 {
		t.Errorf("first run's diff = %+v", first)
	}
	var list []scan.DiffSummary
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/scans/%d/diffs", s.ID), "", http.StatusOK, &list)
	if len(list) != 2 || list[0].RunID != r2.ID || list[0].Counts.Total() != 5 {
		t.Errorf("diffs = %+v", list)
	}

	sitePath := fmt.Sprintf("/api/v1/sites/%d/assets", f.site.ID)
	var all assetPageJSON
	e.mustDo(t, "GET", sitePath, "", http.StatusOK, &all)
	if all.Total != 3 || len(all.Assets) != 3 || all.Next != "" {
		t.Fatalf("assets = %+v", all)
	}
	if a := all.Assets[1]; a.Address != "198.18.0.3" || a.State != "gone" {
		t.Errorf("198.18.0.3 = %+v, want gone", a)
	}
	var page assetPageJSON
	e.mustDo(t, "GET", sitePath+"?limit=2&q=net:198.18.0.0/28", "", http.StatusOK, &page)
	if page.Total != 3 || len(page.Assets) != 2 || page.Next != sitePath+"?limit=2&offset=2&q=net%3A198.18.0.0%2F28" {
		t.Fatalf("first page = %+v", page)
	}
	var page2 assetPageJSON
	e.mustDo(t, "GET", page.Next, "", http.StatusOK, &page2)
	if len(page2.Assets) != 1 || page2.Assets[0].Address != "198.18.0.4" || page2.Next != "" {
		t.Errorf("second page = %+v", page2)
	}
	var found assetPageJSON
	e.mustDo(t, "GET", sitePath+"?q="+url.QueryEscape("port:80 proto:tcp product:apache*"), "", http.StatusOK, &found)
	if found.Total != 1 || found.Assets[0].Address != "198.18.0.4" || len(found.Assets[0].Ports) != 1 {
		t.Errorf("port 80 Apache = %+v", found)
	}
	e.mustDo(t, "GET", sitePath+"?q="+url.QueryEscape("service:ssh ip:198.18.0.2"), "", http.StatusOK, &found)
	if found.Total != 1 || found.Assets[0].Ports[0].Version != "9.6" {
		t.Errorf("ssh = %+v", found)
	}
	e.mustDo(t, "GET", "/api/v1/assets?q=ip:198.18.0.3", "", http.StatusOK, &found)
	if found.Total < 1 {
		t.Errorf("across sites: %+v", found)
	}

	for _, tt := range []struct{ path, msg string }{
		{sitePath + "?q=ip:198.18.0.300", "q: "},
		{sitePath + "?q=port:70000", "q: "},
		{sitePath + "?q=run:1", "q: run: "},
		{sitePath + "?ip=198.18.0.2", "ip: the assets are searched with the search language"},
		{sitePath + "?state=gone", "state: "},
		{sitePath + "?limit=0", "limit: "},
	} {
		w := e.do(t, "GET", tt.path, "")
		var answer struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &answer)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(answer.Error, tt.msg) {
			t.Errorf("GET %s: %d %s", tt.path, w.Code, w.Body.String())
		}
	}
	for _, p := range []string{"/api/v1/sites/987654321/assets", "/api/v1/runs/987654321/diff", "/api/v1/scans/987654321/diffs"} {
		if w := e.do(t, "GET", p, ""); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
	}
	// A run that has not completed has no diff, and says why.
	pending := e.startRun(t, s.ID)
	w := e.do(t, "GET", fmt.Sprintf("/api/v1/runs/%d/diff", pending.ID), "")
	if w.Code != http.StatusNotFound || !strings.Contains(errorOf(t, w), "only completed runs have a diff") {
		t.Errorf("diff of a pending run: %d %s", w.Code, w.Body.String())
	}

	t.Run("pages", func(t *testing.T) {
		w := e.do(t, "GET", fmt.Sprintf("/runs/%d", r2.ID), "")
		body := w.Body.String()
		for _, want := range []string{fmt.Sprintf("Changes since <a href=\"/runs/%d\">run #%d</a>", r1.ID, r1.ID), "changed_service", "gone_host", "9.6"} {
			if !strings.Contains(body, want) {
				t.Errorf("run page lacks %q", want)
			}
		}
		w = e.do(t, "GET", fmt.Sprintf("/sites/%d/assets?q=port:22", f.site.ID), "")
		body = w.Body.String()
		if w.Code != http.StatusOK || !strings.Contains(body, "198.18.0.2") || strings.Contains(body, "198.18.0.4") || !strings.Contains(body, `1–1 of <span id="total">1</span> hosts`) {
			t.Errorf("assets page: %d %s", w.Code, body)
		}
		w = e.do(t, "GET", fmt.Sprintf("/sites/%d/assets?q=ip:nope", f.site.ID), "")
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "ip:nope\n   ^") {
			t.Errorf("assets page with a bad ip: %d", w.Code)
		}
	})
}

type notificationsJSON struct {
	ScanID           int64    `json:"scan_id"`
	WebhookURL       string   `json:"webhook_url"`
	WebhookSecret    *string  `json:"webhook_secret"`
	WebhookSecretSet bool     `json:"webhook_secret_set"`
	EmailTo          []string `json:"email_to"`
	OnCompleted      bool     `json:"on_completed"`
	OnFailed         bool     `json:"on_failed"`
	OnDiff           bool     `json:"on_diff"`
}

func TestNotificationSettings(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	s := e.makeScan(t, f)
	path := fmt.Sprintf("/api/v1/scans/%d/notifications", s.ID)

	var n notificationsJSON
	e.mustDo(t, "GET", path, "", http.StatusOK, &n)
	if n.WebhookURL != "" || n.WebhookSecretSet || len(n.EmailTo) != 0 || !n.OnCompleted || !n.OnFailed || !n.OnDiff {
		t.Errorf("defaults = %+v", n)
	}
	e.mustDo(t, "PUT", path, `{"webhook_url": "https://hooks.example.test/scantron", "webhook_secret": "0123456789abcdef",
		"email_to": ["ops@example.test", "OPS@example.test", "sec@example.test"], "on_completed": false}`, http.StatusOK, &n)
	if n.WebhookURL != "https://hooks.example.test/scantron" || !n.WebhookSecretSet || n.WebhookSecret != nil ||
		strings.Join(n.EmailTo, ",") != "ops@example.test,sec@example.test" || n.OnCompleted || !n.OnDiff {
		t.Errorf("after PUT = %+v", n)
	}
	// Leaving the secret out keeps it.
	e.mustDo(t, "PUT", path, `{"webhook_url": "https://hooks.example.test/v2"}`, http.StatusOK, &n)
	stored, err := testStore.GetNotifications(context.Background(), s.ID)
	must(t, err)
	if stored.WebhookSecret != "0123456789abcdef" || stored.WebhookURL != "https://hooks.example.test/v2" || !stored.OnCompleted {
		t.Errorf("stored = %+v", stored)
	}

	for _, tt := range []struct{ body, msg string }{
		{`{"webhook_url": "ftp://x.test/"}`, "webhook_url: "},
		{`{"webhook_url": "/relative"}`, "webhook_url: "},
		{`{"webhook_url": "https://x.test/", "webhook_secret": "short"}`, "webhook_secret: 5 characters"},
		{`{"webhook_secret": "0123456789abcdef"}`, "webhook_secret: set without a webhook_url"},
		{`{"email_to": ["Ops <ops@example.test>"]}`, "email_to[0]: "},
		{`{"email_to": ["not an address"]}`, "email_to[0]: "},
		{`{"on_diff": "yes"}`, "on_diff: expected true or false"},
		{`{"webhook": "https://x.test/"}`, `unknown field "webhook"`},
	} {
		w := e.do(t, "PUT", path, tt.body)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), tt.msg) {
			t.Errorf("PUT %s: %d %s, want 400 starting %q", tt.body, w.Code, w.Body.String(), tt.msg)
		}
	}
	// A new webhook on a scan without a stored secret needs one.
	other := e.makeScan(t, f)
	w := e.do(t, "PUT", fmt.Sprintf("/api/v1/scans/%d/notifications", other.ID), `{"webhook_url": "https://x.test/"}`)
	if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), "webhook_secret: required") {
		t.Errorf("webhook without a secret: %d %s", w.Code, w.Body.String())
	}
	if w := e.do(t, "PUT", "/api/v1/scans/987654321/notifications", `{}`); w.Code != http.StatusNotFound {
		t.Errorf("PUT for a missing scan: %d", w.Code)
	}

	if w := e.do(t, "DELETE", path, ""); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", w.Code, w.Body.String())
	}
	if w := e.do(t, "DELETE", path, ""); w.Code != http.StatusNotFound {
		t.Errorf("second DELETE: %d", w.Code)
	}
}
