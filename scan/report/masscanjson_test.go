package report

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// masscan.json is hand-written in the layout masscan's -oJ writes (masscan
// cannot scan loopback): one record per port or banner, a "," line between
// records, timestamps as strings. It holds the same kind of findings as
// masscan.xml.
func collectJSON(r io.Reader) (RunInfo, []Host, error) {
	var hosts []Host
	info, err := ParseMasscanJSON(r, func(h Host) error {
		hosts = append(hosts, h)
		return nil
	})
	return info, hosts, err
}

func TestParseMasscanJSON(t *testing.T) {
	doc := readFixture(t, "masscan.json")
	info, hosts, err := collectJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	unix := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	wantInfo := RunInfo{Scanner: "masscan", Start: unix(1795554301), End: unix(1795554305), HostsUp: 5, Complete: true}
	if info != wantInfo {
		t.Errorf("info = %+v, want %+v", info, wantInfo)
	}
	if len(hosts) != 6 {
		t.Fatalf("%d hosts, want 6", len(hosts))
	}
	want0 := Host{Addresses: []Address{{Addr: "198.18.0.2", Type: "ipv4"}}, Status: "up", Reason: "syn-ack", End: unix(1795554301),
		Ports: []Port{{Protocol: "tcp", Number: 22, State: "open", Reason: "syn-ack"}}}
	if !reflect.DeepEqual(hosts[0], want0) {
		t.Errorf("host 0 = %+v", hosts[0])
	}
	if h := hosts[2]; h.Ports[0].State != "closed" || h.Ports[0].Number != 8080 {
		t.Errorf("host 2 = %+v", h)
	}
	if h := hosts[3]; h.IP() != "2001:db8::25" || h.Addresses[0].Type != "ipv6" {
		t.Errorf("host 3 = %+v", h)
	}
	banner := hosts[4].Ports[0]
	if banner.State != "open" || banner.Service.Name != "ssh" || banner.Service.Banner != "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6" {
		t.Errorf("banner record = %+v", banner)
	}
	if p := hosts[5].Ports[0]; p.Protocol != "udp" || p.Number != 53 {
		t.Errorf("host 5 = %+v", hosts[5])
	}

	// ParseAny tells the formats apart, and -oD (one record a line) reads
	// the same as -oJ.
	_, anyHosts, err := collectAny(bytes.NewReader(doc))
	if err != nil || !reflect.DeepEqual(anyHosts, hosts) {
		t.Errorf("ParseAny: %d hosts, %v", len(anyHosts), err)
	}
	var nd bytes.Buffer
	for line := range strings.SplitSeq(string(doc), "\n") {
		if strings.HasPrefix(line, "{") {
			nd.WriteString(line + "\n")
		}
	}
	ndInfo, ndHosts, err := collectJSON(&nd)
	if err != nil || !ndInfo.Complete || !reflect.DeepEqual(ndHosts, hosts) {
		t.Errorf("-oD: %d hosts, complete %v, %v", len(ndHosts), ndInfo.Complete, err)
	}
	for name, r := range map[string]io.Reader{
		"one byte": iotest.OneByteReader(bytes.NewReader(doc)),
		"half":     iotest.HalfReader(bytes.NewReader(doc)),
	} {
		if _, got, err := collectJSON(r); err != nil || !reflect.DeepEqual(got, hosts) {
			t.Errorf("%s reader: %d hosts, %v", name, len(got), err)
		}
	}
}

func collectAny(r io.Reader) (RunInfo, []Host, error) {
	var hosts []Host
	info, err := ParseAny(r, func(h Host) error {
		hosts = append(hosts, h)
		return nil
	})
	return info, hosts, err
}

func TestParseAnyReadsXML(t *testing.T) {
	doc := readFixture(t, "nmap_sv.xml")
	_, want, _ := collect(bytes.NewReader(doc))
	info, got, err := collectAny(bytes.NewReader(append([]byte("\n  "), doc...)))
	if err != nil || !info.Complete || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseAny on XML: %d hosts, %v", len(got), err)
	}
	if _, _, err := collectAny(strings.NewReader("  \n")); !errors.Is(err, ErrTruncated) {
		t.Fatalf("empty: %v", err)
	}
}

// TestParseMasscanJSONEveryCut: a cut anywhere before the closing ] delivers
// exactly the complete records before it and reports ErrTruncated.
func TestParseMasscanJSONEveryCut(t *testing.T) {
	doc := readFixture(t, "masscan.json")
	_, all, err := collectJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.LastIndexByte(doc, ']') + 1
	for n := 0; n < end; n++ {
		cut := doc[:n]
		info, hosts, err := collectJSON(bytes.NewReader(cut))
		if !errors.Is(err, ErrTruncated) || info.Complete {
			t.Fatalf("cut at %d (%q): err = %v, complete = %v; want ErrTruncated", n, tail(cut), err, info.Complete)
		}
		complete := bytes.Count(cut, []byte("] }"))
		if len(hosts) != complete || complete > 0 && !reflect.DeepEqual(hosts, all[:complete]) {
			t.Fatalf("cut at %d: got %d hosts, want the first %d", n, len(hosts), complete)
		}
	}
	trunc := readFixture(t, "masscan_truncated.json")
	if _, hosts, err := collectJSON(bytes.NewReader(trunc)); !errors.Is(err, ErrTruncated) || len(hosts) != 4 {
		t.Fatalf("masscan_truncated.json: %d hosts, %v", len(hosts), err)
	}
}

func TestParseMasscanJSONMalformed(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":          `<nmaprun>`,
		"bad ip":            `[{"ip": "300.1.1.1", "ports": [{"port": 1, "proto": "tcp"}]}]`,
		"port out of range": `[{"ip": "198.18.0.1", "ports": [{"port": 70000, "proto": "tcp"}]}]`,
		"no port":           `[{"ip": "198.18.0.1", "ports": [{"proto": "tcp"}]}]`,
		"bad timestamp":     `[{"ip": "198.18.0.1", "timestamp": "soon", "ports": []}]`,
		"array of numbers":  `[1, 2]`,
		"after the end":     `[] {"ip": "198.18.0.1"}`,
		"syntax":            `[{"ip": "198.18.0.1",, }]`,
		"huge record":       `[{"ip": "198.18.0.1", "x": "` + strings.Repeat("a", maxRecordBytes+10) + `"}]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := collectJSON(strings.NewReader(doc))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
	// The old trailing {"finished": 1} record is not a host.
	info, hosts, err := collectJSON(strings.NewReader(`[{"ip": "198.18.0.1", "ports": [{"port": 1, "proto": "tcp", "status": "open"}]}, {"finished": 1}]`))
	if err != nil || len(hosts) != 1 || !info.Complete {
		t.Fatalf("finished record: %d hosts, %v", len(hosts), err)
	}
}

// FuzzParseMasscanJSON: never a panic, errors always classified, Complete
// exactly on success.
func FuzzParseMasscanJSON(f *testing.F) {
	f.Add(readFixture(f, "masscan.json"))
	f.Add(readFixture(f, "masscan_truncated.json"))
	f.Add([]byte(`{"ip": "::1", "timestamp": 5, "ports": [{"port": 0, "proto": "sctp", "service": {"name": "x"}}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		info, err := ParseMasscanJSON(bytes.NewReader(doc), func(h Host) error {
			if h.IP() == "" || len(h.Ports) > maxItems {
				t.Fatalf("host without an address or with too many ports: %+v", h)
			}
			return nil
		})
		if info.Complete != (err == nil) {
			t.Fatalf("Complete = %v with err %v", info.Complete, err)
		}
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}
