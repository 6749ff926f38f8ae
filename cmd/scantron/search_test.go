package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
	"github.com/scantron/scantron/web"
)

// The search needs none of Temporal, the schedules or the object store;
// calling them panics on the nil interface, which would fail the test.
type (
	noTemporal  struct{ web.WorkflowClient }
	noSchedules struct{ web.Schedules }
	noObjects   struct{ web.Objects }
)

// searchStack is a real server over a real database holding two sites'
// runs, with a viewer's token.
func searchStack(t *testing.T) (base, token string, runs []scan.Run, siteName string) {
	t.Helper()
	ctx := context.Background()
	st := migratedStore(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	port := func(proto string, n int, state, svc, product, version string) report.Port {
		return report.Port{Protocol: proto, Number: n, State: state, Service: report.Service{Name: svc, Product: product, Version: version}}
	}
	up := func(addr string, name string, ports ...report.Port) report.Host {
		return report.Host{Addresses: []report.Address{{Addr: addr, Type: "ipv4"}}, Status: "up",
			Hostnames: []report.Hostname{{Name: name, Type: "PTR"}}, Ports: ports}
	}
	prof, err := st.CreateProfile(ctx, scan.Profile{Name: "tcp", Scanner: scan.Nmap, Options: "-sT -p 1-1024,8080"})
	must(err)
	agent, err := st.CreateAgent(ctx, scan.Agent{Name: "edge-1", TaskQueue: "agent.edge-1"})
	must(err)
	record := func(siteName, target string, hosts ...report.Host) scan.Run {
		site, err := st.CreateSite(ctx, scan.Site{Name: siteName, Targets: []string{target}})
		must(err)
		sc, err := st.CreateScan(ctx, scan.Scan{Name: siteName + " nightly", SiteID: site.ID, ProfileID: prof.ID, AgentID: agent.ID, Enabled: true})
		must(err)
		r, err := st.CreateRun(ctx, sc.ID, "wf-"+siteName)
		must(err)
		must(st.SetRunStatus(ctx, r.ID, scan.RunRunning, ""))
		sh, err := st.CreateShard(ctx, r.ID, 0, agent.ID, []string{target})
		must(err)
		_, err = st.ReplaceShardResults(ctx, r.ID, sh.ID, 1, func(emit func(report.Host) error) error {
			for _, h := range hosts {
				if err := emit(h); err != nil {
					return err
				}
			}
			return nil
		})
		must(err)
		must(st.UpdateShard(ctx, scan.ShardUpdate{ID: sh.ID, Status: scan.ShardCompleted}))
		r, err = st.CompleteRun(ctx, r.ID, scan.BlobRef{Bucket: "b", Key: "k", SHA256: strings.Repeat("c", 64)})
		must(err)
		// The run's follow-up: its diff and the site's assets.
		_, err = (&activities.Changes{Store: st}).RecordChanges(ctx, activities.RecordChangesInput{RunID: r.ID, Options: []string{"-p", "1-1024,8080"}})
		must(err)
		return r
	}
	runs = append(runs, record("lab (east)", "198.18.0.0/28",
		up("198.18.0.1", "gw.lab.example", port("tcp", 22, "open", "ssh", "OpenSSH", "9.6"), port("tcp", 80, "open", "http", "Apache httpd", "2.4.57")),
		up("198.18.0.2", "web.lab.example", port("tcp", 443, "open", "https", "nginx", "1.24.0"), port("tcp", 8080, "closed", "http-proxy", "", ""))))
	runs = append(runs, record("dmz", "198.18.1.0/28",
		up("198.18.1.5", "mail.dmz.example", port("tcp", 25, "open", "smtp", "Postfix smtpd", ""), port("tcp", 22, "open", "ssh", "OpenSSH", "8.9"))))

	base, token = serveForViewer(t, st, noTemporal{})
	return base, token, runs, "lab (east)"
}

// hitKey is what the three surfaces must agree on, in order.
func hitKey(site, address string, port int, proto, state string) string {
	return fmt.Sprintf("%s|%s|%d/%s|%s", site, address, port, proto, state)
}

// TestSearchSameAnswersEverywhere runs the same queries through the API,
// the CLI and the /search page (its HTML table parsed) and compares the
// hits, then the same bad query through all three.
func TestSearchSameAnswersEverywhere(t *testing.T) {
	base, token, runs, lab := searchStack(t)
	get := func(path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	vars := map[string]string{"SCANTRON_URL": base, "SCANTRON_TOKEN": token, "HOME": t.TempDir()}
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"search"}, args...), env(vars), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	type hit struct {
		Site, Address, Protocol, State string
		Port                           int
	}
	keysOf := func(hits []hit) []string {
		out := []string{}
		for _, h := range hits {
			out = append(out, hitKey(h.Site, h.Address, h.Port, h.Protocol, h.State))
		}
		return out
	}
	row := regexp.MustCompile(`(?s)<tr>\s*<td><a href="/sites/\d+">([^<]*)</a></td>\s*<td>([^<]+)(?:<br>.*?)?</td>\s*<td>(\d+)/(\w+)</td>\s*<td><span class="state state-[^"]*">([^<]+)</span></td>`)

	for _, c := range []struct {
		q    string
		want int
	}{
		{"", 5},
		{"port:22", 2},
		{"service:http* -port:443", 1}, // 8080 was never open: not an asset
		{"net:198.18.1.0/24 OR product:nginx", 3},
		{`product:"Apache httpd" version:2.4*`, 1},
		{"site:" + `"` + lab + `"` + " -service:ssh", 2},
		{"seen:<1d first:<1d changed:<1d state:open", 5},
		{"host:*.dmz.example agent:edge-*", 2},
		{"scan:dmz*", 2},
		{fmt.Sprintf("run:%d", runs[0].ID), 4},
		{fmt.Sprintf("run:%d (state:closed OR service:ssh)", runs[0].ID), 2},
		{fmt.Sprintf("service:http* run:%d", runs[0].ID), 3},
		{"-port:1-1024", 0},
	} {
		t.Run(c.q, func(t *testing.T) {
			v := url.Values{"q": {c.q}, "limit": {"500"}}
			code, body := get("/api/v1/search?" + v.Encode())
			var api struct{ Hits []hit }
			if code != http.StatusOK || json.Unmarshal(body, &api) != nil {
				t.Fatalf("API: %d %s", code, body)
			}
			codeCLI, out, errOut := cli("--json", "--limit", "500", c.q)
			var viaCLI struct{ Hits []hit }
			if codeCLI != 0 || json.Unmarshal([]byte(out), &viaCLI) != nil {
				t.Fatalf("CLI: %d %s %s", codeCLI, out, errOut)
			}
			code, page := get("/search?" + v.Encode())
			if code != http.StatusOK {
				t.Fatalf("page: %d %s", code, page)
			}
			var ui []string
			for _, m := range row.FindAllStringSubmatch(string(page), -1) {
				var n int
				fmt.Sscan(m[3], &n)
				ui = append(ui, hitKey(html.UnescapeString(m[1]), m[2], n, m[4], m[5]))
			}
			if ui == nil {
				ui = []string{}
			}
			a, b := keysOf(api.Hits), keysOf(viaCLI.Hits)
			if len(a) != c.want || strings.Join(a, "\n") != strings.Join(b, "\n") || strings.Join(a, "\n") != strings.Join(ui, "\n") {
				t.Fatalf("%q: want %d hits, the same everywhere\nAPI %q\nCLI %q\nUI  %q", c.q, c.want, a, b, ui)
			}
		})
	}

	// The CLI's table, and a negated first term that is no flag.
	if code, out, errOut := cli("-service:ssh", "port:1-100"); code != 0 || !strings.Contains(out, "SITE") ||
		!strings.Contains(out, "198.18.0.1  80/tcp") || strings.Contains(out, "ssh") {
		t.Fatalf("table: %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := cli("--help"); code != 0 || !strings.Contains(out, "search [--json | --format csv|jsonl]") {
		t.Fatalf("--help: %d %s", code, out)
	}
	if code, _, errOut := cli("--format", "xml", "port:22"); code != 2 || !strings.Contains(errOut, `--format: "xml" is not csv or jsonl`) {
		t.Fatalf("--format xml: %d %s", code, errOut)
	}
	// CSV from the CLI is the server's export.
	if code, out, _ := cli("--format", "csv", "port:25"); code != 0 || !strings.HasPrefix(out, "site,address,") || !strings.Contains(out, "dmz,198.18.1.5,mail.dmz.example,tcp,25,open,smtp,Postfix smtpd") {
		t.Fatalf("csv: %d %s", code, out)
	}

	// One bad query, the same column everywhere.
	bad := "port:22 prot:tcp"
	code, body := get("/api/v1/search?" + url.Values{"q": {bad}}.Encode())
	if code != http.StatusBadRequest || !strings.Contains(string(body), `"column":9`) || !strings.Contains(string(body), "col 9: unknown field") {
		t.Fatalf("API: %d %s", code, body)
	}
	if code, _, errOut := cli(bad); code != 1 || !strings.Contains(errOut, `q: col 9: unknown field "prot"; did you mean proto? (HTTP 400)`) {
		t.Fatalf("CLI: %d %s", code, errOut)
	}
	code, page := get("/search?" + url.Values{"q": {bad}}.Encode())
	if code != http.StatusBadRequest || !strings.Contains(string(page), bad+"\n        ^</pre>") || !strings.Contains(string(page), "col 9: unknown field") {
		t.Fatalf("page: %d %s", code, page)
	}
}
