package masscan

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/scan/report"
)

// records lists a masscan document's port records, "addr proto/port".
func records(t *testing.T, path string) ([]string, report.RunInfo) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	info, err := report.Parse(f, func(h report.Host) error {
		for _, p := range h.Ports {
			line := fmt.Sprintf("%s %s/%d", h.IP(), p.Protocol, p.Number)
			if p.Service.Banner != "" {
				line += " " + p.Service.Banner
			}
			out = append(out, line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, info
}

// The ports earlier attempts found come first, then this attempt's
// records, without the ports found again.
func TestWithMasscanDone(t *testing.T) {
	dir := t.TempDir()
	at := time.Unix(1795560000, 0)
	a, b := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")
	done := []masscanPort{{a, "tcp", 22, at}, {b, "udp", 53, at}, {a, "tcp", 22, at}}
	fresh := filepath.Join(dir, "out.xml")
	doc := `<?xml version="1.0"?>
<nmaprun scanner="masscan" start="1795560100" version="1.0-BETA"  xmloutputversion="1.03">
<scaninfo type="syn" protocol="tcp" />
<host endtime="1795560101"><address addr="198.18.0.2" addrtype="ipv4"/><ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>
<host endtime="1795560102"><address addr="198.18.0.2" addrtype="ipv4"/><ports><port protocol="tcp" portid="80"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>
<host endtime="1795560103"><address addr="198.18.0.3" addrtype="ipv4"/><ports><port protocol="tcp" portid="53"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>
<runstats>
<finished time="1795560110" timestr="2026-11-24 23:28:12" elapsed="10" />
<hosts up="3" down="0" total="3" />
</runstats>
</nmaprun>
`
	if err := os.WriteFile(fresh, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "whole.xml")
	if err := withMasscanDone(done, fresh, out, at); err != nil {
		t.Fatal(err)
	}
	got, info := records(t, out)
	want := []string{"198.18.0.2 tcp/22", "198.18.0.3 udp/53", "198.18.0.2 tcp/80", "198.18.0.3 tcp/53"}
	if !slices.Equal(got, want) {
		t.Errorf("merged records %q, want %q", got, want)
	}
	if !info.Complete || info.Scanner != "masscan" || info.HostsUp != len(want) {
		t.Errorf("merged document %+v", info)
	}
}

// The saved ports are written as masscan writes them, and read back the
// same.
func TestWriteMasscanXML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "found.xml")
	ports := []masscanPort{{netip.MustParseAddr("198.18.0.2"), "tcp", 8080, time.Now()}, {netip.MustParseAddr("2001:db8::5"), "udp", 53, time.Now()}}
	if err := writeMasscanXML(path, ports, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, info := records(t, path)
	if want := []string{"198.18.0.2 tcp/8080", "2001:db8::5 udp/53"}; !slices.Equal(got, want) || !info.Complete {
		t.Errorf("read back %q (%+v), want %q", got, info, want)
	}
}

// The track takes the ports masscan prints and raises the resume index
// with its status lines, never lowering it; a probe count that differs
// from masscan's own makes the index untrusted.
func TestMasscanTrack(t *testing.T) {
	plan := Plan{Probes: 10000, Wait: 1}
	tr := newMasscanTrack(plan, 5, 100, 2000, []masscanPort{{netip.MustParseAddr("198.18.0.2"), "tcp", 22, time.Now()}})
	var pcts []float64
	tr.onPct = func(p float64) { pcts = append(pcts, p) }
	for _, line := range []string{
		"Scanning 1 hosts [10000 ports/host]",
		"rate:  0.10-kpps, 20.10% done,   0:01:20 remaining, found=0",
		"Discovered open port 22/tcp on 198.18.0.2",
		"Discovered open port 443/tcp on 198.18.0.2",
		"rate:  0.10-kpps, 50.00% done,   0:00:50 remaining, found=1",
		"rate:  0.10-kpps, 40.00% done,   0:00:50 remaining, found=1",
	} {
		if strings.HasPrefix(line, "Discovered") {
			tr.stdoutLine(line)
		} else {
			tr.stderrLine(line)
		}
	}
	index, ports, wrong := tr.snapshot()
	// 5000 sent, less 100 pps x 1 s, less the rounding (1), less 1.
	if index != 5000-100-1-1 || wrong != "" {
		t.Errorf("index %d (%q), want %d", index, wrong, 5000-100-1-1)
	}
	if len(ports) != 2 || ports[1].port != 443 {
		t.Errorf("ports %+v, want 22 then 443, once each", ports)
	}
	if !slices.Equal(pcts, []float64{20.1, 50, 40}) {
		t.Errorf("percents reported %v", pcts)
	}
	tr.stderrLine("Scanning 2 hosts [10000 ports/host]")
	if _, _, wrong := tr.snapshot(); wrong == "" {
		t.Error("a probe count that differs from masscan's is not noticed")
	}
}
