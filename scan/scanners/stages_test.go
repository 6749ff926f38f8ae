package scanners

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// Which scanner may be which stage is the drivers' to say: masscan and zmap
// discover, nmap follows, and nmap's own port choices are refused after a
// discovery.
func TestStages(t *testing.T) {
	set := func(s scan.Scanner, opts string) scan.OptionSet {
		t.Helper()
		o, err := scan.ParseOptionSet(s, opts)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if got := Discoverers(); !slices.Equal(got, []scan.Scanner{scan.Masscan, scan.Zmap}) {
		t.Errorf("Discoverers = %v", got)
	}
	for _, tt := range []struct {
		discover, follow scan.Scanner
		opts             string
		wantErr          string
	}{
		{scan.Masscan, scan.Nmap, "-sV -n -Pn", ""},
		{scan.Zmap, scan.Nmap, "-sV --script banner", ""},
		{scan.Nmap, scan.Nmap, "-sV", "nmap cannot be a discovery stage (want one of masscan, zmap)"},
		{scan.Masscan, scan.Masscan, "--rate 10", "masscan cannot follow a discovery stage (want one of nmap)"},
		{scan.Masscan, scan.Nmap, "-sV -p 22", "-p: after a discovery stage"},
		{scan.Masscan, scan.Nmap, "-F", "-F: after a discovery stage"},
	} {
		_, err := Stages(tt.discover, tt.follow, set(tt.follow, tt.opts))
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Stages(%s, %s, %q) = %v, want %q", tt.discover, tt.follow, tt.opts, err, tt.wantErr)
		}
	}
	if _, err := Stages(scan.Masscan, scan.Nmap, set(scan.Nmap, "--top-ports 5")); !errors.Is(err, driver.ErrStagePorts) {
		t.Errorf("--top-ports: %v, want ErrStagePorts", err)
	}
}

// The second stage is planned from the first stage's output as masscan
// writes it: the open ports of hosts among the shard's targets (a host
// outside them is ignored), nmap given each host with exactly the ports
// found open on it.
func TestSecondStageFromMasscanOutput(t *testing.T) {
	const out = `<?xml version="1.0"?>
<nmaprun scanner="masscan" start="1795554300" version="1.0-BETA" xmloutputversion="1.03">
<scaninfo type="syn" protocol="tcp" />
<host endtime="1795554301"><address addr="198.18.0.9" addrtype="ipv4"/><ports><port protocol="tcp" portid="8080"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>
<host endtime="1795554301"><address addr="198.18.0.2" addrtype="ipv4"/><ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>
<host endtime="1795554301"><address addr="198.18.0.9" addrtype="ipv4"/><ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>
<host endtime="1795554301"><address addr="198.18.1.1" addrtype="ipv4"/><ports><port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>
<runstats><finished time="1795554310" timestr="2026-11-24 10:25:10" elapsed="10" /><hosts up="4" down="0" total="4" /></runstats>
</nmaprun>`
	first := scan.Spec{RunID: 4, ShardID: 9, Scanner: scan.Masscan, Options: []string{"-p1-10000"}, Targets: []string{"198.18.0.0/24"}, Excludes: []string{"198.18.0.200"}}
	targets, err := scan.ParseTargets(first.Targets)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := Lookup(scan.Masscan)
	pairs, err := driver.OpenPairs(md, strings.NewReader(out), targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 3 {
		t.Fatalf("pairs %+v, want the three inside the shard", pairs)
	}
	nd, _ := Lookup(scan.Nmap)
	spec, extra, err := driver.SecondStage(first, nd.(driver.PairScanner), []string{"-sV", "-n"}, 0, pairs)
	if err != nil || extra != 0 {
		t.Fatal(err, extra)
	}
	// Each host on the ports found open on it alone: one group per port set.
	want := scan.Spec{RunID: 4, ShardID: 9, Scanner: scan.Nmap, Options: []string{"-sV", "-n"},
		Targets: []string{"198.18.0.2", "198.18.0.9"}, Excludes: first.Excludes,
		Groups: []scan.PortGroup{{Ports: []uint16{22}, Targets: []string{"198.18.0.2"}}, {Ports: []uint16{22, 8080}, Targets: []string{"198.18.0.9"}}}}
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("second stage %+v, want %+v", spec, want)
	}
	// nmap checks every group's command line; the first is shown.
	argv, err := Argv(driver.Command{Spec: spec, Output: "/w/out.xml", PartialEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(argv, "T:22") || !slices.Contains(argv, "198.18.0.2") || slices.Contains(argv, "198.18.0.9") {
		t.Errorf("argv %q", argv)
	}
	// Consecutive hosts of a group are one range.
	more := append(pairs, driver.Pair{Addr: "198.18.0.3", Port: 22}, driver.Pair{Addr: "198.18.0.4", Port: 22}, driver.Pair{Addr: "198.18.0.10", Port: 22})
	spec, _, err = driver.SecondStage(first, nd.(driver.PairScanner), nil, 0, more)
	if want := []string{"198.18.0.2-198.18.0.4", "198.18.0.10", "198.18.0.9"}; err != nil || !slices.Equal(spec.Targets, want) || !slices.Equal(spec.Groups[0].Targets, want[:2]) {
		t.Errorf("targets %v, groups %+v (%v), want %v", spec.Targets, spec.Groups, err, want)
	}
	if _, _, err := driver.SecondStage(first, nd.(driver.PairScanner), []string{"-sV", "-p", "80"}, 0, pairs); !errors.Is(err, driver.ErrStagePorts) {
		t.Errorf("options choosing ports: %v", err)
	}
}
