package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The fixtures. Every nmap one is real output of nmap 7.93 (run with -n,
// against listeners on 127.0.0.1 and ::1, and, for the MAC and OS sample,
// between two network namespaces on 198.18.0.0/24). masscan.xml is
// hand-written (see the comment inside); nmap_sv_truncated.xml is nmap_sv.xml
// cut in the middle of its third host.
var fixtures = []struct {
	file     string
	hosts    int
	complete bool
}{
	{"nmap_sv.xml", 3, true},
	{"nmap_scripts_hostname.xml", 1, true},
	{"nmap_ipv6.xml", 1, true},
	{"nmap_mac_os.xml", 3, true},
	{"masscan.xml", 9, true},
	{"nmap_sv_truncated.xml", 2, false},
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// collect parses doc and returns everything Parse produced.
func collect(r io.Reader) (RunInfo, []Host, error) {
	var hosts []Host
	info, err := Parse(r, func(h Host) error {
		hosts = append(hosts, h)
		return nil
	})
	return info, hosts, err
}

type golden struct {
	Info  RunInfo
	Hosts []Host
	Error string `json:",omitempty"`
}

// TestParseGolden compares the whole parse of each fixture with a reviewed
// JSON snapshot (go test -run TestParseGolden -update rewrites them).
func TestParseGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			info, hosts, err := collect(bytes.NewReader(readFixture(t, f.file)))
			if len(hosts) != f.hosts || info.Complete != f.complete {
				t.Fatalf("got %d hosts, complete=%v (err %v); want %d, %v", len(hosts), info.Complete, err, f.hosts, f.complete)
			}
			if f.complete != (err == nil) {
				t.Fatalf("complete=%v but err=%v", f.complete, err)
			}
			g := golden{Info: info, Hosts: hosts}
			if err != nil {
				g.Error = err.Error()
			}
			got, jerr := json.MarshalIndent(g, "", "  ")
			if jerr != nil {
				t.Fatal(jerr)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", strings.TrimSuffix(f.file, ".xml")+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatalf("%v (run with -update to create it)", rerr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("parse of %s differs from %s (run with -update and review the diff):\n%s", f.file, path, got)
			}
		})
	}
}

// TestParseFixtureValues spells out the values that matter most, so that a
// wrong golden file cannot hide them.
func TestParseFixtureValues(t *testing.T) {
	unix := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	tests := []struct {
		file  string
		check func(t *testing.T, info RunInfo, hosts []Host, err error)
	}{
		{"nmap_sv.xml", func(t *testing.T, info RunInfo, hosts []Host, err error) {
			want := RunInfo{
				Scanner: "nmap", Version: "7.93",
				Args:  "nmap -n -sV --reason --webxml -p 47021,47022,47025,47080,47099 -oX nmap_sv.xml 127.0.0.1-3",
				Start: unix(1795554198), End: unix(1795554205),
				Summary: "Nmap done at Tue Nov 24 21:03:25 2026; 3 IP addresses (3 hosts up) scanned in 6.31 seconds",
				Exit:    "success", HostsUp: 3, Elapsed: 6.31, Complete: true,
			}
			if info != want {
				t.Errorf("info = %+v\nwant   %+v", info, want)
			}
			h := hosts[0]
			if h.IP() != "127.0.0.1" || h.Status != "up" || h.Reason != "localhost-response" ||
				!h.Start.Equal(unix(1795554198)) || !h.End.Equal(unix(1795554205)) || len(h.Ports) != 5 {
				t.Errorf("host 0 = %+v", h)
			}
			ssh := Port{Protocol: "tcp", Number: 47022, State: "open", Reason: "syn-ack", Service: Service{
				Name: "ssh", Product: "OpenSSH", Version: "8.9p1 Ubuntu 3ubuntu0.6", ExtraInfo: "Ubuntu Linux; protocol 2.0",
				Method: "probed", Conf: 10, CPE: []string{"cpe:/a:openbsd:openssh:8.9p1", "cpe:/o:linux:linux_kernel"},
			}}
			if !reflect.DeepEqual(h.Ports[1], ssh) {
				t.Errorf("port 1 = %+v\nwant     %+v", h.Ports[1], ssh)
			}
			closed := Port{Protocol: "tcp", Number: 47099, State: "closed", Reason: "reset"}
			if !reflect.DeepEqual(h.Ports[4], closed) {
				t.Errorf("port 4 = %+v, want %+v", h.Ports[4], closed)
			}
			if hosts[2].IP() != "127.0.0.3" {
				t.Errorf("host 2 = %s", hosts[2].IP())
			}
		}},
		{"nmap_scripts_hostname.xml", func(t *testing.T, info RunInfo, hosts []Host, err error) {
			h := hosts[0]
			if !reflect.DeepEqual(h.Hostnames, []Hostname{{Name: "localhost", Type: "user"}}) {
				t.Errorf("hostnames = %+v", h.Hostnames)
			}
			want := []Script{{ID: "http-server-header", Output: "nginx/1.18.0 (Ubuntu)"}, {ID: "http-title", Output: `Scantron &amp; "test" page`}}
			if !reflect.DeepEqual(h.Ports[1].Scripts, want) {
				t.Errorf("scripts = %q, want %q", h.Ports[1].Scripts, want)
			}
			if h.Ports[0].Scripts[0] != (Script{ID: "banner", Output: "220 (vsFTPd 3.0.3)"}) {
				t.Errorf("banner script = %+v", h.Ports[0].Scripts)
			}
		}},
		{"nmap_ipv6.xml", func(t *testing.T, info RunInfo, hosts []Host, err error) {
			if a := hosts[0].Addresses; len(a) != 1 || a[0] != (Address{Addr: "::1", Type: "ipv6"}) {
				t.Errorf("addresses = %+v", a)
			}
			if hosts[0].IP() != "::1" {
				t.Errorf("IP() = %q", hosts[0].IP())
			}
		}},
		{"nmap_mac_os.xml", func(t *testing.T, info RunInfo, hosts []Host, err error) {
			// -v lists down hosts first; <hosthint> is not a host.
			for i, want := range []string{"198.18.0.3", "198.18.0.4"} {
				if h := hosts[i]; h.IP() != want || h.Status != "down" || h.Reason != "no-response" || !h.Start.IsZero() || len(h.Ports) != 0 {
					t.Errorf("host %d = %+v", i, h)
				}
			}
			h := hosts[2]
			if mac, vendor := h.MAC(); mac != "52:54:00:5C:A7:01" || vendor != "QEMU virtual NIC" {
				t.Errorf("MAC() = %q, %q", mac, vendor)
			}
			if h.IP() != "198.18.0.2" || h.Reason != "arp-response" {
				t.Errorf("host = %+v", h)
			}
			if len(h.OS) != 10 || h.OS[0] != (OSMatch{Name: "Linux 5.3 - 5.4", Accuracy: 96}) {
				t.Errorf("OS = %+v", h.OS)
			}
			if info.HostsUp != 1 || info.HostsDown != 2 {
				t.Errorf("info = %+v", info)
			}
		}},
		{"masscan.xml", func(t *testing.T, info RunInfo, hosts []Host, err error) {
			if info.Scanner != "masscan" || info.Version != "1.0-BETA" || !info.Start.Equal(unix(1795554300)) ||
				!info.End.Equal(unix(1795554315)) || info.HostsUp != 5 || info.HostsDown != 1 || !info.Complete {
				t.Errorf("info = %+v", info)
			}
			first := Host{
				Addresses: []Address{{Addr: "198.18.0.2", Type: "ipv4"}},
				Status:    "up", Reason: "syn-ack", End: unix(1795554301),
				Ports: []Port{{Protocol: "tcp", Number: 22, State: "open", Reason: "syn-ack"}},
			}
			if !reflect.DeepEqual(hosts[0], first) {
				t.Errorf("host 0 = %+v\nwant     %+v", hosts[0], first)
			}
			if h := hosts[3]; h.Status != "up" || h.Reason != "rst-ack" || h.Ports[0].State != "closed" {
				t.Errorf("a host with only a closed port answered, so it is up: %+v", h)
			}
			if a := hosts[4].Addresses[0]; a != (Address{Addr: "2001:db8::25", Type: "ipv6"}) {
				t.Errorf("masscan's addrtype=ipv4 on an IPv6 address is not corrected: %+v", a)
			}
			if s := hosts[5].Ports[0].Service; s.Name != "ssh" || s.Banner != "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6" {
				t.Errorf("banner = %+v", s)
			}
			if s := hosts[7].Ports[0].Service; s.Name != "title" || s.Banner != `Scantron & "test" page` {
				t.Errorf("title banner = %+v", s)
			}
			if p := hosts[8].Ports[0]; p.Protocol != "udp" || p.Number != 53 {
				t.Errorf("udp port = %+v", p)
			}
		}},
		{"nmap_sv_truncated.xml", func(t *testing.T, info RunInfo, hosts []Host, err error) {
			if !errors.Is(err, ErrTruncated) || errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrTruncated", err)
			}
			if info.Complete || info.Exit != "" || info.Scanner != "nmap" || !info.End.IsZero() {
				t.Errorf("info = %+v", info)
			}
			if hosts[1].IP() != "127.0.0.2" || len(hosts[1].Ports) != 5 {
				t.Errorf("last complete host = %+v", hosts[1])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			info, hosts, err := collect(bytes.NewReader(readFixture(t, tt.file)))
			if err != nil && info.Complete {
				t.Fatalf("complete with error %v", err)
			}
			if len(hosts) == 0 {
				t.Fatalf("no hosts (err %v)", err)
			}
			tt.check(t, info, hosts, err)
		})
	}
}

// TestParseReaders checks that the way the input arrives does not matter.
func TestParseReaders(t *testing.T) {
	doc := readFixture(t, "nmap_mac_os.xml")
	wantInfo, wantHosts, wantErr := collect(bytes.NewReader(doc))
	if wantErr != nil {
		t.Fatal(wantErr)
	}
	readers := map[string]io.Reader{
		"one byte":      iotest.OneByteReader(bytes.NewReader(doc)),
		"half":          iotest.HalfReader(bytes.NewReader(doc)),
		"data with EOF": iotest.DataErrReader(bytes.NewReader(doc)),
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			info, hosts, err := collect(r)
			if err != nil || info != wantInfo || !reflect.DeepEqual(hosts, wantHosts) {
				t.Errorf("got %+v, %d hosts, %v", info, len(hosts), err)
			}
		})
	}
}

// TestParseEveryCut cuts a real document after every byte: each cut must
// deliver exactly the hosts that are complete before it and report
// ErrTruncated (never ErrMalformed), until the cut is past </nmaprun>.
func TestParseEveryCut(t *testing.T) {
	for _, file := range []string{"nmap_sv.xml", "masscan.xml", "nmap_scripts_hostname.xml"} {
		t.Run(file, func(t *testing.T) {
			doc := readFixture(t, file)
			_, all, err := collect(bytes.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			end := bytes.LastIndex(doc, []byte("</nmaprun>")) + len("</nmaprun>")
			for n := 0; n <= len(doc); n++ {
				cut := doc[:n]
				info, hosts, err := collect(bytes.NewReader(cut))
				complete := bytes.Count(cut, []byte("</host>"))
				if n >= end {
					if err != nil || !info.Complete || len(hosts) != len(all) {
						t.Fatalf("cut at %d of %d (after the end): %d hosts, %v", n, len(doc), len(hosts), err)
					}
					continue
				}
				if !errors.Is(err, ErrTruncated) || info.Complete {
					t.Fatalf("cut at %d (%q): err = %v, complete = %v; want ErrTruncated", n, tail(cut), err, info.Complete)
				}
				if len(hosts) != complete || complete > 0 && !reflect.DeepEqual(hosts, all[:complete]) {
					t.Fatalf("cut at %d: got %d hosts, want the first %d", n, len(hosts), complete)
				}
			}
		})
	}
}

func tail(b []byte) string {
	if len(b) > 40 {
		b = b[len(b)-40:]
	}
	return string(b)
}

const (
	head    = `<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE nmaprun><nmaprun scanner="nmap" start="1">`
	foot    = `<runstats><finished time="2" exit="success"/><hosts up="1" down="0" total="1"/></runstats></nmaprun>`
	hostA   = `<host><status state="up" reason="user-set"/><address addr="198.18.0.1" addrtype="ipv4"/></host>`
	hostB   = `<host><status state="up" reason="user-set"/><address addr="198.18.0.2" addrtype="ipv4"/></host>`
	portTag = `<ports><port protocol="tcp" portid="%s"><state state="open" reason="syn-ack"/></port></ports>`
)

func TestParseEdgeCases(t *testing.T) {
	deep := strings.Repeat("<x>", 200) + strings.Repeat("</x>", 200)
	manyAddrs := strings.Repeat(`<address addr="198.18.0.1" addrtype="ipv4"/>`, maxItems+1)
	tests := []struct {
		name      string
		doc       string
		wantErr   error // nil: success
		wantHosts []string
		check     func(t *testing.T, info RunInfo, hosts []Host)
	}{
		{name: "empty input", doc: "", wantErr: ErrTruncated},
		{name: "prolog only", doc: `<?xml version="1.0"?><!DOCTYPE nmaprun>`, wantErr: ErrTruncated},
		{name: "root only", doc: head, wantErr: ErrTruncated},
		{name: "minimal", doc: head + hostA + foot, wantHosts: []string{"198.18.0.1"}},
		{name: "no runstats", doc: head + hostA + `</nmaprun>`, wantHosts: []string{"198.18.0.1"}},
		{name: "stylesheet and comments", doc: `<?xml version="1.0"?><!-- hi --><?xml-stylesheet href="nmap.xsl" type="text/xsl"?><!DOCTYPE nmaprun>` +
			`<nmaprun><!-- c --><?pi x?>` + hostA + `</nmaprun>`, wantHosts: []string{"198.18.0.1"}},
		{name: "trailing data after the end is not read", doc: head + hostA + foot + `<host>garbage`, wantHosts: []string{"198.18.0.1"}},
		{name: "not nmap", doc: `<html><body/></html>`, wantErr: ErrMalformed},
		{name: "text", doc: "Starting Nmap 7.93", wantErr: ErrMalformed},
		{name: "mismatched end tag", doc: head + `<host><ports></host></ports>` + foot, wantErr: ErrMalformed},
		{name: "mismatched in skipped element", doc: head + hostA + `<foo><bar></foo></bar>` + foot, wantErr: ErrMalformed, wantHosts: []string{"198.18.0.1"}},
		{name: "wrong root end", doc: head + `</other>`, wantErr: ErrMalformed},
		{name: "bad portid", doc: head + hostA + `<host>` + fmt.Sprintf(portTag, "x") + `</host>` + foot, wantErr: ErrMalformed, wantHosts: []string{"198.18.0.1"}},
		{name: "portid out of range", doc: head + `<host>` + fmt.Sprintf(portTag, "65536") + `</host>` + foot, wantErr: ErrMalformed},
		{name: "bad time", doc: head + `<host starttime="soon"></host>` + foot, wantErr: ErrMalformed},
		{name: "bad conf", doc: head + `<host><ports><port protocol="tcp" portid="1"><service conf="high"/></port></ports></host>` + foot, wantErr: ErrMalformed},
		{name: "undefined entity", doc: head + `<host><address addr="&x;" addrtype="ipv4"/></host>` + foot, wantErr: ErrMalformed},
		{name: "internal entity is not expanded", doc: `<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY x "198.18.0.9">]><nmaprun>` +
			`<host><address addr="&x;" addrtype="ipv4"/></host></nmaprun>`, wantErr: ErrMalformed},
		{name: "external entity is not resolved", doc: `<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file:///etc/hostname">]><nmaprun>` +
			`<host><address addr="&x;" addrtype="ipv4"/></host></nmaprun>`, wantErr: ErrMalformed},
		{name: "other encoding", doc: `<?xml version="1.0" encoding="ISO-8859-1"?><nmaprun></nmaprun>`, wantErr: ErrMalformed},
		{name: "invalid UTF-8", doc: head + "<host><address addr=\"\xff\" addrtype=\"ipv4\"/></host>" + foot, wantErr: ErrMalformed},
		{name: "deep nesting", doc: head + `<host>` + deep + `</host>` + foot, wantErr: ErrMalformed},
		{name: "nesting within the limit", doc: head + `<host>` + strings.Repeat("<x>", 100) + strings.Repeat("</x>", 100) + `</host>` + foot, wantHosts: []string{""}},
		{name: "huge attribute", doc: head + `<host><address addr="` + strings.Repeat("a", maxTokenBytes) + `"/></host>` + foot, wantErr: ErrMalformed},
		{name: "huge host", doc: head + hostA + `<host>` + strings.Repeat(`<times srtt="1" rttvar="1" to="1"/>`, maxHostBytes/30) + `</host>` + foot,
			wantErr: ErrMalformed, wantHosts: []string{"198.18.0.1"}},
		{name: "too many addresses", doc: head + `<host>` + manyAddrs + `</host>` + foot, wantErr: ErrMalformed},
		{name: "char references and CDATA", doc: head + `<host><address addr="198.18.0.&#x31;" addrtype="ipv4"/><ports><port protocol="tcp" portid="80">` +
			`<service name="http"><cpe><![CDATA[cpe:/a:x:y]]></cpe><cpe> cpe:/a:<b/>z </cpe></service></port></ports></host>` + foot,
			wantHosts: []string{"198.18.0.1"}, check: func(t *testing.T, _ RunInfo, hosts []Host) {
				if cpe := hosts[0].Ports[0].Service.CPE; !reflect.DeepEqual(cpe, []string{"cpe:/a:x:y", "cpe:/a:z"}) {
					t.Errorf("CPE = %q", cpe)
				}
			}},
		{name: "unknown and prefixed elements are skipped", doc: head + `<foo a="1"><host><address addr="198.18.0.7" addrtype="ipv4"/></host></foo>` +
			`<x:host xmlns:x="urn:x"><address addr="198.18.0.8" addrtype="ipv4"/></x:host>` + hostA + foot, wantHosts: []string{"198.18.0.1"}},
		{name: "host without status or ports", doc: head + `<host><address addr="198.18.0.1" addrtype="ipv4"/></host>` + foot,
			wantHosts: []string{"198.18.0.1"}, check: func(t *testing.T, _ RunInfo, hosts []Host) {
				if hosts[0].Status != "" {
					t.Errorf("status = %q", hosts[0].Status)
				}
			}},
		{name: "exit error", doc: head + `<runstats><finished time="3" exit="error" errormsg="boom"/></runstats></nmaprun>`,
			check: func(t *testing.T, info RunInfo, _ []Host) {
				if info.Exit != "error" || info.Error != "boom" || !info.End.Equal(time.Unix(3, 0)) || !info.Complete {
					t.Errorf("info = %+v", info)
				}
			}},
		{name: "truncated after a host", doc: head + hostA + hostB, wantErr: ErrTruncated, wantHosts: []string{"198.18.0.1", "198.18.0.2"}},
		{name: "truncated inside a host", doc: head + hostA + `<host><status state="up"/>`, wantErr: ErrTruncated, wantHosts: []string{"198.18.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, hosts, err := collect(strings.NewReader(tt.doc))
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if info.Complete != (err == nil) {
				t.Errorf("complete = %v with err %v", info.Complete, err)
			}
			var ips []string
			for _, h := range hosts {
				ips = append(ips, h.IP())
			}
			if !reflect.DeepEqual(ips, tt.wantHosts) {
				t.Errorf("hosts = %q, want %q", ips, tt.wantHosts)
			}
			if tt.check != nil {
				tt.check(t, info, hosts)
			}
		})
	}
}

func TestParseCallbackError(t *testing.T) {
	stop := errors.New("stop")
	doc := readFixture(t, "nmap_sv.xml")
	calls := 0
	info, err := Parse(bytes.NewReader(doc), func(h Host) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("err = %v, want the callback's error itself", err)
	}
	if calls != 2 || info.Complete {
		t.Errorf("calls = %d, complete = %v", calls, info.Complete)
	}
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("connection reset")
	doc := readFixture(t, "nmap_sv.xml")
	cut := bytes.Index(doc, []byte("</host>")) + 100 // inside the second host
	r := io.MultiReader(bytes.NewReader(doc[:cut]), iotest.ErrReader(boom))
	_, hosts, err := collect(r)
	if !errors.Is(err, boom) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrMalformed) {
		t.Errorf("err = %v, want the read error", err)
	}
	if len(hosts) != 1 {
		t.Errorf("%d hosts before the read error, want 1", len(hosts))
	}
}
