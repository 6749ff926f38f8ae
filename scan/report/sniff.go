package report

import (
	"bufio"
	"bytes"
	"io"
)

// ParseAny reads scanner output in whichever format it is, nmap-style XML
// (nmap or masscan -oX) or masscan JSON (-oJ or -oD), told apart by its
// first byte that is not white space, and behaves as Parse or
// ParseMasscanJSON.
func ParseAny(r io.Reader, fn func(Host) error) (RunInfo, error) {
	br := bufio.NewReaderSize(r, 4096)
	c, err := firstNonSpace(br)
	if err != nil {
		return RunInfo{}, err
	}
	if c == '[' || c == '{' {
		return ParseMasscanJSON(br, fn)
	}
	return Parse(br, fn)
}

// SniffScanner names the scanner that wrote the output br begins with,
// without consuming any of it: "masscan" for masscan JSON, otherwise the
// scanner attribute of the <nmaprun> element when it starts within br's
// buffer, "" when it does not say. A stored run is parsed again this way,
// by what its output says wrote it, not by what its profile says now.
func SniffScanner(br *bufio.Reader) string {
	head, _ := br.Peek(br.Size())
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) > 0 && (head[0] == '[' || head[0] == '{') {
		return "masscan"
	}
	i := bytes.Index(head, []byte("<nmaprun"))
	if i < 0 {
		return ""
	}
	tag := head[i:]
	if end := bytes.IndexByte(tag, '>'); end >= 0 {
		tag = tag[:end]
	}
	for _, q := range []string{`"`, `'`} {
		attr := []byte(" scanner=" + q)
		if j := bytes.Index(tag, attr); j >= 0 {
			v := tag[j+len(attr):]
			if k := bytes.Index(v, []byte(q)); k >= 0 {
				return string(v[:k])
			}
		}
	}
	return ""
}
