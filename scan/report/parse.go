package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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
// describe (hosthint, taskprogress, extraports, times, OS fingerprints ...)
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
	p.in.recording = true
	p.onRoot = root
	err := p.run(fn)
	return p.info, err
}

func newParser(r io.Reader) *parser {
	p := &parser{in: &byteReader{r: r, buf: make([]byte, 32<<10)}, hostStart: -1}
	p.d = xml.NewDecoder(p.in)
	p.d.Strict = true
	return p
}

type parser struct {
	in        *byteReader
	d         *xml.Decoder
	depth     int
	hostStart int64 // input offset of the open <host>, or -1
	skipStack []xml.Name
	info      RunInfo
	tokStart  int64 // input offset of the last token's first byte
	onRoot    func(RunInfo) error
}

func (p *parser) run(fn func(Host, []byte) error) error {
	root, err := p.root()
	if err != nil {
		return err
	}
	for _, a := range root.Attr {
		switch a.Name.Local {
		case "scanner":
			p.info.Scanner = a.Value
		case "args":
			p.info.Args = a.Value
		case "version":
			p.info.Version = a.Value
		case "start":
			if p.info.Start, err = unixTime(a); err != nil {
				return err
			}
		}
	}
	if p.onRoot != nil {
		if err := p.onRoot(p.info); err != nil {
			return err
		}
	}
	for {
		tok, err := p.next()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case is(t, "host"):
				from := p.tokStart
				h, err := p.host(t)
				if err != nil {
					return err
				}
				var raw []byte
				if p.in.recording {
					raw = p.in.rec[from-p.in.recBase : p.d.InputOffset()-p.in.recBase]
				}
				if err := fn(h, raw); err != nil {
					return err
				}
			case is(t, "runstats"):
				if err := p.runstats(); err != nil {
					return err
				}
			default:
				if err := p.skip(t.Name); err != nil {
					return err
				}
			}
		case xml.EndElement:
			if t.Name != root.Name {
				return p.mismatch(root.Name, t.Name)
			}
			p.info.Complete = true
			return nil
		}
	}
}

// root reads the prolog (declaration, DOCTYPE, stylesheet, comments) and
// returns the root element, which must be <nmaprun>.
func (p *parser) root() (xml.StartElement, error) {
	for {
		tok, err := p.next()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !is(t, "nmaprun") {
				return xml.StartElement{}, fmt.Errorf("%w: root element is <%s>, not <nmaprun>", ErrMalformed, t.Name.Local)
			}
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, fmt.Errorf("%w: end tag </%s> before the root element", ErrMalformed, t.Name.Local)
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) != 0 {
				return xml.StartElement{}, fmt.Errorf("%w: text before the root element", ErrMalformed)
			}
		}
	}
}

// next returns the next token, with the limits applied, and classifies
// errors: a cut-off document is ErrTruncated, anything else ErrMalformed.
func (p *parser) next() (xml.Token, error) {
	p.in.limit, p.in.why = p.in.n+maxTokenBytes, "a token is larger than 4 MiB"
	if p.hostStart >= 0 && p.hostStart+maxHostBytes < p.in.limit {
		p.in.limit, p.in.why = p.hostStart+maxHostBytes, "a host is larger than 32 MiB"
	}
	p.tokStart = p.d.InputOffset()
	if p.in.recording && p.hostStart < 0 {
		p.in.drop(p.tokStart) // keep only what the next host may need
	}
	tok, err := p.d.RawToken()
	if err != nil {
		var se *xml.SyntaxError
		switch {
		case p.in.tripped:
			return nil, fmt.Errorf("%w: %s", ErrMalformed, p.in.why)
		case p.in.err != nil && p.in.err != io.EOF && errors.Is(err, p.in.err):
			return nil, fmt.Errorf("reading scanner output: %w", err)
		case err == io.EOF, errors.As(err, &se) && strings.HasPrefix(se.Msg, "unexpected EOF"):
			return nil, fmt.Errorf("%w: the document ends before </nmaprun>", ErrTruncated)
		default: // syntax errors, an encoding other than UTF-8
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	switch tok.(type) {
	case xml.StartElement:
		p.depth++
		if p.depth > maxDepth {
			return nil, fmt.Errorf("%w: elements nest deeper than %d", ErrMalformed, maxDepth)
		}
	case xml.EndElement:
		p.depth--
	}
	return tok, nil
}

// skip consumes the rest of the element whose start tag was just read.
func (p *parser) skip(name xml.Name) error {
	stack := append(p.skipStack[:0], name)
	defer func() { p.skipStack = stack[:0] }()
	for len(stack) > 0 {
		tok, err := p.next()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name)
		case xml.EndElement:
			if top := stack[len(stack)-1]; t.Name != top {
				return p.mismatch(top, t.Name)
			}
			stack = stack[:len(stack)-1]
		}
	}
	return nil
}

// children calls fn for each child element of the element named parent,
// whose start tag was just read, until its end tag. fn must consume the
// child, end tag included.
func (p *parser) children(parent xml.Name, fn func(xml.StartElement) error) error {
	for {
		tok, err := p.next()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			if t.Name != parent {
				return p.mismatch(parent, t.Name)
			}
			return nil
		}
	}
}

// text returns the character data of the element whose start tag was just
// read, skipping any child elements.
func (p *parser) text(name xml.Name) (string, error) {
	var b strings.Builder
	for {
		tok, err := p.next()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if b.Len()+len(t) > maxTokenBytes {
				return "", fmt.Errorf("%w: text of <%s> is larger than 4 MiB", ErrMalformed, name.Local)
			}
			b.Write(t)
		case xml.StartElement:
			if err := p.skip(t.Name); err != nil {
				return "", err
			}
		case xml.EndElement:
			if t.Name != name {
				return "", p.mismatch(name, t.Name)
			}
			return strings.TrimSpace(b.String()), nil
		}
	}
}

func (p *parser) mismatch(want, got xml.Name) error {
	return fmt.Errorf("%w: </%s> closes <%s>", ErrMalformed, qualified(got), qualified(want))
}

func (p *parser) host(start xml.StartElement) (Host, error) {
	p.hostStart = p.d.InputOffset()
	defer func() { p.hostStart = -1 }()
	var h Host
	var err error
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "starttime":
			h.Start, err = unixTime(a)
		case "endtime":
			h.End, err = unixTime(a)
		}
		if err != nil {
			return h, err
		}
	}
	haveStatus := false
	err = p.children(start.Name, func(c xml.StartElement) error {
		switch {
		case is(c, "status"):
			haveStatus = true
			h.Status, h.Reason = attr(c, "state"), attr(c, "reason")
		case is(c, "address"):
			if len(h.Addresses) >= maxItems {
				return tooMany("addresses")
			}
			a := Address{Addr: attr(c, "addr"), Type: attr(c, "addrtype"), Vendor: attr(c, "vendor")}
			if a.Type == "ipv4" && strings.Contains(a.Addr, ":") {
				a.Type = "ipv6" // masscan writes addrtype="ipv4" for every address
			}
			h.Addresses = append(h.Addresses, a)
		case is(c, "hostnames"):
			return p.children(c.Name, func(c xml.StartElement) error {
				if is(c, "hostname") {
					if len(h.Hostnames) >= maxItems {
						return tooMany("host names")
					}
					h.Hostnames = append(h.Hostnames, Hostname{Name: attr(c, "name"), Type: attr(c, "type")})
				}
				return p.skip(c.Name)
			})
		case is(c, "ports"):
			return p.children(c.Name, func(c xml.StartElement) error {
				if !is(c, "port") {
					return p.skip(c.Name) // extraports
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
			return p.children(c.Name, func(c xml.StartElement) error {
				if is(c, "osmatch") {
					if len(h.OS) >= maxItems {
						return tooMany("OS matches")
					}
					acc, err := intAttr(c, "accuracy")
					if err != nil {
						return err
					}
					h.OS = append(h.OS, OSMatch{Name: attr(c, "name"), Accuracy: acc})
				}
				return p.skip(c.Name)
			})
		case is(c, "hostscript"):
			return p.children(c.Name, func(c xml.StartElement) error {
				if is(c, "script") {
					if len(h.Scripts) >= maxItems {
						return tooMany("host scripts")
					}
					h.Scripts = append(h.Scripts, Script{ID: attr(c, "id"), Output: attr(c, "output")})
				}
				return p.skip(c.Name)
			})
		}
		return p.skip(c.Name)
	})
	if err != nil {
		return h, err
	}
	if !haveStatus && len(h.Ports) > 0 {
		h.Status, h.Reason = "up", h.Ports[0].Reason
	}
	return h, nil
}

func (p *parser) port(start xml.StartElement) (Port, error) {
	port := Port{Protocol: attr(start, "protocol")}
	n, err := strconv.Atoi(attr(start, "portid"))
	if err != nil || n < 0 || n > 65535 {
		return port, fmt.Errorf("%w: bad portid %q", ErrMalformed, attr(start, "portid"))
	}
	port.Number = n
	err = p.children(start.Name, func(c xml.StartElement) error {
		switch {
		case is(c, "state"):
			port.State, port.Reason = attr(c, "state"), attr(c, "reason")
		case is(c, "service"):
			s, err := p.service(c)
			port.Service = s
			return err
		case is(c, "script"):
			if len(port.Scripts) >= maxItems {
				return tooMany("scripts")
			}
			port.Scripts = append(port.Scripts, Script{ID: attr(c, "id"), Output: attr(c, "output")})
		}
		return p.skip(c.Name)
	})
	return port, err
}

func (p *parser) service(start xml.StartElement) (Service, error) {
	var s Service
	for _, a := range start.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "name":
			s.Name = a.Value
		case "product":
			s.Product = a.Value
		case "version":
			s.Version = a.Value
		case "extrainfo":
			s.ExtraInfo = a.Value
		case "tunnel":
			s.Tunnel = a.Value
		case "method":
			s.Method = a.Value
		case "banner":
			s.Banner = a.Value
		case "conf":
			n, err := strconv.Atoi(a.Value)
			if err != nil {
				return s, fmt.Errorf("%w: bad conf %q", ErrMalformed, a.Value)
			}
			s.Conf = n
		}
	}
	err := p.children(start.Name, func(c xml.StartElement) error {
		if !is(c, "cpe") {
			return p.skip(c.Name)
		}
		if len(s.CPE) >= maxItems {
			return tooMany("CPEs")
		}
		cpe, err := p.text(c.Name)
		if err != nil {
			return err
		}
		s.CPE = append(s.CPE, cpe)
		return nil
	})
	return s, err
}

func (p *parser) runstats() error {
	name := xml.Name{Local: "runstats"}
	return p.children(name, func(c xml.StartElement) error {
		var err error
		switch {
		case is(c, "finished"):
			p.info.Summary, p.info.Exit, p.info.Error = attr(c, "summary"), attr(c, "exit"), attr(c, "errormsg")
			for _, a := range c.Attr {
				if a.Name.Space == "" && a.Name.Local == "time" {
					if p.info.End, err = unixTime(a); err != nil {
						return err
					}
				}
			}
		case is(c, "hosts"):
			if p.info.HostsUp, err = intAttr(c, "up"); err != nil {
				return err
			}
			if p.info.HostsDown, err = intAttr(c, "down"); err != nil {
				return err
			}
		}
		return p.skip(c.Name)
	})
}

// is reports whether se is the un-prefixed element local.
func is(se xml.StartElement, local string) bool {
	return se.Name.Space == "" && se.Name.Local == local
}

// attr returns the value of the un-prefixed attribute name, or "".
func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// intAttr parses an integer attribute; a missing or empty one is 0.
func intAttr(se xml.StartElement, name string) (int, error) {
	v := attr(se, name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: bad %s %q in <%s>", ErrMalformed, name, v, se.Name.Local)
	}
	return n, nil
}

// unixTime parses a time in Unix seconds; an empty one is the zero time.
func unixTime(a xml.Attr) (time.Time, error) {
	if a.Value == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(a.Value, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: bad time %s=%q", ErrMalformed, a.Name.Local, a.Value)
	}
	return time.Unix(n, 0).UTC(), nil
}

func tooMany(what string) error {
	return fmt.Errorf("%w: too many %s in one host", ErrMalformed, what)
}

func qualified(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// byteReader is the decoder's input: a buffered reader that counts what it
// hands out and refuses to go past limit, which the parser moves forward at
// each token. This bounds how much the decoder can buffer for one token,
// whatever the input.
type byteReader struct {
	r        io.Reader
	buf      []byte
	pos, end int
	n        int64 // bytes handed out
	limit    int64
	why      string
	tripped  bool
	err      error

	// With recording on, every byte handed out is also kept in rec, rec[0]
	// being input offset recBase; ParseRaw cuts hosts' bytes out of it.
	recording bool
	rec       []byte
	recBase   int64
}

// drop forgets the recorded bytes before input offset off.
func (b *byteReader) drop(off int64) {
	if n := off - b.recBase; n > 0 {
		b.rec = b.rec[:copy(b.rec, b.rec[n:])]
		b.recBase = off
	}
}

var errLimit = errors.New("parser limit exceeded")

func (b *byteReader) ReadByte() (byte, error) {
	if b.n >= b.limit {
		b.tripped = true
		return 0, errLimit
	}
	if b.pos == b.end {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	c := b.buf[b.pos]
	b.pos++
	b.n++
	if b.recording {
		b.rec = append(b.rec, c)
	}
	return c, nil
}

func (b *byteReader) fill() error {
	if b.err != nil {
		return b.err
	}
	for range 100 {
		n, err := b.r.Read(b.buf)
		b.pos, b.end = 0, n
		if err != nil && n == 0 {
			b.err = err
			return err
		}
		if n > 0 {
			if err != nil {
				b.err = err // return the data now, the error next time
			}
			return nil
		}
	}
	b.err = io.ErrNoProgress
	return b.err
}

// Read is never called by the decoder (it uses ReadByte) but makes
// byteReader an io.Reader.
func (b *byteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c, err := b.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = c
	return 1, nil
}
