package report

import (
	"bufio"
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
