package zmap

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"html"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/scantron/scantron/scan/driver"
)

// writeXML reads zmap's CSV output (a header of the fields asked for, then
// one line per answer that passed the output filter) and writes it to w as
// an nmap-style document: one host element per address that answered, with
// its open port (tcp_synscan) or up (icmp_echoscan). Answers from an
// address that is not a target, or repeated, are left out. stopped: the
// last line may be cut off, and is dropped.
func writeXML(w io.Writer, in io.Reader, p plan, start time.Time, stopped bool) (int, error) {
	bw := bufio.NewWriter(w)
	rows, err := readCSV(in, stopped)
	if err != nil {
		return 0, err
	}
	scanType, proto := "syn", "tcp"
	if p.probe.module == "icmp_echoscan" {
		scanType, proto = "ping", "icmp"
	}
	fmt.Fprintf(bw, "<?xml version=\"1.0\"?>\n<nmaprun scanner=\"zmap\" start=\"%d\" xmloutputversion=\"1.03\">\n<scaninfo type=\"%s\" protocol=\"%s\" />\n", start.Unix(), scanType, proto)
	seen := map[netip.Addr]bool{}
	n := 0
	for _, r := range rows {
		if seen[r.addr] || !driver.InTargets(p.targetsSet, r.addr, nil) {
			continue
		}
		seen[r.addr] = true
		n++
		at := r.at
		if at.IsZero() {
			at = time.Now()
		}
		fmt.Fprintf(bw, "<host endtime=\"%d\"><status state=\"up\" reason=\"%s\" reason_ttl=\"0\"/><address addr=\"%s\" addrtype=\"ipv4\"/>",
			at.Unix(), html.EscapeString(reason(r.class)), html.EscapeString(r.addr.String()))
		if p.probe.module == "tcp_synscan" {
			port := r.port
			if port == 0 {
				port = p.probe.port
			}
			fmt.Fprintf(bw, "<ports><port protocol=\"tcp\" portid=\"%d\"><state state=\"open\" reason=\"%s\" reason_ttl=\"0\"/></port></ports>", port, html.EscapeString(reason(r.class)))
		}
		bw.WriteString("</host>\n")
	}
	now := time.Now()
	fmt.Fprintf(bw, "<runstats>\n<finished time=\"%d\" timestr=\"%s\" elapsed=\"%d\" exit=\"success\"/>\n<hosts up=\"%d\" down=\"0\" total=\"%d\" />\n</runstats>\n</nmaprun>\n",
		now.Unix(), now.UTC().Format("2006-01-02 15:04:05"), int64(now.Sub(start).Seconds()), n, n)
	return n, bw.Flush()
}

// reason names an answer as nmap would: "syn-ack", "echo-reply"; a
// classification that is not a plain word (zmap's output is read as
// untrusted) is "response".
func reason(class string) string {
	switch class {
	case "synack":
		return "syn-ack"
	case "echoreply":
		return "echo-reply"
	}
	if class == "" || len(class) > 32 || strings.Trim(class, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		return "response"
	}
	return class
}

// row is one answer of zmap's CSV output.
type row struct {
	addr  netip.Addr
	port  int
	class string
	at    time.Time
}

// readCSV reads zmap's CSV output by its header's field names.
func readCSV(in io.Reader, stopped bool) ([]row, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	if stopped {
		// A stopped zmap may have written half a line.
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			data = data[:i+1]
		} else {
			data = nil
		}
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = 0 // every line as many fields as the header
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zmap CSV header: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		col[name] = i
	}
	if _, ok := col["saddr"]; !ok {
		return nil, fmt.Errorf("zmap CSV has no saddr field (header %q)", header)
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var rows []row
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("zmap CSV line %d: %w", line, err)
		}
		if get(rec, "success") == "0" || (get(rec, "repeat") != "" && get(rec, "repeat") != "0") {
			continue
		}
		addr, err := netip.ParseAddr(get(rec, "saddr"))
		if err != nil || !addr.Is4() {
			return nil, fmt.Errorf("zmap CSV line %d: %q is not an IPv4 address", line, get(rec, "saddr"))
		}
		rw := row{addr: addr, class: get(rec, "classification")}
		if s := get(rec, "sport"); s != "" {
			if rw.port, err = strconv.Atoi(s); err != nil || rw.port < 1 || rw.port > 65535 {
				return nil, fmt.Errorf("zmap CSV line %d: port %q", line, s)
			}
		}
		if s := get(rec, "timestamp-ts"); s != "" {
			if ts, err := strconv.ParseInt(s, 10, 64); err == nil {
				rw.at = time.Unix(ts, 0)
			}
		}
		rows = append(rows, rw)
	}
}
