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

// flush hands over a last line that had no end.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 && !w.discard {
		w.onLine(strings.TrimRight(string(w.buf), "\r"))
	}
	w.buf, w.discard = w.buf[:0], false
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	max     int
	buf     []byte
	dropped bool // bytes before buf were dropped
	before  byte // the last byte dropped
}

func (w *tailWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > w.max {
		w.before, w.dropped = p[len(p)-w.max-1], true
		p = p[len(p)-w.max:]
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) > 2*w.max {
		w.before, w.dropped = w.buf[len(w.buf)-w.max-1], true
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.max:]...)
	}
	return n, nil
}

// String returns the tail: at most max bytes, without the partial line it
// may start with, made valid UTF-8 and trimmed.
func (w *tailWriter) String() string {
	b, cut, before := w.buf, w.dropped, w.before
	if len(b) > w.max {
		cut, before = true, b[len(b)-w.max-1]
		b = b[len(b)-w.max:]
	}
	if cut && before != '\n' {
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	if cut {
		s = "..." + s
	}
	return s
}
