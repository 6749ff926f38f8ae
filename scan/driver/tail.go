package driver

import (
	"bytes"
	"strings"
)

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
