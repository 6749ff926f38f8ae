package masscan

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/scantron/scantron/scan/report"
)

// masscan leaves its -oX file empty, or makes none, when nothing answered:
// the shard's output is then a whole document of no host, which parses,
// rather than an empty file, which reads as cut off. Output with records
// is left as it is.
func TestEnsureDocument(t *testing.T) {
	dir := t.TempDir()
	empty, missing, found := filepath.Join(dir, "empty.xml"), filepath.Join(dir, "missing.xml"), filepath.Join(dir, "found.xml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	body := []byte("<?xml version=\"1.0\"?>\n<nmaprun scanner=\"masscan\"><host endtime=\"1\"><address addr=\"198.18.0.2\" addrtype=\"ipv4\"/><ports><port protocol=\"tcp\" portid=\"22\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/></port></ports></host><runstats><finished time=\"1\"/></runstats></nmaprun>\n")
	if err := os.WriteFile(found, body, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{empty, missing, found} {
		if err := ensureDocument(path, time.Now()); err != nil {
			t.Fatalf("%s: %v", filepath.Base(path), err)
		}
		out, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		hosts := 0
		var d Driver
		if err := d.Parse(bytes.NewReader(out), false, func(report.Host) error { hosts++; return nil }); err != nil {
			t.Errorf("%s: %v:\n%s", filepath.Base(path), err, out)
		}
		if want := map[string]int{empty: 0, missing: 0, found: 1}[path]; hosts != want {
			t.Errorf("%s: %d hosts, want %d", filepath.Base(path), hosts, want)
		}
	}
	if out, _ := os.ReadFile(found); !bytes.Equal(out, body) {
		t.Error("output with records was rewritten")
	}
}
