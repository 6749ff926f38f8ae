package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Limits that keep hostile or corrupt input from taking unbounded memory. Real
// nmap output stays far below them: the largest token is usually one script's
// output attribute, the largest host a few hundred kilobytes.
const (
	// maxDepth bounds element nesting (nmap's own output is at most about ten
	// deep, script tables included).
	maxDepth = 128
	// maxTokenBytes bounds one token: a tag with its attributes, a run of
	// text, a comment or a directive.
	maxTokenBytes = 4 << 20
	// maxHostBytes bounds one <host> element, so that one host held in
	// memory cannot grow with the file.
	maxHostBytes = 32 << 20
	// maxPorts bounds the ports of one host: every TCP, UDP and SCTP port
	// plus the IP protocols.
	maxPorts = 3*65536 + 256
	// maxItems bounds every other list of one host: addresses, host names,
	// CPEs of one service, scripts, OS matches.
	maxItems = 1024
)

// Parse reads an nmap -oX document (or masscan's nmap-like -oX output) from r
// as a stream and calls fn with each complete <host>, in document order, one
// at a time: memory use does not grow with the number of hosts. It returns
// the run's attributes and statistics.
//
// If fn returns an error, parsing stops and that error is returned as is. If
// the document ends before </nmaprun>, as it does when the scanner is killed,
// every complete host has been delivered and the error wraps ErrTruncated. If
// the document is not nmap XML, is not well-formed, nests deeper than 128
// elements, has a token over 4 MiB or a host over 32 MiB, the error wraps
// ErrMalformed. In both cases the RunInfo holds what was read and Complete is
// false.
//
// External entities are never resolved: only XML's predefined entities and
// character references are accepted. Elements that the types here do not
// describe (hosthint, taskprogress, extraports, OS fingerprints ...)
// are skipped.
//
// Masscan writes hosts without a <status> and one <host> per port or banner,
// so one address may come several times. A host without a <status> but with
// ports is reported up, with the first port's reason; an "ipv4" address that
// is an IPv6 address (a masscan quirk) is reported as "ipv6".
func Parse(r io.Reader, fn func(Host) error) (RunInfo, error) {
	p := newParser(r)
	err := p.run(func(h Host, _ []byte) error { return fn(h) })
	return p.info, err
}

// ParseRaw is Parse that also hands fn the exact bytes of each host's
// element, from <host to </host>, for copying a host into another nmap
// document unchanged. The bytes are valid only during the call. If root is
// not nil it is called once the <nmaprun> start tag is read, with the run's
// attributes (Scanner, Args, Version, Start), before any host.
func ParseRaw(r io.Reader, root func(RunInfo) error, fn func(h Host, raw []byte) error) (RunInfo, error) {
	p := newParser(r)
	p.recording = true
	p.onRoot = root
	err := p.run(fn)
	return p.info, err
}

func newParser(r io.Reader) *parser {
	return &parser{lx: newLexer(r), hostStart: -1}
}

type parser struct {
	lx        *lexer
	depth     int
	hostStart int64 // input offset just past the open <host>, or -1
	skipStack []xname
	info      RunInfo
	tokStart  int64 // input offset of the last token's first byte
	recording bool
	onRoot    func(RunInfo) error
}

// elem is a start tag: its attributes are valid until the next token.
type elem struct {
	name  xname
	attrs []rawAttr
}

func (p *parser) run(fn func(Host, []byte) error) error {
	root, err := p.root()
	if err != nil {
		return err
	}
	for _, a := range root.attrs {
		if a.prefixed {
			continue
		}
		var v string
		switch string(a.local) {
		case "scanner":
			v, err = p.lx.value(a)
			p.info.Scanner = v
		case "args":
			v, err = p.lx.value(a)
			p.info.Args = v
		case "version":
			v, err = p.lx.value(a)
			p.info.Version = v
		case "start":
			v, err = p.lx.value(a)
			if err == nil {
				p.info.Start, err = unixTime("start", v)
			}
		}
		if err != nil {
			return p.lexErr(err)
		}
	}
	rootName := root.name
	if p.onRoot != nil {
		if err := p.onRoot(p.info); err != nil {
			return err
		}
	}
	for {
		kind, err := p.next()
		if err != nil {
			return err
		}
		switch kind {
		case tokStart:
			t := p.elem()
			switch {
			case is(t, "host"):
				from := p.tokStart
				if p.recording {
					p.lx.keep = from
				}
				h, err := p.host(t)
				if err != nil {
					return err
				}
				var raw []byte
				if p.recording {
					raw = p.lx.buf[from-p.lx.base : p.lx.offset()-p.lx.base]
				}
				err = fn(h, raw)
				p.lx.keep = -1
				if err != nil {
					return err
				}
			case is(t, "runstats"):
				if err := p.runstats(t.name); err != nil {
					return err
				}
			default:
				if err := p.skip(t.name); err != nil {
					return err
				}
			}
		case tokEnd:
			if p.lx.name != rootName {
				return p.mismatch(rootName, p.lx.name)
			}
			p.info.Complete = true
			return nil
		}
	}
}

// elem returns the start tag just read.
func (p *parser) elem() elem {
	return elem{name: p.lx.name, attrs: p.lx.attrs}
}

// root reads the prolog (declaration, DOCTYPE, stylesheet, comments) and
// returns the root element, which must be <nmaprun>.
func (p *parser) root() (elem, error) {
	for {
		kind, err := p.next()
		if err != nil {
			return elem{}, err
		}
		switch kind {
		case tokStart:
			t := p.elem()
			if !is(t, "nmaprun") {
				return elem{}, fmt.Errorf("%w: root element is <%s>, not <nmaprun>", ErrMalformed, t.name.local)
			}
			return t, nil
		case tokEnd:
			return elem{}, fmt.Errorf("%w: end tag </%s> before the root element", ErrMalformed, p.lx.name.local)
		case tokText:
			if len(strings.TrimSpace(string(p.lx.text))) != 0 {
				return elem{}, fmt.Errorf("%w: text before the root element", ErrMalformed)
			}
		}
	}
}

// next reads the next token, with the limits applied, and classifies
// errors: a cut-off document is ErrTruncated, anything else ErrMalformed.
func (p *parser) next() (tokKind, error) {
	lx := p.lx
	p.tokStart = lx.offset()
	lx.limit, lx.why = p.tokStart+maxTokenBytes, "a token is larger than 4 MiB"
	if p.hostStart >= 0 && p.hostStart+maxHostBytes < lx.limit {
		lx.limit, lx.why = p.hostStart+maxHostBytes, "a host is larger than 32 MiB"
	}
	if err := lx.next(); err != nil {
		return 0, p.lexErr(err)
	}
	switch lx.kind {
	case tokStart:
		p.depth++
		if p.depth > maxDepth {
			return 0, fmt.Errorf("%w: elements nest deeper than %d", ErrMalformed, maxDepth)
		}
	case tokEnd:
		p.depth--
	}
	return lx.kind, nil
}

func (p *parser) lexErr(err error) error {
	var se syntaxError
	switch {
	case err == errTooLarge:
		return fmt.Errorf("%w: %s", ErrMalformed, p.lx.why)
	case err == errEOF:
		return fmt.Errorf("%w: the document ends before </nmaprun>", ErrTruncated)
	case errors.As(err, &se):
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	default:
		return fmt.Errorf("reading scanner output: %w", err)
	}
}

// skip consumes the rest of the element whose start tag was just read.
func (p *parser) skip(name xname) error {
	stack := append(p.skipStack[:0], name)
	defer func() { p.skipStack = stack[:0] }()
	for len(stack) > 0 {
		kind, err := p.next()
		if err != nil {
			return err
		}
		switch kind {
		case tokStart:
			stack = append(stack, p.lx.name)
		case tokEnd:
			if top := stack[len(stack)-1]; p.lx.name != top {
				return p.mismatch(top, p.lx.name)
			}
			stack = stack[:len(stack)-1]
		}
	}
	return nil
}

// children calls fn for each child element of the element named parent,
// whose start tag was just read, until its end tag. fn must consume the
// child, end tag included.
func (p *parser) children(parent xname, fn func(elem) error) error {
	for {
		kind, err := p.next()
		if err != nil {
			return err
		}
		switch kind {
		case tokStart:
			if err := fn(p.elem()); err != nil {
				return err
			}
		case tokEnd:
			if p.lx.name != parent {
				return p.mismatch(parent, p.lx.name)
			}
			return nil
		}
	}
}

// text returns the character data of the element whose start tag was just
// read, skipping any child elements.
func (p *parser) text(name xname) (string, error) {
	var b []byte
	for {
		kind, err := p.next()
		if err != nil {
			return "", err
		}
		switch kind {
		case tokText:
			if len(b)+len(p.lx.text) > maxTokenBytes {
				return "", fmt.Errorf("%w: text of <%s> is larger than 4 MiB", ErrMalformed, name.local)
			}
			b = append(b, p.lx.text...)
		case tokStart:
			if err := p.skip(p.lx.name); err != nil {
				return "", err
			}
		case tokEnd:
			if p.lx.name != name {
				return "", p.mismatch(name, p.lx.name)
			}
			return strings.TrimSpace(string(b)), nil
		}
	}
}

func (p *parser) mismatch(want, got xname) error {
	return fmt.Errorf("%w: </%s> closes <%s>", ErrMalformed, got, want)
}

func (p *parser) host(start elem) (Host, error) {
	p.hostStart = p.lx.offset()
	defer func() { p.hostStart = -1 }()
	var h Host
	for _, a := range start.attrs {
		if a.prefixed {
			continue
		}
		var err error
		switch string(a.local) {
		case "starttime":
			h.Start, err = p.timeAttr("starttime", a)
		case "endtime":
			h.End, err = p.timeAttr("endtime", a)
		}
		if err != nil {
			return h, err
		}
	}
	haveStatus := false
	err := p.children(start.name, func(c elem) error {
		switch {
		case is(c, "status"):
			haveStatus = true
			var err error
			if h.Status, err = p.attr(c, "state"); err != nil {
				return err
			}
			h.Reason, err = p.attr(c, "reason")
			if err != nil {
				return err
			}
		case is(c, "address"):
			if len(h.Addresses) >= maxItems {
				return tooMany("addresses")
			}
			var a Address
			var err error
			if a.Addr, err = p.attr(c, "addr"); err != nil {
				return err
			}
			if a.Type, err = p.attr(c, "addrtype"); err != nil {
				return err
			}
			if a.Vendor, err = p.attr(c, "vendor"); err != nil {
				return err
			}
			if a.Type == "ipv4" && strings.Contains(a.Addr, ":") {
				a.Type = "ipv6" // masscan writes addrtype="ipv4" for every address
			}
			h.Addresses = append(h.Addresses, a)
		case is(c, "hostnames"):
			return p.children(c.name, func(c elem) error {
				if is(c, "hostname") {
					if len(h.Hostnames) >= maxItems {
						return tooMany("host names")
					}
					var n Hostname
					var err error
					if n.Name, err = p.attr(c, "name"); err != nil {
						return err
					}
					if n.Type, err = p.attr(c, "type"); err != nil {
						return err
					}
					h.Hostnames = append(h.Hostnames, n)
				}
				return p.skip(c.name)
			})
		case is(c, "ports"):
			return p.children(c.name, func(c elem) error {
				if !is(c, "port") {
					return p.skip(c.name) // extraports
				}
				if len(h.Ports) >= maxPorts {
					return tooMany("ports")
				}
				port, err := p.port(c)
				if err != nil {
					return err
				}
				h.Ports = append(h.Ports, port)
				return nil
			})
		case is(c, "os"):
			return p.children(c.name, func(c elem) error {
				if is(c, "osmatch") {
					if len(h.OS) >= maxItems {
						return tooMany("OS matches")
					}
					acc, err := p.intAttr(c, "accuracy")
					if err != nil {
						return err
					}
					name, err := p.attr(c, "name")
					if err != nil {
						return err
					}
					h.OS = append(h.OS, OSMatch{Name: name, Accuracy: acc})
				}
				return p.skip(c.name)
			})
		case is(c, "times"):
			var err error
			if h.Times.SRTT, err = p.intAttr(c, "srtt"); err != nil {
				return err
			}
			if h.Times.RTTVar, err = p.intAttr(c, "rttvar"); err != nil {
				return err
			}
			if h.Times.Timeout, err = p.intAttr(c, "to"); err != nil {
				return err
			}
		case is(c, "hostscript"):
			return p.children(c.name, func(c elem) error {
				if is(c, "script") {
					if len(h.Scripts) >= maxItems {
						return tooMany("host scripts")
					}
					s, err := p.script(c)
					if err != nil {
						return err
					}
					h.Scripts = append(h.Scripts, s)
				}
				return p.skip(c.name)
			})
		}
		return p.skip(c.name)
	})
	if err != nil {
		return h, err
	}
	if !haveStatus && len(h.Ports) > 0 {
		h.Status, h.Reason = "up", h.Ports[0].Reason
	}
	return h, nil
}

func (p *parser) script(c elem) (Script, error) {
	id, err := p.attr(c, "id")
	if err != nil {
		return Script{}, err
	}
	out, err := p.attr(c, "output")
	return Script{ID: id, Output: out}, err
}

func (p *parser) port(start elem) (Port, error) {
	proto, err := p.attr(start, "protocol")
	if err != nil {
		return Port{}, err
	}
	port := Port{Protocol: proto}
	id, err := p.attr(start, "portid")
	if err != nil {
		return port, err
	}
	n, err := strconv.Atoi(id)
	if err != nil || n < 0 || n > 65535 {
		return port, fmt.Errorf("%w: bad portid %q", ErrMalformed, id)
	}
	port.Number = n
	err = p.children(start.name, func(c elem) error {
		switch {
		case is(c, "state"):
			var err error
			if port.State, err = p.attr(c, "state"); err != nil {
				return err
			}
			if port.Reason, err = p.attr(c, "reason"); err != nil {
				return err
			}
		case is(c, "service"):
			s, err := p.service(c)
			port.Service = s
			return err
		case is(c, "script"):
			if len(port.Scripts) >= maxItems {
				return tooMany("scripts")
			}
			s, err := p.script(c)
			if err != nil {
				return err
			}
			port.Scripts = append(port.Scripts, s)
		}
		return p.skip(c.name)
	})
	return port, err
}

func (p *parser) service(start elem) (Service, error) {
	var s Service
	for _, a := range start.attrs {
		if a.prefixed {
			continue
		}
		var dst *string
		switch string(a.local) {
		case "name":
			dst = &s.Name
		case "product":
			dst = &s.Product
		case "version":
			dst = &s.Version
		case "extrainfo":
			dst = &s.ExtraInfo
		case "tunnel":
			dst = &s.Tunnel
		case "method":
			dst = &s.Method
		case "banner":
			dst = &s.Banner
		case "conf":
			v, err := p.lx.value(a)
			if err != nil {
				return s, p.lexErr(err)
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return s, fmt.Errorf("%w: bad conf %q", ErrMalformed, v)
			}
			s.Conf = n
			continue
		default:
			continue
		}
		v, err := p.lx.value(a)
		if err != nil {
			return s, p.lexErr(err)
		}
		*dst = v
	}
	err := p.children(start.name, func(c elem) error {
		if !is(c, "cpe") {
			return p.skip(c.name)
		}
		if len(s.CPE) >= maxItems {
			return tooMany("CPEs")
		}
		cpe, err := p.text(c.name)
		if err != nil {
			return err
		}
		s.CPE = append(s.CPE, cpe)
		return nil
	})
	return s, err
}

func (p *parser) runstats(name xname) error {
	return p.children(name, func(c elem) error {
		var err error
		switch {
		case is(c, "finished"):
			if p.info.Summary, err = p.attr(c, "summary"); err != nil {
				return err
			}
			if p.info.Exit, err = p.attr(c, "exit"); err != nil {
				return err
			}
			if p.info.Error, err = p.attr(c, "errormsg"); err != nil {
				return err
			}
			if e, err := p.attr(c, "elapsed"); err != nil {
				return err
			} else if e != "" {
				if p.info.Elapsed, err = strconv.ParseFloat(e, 64); err != nil || !(p.info.Elapsed >= 0 && p.info.Elapsed < math.MaxInt32) {
					return fmt.Errorf("%w: bad elapsed %q", ErrMalformed, e)
				}
			}
			for _, a := range c.attrs {
				if !a.prefixed && string(a.local) == "time" {
					if p.info.End, err = p.timeAttr("time", a); err != nil {
						return err
					}
				}
			}
		case is(c, "hosts"):
			if p.info.HostsUp, err = p.intAttr(c, "up"); err != nil {
				return err
			}
			if p.info.HostsDown, err = p.intAttr(c, "down"); err != nil {
				return err
			}
		}
		return p.skip(c.name)
	})
}

// is reports whether se is the un-prefixed element local.
func is(se elem, local string) bool {
	return se.name.space == "" && se.name.local == local
}

// attr returns the value of the un-prefixed attribute name, or "".
func (p *parser) attr(se elem, name string) (string, error) {
	for _, a := range se.attrs {
		if !a.prefixed && string(a.local) == name {
			v, err := p.lx.value(a)
			if err != nil {
				return "", p.lexErr(err)
			}
			return v, nil
		}
	}
	return "", nil
}

// intAttr parses an integer attribute; a missing or empty one is 0.
func (p *parser) intAttr(se elem, name string) (int, error) {
	v, err := p.attr(se, name)
	if err != nil || v == "" {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: bad %s %q in <%s>", ErrMalformed, name, v, se.name.local)
	}
	return n, nil
}

func (p *parser) timeAttr(name string, a rawAttr) (time.Time, error) {
	v, err := p.lx.value(a)
	if err != nil {
		return time.Time{}, p.lexErr(err)
	}
	return unixTime(name, v)
}

// unixTime parses a time in Unix seconds; an empty one is the zero time.
func unixTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: bad time %s=%q", ErrMalformed, name, v)
	}
	return time.Unix(n, 0).UTC(), nil
}

func tooMany(what string) error {
	return fmt.Errorf("%w: too many %s in one host", ErrMalformed, what)
}
