package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/workflows"
)

// TestPoolForms: admins create and remove pools on the pools page, which
// lists each pool's live members and capacity; refusals are shown beside
// their field; a scan form runs a scan on an agent or a pool, with a
// shard size.
func TestPoolForms(t *testing.T) {
	e := newEnv(t)
	f := makeFixtures(t, e)
	_, admin, csrf := e.sessionFor(t, accounts.Admin)
	name := uniq("ui-pool")

	cases := []struct {
		name   string
		fields url.Values
		status int
		field  string // the field whose error is shown
		want   string
	}{
		{"no name", url.Values{"name": {""}}, http.StatusBadRequest, "name", "required"},
		{"bad name", url.Values{"name": {"Edge Pool"}}, http.StatusBadRequest, "name", "not a valid pool name"},
		{"created", url.Values{"name": {name}, "description": {"edge sites"}}, http.StatusSeeOther, "", ""},
		{"duplicate", url.Values{"name": {name}}, http.StatusConflict, "name", "already exists"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := e.form(t, admin, csrf, "/pools", c.fields)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body.String())
			}
			if c.field != "" && !strings.Contains(fieldError(w.Body.String(), c.field), c.want) {
				t.Errorf("%s error %q, want %q", c.field, fieldError(w.Body.String(), c.field), c.want)
			}
		})
	}
	pools, err := testStore.ListPools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	for _, p := range pools {
		if p.Name == name {
			id = p.ID
		}
	}
	if id == 0 {
		t.Fatal("the pool was not created")
	}

	// Members and capacity are the agents polling the pool's queue now.
	fresh := timestamppb.New(e.now.Add(-5 * time.Second))
	e.temporal.pollers = map[string][]*taskqueuepb.PollerInfo{"pool." + name: {
		{Identity: workflows.AgentIdentity("m1", "h1", "v1", 2), LastAccessTime: fresh},
		{Identity: workflows.AgentIdentity("m2", "h2", "v1", 3), LastAccessTime: fresh},
	}}
	body := e.page(t, admin, "GET", "/pools?q="+url.QueryEscape(name), nil).Body.String()
	row := regexp.MustCompile(`(?s)<tr id="pool-` + fmt.Sprint(id) + `">.*?</tr>`).FindString(body)
	for _, want := range []string{"edge sites", "agent-online", "<code>pool." + name + "</code>", "<code>m1</code> (2)", "<code>m2</code> (3)", `<td class="pool-capacity">5</td>`, `action="/pools/` + fmt.Sprint(id) + `/delete"`} {
		if !strings.Contains(row, want) {
			t.Errorf("pool row lacks %s: %s", want, row)
		}
	}

	// The scan form offers the pool; a scan on both an agent and a pool is
	// refused, one on the pool alone with a shard size is kept.
	_, op, opCSRF := e.sessionFor(t, accounts.Operator)
	if body := e.page(t, op, "GET", "/scans", nil).Body.String(); !strings.Contains(body, fmt.Sprintf(`<option value="%d">%s (2 members, capacity 5)</option>`, id, name)) {
		t.Error("scan form does not offer the pool with its members")
	}
	scanName := uniq("pool-scan")
	fields := url.Values{"name": {scanName}, "site_id": {fmt.Sprint(f.site.ID)}, "profile_id": {fmt.Sprint(f.profile.ID)},
		"agent_id": {fmt.Sprint(f.agent.ID)}, "pool_id": {fmt.Sprint(id)}, "shard_size": {"64"}}
	w := e.form(t, op, opCSRF, "/scans", fields)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "give exactly one") {
		t.Errorf("scan on an agent and a pool: %d", w.Code)
	}
	fields.Del("agent_id")
	if w := e.form(t, op, opCSRF, "/scans", fields); w.Code != http.StatusSeeOther {
		t.Fatalf("pool scan: %d %s", w.Code, w.Body.String())
	}
	scans, err := testStore.ListScans(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var scanID int64
	for _, s := range scans {
		if s.Name == scanName {
			scanID = s.ID
			if s.PoolID != id || s.AgentID != 0 || s.ShardSize != 64 {
				t.Errorf("pool scan stored as %+v", s)
			}
		}
	}
	body = e.page(t, op, "GET", fmt.Sprintf("/scans/%d", scanID), nil).Body.String()
	if !strings.Contains(body, fmt.Sprintf(`<option value="%d" selected>%s`, id, name)) || !strings.Contains(body, `name="shard_size" value="64"`) {
		t.Error("scan page does not show its pool and shard size")
	}
	// An operator may not create or remove pools, nor sees the forms.
	if w := e.form(t, op, opCSRF, "/pools", url.Values{"name": {uniq("p")}}); w.Code != http.StatusForbidden {
		t.Errorf("operator creating a pool: %d", w.Code)
	}
	if body := e.page(t, op, "GET", "/pools", nil).Body.String(); strings.Contains(body, `id="pool-form"`) || strings.Contains(body, "/delete") {
		t.Error("an operator is offered the pool forms")
	}

	// A pool in use cannot be removed; once its scan is gone it can.
	if w := e.form(t, admin, csrf, fmt.Sprintf("/pools/%d/delete", id), nil); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "used by a scan") {
		t.Errorf("removing a pool in use: %d", w.Code)
	}
	if w := e.form(t, admin, csrf, fmt.Sprintf("/scans/%d/delete", scanID), nil); w.Code != http.StatusSeeOther {
		t.Fatalf("delete scan: %d", w.Code)
	}
	if w := e.form(t, admin, csrf, fmt.Sprintf("/pools/%d/delete", id), nil); w.Code != http.StatusSeeOther {
		t.Fatalf("remove pool: %d %s", w.Code, w.Body.String())
	}
	if body := e.page(t, admin, "GET", "/pools", nil).Body.String(); strings.Contains(body, "pool."+name) {
		t.Error("the removed pool is still listed")
	}
}
