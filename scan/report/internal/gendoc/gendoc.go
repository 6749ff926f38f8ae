// Package gendoc writes synthetic nmap XML documents of any size for
// benchmarks: the shape of a -sV scan, every host up with a dozen open ports,
// services, CPEs and a script each.
package gendoc

import (
	"bufio"
	"fmt"
	"io"
)

// HostBytes is about how many bytes one host takes.
const HostBytes = 5150

// Write writes a complete document of hosts hosts to w.
func Write(w io.Writer, hosts int) error {
	b := bufio.NewWriterSize(w, 1<<20)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<!DOCTYPE nmaprun>\n" +
		`<?xml-stylesheet href="https://svn.nmap.org/nmap/docs/nmap.xsl" type="text/xsl"?>` + "\n" +
		`<nmaprun scanner="nmap" args="nmap -n -sV 198.18.0.0/15" start="1795554198" version="7.93" xmloutputversion="1.05">` + "\n")
	for i := range hosts {
		fmt.Fprintf(b, `<host starttime="1795554198" endtime="1795554205"><status state="up" reason="syn-ack" reason_ttl="64"/>`+"\n"+
			`<address addr="198.%d.%d.%d" addrtype="ipv4"/>`+"\n<hostnames>\n</hostnames>\n<ports>", 18+i>>16&1, i>>8&255, i&255)
		b.WriteString(`<extraports state="closed" count="988"><extrareasons reason="reset" count="988" proto="tcp" ports="1-21"/></extraports>` + "\n")
		for p := range 12 {
			fmt.Fprintf(b, `<port protocol="tcp" portid="%d"><state state="open" reason="syn-ack" reason_ttl="64"/>`+
				`<service name="ssh" product="OpenSSH" version="8.9p1 Ubuntu 3ubuntu0.6" extrainfo="Ubuntu Linux; protocol 2.0" ostype="Linux" method="probed" conf="10">`+
				`<cpe>cpe:/a:openbsd:openssh:8.9p1</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service>`+
				`<script id="banner" output="SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6"/></port>`+"\n", 22+p)
		}
		b.WriteString("</ports>\n" + `<times srtt="816" rttvar="2325" to="100000"/>` + "\n</host>\n")
	}
	fmt.Fprintf(b, `<runstats><finished time="1795554298" summary="done" elapsed="100" exit="success"/><hosts up="%d" down="0" total="%d"/>`+
		"\n</runstats>\n</nmaprun>\n", hosts, hosts)
	return b.Flush()
}
