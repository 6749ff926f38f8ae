package activities_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/internal/targethost"
	"github.com/scantron/scantron/scan"
)

// TestZmapSweep runs zmap end to end as the workflow would: a zmap profile
// over a namespace host, started (the rate capped by the site), dispatched,
// run by the agent with real zmap (the rate capped again by the agent, the
// targets in an allowlist file and the site's and global exclusions in a
// blocklist file in place of zmap's own, which refuses 198.18.0.0/15),
// stored in S3 and parsed into the run's rows: the open port found, the
// closed one not.
func TestZmapSweep(t *testing.T) {
	if _, err := exec.LookPath("zmap"); err != nil {
		t.Skip("zmap is not installed")
	}
	host := targethost.New(t, targethost.Options{Name: "zmap", Net: 19, Index: 4})
	if host.Namespace == "" {
		t.Skip("zmap cannot scan loopback, and no namespace host could be made")
	}
	f := newFixture(t, "")
	ctx := context.Background()
	// zmap, recording its arguments and the blocklist it was given.
	dir := t.TempDir()
	argLog, blockCopy := filepath.Join(dir, "args"), filepath.Join(dir, "blocklist")
	wrapper := filepath.Join(dir, "zmap")
	script := "#!/bin/sh\necho \"$@\" >> " + argLog + "\nfor a in \"$@\"; do case \"$a\" in --blacklist-file=*) cp \"${a#*=}\" " + blockCopy + ";; esac; done\nexec zmap \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f.agent.Binaries = map[scan.Scanner]string{scan.Zmap: wrapper}
	f.agent.Adapter, f.agent.AdapterIP, f.agent.RouterMAC = host.HostIf, host.HostIP, host.MAC
	f.agent.MaxRate = 1000
	env := newEnv(f)

	// The site is the host's link, a /30: this side's address is a site
	// exclusion, the link's first and last addresses global ones, so that
	// zmap probes the host alone and is given every exclusion.
	link := netip.PrefixFrom(netip.MustParseAddr(host.Addr), 30).Masked()
	first, last := link.Addr(), link.Addr().Next().Next().Next()
	site, err := f.store.CreateSite(ctx, scan.Site{Name: uniqueName("zs"), Targets: []string{link.String()},
		Exclusions: []string{host.HostIP}, MaxRate: 2000})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{first, last} {
		e, err := f.store.CreateExclusion(ctx, scan.Exclusion{Target: a.String(), Note: "the zmap test link's ends"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.store.DeleteExclusion(context.Background(), e.ID) })
	}
	sc, err := f.store.GetScan(ctx, f.scanID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		port int
		open bool
	}{{2222, true}, {9, false}} {
		prof, err := f.store.CreateProfile(ctx, scan.Profile{Name: uniqueName("zp"), Scanner: scan.Zmap, Options: fmt.Sprintf("-p %d --rate 5000 -c 1", tt.port)})
		if err != nil {
			t.Fatal(err)
		}
		zs, err := f.store.CreateScan(ctx, scan.Scan{Name: uniqueName("z"), SiteID: site.ID, ProfileID: prof.ID, AgentID: sc.AgentID})
		if err != nil {
			t.Fatal(err)
		}
		start, err := execute[activities.StartRunResult](t, env, f.results.StartRun, activities.StartRunInput{ScanID: zs.ID, WorkflowID: uniqueName("wf")})
		if err != nil {
			t.Fatalf("StartRun: %v", err)
		}
		if len(start.Specs) != 1 {
			t.Fatalf("specs %+v", start.Specs)
		}
		spec := start.Specs[0]
		if !slices.Equal(spec.Targets, []string{host.Addr}) {
			t.Fatalf("targets %q, want the host alone", spec.Targets)
		}
		if spec.Scanner != scan.Zmap || spec.Rate != 2000 || strings.Join(spec.Options, " ") != fmt.Sprintf("-p%d -c1", tt.port) {
			t.Fatalf("spec: scanner %s, rate %v, options %q; want the site's cap, 2000, and the rate out of the options", spec.Scanner, spec.Rate, spec.Options)
		}
		d := f.dispatch(t, env, start, spec, 1)
		scanned, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: d.Spec})
		if err != nil {
			t.Fatalf("RunScan: %v", err)
		}
		if scanned.Raw.Key != scan.RawKey(start.RunID, spec.ShardID, 1, scan.Zmap) {
			t.Errorf("stored at %q", scanned.Raw.Key)
		}
		args, err := os.ReadFile(argLog)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(args)), "\n")
		ran := strings.Fields(lines[len(lines)-1])
		for _, want := range []string{"--rate=1000", "--interface=" + host.HostIf, "--source-ip=" + host.HostIP, "--gateway-mac=" + host.MAC, fmt.Sprintf("-p%d", tt.port)} {
			if !slices.Contains(ran, want) {
				t.Errorf("zmap ran with %q, without %q", ran, want)
			}
		}
		block, err := os.ReadFile(blockCopy)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{first.String() + "/32", host.HostIP + "/32", last.String() + "/32"} {
			if !strings.Contains(string(block), want+"\n") {
				t.Errorf("blocklist %q lacks the exclusion %s", block, want)
			}
		}

		in := activities.ParseResultsInput{RunID: start.RunID, ShardID: spec.ShardID, Attempt: scanned.Attempt, Raw: scanned.Raw,
			Agent: scanned.Agent, Signature: scanned.Signature, Nonce: d.Nonce, Scanner: spec.Scanner}
		parsed, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, in)
		if err != nil {
			t.Fatalf("ParseResults: %v", err)
		}
		want := activities.ParseResultsResult{}
		if tt.open {
			want.Hosts, want.Ports = 1, 1
		}
		if parsed.Hosts != want.Hosts || parsed.Ports != want.Ports {
			t.Errorf("port %d: parsed %+v, want %d hosts and %d ports", tt.port, parsed, want.Hosts, want.Ports)
		}
		var open []string
		rows, err := f.store.Pool().Query(ctx, `SELECT host(h.address), p.port, p.state FROM ports p JOIN hosts h ON h.id = p.host_id WHERE p.run_id = $1`, start.RunID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var addr, state string
			var port int
			if err := rows.Scan(&addr, &port, &state); err != nil {
				t.Fatal(err)
			}
			open = append(open, fmt.Sprintf("%s:%d %s", addr, port, state))
		}
		rows.Close()
		if wantRows := []string{fmt.Sprintf("%s:%d open", host.Addr, tt.port)}; tt.open && !slices.Equal(open, wantRows) {
			t.Errorf("stored %q, want %q", open, wantRows)
		} else if !tt.open && len(open) != 0 {
			t.Errorf("a closed port stored %q", open)
		}
	}
}
