package report

import (
	"bytes"
	"sync"
	"testing"

	nmap "github.com/Ullaakut/nmap/v3"

	"github.com/scantron/scantron/scan/report/internal/gendoc"
)

// benchDoc is about 21 MB: 4096 hosts with 12 ports each, services, CPEs and
// a script, the shape of a -sV scan of a /20. `make bench` also compares the
// parsers on 10 MB, 100 MB and 1 GB files (scan/report/internal/benchparse).
var benchDoc = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	if err := gendoc.Write(&b, 4096); err != nil {
		panic(err)
	}
	return b.Bytes()
})

func BenchmarkParse(b *testing.B) {
	doc := benchDoc()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := Parse(bytes.NewReader(doc), func(Host) error { n++; return nil }); err != nil || n != 4096 {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkUllaakutParse parses the same bytes with github.com/Ullaakut/nmap/v3,
// which unmarshals the whole document into memory at once.
func BenchmarkUllaakutParse(b *testing.B) {
	doc := benchDoc()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		var run nmap.Run
		if err := nmap.Parse(doc, &run); err != nil || len(run.Hosts) != 4096 {
			b.Fatal(len(run.Hosts), err)
		}
	}
}
