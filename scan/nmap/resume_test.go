package nmap

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// cutAfter returns doc up to the end of its n-th host plus the first bytes
// of the next one: what a killed nmap leaves behind.
func cutAfter(t *testing.T, doc []byte, n int) []byte {
	t.Helper()
	end := bytes.Index(doc, []byte("<host "))
	for range n {
		i := bytes.Index(doc[end:], []byte("</host>"))
		if i < 0 {
			t.Fatalf("fewer than %d hosts", n)
		}
		end += i + len("</host>")
	}
	return append(slices.Clone(doc[:end]), "\n<host starttime=\"1795562319\"><status st"...)
}

// withoutHosts returns doc without the hosts of the given addresses: the
// output of a run that excluded them.
func withoutHosts(t *testing.T, doc []byte, addrs ...string) []byte {
	t.Helper()
	out := slices.Clone(doc)
	for _, a := range addrs {
		i := bytes.Index(out, []byte(`<address addr="`+a+`"`))
		if i < 0 {
			t.Fatalf("no host %s", a)
		}
		start := bytes.LastIndex(out[:i], []byte("<host "))
		end := i + bytes.Index(out[i:], []byte("</host>")) + len("</host>\n")
		out = append(out[:start], out[end:]...)
	}
	// The fixture's hosts are all up.
	up := bytes.Count(out, []byte(`<status state="up"`))
	return bytes.Replace(out, []byte(`<hosts up="3" down="0" total="3"/>`), fmt.Appendf(nil, `<hosts up="%d" down="0" total="%d"/>`, up, up), 1)
}

func hostsOf(t *testing.T, doc []byte) (report.RunInfo, []report.Host) {
	t.Helper()
	var hosts []report.Host
	info, err := report.Parse(bytes.NewReader(doc), func(h report.Host) error {
		hosts = append(hosts, h)
		return nil
	})
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, doc)
	}
	return info, hosts
}

// TestResumeSkipsAndMerges is the exclusion and merge step of a resumed
// shard: the finished hosts of a killed attempt's output (real nmap output,
// cut off) are the ones skipped, a saved output that is not the shard's is
// not used, and the retry's output put behind the finished hosts gives
// every host of an undisturbed run, once, as a complete document.
func TestResumeSkipsAndMerges(t *testing.T) {
	full, err := os.ReadFile("testdata/resume_full.xml")
	if err != nil {
		t.Fatal(err)
	}
	spec := scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Nmap, Targets: []string{"127.0.0.1-127.0.0.3"}}
	partial := cutAfter(t, full, 2)

	got, err := finishedHosts(bytes.NewReader(partial), spec)
	if err != nil || !slices.Equal(got, []string{"127.0.0.1", "127.0.0.2"}) {
		t.Fatalf("finishedHosts = %v, %v; want the two complete hosts", got, err)
	}

	unusable := map[string]struct {
		doc  []byte
		spec scan.Spec
	}{
		"another shard's hosts": {partial, scan.Spec{Targets: []string{"127.0.0.2-127.0.0.3"}}},
		"a host twice":          {append(cutAfter(t, full, 1), withoutHosts(t, full, "127.0.0.2", "127.0.0.3")[bytes.Index(full, []byte("<host ")):]...), spec},
		"no complete host":      {cutAfter(t, full, 0), spec},
		"not nmap XML":          {[]byte("<html><body>no</body></html>"), spec},
		"empty":                 {nil, spec},
	}
	for name, u := range unusable {
		if got, err := finishedHosts(bytes.NewReader(u.doc), u.spec); err == nil {
			t.Errorf("%s: finishedHosts = %v, want an error", name, got)
		}
	}
	named := scan.Spec{Targets: []string{"db.example"}}
	if _, err := finishedHosts(bytes.NewReader(partial), named); err == nil {
		t.Error("hosts without the target's name were taken for a host-name target")
	}
	withName := bytes.ReplaceAll(partial, []byte("<hostnames>\n</hostnames>"), []byte(`<hostnames><hostname name="db.example" type="user"/></hostnames>`))
	withName = withoutHosts(t, withName, "127.0.0.2")
	if got, err := finishedHosts(bytes.NewReader(withName), named); err != nil || !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("host-name target: %v, %v", got, err)
	}

	dir := t.TempDir()
	done := &resumed{path: filepath.Join(dir, "done.xml"), addrs: got}
	rest := filepath.Join(dir, "out.xml")
	must(t, os.WriteFile(done.path, partial, 0o600))
	must(t, os.WriteFile(rest, withoutHosts(t, full, "127.0.0.1", "127.0.0.2"), 0o600))

	whole := filepath.Join(dir, "whole.xml")
	must(t, withDone(done, rest, whole, false))
	merged, err := os.ReadFile(whole)
	must(t, err)
	info, hosts := hostsOf(t, merged)
	wantInfo, want := hostsOf(t, full)
	if !reflect.DeepEqual(hosts, want) {
		t.Errorf("merged hosts differ from an undisturbed run's:\n%+v\nwant\n%+v", hosts, want)
	}
	if !info.Complete || info.Exit != "success" || info.HostsUp != 3 || info.HostsDown != 0 || info.Args != wantInfo.Args {
		t.Errorf("merged run info %+v", info)
	}

	// A running scan's output is cut off: saved with the finished hosts, it
	// is a complete document of every host finished so far.
	must(t, os.WriteFile(rest, cutAfter(t, withoutHosts(t, full, "127.0.0.1", "127.0.0.2"), 0), 0o600))
	must(t, withDone(done, rest, whole, true))
	saved, err := os.ReadFile(whole)
	must(t, err)
	info, hosts = hostsOf(t, saved)
	if len(hosts) != 2 || hosts[1].IP() != "127.0.0.2" || info.Exit != "success" || info.HostsUp != 2 {
		t.Errorf("saved partial: %d hosts, %+v", len(hosts), info)
	}
	// A stopped scan's output is cut off too, and says so.
	must(t, withDone(done, rest, whole, false))
	stopped, err := os.ReadFile(whole)
	must(t, err)
	if info, _ := hostsOf(t, stopped); info.Exit != "error" || !strings.Contains(info.Error, "truncated") {
		t.Errorf("stopped scan's output: %+v", info)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
