package masscan

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan/report"
)

// masscan's one-host-per-port-and-banner output becomes one host per
// address, each port once, its banners kept in extra info.
func TestHostMergerMergesMasscanHosts(t *testing.T) {
	f, err := os.Open("testdata/masscan_banners.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := newHostMerger()
	if _, err := report.Parse(f, func(h report.Host) error { m.add(h); return nil }); err != nil {
		t.Fatal(err)
	}
	var got []string
	err = m.emit(func(h report.Host) error {
		line := h.IP()
		for _, p := range h.Ports {
			line += fmt.Sprintf(" %d/%s:%s:%s", p.Number, p.Protocol, p.State, p.Service.Name)
			if p.Service.ExtraInfo != "" {
				line += "[" + strings.ReplaceAll(p.Service.ExtraInfo, "\n", "|") + "]"
			}
		}
		got = append(got, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`198.18.0.2 22/tcp:open:ssh[SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6] 80/tcp:open:http[`,
		`198.18.0.7 443/tcp:open:`,
		`198.18.0.9 8080/tcp:closed:`,
		`2001:db8::25 25/tcp:open:`,
		`198.18.0.3 53/udp:open:`,
	}
	if len(got) != len(want) {
		t.Fatalf("merged hosts:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("host %d = %s, want it to start %s", i, got[i], want[i])
		}
	}
	if !strings.Contains(got[0], `|title: Scantron & "test" page]`) {
		t.Errorf("the title banner is lost: %s", got[0])
	}
}
