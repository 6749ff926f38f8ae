package query

import (
	"fmt"
	"strings"
	"unicode"
)

// Error is a query that does not parse, with the 1-based column (counted
// in characters) where the trouble is.
type Error struct {
	Col int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("col %d: %s", e.Col, e.Msg) }

func errAt(col int, format string, args ...any) *Error {
	return &Error{Col: col, Msg: fmt.Sprintf(format, args...)}
}

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tOr
	tAnd
	tNot
	tTerm
)

type token struct {
	kind tokKind
	col  int
	// A term's field name, its value split at unescaped wildcards, and the
	// column where the value starts.
	field    string
	parts    []string
	valueCol int
}

// lexer splits a query into tokens; a bare value ends at white space or a
// parenthesis, a quoted one at its closing quote. \" \\ and \* escape in
// both.
type lexer struct {
	src []rune
	pos int
}

func (l *lexer) col() int { return l.pos + 1 }

func isDelim(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == ')' }

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && unicode.IsSpace(l.src[l.pos]) {
		l.pos++
	}
	if l.pos >= len(l.src) {
		return token{kind: tEOF, col: l.col()}, nil
	}
	start := l.col()
	switch r := l.src[l.pos]; {
	case r == '(':
		l.pos++
		return token{kind: tLParen, col: start}, nil
	case r == ')':
		l.pos++
		return token{kind: tRParen, col: start}, nil
	case r == '-':
		l.pos++
		if l.pos >= len(l.src) || isDelim(l.src[l.pos]) && l.src[l.pos] != '(' {
			return token{}, errAt(start, "- must be followed directly by a term or a parenthesis")
		}
		return token{kind: tNot, col: start}, nil
	case r == '"':
		return token{}, errAt(start, "a quoted value needs a field before it, like product:\"Apache httpd\"")
	case unicode.IsControl(r):
		return token{}, errAt(start, "control character %U", r)
	}
	// A word: a keyword, or field:value.
	for l.pos < len(l.src) && !isDelim(l.src[l.pos]) && l.src[l.pos] != ':' && l.src[l.pos] != '"' {
		l.pos++
	}
	word := string(l.src[start-1 : l.pos])
	if l.pos >= len(l.src) || l.src[l.pos] != ':' {
		switch word {
		case "OR":
			return token{kind: tOr, col: start}, nil
		case "AND":
			return token{kind: tAnd, col: start}, nil
		case "NOT":
			return token{kind: tNot, col: start}, nil
		}
		if l.pos < len(l.src) && l.src[l.pos] == '"' {
			return token{}, errAt(l.col(), "a quote can only start a value, right after field:")
		}
		if f := closest(strings.ToLower(word)); f != "" && strings.ToLower(word) != f {
			return token{}, errAt(start, "%q is not a term: write field:value (did you mean %s:?)", clipped(word), f)
		}
		return token{}, errAt(start, "%q is not a term: write field:value, e.g. service:http (fields: %s)",
			clipped(word), strings.Join(Fields(), ", "))
	}
	l.pos++ // the colon
	tok := token{kind: tTerm, col: start, field: word, valueCol: l.col()}
	var err error
	if l.pos < len(l.src) && l.src[l.pos] == '"' {
		tok.parts, err = l.quoted()
	} else {
		tok.parts, err = l.bare()
	}
	if err != nil {
		return token{}, err
	}
	if len(tok.parts) == 1 && tok.parts[0] == "" {
		return token{}, errAt(tok.valueCol, "%s: needs a value", clipped(word))
	}
	return tok, nil
}

func (l *lexer) bare() ([]string, error) {
	parts := []string{""}
	var err error
	for l.pos < len(l.src) && !isDelim(l.src[l.pos]) {
		if l.src[l.pos] == '"' {
			return nil, errAt(l.col(), "a quote inside a bare value: quote the whole value, or escape it as \\\"")
		}
		if parts, err = l.char(parts); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

func (l *lexer) quoted() ([]string, error) {
	open := l.col()
	l.pos++
	parts := []string{""}
	var err error
	for l.pos < len(l.src) {
		if l.src[l.pos] == '"' {
			l.pos++
			if l.pos < len(l.src) && !isDelim(l.src[l.pos]) {
				return nil, errAt(l.col(), "a closing quote must end the value")
			}
			return parts, nil
		}
		if parts, err = l.char(parts); err != nil {
			return nil, err
		}
	}
	return nil, errAt(open, "this quote is never closed")
}

// char reads one character of a value at l.pos into parts: an escape, a
// wildcard (which starts a new part) or itself.
func (l *lexer) char(parts []string) ([]string, error) {
	switch r := l.src[l.pos]; {
	case unicode.IsControl(r):
		return nil, errAt(l.col(), "control character %U", r)
	case r == '\\':
		e, err := l.escape()
		if err != nil {
			return nil, err
		}
		parts[len(parts)-1] += string(e)
		return parts, nil
	case r == '*':
		parts = append(parts, "")
	default:
		parts[len(parts)-1] += string(r)
	}
	l.pos++
	return parts, nil
}

// escape reads \" \\ or \* at l.pos and moves past it.
func (l *lexer) escape() (rune, error) {
	if l.pos+1 >= len(l.src) {
		return 0, errAt(l.col(), "a backslash must escape \", \\ or *")
	}
	e := l.src[l.pos+1]
	if e != '"' && e != '\\' && e != '*' {
		return 0, errAt(l.col(), "\\%c is not an escape: only \\\", \\\\ and \\* are", e)
	}
	l.pos += 2
	return e, nil
}

// clipped shortens a piece of the query quoted back in an error.
func clipped(s string) string {
	const keep = 40
	if r := []rune(s); len(r) > keep {
		return string(r[:keep]) + "…"
	}
	return s
}
