package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The lexer is a small XML tokenizer for the parser: it finds each token's
// end in a buffer it refills from the reader, then reads the token from
// that memory with index arithmetic and bytes.IndexByte, handing out slices
// of its buffer rather than copies. It accepts what encoding/xml's strict
// RawToken accepts for nmap's output (elements, attributes, text, CDATA,
// comments, processing instructions, a DOCTYPE with or without an internal
// subset, the predefined entities and character references) and refuses
// the rest as malformed, as that did: undefined entities, unquoted
// attribute values, "<" in a value, invalid UTF-8 or control characters,
// encodings other than UTF-8.

type tokKind uint8

const (
	tokStart tokKind = iota + 1
	tokEnd
	tokText  // character data, CDATA included
	tokOther // comment, processing instruction, directive
)

// xname is an element or attribute name split at its first colon, as
// encoding/xml's RawToken splits it.
type xname struct {
	space, local string
}

func (n xname) String() string {
	if n.space == "" {
		return n.local
	}
	return n.space + ":" + n.local
}

// rawAttr is one attribute as it is in the buffer: valid until the next
// token.
type rawAttr struct {
	prefixed bool
	local    []byte
	value    []byte // as written between the quotes
	plain    bool   // value holds no reference and no carriage return
}

type lexer struct {
	r     io.Reader
	buf   []byte
	pos   int   // start of the next token in buf
	end   int   // end of the data in buf
	base  int64 // input offset of buf[0]
	rerr  error // sticky read error (io.EOF at the end)
	keep  int64 // input offset before which nothing may be dropped, or -1
	limit int64 // input offset no token may end beyond
	why   string

	// The current token.
	kind     tokKind
	name     xname
	attrs    []rawAttr
	text     []byte
	selfEnd  bool // the start tag was <x/>: an end token comes next
	scratch  []byte
	interned map[string]string
}

func newLexer(r io.Reader) *lexer {
	return &lexer{r: r, buf: make([]byte, 64<<10), keep: -1, interned: map[string]string{}}
}

// offset is the input offset of the next token.
func (l *lexer) offset() int64 { return l.base + int64(l.pos) }

// errors of the lexer, classified by the parser.
var (
	errEOF      = errors.New("end of input")
	errTooLarge = errors.New("parser limit exceeded")
)

type syntaxError string

func (e syntaxError) Error() string { return string(e) }

func syntax(format string, args ...any) error {
	return syntaxError(fmt.Sprintf(format, args...))
}

// fill reads more input, making room first. It returns errEOF at the end
// of input, the read error for any other failure, and errTooLarge when the
// token that starts at pos would run past the limit.
func (l *lexer) fill() error {
	if l.rerr != nil {
		if l.rerr == io.EOF {
			return errEOF
		}
		return l.rerr
	}
	if l.base+int64(l.end) >= l.limit {
		return errTooLarge
	}
	// Drop what no one needs any more, then grow if still full.
	from := l.pos
	if l.keep >= 0 && l.keep-l.base < int64(from) {
		from = int(l.keep - l.base)
	}
	if from > 0 && l.end-from < len(l.buf)/2 {
		copy(l.buf, l.buf[from:l.end])
		l.end -= from
		l.pos -= from
		l.base += int64(from)
	}
	if l.end == len(l.buf) {
		nb := make([]byte, 2*len(l.buf))
		copy(nb, l.buf[:l.end])
		l.buf = nb
	}
	room := l.buf[l.end:]
	if rest := l.limit - (l.base + int64(l.end)); int64(len(room)) > rest {
		room = room[:rest]
	}
	for range 100 {
		n, err := l.r.Read(room)
		l.end += n
		if err != nil {
			l.rerr = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return l.fill()
		}
	}
	l.rerr = io.ErrNoProgress
	return l.rerr
}

// find returns the index in buf of the first occurrence of sep at or after
// buf[pos+from], reading more as needed.
func (l *lexer) find(from int, sep []byte) (int, error) {
	for {
		if i := bytes.Index(l.buf[l.pos+from:l.end], sep); i >= 0 {
			return l.pos + from + i, nil
		}
		from = max(0, l.end-l.pos-len(sep)+1)
		if err := l.fill(); err != nil {
			return 0, err
		}
	}
}

// findByte is find for one byte.
func (l *lexer) findByte(from int, c byte) (int, error) {
	for {
		if i := bytes.IndexByte(l.buf[l.pos+from:l.end], c); i >= 0 {
			return l.pos + from + i, nil
		}
		from = l.end - l.pos
		if err := l.fill(); err != nil {
			return 0, err
		}
	}
}

// at returns buf[pos+i], reading more as needed.
func (l *lexer) at(i int) (byte, error) {
	for l.pos+i >= l.end {
		if err := l.fill(); err != nil {
			return 0, err
		}
	}
	return l.buf[l.pos+i], nil
}

// next reads the next token.
func (l *lexer) next() error {
	if l.selfEnd {
		l.selfEnd = false
		l.kind = tokEnd
		return nil
	}
	c, err := l.at(0)
	if err != nil {
		return err
	}
	if c != '<' {
		end, err := l.findByte(0, '<')
		if err == errEOF {
			end = l.end // the text at the end of input; EOF comes next
		} else if err != nil {
			return err
		}
		raw := l.buf[l.pos:end]
		if err == errEOF {
			// A reference the input cuts off is truncation, not an error.
			if k := bytes.LastIndexByte(raw, '&'); k >= 0 && bytes.IndexByte(raw[k:], ';') < 0 {
				raw = raw[:k]
			}
		}
		l.pos = end
		l.kind = tokText
		l.text, err = l.unescape(raw, true)
		return err
	}
	c, err = l.at(1)
	if err != nil {
		return err
	}
	switch c {
	case '/':
		end, err := l.findByte(2, '>')
		if err != nil {
			return err
		}
		tag := l.buf[l.pos+2 : end]
		l.pos = end + 1
		n, rest := readName(tag)
		if n == 0 || len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
			return syntax("invalid characters between </%s and >", tag)
		}
		l.kind = tokEnd
		l.name = l.splitName(tag[:n])
		return nil
	case '?':
		end, err := l.find(2, []byte("?>"))
		if err != nil {
			return err
		}
		body := l.buf[l.pos+2 : end]
		l.pos = end + 2
		l.kind = tokOther
		return checkProcInst(body)
	case '!':
		return l.bang()
	}
	return l.startTag()
}

func (l *lexer) bang() error {
	c, err := l.at(2)
	if err != nil {
		return err
	}
	switch c {
	case '-': // <!--
		if c, err := l.at(3); err != nil {
			return err
		} else if c != '-' {
			return syntax("invalid sequence <!- not part of <!--")
		}
		end, err := l.find(4, []byte("-->"))
		if err != nil {
			return err
		}
		body := l.buf[l.pos+4 : end]
		l.pos = end + 3
		l.kind = tokOther
		if bytes.Contains(body, []byte("--")) {
			return syntax(`invalid sequence "--" not allowed in comments`)
		}
		return checkChars(body)
	case '[': // <![CDATA[
		for i, want := range []byte("[CDATA[") {
			c, err := l.at(2 + i)
			if err != nil {
				return err
			}
			if c != want {
				return syntax("invalid <![ sequence")
			}
		}
		end, err := l.find(9, []byte("]]>"))
		if err != nil {
			return err
		}
		raw := l.buf[l.pos+9 : end]
		l.pos = end + 3
		l.kind = tokText
		l.text, err = l.unescape(raw, false)
		return err
	}
	// A directive (<!DOCTYPE ...>), perhaps with an internal subset: it ends
	// at the > that closes it, not counting those quoted or nested.
	depth := 0
	var quote byte
	for i := 2; ; i++ {
		c, err := l.at(i)
		if err != nil {
			return err
		}
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '<':
			depth++
		case c == '>':
			if depth == 0 {
				body := l.buf[l.pos+2 : l.pos+i]
				l.pos += i + 1
				l.kind = tokOther
				return checkChars(body)
			}
			depth--
		}
	}
}

func (l *lexer) startTag() error {
	// Find the closing >, stepping over quoted values, which may hold one.
	i := 1
	for {
		c, err := l.at(i)
		if err != nil {
			return err
		}
		if c == '"' || c == '\'' {
			q, err := l.findByte(i+1, c)
			if err != nil {
				return err
			}
			i = q - l.pos + 1
			continue
		}
		if c == '>' {
			break
		}
		// Skip ahead to the next quote or >.
		j := i + 1
		for l.pos+j < l.end {
			if b := l.buf[l.pos+j]; b == '>' || b == '"' || b == '\'' {
				break
			}
			j++
		}
		i = j
	}
	tag := l.buf[l.pos+1 : l.pos+i]
	l.pos += i + 1

	n, rest := readName(tag)
	if n == 0 {
		return syntax("expected element name after <")
	}
	l.kind = tokStart
	l.name = l.splitName(tag[:n])
	l.attrs = l.attrs[:0]
	for {
		trimmed := bytes.TrimLeft(rest, " \t\r\n")
		if len(trimmed) == 0 {
			return nil
		}
		if trimmed[0] == '/' {
			if len(bytes.TrimLeft(trimmed[1:], " \t\r\n")) != 0 || len(trimmed) != 1 {
				return syntax("expected /> in element")
			}
			l.selfEnd = true
			return nil
		}
		n, after := readName(trimmed)
		if n == 0 {
			return syntax("expected attribute name in element")
		}
		name := trimmed[:n]
		after = bytes.TrimLeft(after, " \t\r\n")
		if len(after) == 0 || after[0] != '=' {
			return syntax("attribute name without = in element")
		}
		after = bytes.TrimLeft(after[1:], " \t\r\n")
		if len(after) == 0 || (after[0] != '"' && after[0] != '\'') {
			return syntax("unquoted or missing attribute value in element")
		}
		q := bytes.IndexByte(after[1:], after[0])
		if q < 0 {
			return syntax("unterminated attribute value")
		}
		value := after[1 : 1+q]
		rest = after[2+q:]
		a := rawAttr{local: name, value: value, plain: true}
		if k := bytes.IndexByte(name, ':'); k > 0 && k < len(name)-1 {
			a.prefixed, a.local = true, name[k+1:]
		}
		if bytes.IndexByte(value, '<') >= 0 {
			return syntax("unescaped < inside quoted string")
		}
		if bytes.IndexByte(value, '&') >= 0 || bytes.IndexByte(value, '\r') >= 0 {
			a.plain = false
		}
		if err := checkChars(value); err != nil {
			return err
		}
		l.attrs = append(l.attrs, a)
		if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\r' && rest[0] != '\n' && rest[0] != '/' {
			return syntax("expected white space between attributes")
		}
	}
}

// value returns an attribute's value with references replaced.
func (l *lexer) value(a rawAttr) (string, error) {
	if a.plain {
		return string(a.value), nil
	}
	v, err := l.unescape(a.value, true)
	return string(v), err
}

// splitName splits a name at its first colon (as encoding/xml does, a
// leading or trailing colon stays in the local part) and interns it.
func (l *lexer) splitName(b []byte) xname {
	if k := bytes.IndexByte(b, ':'); k > 0 && k < len(b)-1 {
		return xname{space: l.intern(b[:k]), local: l.intern(b[k+1:])}
	}
	return xname{local: l.intern(b)}
}

func (l *lexer) intern(b []byte) string {
	if s, ok := l.interned[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(l.interned) < 4096 {
		l.interned[s] = s
	}
	return s
}

// readName returns the length of the XML name at the start of b and what
// follows it.
func readName(b []byte) (int, []byte) {
	n := 0
	for n < len(b) {
		c := b[n]
		if c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':' ||
			n > 0 && ('0' <= c && c <= '9' || c == '-' || c == '.') {
			n++
			continue
		}
		break
	}
	if n > 0 && !utf8.Valid(b[:n]) {
		return 0, b
	}
	return n, b[n:]
}

// unescape replaces references (when refs is set) and turns \r\n and lone
// \r into \n, as XML requires, checking every character. The result is
// raw itself when nothing changes, or the lexer's scratch buffer.
func (l *lexer) unescape(raw []byte, refs bool) ([]byte, error) {
	if err := checkChars(raw); err != nil {
		return nil, err
	}
	if (!refs || bytes.IndexByte(raw, '&') < 0) && bytes.IndexByte(raw, '\r') < 0 {
		return raw, nil
	}
	out := l.scratch[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\r':
			out = append(out, '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		case c == '&' && refs:
			semi := bytes.IndexByte(raw[i+1:], ';')
			if semi < 0 {
				return nil, syntax("invalid character entity (no semicolon)")
			}
			ent := raw[i+1 : i+1+semi]
			i += 1 + semi
			switch string(ent) {
			case "lt":
				out = append(out, '<')
			case "gt":
				out = append(out, '>')
			case "amp":
				out = append(out, '&')
			case "apos":
				out = append(out, '\'')
			case "quot":
				out = append(out, '"')
			default:
				r, ok := charRef(ent)
				if !ok {
					return nil, syntax("invalid character entity &%s;", ent)
				}
				out = utf8.AppendRune(out, r)
			}
		default:
			out = append(out, c)
		}
	}
	l.scratch = out
	return out, nil
}

// charRef reads #N or #xN.
func charRef(ent []byte) (rune, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	var n uint64
	var err error
	if ent[1] == 'x' {
		n, err = strconv.ParseUint(string(ent[2:]), 16, 32)
	} else {
		n, err = strconv.ParseUint(string(ent[1:]), 10, 32)
	}
	if err != nil || !inCharRange(rune(n)) {
		return 0, false
	}
	return rune(n), true
}

// checkChars refuses invalid UTF-8 and characters XML does not allow.
func checkChars(b []byte) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return syntax("illegal character code U+%04X", c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return syntax("invalid UTF-8")
		}
		if !inCharRange(r) {
			return syntax("illegal character code %U", r)
		}
		i += size
	}
	return nil
}

func inCharRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// checkProcInst refuses an XML declaration of another version or encoding.
func checkProcInst(body []byte) error {
	if err := checkChars(body); err != nil {
		return err
	}
	target, content, _ := strings.Cut(string(body), " ")
	if target != "xml" {
		return nil
	}
	if v := pseudoAttr("version", content); v != "" && v != "1.0" {
		return syntax("unsupported version %q; only version 1.0 is supported", v)
	}
	if enc := pseudoAttr("encoding", content); enc != "" && !strings.EqualFold(enc, "utf-8") {
		return syntax("xml: encoding %q declared but only UTF-8 is read", enc)
	}
	return nil
}

// pseudoAttr reads name="value" (or 'value') from an XML declaration.
func pseudoAttr(name, s string) string {
	for {
		i := strings.Index(s, name)
		if i < 0 {
			return ""
		}
		s = s[i+len(name):]
		rest := strings.TrimLeft(s, " \t\r\n")
		if !strings.HasPrefix(rest, "=") {
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t\r\n")
		if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
			return ""
		}
		if j := strings.IndexByte(rest[1:], rest[0]); j >= 0 {
			return rest[1 : 1+j]
		}
		return ""
	}
}
