package main

import "fmt"

// importFixture is nmap output of 127.0.0.1 with port open, scanned on
// 2023-11-14 at 22:13:20 UTC: scanner output from before, to import.
func importFixture(port int) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -n -sT -p %[1]d 127.0.0.1" start="1700000000" version="7.94" xmloutputversion="1.05">
<host starttime="1700000000" endtime="1700000001"><status state="up" reason="syn-ack"/>
<address addr="127.0.0.1" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="%[1]d"><state state="open" reason="syn-ack"/><service name="unknown"/></port></ports></host>
<runstats><finished time="1700000002" elapsed="2" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
`, port)
}
