package zmap

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/report"
)

func zmapSpec(options string, rate float64) scan.Spec {
	opts, err := scan.ParseOptions(scan.Zmap, options)
	if err != nil {
		panic(err)
	}
	return scan.Spec{RunID: 7, ShardID: 8, Scanner: scan.Zmap, Options: opts, Rate: rate,
		Targets: []string{"198.18.0.0/30", "198.18.1.5-198.18.1.6"}, Excludes: []string{"198.18.9.0/24", "fd00::/8"}}
}

// The exact command line: the agent's files, output and rate first, then
// the profile's options bound to their values; the profile's own rate is
// taken out, the rate capped by the agent.
func TestArgs(t *testing.T) {
	fixed := []string{"--config=/w/zmap.conf", "--blacklist-file=/w/zmap-blocklist.txt", "--whitelist-file=/w/zmap-allowlist.txt",
		"--output-file=/w/zmap.csv", "--output-module=csv"}
	tcp := "--output-fields=saddr,sport,classification,success,repeat,timestamp-ts"
	filter := "--output-filter=success = 1 && repeat = 0"
	tests := []struct {
		name    string
		options string
		rate    float64
		machine driver.Machine
		want    []string
	}{
		{"defaults", "-p 443", 0, driver.Machine{},
			append(slices.Clone(fixed), tcp, filter, "--disable-syslog", "--rate=10000", "-p443")},
		{"spec rate, agent cap", "--target-port=22 -c 1 -T 2", 500, driver.Machine{MaxRate: 100},
			append(slices.Clone(fixed), tcp, filter, "--disable-syslog", "--rate=100", "--target-port=22", "-c1", "-T2")},
		{"profile rate taken out", "-p 22 -r 99999 --rate=5", 250.7, driver.Machine{},
			append(slices.Clone(fixed), tcp, filter, "--disable-syslog", "--rate=250", "-p22")},
		{"adapter", "-p 80", 1000, driver.Machine{Adapter: "veth1", AdapterIP: "198.18.0.1", RouterMAC: "02:00:00:00:00:01", Interface: "eth9"},
			append(slices.Clone(fixed), tcp, filter, "--disable-syslog", "--rate=1000", "--interface=veth1", "--source-ip=198.18.0.1", "--gateway-mac=02:00:00:00:00:01", "-p80")},
		{"interface only", "-p 80", 1000, driver.Machine{Interface: "eth9"},
			append(slices.Clone(fixed), tcp, filter, "--disable-syslog", "--rate=1000", "--interface=eth9", "-p80")},
		{"icmp", "-M icmp_echoscan", 10, driver.Machine{},
			append(slices.Clone(fixed), "--output-fields=saddr,classification,success,repeat,timestamp-ts", filter, "--disable-syslog", "--rate=10", "-Micmp_echoscan")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := driver.Command{Spec: zmapSpec(tt.options, tt.rate), Dir: "/w", Output: "/w/out.xml", Machine: tt.machine}
			got, err := Driver{}.Args(c)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Args =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// The allowlist holds the shard's targets and the blocklist its
// exclusions, as CIDR blocks; IPv6 exclusions are left out (zmap scans
// IPv4), IPv6 targets, host names and a TCP scan without a port refused.
func TestPlanFilesAndRefusals(t *testing.T) {
	p, err := planOf(driver.Command{Spec: zmapSpec("-p 22", 0), Dir: "/w", Output: "/w/out.xml"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"198.18.0.0/30", "198.18.1.5/32", "198.18.1.6/32"}; !slices.Equal(p.allow, want) {
		t.Errorf("allowlist %q, want %q", p.allow, want)
	}
	if want := []string{"198.18.9.0/24"}; !slices.Equal(p.block, want) {
		t.Errorf("blocklist %q, want %q", p.block, want)
	}
	for name, spec := range map[string]scan.Spec{
		"IPv6 target": {RunID: 1, ShardID: 1, Scanner: scan.Zmap, Options: []string{"-p22"}, Targets: []string{"fd00::1"}},
		"host name":   {RunID: 1, ShardID: 1, Scanner: scan.Zmap, Options: []string{"-p22"}, Targets: []string{"db.example"}},
		"no port":     {RunID: 1, ShardID: 1, Scanner: scan.Zmap, Options: []string{"-c1"}, Targets: []string{"198.18.0.1"}},
		"nmap spec":   {RunID: 1, ShardID: 1, Scanner: scan.Nmap, Options: []string{"-p22"}, Targets: []string{"198.18.0.1"}},
		"bad option":  {RunID: 1, ShardID: 1, Scanner: scan.Zmap, Options: []string{"-p22", "-o/etc/passwd"}, Targets: []string{"198.18.0.1"}},
	} {
		if _, err := (Driver{}).Args(driver.Command{Spec: spec, Dir: "/w", Output: "/w/out.xml"}); !errors.Is(err, scan.ErrInvalidSpec) {
			t.Errorf("%s: %v, want an invalid spec", name, err)
		}
	}
}

// The server's side: the profile's rate, the site's cap, the server's
// ceiling; zmap's default of 10000 is never raised.
func TestDispatch(t *testing.T) {
	for _, tt := range []struct {
		options            string
		siteMax, serverMax float64
		wantRate           float64
		wantOptions        string
	}{
		{"-p 80 --rate 5000", 300, 0, 300, "-p80"},
		{"-p 80 -r 200", 300, 0, 200, "-p80"},
		{"-p 80", 0, 0, 0, "-p80"},
		{"-p 80", 0, 100000, 10000, "-p80"},
		{"-p 80 -c 2", 0, 50, 50, "-p80 -c2"},
	} {
		set, err := scan.ParseOptionSet(scan.Zmap, tt.options)
		if err != nil {
			t.Fatal(err)
		}
		opts, rate, err := Driver{}.Dispatch(set, tt.siteMax, tt.serverMax)
		if err != nil || rate != tt.wantRate || strings.Join(opts, " ") != tt.wantOptions {
			t.Errorf("%q, site %v, server %v: %q, %v, %v; want %q, %v", tt.options, tt.siteMax, tt.serverMax, opts, rate, err, tt.wantOptions, tt.wantRate)
		}
	}
	set, _ := scan.ParseOptionSet(scan.Zmap, "-c 1")
	if _, _, err := (Driver{}).Dispatch(set, 0, 0); !errors.Is(err, scan.ErrInvalidOptions) || !strings.Contains(err.Error(), "-p") {
		t.Errorf("a TCP profile without a port: %v", err)
	}
}

// What a profile may give zmap, and what it may not, by name.
func TestZmapPolicy(t *testing.T) {
	for _, ok := range []string{"-p 443", "--target-port=22 --rate 100 -c 1", "-M icmp_echoscan -P 2", "-p 80 -T 4 -e 5 --retries 3 -s 40000-40100 -v 2 -t 60 -N 10"} {
		if _, err := scan.ParseOptionSet(scan.Zmap, ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for bad, why := range map[string]string{
		"-p 80 -o out.csv":                    "output",
		"-p 80 -b /etc/zmap/none":             "targets",
		"-p 80 -w list":                       "targets",
		"-p 80 -i eth0":                       "interface",
		"-p 80 -S 10.0.0.1":                   "interface",
		"-p 80 -G 00:11:22:33:44:55":          "interface",
		"-p 80 -C /etc/passwd":                "files",
		"-p 80 --config=/tmp/x":               "files",
		"-p 80 -B 10M":                        "packets per second",
		"-p 80 -M udp":                        "not one of",
		"-p 80 --probe-args=file:/etc/shadow": "files",
		"-p 80,443":                           "whole number",
		"-p 80 10.0.0.0/8":                    "targets come from the site",
		"-p 80 -Oexec":                        "output",
		"-p 80 --output-filter=x":             "output",
		"-p 80 -d":                            "does not scan",
	} {
		_, err := scan.ParseOptionSet(scan.Zmap, bad)
		if !errors.Is(err, scan.ErrInvalidOptions) || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: %v, want a refusal naming %q", bad, err, why)
		}
	}
	set, _ := scan.ParseOptionSet(scan.Zmap, "-p 80")
	if raw := set.RawSocketOptions(); !slices.Equal(raw, []string{"zmap"}) {
		t.Errorf("RawSocketOptions = %q: every zmap scan sends raw packets", raw)
	}
	if err := set.CheckRateCeiling(10); err != nil {
		t.Errorf("no rate option: %v", err)
	}
	fast, _ := scan.ParseOptionSet(scan.Zmap, "-p 80 -r 500")
	if err := fast.CheckRateCeiling(100); !errors.Is(err, scan.ErrInvalidOptions) {
		t.Errorf("a rate over the ceiling: %v", err)
	}
}

// zmap's CSV becomes hosts as the results activities read them: one per
// address that answered, with its open port; answers from outside the
// targets and repeats are left out, and a stopped zmap's cut-off last
// line is dropped.
func TestWriteXML(t *testing.T) {
	p, err := planOf(driver.Command{Spec: zmapSpec("-p 22", 0), Dir: "/w", Output: "/w/out.xml"})
	if err != nil {
		t.Fatal(err)
	}
	csv := "saddr,sport,classification,success,repeat,timestamp-ts\n" +
		"198.18.0.2,22,synack,1,0,1795554198\n" +
		"198.18.1.6,22,synack,1,0,1795554199\n" +
		"198.18.1.6,22,synack,1,1,1795554199\n" + // a repeat
		"203.0.113.9,22,synack,1,0,1795554199\n" + // not a target
		"198.18.0.3,22,rst,0,0,1795554199\n" + // closed
		"198.18.0.1,2"
	hosts := func(doc []byte) []string {
		t.Helper()
		var out []string
		info, err := report.Parse(bytes.NewReader(doc), func(h report.Host) error {
			line := h.IP()
			for _, port := range h.Ports {
				line += fmt.Sprintf(" %s/%d %s %s", port.Protocol, port.Number, port.State, port.Reason)
			}
			out = append(out, line)
			return nil
		})
		if err != nil || info.Scanner != "zmap" {
			t.Fatalf("parse: %v (%+v)\n%s", err, info, doc)
		}
		return out
	}
	var buf bytes.Buffer
	n, err := writeXML(&buf, strings.NewReader(csv), p, time.Unix(1795554190, 0), true)
	want := []string{"198.18.0.2 tcp/22 open syn-ack", "198.18.1.6 tcp/22 open syn-ack"}
	if got := hosts(buf.Bytes()); err != nil || n != 2 || !slices.Equal(got, want) {
		t.Errorf("stopped: %d hosts %q, %v; want %q", n, got, err, want)
	}
	// A finished zmap's output has no cut-off line: a bad one is an error.
	buf.Reset()
	if _, err := writeXML(&buf, strings.NewReader(csv), p, time.Now(), false); err == nil {
		t.Error("a malformed last line of a finished scan was taken")
	}
	buf.Reset()
	if n, err := writeXML(&buf, strings.NewReader(""), p, time.Now(), false); err != nil || n != 0 || len(hosts(buf.Bytes())) != 0 {
		t.Errorf("empty output: %d, %v", n, err)
	}
	// Parse reads it as the results activities do.
	buf.Reset()
	writeXML(&buf, strings.NewReader(csv), p, time.Now(), true)
	var parsed []string
	if err := (Driver{}).Parse(&buf, false, func(h report.Host) error { parsed = append(parsed, h.IP()); return nil }); err != nil || len(parsed) != 2 {
		t.Errorf("Parse: %q, %v", parsed, err)
	}
}

func TestParseStatus(t *testing.T) {
	for line, want := range map[string]float64{
		" 0:01 12% (7s left); send: 120 119 p/s (119 p/s avg); recv: 1 0 p/s (0 p/s avg); drops: 0 p/s (0 p/s avg); hitrate: 0.83%": 12,
		" 0:09 100% (1s left); send: 1000 done (1.1 Kp/s avg); recv: 3 0 p/s (0 p/s avg)":                                           100,
		"1:02:03 45%; send: 10": 45,
	} {
		if got, ok := parseStatus(line); !ok || got != want {
			t.Errorf("parseStatus(%q) = %v, %v; want %v", line, got, ok, want)
		}
	}
	for _, line := range []string{"Jan 01 00:00:00.000 [INFO] zmap: output module: csv", "", "12% done"} {
		if _, ok := parseStatus(line); ok {
			t.Errorf("parseStatus(%q) reads a percent", line)
		}
	}
}

// FuzzWriteXML: whatever zmap's output holds, the document written parses,
// and holds only targets.
func FuzzWriteXML(f *testing.F) {
	f.Add("saddr,sport,classification,success,repeat,timestamp-ts\n198.18.0.2,22,synack,1,0,1\n", true)
	f.Add("saddr\n198.18.0.1\n\"x\ny\"\n", false)
	f.Add("", false)
	p, err := planOf(driver.Command{Spec: zmapSpec("-p 22", 0), Dir: "/w", Output: "/w/out.xml"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, csv string, stopped bool) {
		var buf bytes.Buffer
		n, err := writeXML(&buf, strings.NewReader(csv), p, time.Unix(0, 0), stopped)
		if err != nil {
			return
		}
		got := 0
		if err := (Driver{}).Parse(&buf, false, func(h report.Host) error {
			got++
			if !strings.HasPrefix(h.IP(), "198.18.") {
				return fmt.Errorf("host %s is not a target", h.IP())
			}
			return nil
		}); err != nil || got != n {
			t.Fatalf("parse of written document: %v (%d hosts, wrote %d)\n%s", err, got, n, buf.Bytes())
		}
	})
}
