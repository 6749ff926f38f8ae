package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"
)

// maxRecordBytes bounds one masscan JSON record; a real one (one port or one
// banner) is a few kilobytes at most.
const maxRecordBytes = 4 << 20

// masscanRecord is one element of masscan's -oJ array (or one line of -oD):
// one port or one banner of one address.
type masscanRecord struct {
	IP        string          `json:"ip"`
	Timestamp json.RawMessage `json:"timestamp"` // a string of Unix seconds, sometimes a number
	Ports     []struct {
		Port    *int   `json:"port"`
		Proto   string `json:"proto"`
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		TTL     int    `json:"ttl"`
		Service *struct {
			Name   string `json:"name"`
			Banner string `json:"banner"`
		} `json:"service"`
	} `json:"ports"`
	Finished json.RawMessage `json:"finished"` // old masscan versions end with {"finished": 1}
}

// ParseMasscanJSON reads masscan's -oJ output (a JSON array of records) or
// its -oD output (one record per line) from r as a stream, and calls fn with
// one Host per record, in document order; memory does not grow with the
// number of records. Each record is one address with the port or banner it
// carries, so one address may come several times, as with masscan's XML.
//
// The errors are those of Parse: a document that ends before its closing ]
// (masscan killed) wraps ErrTruncated, after every complete record has been
// delivered; anything that is not masscan JSON, or a record over 4 MiB,
// wraps ErrMalformed. Complete is set for a closed array, and for -oD
// output that ends after a whole record.
func ParseMasscanJSON(r io.Reader, fn func(Host) error) (RunInfo, error) {
	info := RunInfo{Scanner: "masscan"}
	in := &boundedReader{r: r}
	dec := json.NewDecoder(in)
	in.dec = dec
	dec.UseNumber()

	array := false
	first, err := firstByte(in)
	if err != nil {
		return info, err
	}
	if first == '[' {
		array = true
		if _, err := dec.Token(); err != nil {
			return info, jsonErr(err, in)
		}
	}
	for {
		if array && !dec.More() {
			break
		}
		var rec masscanRecord
		err := dec.Decode(&rec)
		if err == io.EOF && !array {
			if first == 0 {
				return info, fmt.Errorf("%w: empty document", ErrTruncated)
			}
			info.Complete = true
			return info, nil
		}
		if err != nil {
			return info, jsonErr(err, in)
		}
		if rec.IP == "" && len(rec.Finished) > 0 {
			continue
		}
		h, err := masscanHost(rec)
		if err != nil {
			return info, err
		}
		if !h.End.IsZero() {
			if info.Start.IsZero() || h.End.Before(info.Start) {
				info.Start = h.End
			}
			if h.End.After(info.End) {
				info.End = h.End
			}
		}
		if len(h.Ports) > 0 && h.Ports[0].State == "open" {
			info.HostsUp++ // as masscan counts: open ports
		}
		if err := fn(h); err != nil {
			return info, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return info, jsonErr(err, in)
	}
	// Nothing but white space may follow the array.
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return info, fmt.Errorf("%w: data after the closing ]", ErrMalformed)
		}
		return info, jsonErr(err, in)
	}
	info.Complete = true
	return info, nil
}

// firstByte returns the first non-space byte of the document without
// consuming it, 0 for an empty one.
func firstByte(in *boundedReader) (byte, error) {
	tok, err := in.peek()
	if err == io.EOF {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if tok != '[' && tok != '{' {
		return 0, fmt.Errorf("%w: masscan JSON starts with [ or {, not %q", ErrMalformed, tok)
	}
	return tok, nil
}

func masscanHost(rec masscanRecord) (Host, error) {
	addr, err := netip.ParseAddr(rec.IP)
	if err != nil {
		return Host{}, fmt.Errorf("%w: bad ip %q", ErrMalformed, rec.IP)
	}
	typ := "ipv4"
	if addr.Is6() {
		typ = "ipv6"
	}
	h := Host{Addresses: []Address{{Addr: rec.IP, Type: typ}}, Status: "up"}
	if len(rec.Timestamp) > 0 {
		s, err := strconv.Unquote(string(rec.Timestamp))
		if err != nil {
			s = string(rec.Timestamp)
		}
		if s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return Host{}, fmt.Errorf("%w: bad timestamp %s", ErrMalformed, rec.Timestamp)
			}
			h.End = time.Unix(n, 0).UTC()
		}
	}
	if len(rec.Ports) > maxItems {
		return Host{}, tooMany("ports")
	}
	for _, p := range rec.Ports {
		if p.Port == nil || *p.Port < 0 || *p.Port > 65535 {
			return Host{}, fmt.Errorf("%w: record for %s without a valid port", ErrMalformed, rec.IP)
		}
		port := Port{Protocol: p.Proto, Number: *p.Port, State: p.Status, Reason: p.Reason}
		if p.Service != nil {
			port.Service = Service{Name: p.Service.Name, Banner: p.Service.Banner}
			if port.State == "" {
				port.State = "open" // a banner came back, so the port answered
			}
		}
		h.Ports = append(h.Ports, port)
	}
	if len(h.Ports) > 0 {
		h.Reason = h.Ports[0].Reason
	}
	return h, nil
}

// jsonErr classifies a decoder error like Parse's: a cut-off document is
// ErrTruncated, a read error is returned as is, anything else ErrMalformed.
func jsonErr(err error, in *boundedReader) error {
	var syn *json.SyntaxError
	switch {
	case in.tripped:
		return fmt.Errorf("%w: a record is larger than 4 MiB", ErrMalformed)
	case in.err != nil && in.err != io.EOF:
		return fmt.Errorf("reading scanner output: %w", in.err)
	case err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the document ends before its closing ]", ErrTruncated)
	case errors.As(err, &syn):
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	default:
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
}

// boundedReader feeds the JSON decoder and refuses to let it buffer more than
// maxRecordBytes past the end of the last value it decoded, which bounds the
// memory one record can take.
type boundedReader struct {
	r       io.Reader
	dec     *json.Decoder
	head    []byte // peeked bytes not yet handed out
	n       int64  // bytes handed out
	tripped bool
	err     error
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		b.n += int64(n)
		return n, nil
	}
	avail := int64(64 << 10)
	if b.dec != nil {
		avail = min(avail, maxRecordBytes-(b.n-b.dec.InputOffset()))
	}
	if avail <= 0 {
		b.tripped = true
		return 0, errTooLarge
	}
	if int64(len(p)) > avail {
		p = p[:avail]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil {
		b.err = err
	}
	return n, err
}

// peek returns the first byte that is not JSON white space, keeping it (and
// what was read before it) for the decoder.
func (b *boundedReader) peek() (byte, error) {
	br := bufio.NewReaderSize(b.r, 512)
	var skipped []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			b.err = err
			if err == io.EOF {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("reading scanner output: %w", err)
		}
		skipped = append(skipped, c)
		if len(skipped) > maxRecordBytes {
			b.tripped = true
			return 0, fmt.Errorf("%w: more than 4 MiB of white space", ErrMalformed)
		}
		if !bytes.ContainsRune([]byte(" \t\r\n"), rune(c)) {
			rest, _ := br.Peek(br.Buffered())
			b.head = append(skipped, rest...)
			_, _ = br.Discard(len(rest))
			return c, nil
		}
	}
}
