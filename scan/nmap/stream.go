package nmap

import (
	"bytes"
	"io"
	"strings"
)

// maxLine bounds one line of nmap's standard output kept for progress
// parsing; the rest of a longer line is dropped (progress lines are short).
const maxLine = 4096

// lineWriter receives nmap's standard output: it copies it to tee, if any,
// and hands each complete line to onLine.
type lineWriter struct {
	tee     io.Writer
	teeErr  error
	onLine  func(string)
	buf     []byte
	discard bool // the current line is too long; drop it up to its end
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.tee != nil && w.teeErr == nil {
		// A failing tee must not block nmap: stop copying, keep reading.
		_, w.teeErr = w.tee.Write(p)
	}
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			w.add(rest)
			break
		}
		w.add(rest[:i])
		if !w.discard {
			w.onLine(strings.TrimRight(string(w.buf), "\r"))
		}
		w.buf, w.discard = w.buf[:0], false
		rest = rest[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) add(b []byte) {
	if w.discard {
		return
	}
	if len(w.buf)+len(b) > maxLine {
		w.buf, w.discard = w.buf[:0], true
		return
	}
	w.buf = append(w.buf, b...)
}

// Flush hands over a last line that had no end.
func (w *lineWriter) Flush() {
	if len(w.buf) > 0 && !w.discard {
		w.onLine(strings.TrimRight(string(w.buf), "\r"))
	}
	w.buf, w.discard = w.buf[:0], false
}
