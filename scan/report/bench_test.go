package report

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	nmap "github.com/Ullaakut/nmap/v3"
)

var benchDoc = sync.OnceValue(func() []byte {
	// About 21 MB: 4096 hosts with 12 ports each, services, CPEs and a script,
	// the shape of a -sV scan of a /20.
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<!DOCTYPE nmaprun>\n" +
		`<?xml-stylesheet href="https://svn.nmap.org/nmap/docs/nmap.xsl" type="text/xsl"?>` + "\n" +
		`<nmaprun scanner="nmap" args="nmap -n -sV 198.18.0.0/20" start="1795554198" version="7.93" xmloutputversion="1.05">` + "\n")
	for i := range 4096 {
		fmt.Fprintf(&b, `<host starttime="1795554198" endtime="1795554205"><status state="up" reason="syn-ack" reason_ttl="64"/>`+"\n"+
			`<address addr="198.18.%d.%d" addrtype="ipv4"/>`+"\n<hostnames>\n</hostnames>\n<ports>", i/256, i%256)
		b.WriteString(`<extraports state="closed" count="988"><extrareasons reason="reset" count="988" proto="tcp" ports="1-21"/></extraports>` + "\n")
		for p := range 12 {
			fmt.Fprintf(&b, `<port protocol="tcp" portid="%d"><state state="open" reason="syn-ack" reason_ttl="64"/>`+
				`<service name="ssh" product="OpenSSH" version="8.9p1 Ubuntu 3ubuntu0.6" extrainfo="Ubuntu Linux; protocol 2.0" ostype="Linux" method="probed" conf="10">`+
				`<cpe>cpe:/a:openbsd:openssh:8.9p1</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service>`+
				`<script id="banner" output="SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6"/></port>`+"\n", 22+p)
		}
		b.WriteString("</ports>\n" + `<times srtt="816" rttvar="2325" to="100000"/>` + "\n</host>\n")
	}
	b.WriteString(`<runstats><finished time="1795554298" summary="done" elapsed="100" exit="success"/><hosts up="4096" down="0" total="4096"/>` +
		"\n</runstats>\n</nmaprun>\n")
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
