package web

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxLogValue is the most characters of one logged value: enough for any
// name, path or error the server means to record, too few for a client to
// fill the log with one request.
const maxLogValue = 300

// boundLogs wraps the server's log handler so that whatever a client sent
// reaches the log bounded and escaped, whichever handler logs it and
// whichever attribute carries it: every string and error value (and the
// message) is cut to maxLogValue characters, and control characters and
// bytes that are not UTF-8 are written as Go escapes, so that a value can
// neither forge a line nor hide what it holds. A recovered panic's stack is
// the server's own text and is kept whole.
func boundLogs(h slog.Handler) slog.Handler {
	if _, ok := h.(boundHandler); ok {
		return h
	}
	return boundHandler{h: h}
}

type boundHandler struct{ h slog.Handler }

func (b boundHandler) Enabled(ctx context.Context, l slog.Level) bool { return b.h.Enabled(ctx, l) }

func (b boundHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, logValue(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(boundAttr(a))
		return true
	})
	return b.h.Handle(ctx, out)
}

func (b boundHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	bounded := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		bounded[i] = boundAttr(a)
	}
	return boundHandler{h: b.h.WithAttrs(bounded)}
}

func (b boundHandler) WithGroup(name string) slog.Handler {
	return boundHandler{h: b.h.WithGroup(logValue(name))}
}

func boundAttr(a slog.Attr) slog.Attr {
	if a.Key == "stack" {
		return a
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, logValue(v.String()))
	case slog.KindGroup:
		group := v.Group()
		bounded := make([]any, len(group))
		for i, g := range group {
			bounded[i] = boundAttr(g)
		}
		return slog.Group(a.Key, bounded...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, logValue(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, logValue(x.String()))
		case []byte:
			return slog.String(a.Key, logValue(string(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// logValue is s as it may appear in a log: escaped where it is not
// printable UTF-8, and cut after maxLogValue characters with a note of how
// long it was.
func logValue(s string) string {
	clean := utf8.ValidString(s) && !strings.ContainsFunc(s, isControl)
	if clean && len(s) <= maxLogValue {
		return s
	}
	out := s
	if !clean {
		q := strconv.Quote(s)
		out = q[1 : len(q)-1]
	}
	if utf8.RuneCountInString(out) > maxLogValue {
		out = strings.ToValidUTF8(string([]rune(out)[:maxLogValue]), "")
		out += fmt.Sprintf("…(%d bytes in all)", len(s))
	}
	return out
}
