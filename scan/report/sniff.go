package report

import (
	"bufio"
	"fmt"
	"io"
)

// ParseAny reads scanner output in whichever format it is, nmap-style XML
// (nmap or masscan -oX) or masscan JSON (-oJ or -oD), told apart by its
// first byte that is not white space, and behaves as Parse or
// ParseMasscanJSON.
func ParseAny(r io.Reader, fn func(Host) error) (RunInfo, error) {
	br := bufio.NewReaderSize(r, 4096)
	for skipped := 0; ; skipped++ {
		c, err := br.ReadByte()
		if err == io.EOF {
			return RunInfo{}, fmt.Errorf("%w: the document is empty", ErrTruncated)
		}
		if err != nil {
			return RunInfo{}, fmt.Errorf("reading scanner output: %w", err)
		}
		if skipped > maxTokenBytes {
			return RunInfo{}, fmt.Errorf("%w: more than 4 MiB of white space", ErrMalformed)
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		if err := br.UnreadByte(); err != nil {
			return RunInfo{}, fmt.Errorf("reading scanner output: %w", err)
		}
		if c == '[' || c == '{' {
			return ParseMasscanJSON(br, fn)
		}
		return Parse(br, fn)
	}
}
