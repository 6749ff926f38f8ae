package driver

import "bytes"

// maxLine bounds a line kept by Lines; the rest of a longer one is dropped.
const maxLine = 4096

// Lines is an io.Writer that hands each line written to it, ended by \n or
// \r (masscan and zmap rewrite their status lines in place with \r), to Fn, without
// its end and trimmed of trailing spaces. Empty lines are skipped.
type Lines struct {
	Fn   func(string)
	buf  []byte
	drop bool
}

func (w *Lines) Write(p []byte) (int, error) {
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexAny(rest, "\r\n")
		if i < 0 {
			w.add(rest)
			break
		}
		w.add(rest[:i])
		w.Flush()
		rest = rest[i+1:]
	}
	return len(p), nil
}

func (w *Lines) add(b []byte) {
	if w.drop || len(w.buf)+len(b) > maxLine {
		w.buf, w.drop = w.buf[:0], true
		return
	}
	w.buf = append(w.buf, b...)
}

// Flush hands over a last line that had no end.
func (w *Lines) Flush() {
	if line := bytes.TrimRight(w.buf, " "); len(line) > 0 && !w.drop {
		w.Fn(string(line))
	}
	w.buf, w.drop = w.buf[:0], false
}
