package query

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits keep a query cheap to parse and to run.
const (
	MaxLen      = 1000 // characters, as every query parameter of the API
	MaxTerms    = 64
	MaxDepth    = 16 // nested parentheses and negations
	maxValueLen = 200
	maxAge      = 100 * 365 * 24 * time.Hour
)

// MaxCount is how many matches a search counts before it says "more than
// MaxCount": counting is what costs most in a broad query over a million
// ports, and nobody pages through more.
const MaxCount = 10000

// Parse reads a query. An empty query matches every port of the current
// assets. Errors are *Error, with the column of the offending text.
func Parse(s string) (Query, error) {
	if !utf8.ValidString(s) {
		return Query{}, errAt(1, "the query is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxLen {
		return Query{}, errAt(MaxLen+1, "the query is longer than %d characters", MaxLen)
	}
	p := &parser{lex: lexer{src: []rune(s)}}
	if err := p.advance(); err != nil {
		return Query{}, err
	}
	if p.tok.kind == tEOF {
		return Query{}, nil
	}
	root, err := p.or(0)
	if err != nil {
		return Query{}, err
	}
	switch p.tok.kind {
	case tEOF:
	case tRParen:
		return Query{}, errAt(p.tok.col, ") without a matching (")
	default:
		return Query{}, errAt(p.tok.col, "unexpected text")
	}
	return p.lift(root)
}

type parser struct {
	lex   lexer
	tok   token
	terms int
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) or(depth int) (Node, error) {
	first, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	nodes := []Node{first}
	for p.tok.kind == tOr {
		col := p.tok.col
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.startsUnary() {
			return nil, errAt(col, "OR needs a term on its right")
		}
		n, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return Or{Nodes: nodes}, nil
}

func (p *parser) startsUnary() bool {
	switch p.tok.kind {
	case tNot, tLParen, tTerm:
		return true
	}
	return false
}

func (p *parser) and(depth int) (Node, error) {
	var nodes []Node
	for {
		switch p.tok.kind {
		case tOr:
			if len(nodes) == 0 {
				return nil, errAt(p.tok.col, "OR needs a term on its left")
			}
			return wrapAnd(nodes), nil
		case tEOF, tRParen:
			if len(nodes) == 0 {
				return nil, errAt(p.tok.col, "a term is missing here")
			}
			return wrapAnd(nodes), nil
		case tAnd:
			col := p.tok.col
			if len(nodes) == 0 {
				return nil, errAt(col, "AND needs a term on its left")
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			if !p.startsUnary() {
				return nil, errAt(col, "AND needs a term on its right")
			}
		}
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
}

func wrapAnd(nodes []Node) Node {
	if len(nodes) == 1 {
		return nodes[0]
	}
	return And{Nodes: nodes}
}

func (p *parser) unary(depth int) (Node, error) {
	if depth >= MaxDepth {
		return nil, errAt(p.tok.col, "nested more than %d deep", MaxDepth)
	}
	switch t := p.tok; t.kind {
	case tNot:
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.startsUnary() {
			return nil, errAt(t.col, "nothing to negate here")
		}
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return Not{Node: n}, nil
	case tLParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tRParen {
			return nil, errAt(p.tok.col, "empty parentheses")
		}
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, errAt(t.col, "this ( is never closed")
		}
		return n, p.advance()
	case tTerm:
		p.terms++
		if p.terms > MaxTerms {
			return nil, errAt(t.col, "more than %d terms", MaxTerms)
		}
		term, err := parseTerm(t)
		if err != nil {
			return nil, err
		}
		return term, p.advance()
	case tRParen:
		return nil, errAt(t.col, ") without a matching (")
	}
	return nil, errAt(p.tok.col, "a term is missing here")
}

// lift takes run: out of the tree: it says what is searched, so it may
// only be ANDed at the top, once.
func (p *parser) lift(root Node) (Query, error) {
	var q Query
	var runCol int
	take := func(n Node) (keep bool, err error) {
		t, ok := n.(Term)
		if !ok || t.Field != Run {
			return true, nil
		}
		if q.Run != 0 {
			return false, errAt(t.Col, "run: given twice")
		}
		q.Run, runCol = t.Run, t.Col
		return false, nil
	}
	switch r := root.(type) {
	case And:
		var rest []Node
		for _, n := range r.Nodes {
			keep, err := take(n)
			if err != nil {
				return Query{}, err
			}
			if keep {
				rest = append(rest, n)
			}
		}
		if len(rest) > 0 {
			q.Root = wrapAnd(rest)
		}
	default:
		keep, err := take(root)
		if err != nil {
			return Query{}, err
		}
		if keep {
			q.Root = root
		}
	}
	var err error
	walk(q.Root, func(t Term) {
		if err != nil {
			return
		}
		switch {
		case t.Field == Run:
			err = errAt(t.Col, "run: chooses which results are searched: it cannot be negated, ORed or parenthesised")
		case q.Run != 0 && t.Field == First:
			err = errAt(t.Col, "first: is about current assets: a run (run: at col %d) has no first sighting", runCol)
		}
	})
	if err != nil {
		return Query{}, err
	}
	return q, nil
}

// walk calls fn for every term of the tree.
func walk(n Node, fn func(Term)) {
	switch v := n.(type) {
	case And:
		for _, c := range v.Nodes {
			walk(c, fn)
		}
	case Or:
		for _, c := range v.Nodes {
			walk(c, fn)
		}
	case Not:
		walk(v.Node, fn)
	case Term:
		fn(v)
	}
}

// Terms lists the terms of a tree, in order.
func Terms(n Node) []Term {
	var out []Term
	walk(n, func(t Term) { out = append(out, t) })
	return out
}

func parseTerm(t token) (Term, error) {
	name := strings.ToLower(t.field)
	f := Field(name)
	kind, ok := fields[f]
	if !ok {
		if c := closest(name); c != "" {
			return Term{}, errAt(t.col, "unknown field %q; did you mean %s?", clipped(t.field), c)
		}
		return Term{}, errAt(t.col, "unknown field %q; the fields are %s", clipped(t.field), strings.Join(Fields(), ", "))
	}
	term := Term{Field: f, Col: t.col}
	if kind == KindText {
		n := 0
		for _, part := range t.parts {
			n += utf8.RuneCountInString(part)
		}
		if n > maxValueLen {
			return Term{}, errAt(t.valueCol, "%s: the value is longer than %d characters", name, maxValueLen)
		}
		if strings.Join(t.parts, "") == "" {
			return Term{}, errAt(t.valueCol, "%s: a value of wildcards alone matches everything: leave the term out", name)
		}
		term.Text = Pattern{Parts: t.parts}
		return term, nil
	}
	if len(t.parts) > 1 {
		return Term{}, errAt(t.valueCol, "%s: wildcards only work in text fields (service, product, version, cpe, script, host, site, scan, agent)", name)
	}
	v := t.parts[0]
	var err error
	switch kind {
	case KindEnum:
		lv := strings.ToLower(v)
		for _, w := range enums[f] {
			if lv == w {
				term.Text = Pattern{Parts: []string{lv}}
				return term, nil
			}
		}
		return Term{}, errAt(t.valueCol, "%s: %q is not one of %s", name, clipped(v), strings.Join(enums[f], ", "))
	case KindPorts:
		term.Ports, err = parsePorts(v, t.valueCol, name)
	case KindNet:
		term.Net, err = parseNet(v, t.valueCol, name)
	case KindAge:
		term.Age, err = parseAge(v, t.valueCol, name)
	case KindRun:
		id, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || id <= 0 {
			err = errAt(t.valueCol, "%s: %q is not a run id", name, clipped(v))
		}
		term.Run = id
	}
	if err != nil {
		return Term{}, err
	}
	return term, nil
}

func parsePorts(v string, col int, name string) ([]PortRange, error) {
	var out []PortRange
	off := 0
	for _, piece := range strings.Split(v, ",") {
		pcol := col + utf8.RuneCountInString(v[:off])
		off += len(piece) + 1
		lo, hi, isRange := strings.Cut(piece, "-")
		a, errA := portNumber(lo)
		b := a
		errB := errA
		if isRange {
			b, errB = portNumber(hi)
		}
		switch {
		case piece == "":
			return nil, errAt(pcol, "%s: an empty port in the list", name)
		case errA != nil || errB != nil:
			return nil, errAt(pcol, "%s: %q is not a port (0-65535) or a range like 1-1024", name, clipped(piece))
		case a > b:
			return nil, errAt(pcol, "%s: the range %q runs backwards", name, clipped(piece))
		}
		out = append(out, PortRange{Lo: a, Hi: b})
	}
	return out, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, strconv.ErrRange
	}
	return n, nil
}

func parseNet(v string, col int, name string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(v); err == nil {
		a := p.Addr()
		if a.Is4In6() && p.Bits() >= 96 {
			return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), nil
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errAt(col, "%s: %q is not an IPv4 or IPv6 address or CIDR block", name, clipped(v))
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

var ageUnits = map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}

func parseAge(v string, col int, name string) (Age, error) {
	a := Age{Within: true}
	switch {
	case strings.HasPrefix(v, "<"):
		v = v[1:]
	case strings.HasPrefix(v, ">"):
		a.Within, v = false, v[1:]
	}
	bad := errAt(col, "%s: %q is not an age like 24h, <7d or >30d (units s, m, h, d, w)", name, clipped(v))
	if len(v) < 2 {
		return a, bad
	}
	unit, ok := ageUnits[v[len(v)-1]]
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if !ok || err != nil || n < 0 || v[0] == '+' || v[0] == '-' {
		return a, bad
	}
	if n > int64(maxAge/unit) {
		return a, errAt(col, "%s: %q is more than 100 years", name, clipped(v))
	}
	a.D = time.Duration(n) * unit
	return a, nil
}
