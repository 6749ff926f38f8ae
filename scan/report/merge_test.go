package report

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	nmap "github.com/Ullaakut/nmap/v3"

	"github.com/scantron/scantron/scan/report/internal/gendoc"
)

// TestMerger merges shard outputs of every kind and reads the result back
// with our parser and with Ullaakut/nmap's: every host of every output, in
// order and unchanged, and run statistics that add up.
func TestMerger(t *testing.T) {
	files := []string{"nmap_sv.xml", "nmap_ipv6.xml", "nmap_mac_os.xml", "masscan.json"}
	var want []Host
	wantUp, wantDown := 0, 0
	var buf bytes.Buffer
	m := NewMerger(&buf)
	for _, f := range files {
		doc := readFixture(t, f)
		info, hosts, err := collectAny(bytes.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, hosts...)
		wantUp += info.HostsUp
		wantDown += info.HostsDown
		if err := m.Add(bytes.NewReader(doc)); err != nil {
			t.Fatalf("Add(%s): %v", f, err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	merged := buf.Bytes()

	info, got, err := collect(bytes.NewReader(merged))
	if err != nil {
		t.Fatalf("our parser on the merged document: %v\n%s", err, merged)
	}
	if len(got) != len(want) {
		t.Fatalf("%d hosts merged, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("host %d: merged %+v, want %+v", i, got[i], want[i])
		}
	}
	first, _, _ := collect(bytes.NewReader(readFixture(t, "nmap_sv.xml")))
	if info.Scanner != "nmap" || info.Args != first.Args || info.Version != first.Version || info.Exit != "success" ||
		info.HostsUp != wantUp || info.HostsDown != wantDown || info.End.IsZero() || info.Start.IsZero() {
		t.Errorf("merged run info = %+v (want up %d down %d)", info, wantUp, wantDown)
	}

	var run nmap.Run
	if err := nmap.Parse(merged, &run); err != nil {
		t.Fatalf("Ullaakut on the merged document: %v", err)
	}
	if len(run.Hosts) != len(want) || run.Stats.Hosts.Up != wantUp || run.Stats.Hosts.Total != wantUp+wantDown {
		t.Errorf("Ullaakut: %d hosts, stats %+v", len(run.Hosts), run.Stats.Hosts)
	}
}

func TestMergerKeepsTruncatedHosts(t *testing.T) {
	var buf bytes.Buffer
	m := NewMerger(&buf)
	for _, doc := range [][]byte{readFixture(t, "nmap_sv_truncated.xml"), readFixture(t, "masscan_truncated.json"), nil} {
		if err := m.Add(bytes.NewReader(doc)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	info, hosts, err := collect(bytes.NewReader(buf.Bytes()))
	if err != nil || len(hosts) != 2+4 {
		t.Fatalf("%d hosts, %v", len(hosts), err)
	}
	if info.Exit != "error" || !strings.Contains(info.Error, "output 1 is truncated") || !strings.Contains(info.Error, "output 3 is truncated") {
		t.Errorf("info = %+v", info)
	}
	if err := NewMerger(&bytes.Buffer{}).Add(strings.NewReader("<html></html>")); err == nil {
		t.Error("a document that is not nmap XML was merged")
	}
}

// TestMergerAddDone: the finished hosts of a cut-off output, put in front
// of the output that scanned the rest, make a document that is complete and
// successful, with the hosts up counted from both.
func TestMergerAddDone(t *testing.T) {
	var buf bytes.Buffer
	m := NewMerger(&buf)
	cut := readFixture(t, "nmap_sv_truncated.xml")
	rest := readFixture(t, "nmap_ipv6.xml")
	_, doneHosts, _ := collect(bytes.NewReader(cut))
	restInfo, restHosts, err := collect(bytes.NewReader(rest))
	if err != nil {
		t.Fatal(err)
	}
	for _, add := range []func() error{
		func() error { return m.AddDone(bytes.NewReader(cut)) },
		func() error { return m.AddDone(bytes.NewReader(nil)) }, // a scanner that wrote nothing yet
		func() error { return m.Add(bytes.NewReader(rest)) },
	} {
		if err := add(); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	info, hosts, err := collect(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("merged document: %v", err)
	}
	if want := append(doneHosts, restHosts...); !reflect.DeepEqual(hosts, want) {
		t.Errorf("merged %d hosts, want the %d finished and the %d of the rest", len(hosts), len(doneHosts), len(restHosts))
	}
	if info.Exit != "success" || info.HostsUp != len(doneHosts)+restInfo.HostsUp {
		t.Errorf("info = %+v, want success and %d + %d hosts up", info, len(doneHosts), restInfo.HostsUp)
	}
	if err := NewMerger(&bytes.Buffer{}).AddDone(strings.NewReader("<html></html>")); err == nil {
		t.Error("a document that is not nmap XML was taken as finished hosts")
	}
}

// TestParseRawLargeDocument crosses many buffer refills (with a reader that
// hands out odd amounts): every host's bytes are exactly its element, and
// read back alone they give the same host.
func TestParseRawLargeDocument(t *testing.T) {
	var doc bytes.Buffer
	if err := gendoc.Write(&doc, 700); err != nil {
		t.Fatal(err)
	}
	_, want, err := collect(bytes.NewReader(doc.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	_, err = ParseRaw(iotest.HalfReader(bytes.NewReader(doc.Bytes())), nil, func(h Host, raw []byte) error {
		if !bytes.HasPrefix(raw, []byte("<host ")) || !bytes.HasSuffix(raw, []byte("</host>")) {
			t.Fatalf("host %d: raw %.40q ... %q", i, raw, raw[max(0, len(raw)-20):])
		}
		_, again, err := collect(bytes.NewReader(append(append([]byte("<nmaprun>"), raw...), "</nmaprun>"...)))
		if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], want[i]) || !reflect.DeepEqual(h, want[i]) {
			t.Fatalf("host %d read back: %v", i, err)
		}
		i++
		return nil
	})
	if err != nil || i != len(want) {
		t.Fatalf("%d hosts, %v", i, err)
	}
}
