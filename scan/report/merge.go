package report

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Merger writes one nmap XML document from the outputs of several scanner
// runs (the shards of one scan run), streaming: hosts are copied as they are
// read, so memory does not grow with the outputs. Hosts of nmap-style XML
// are copied byte for byte; hosts of masscan JSON are written as masscan's
// own XML would describe them. The <nmaprun> attributes are the first
// output's (its start the earliest of all), and <runstats> adds up every
// output's.
//
// Use NewMerger, Add each output, then Close.
type Merger struct {
	w       *bufio.Writer
	head    bool // the <nmaprun> start tag is written
	outputs int
	start   time.Time
	end     time.Time
	up      int
	down    int
	failed  []string // why outputs ended early or with an error
}

// NewMerger returns a Merger writing to w.
func NewMerger(w io.Writer) *Merger {
	return &Merger{w: bufio.NewWriterSize(w, 64<<10)}
}

// Add copies the hosts of one output. A truncated output keeps its complete
// hosts and makes the merged run's exit "error"; a malformed one, or a
// failing writer, is returned as an error and the merged document must be
// discarded.
func (m *Merger) Add(r io.Reader) error {
	return m.add(r, false)
}

// AddDone copies the complete hosts of an nmap-style XML output that was
// cut off on purpose: the hosts an earlier attempt finished before it was
// stopped, when a later attempt scans only the rest. Unlike Add, the cut
// does not make the merged run's exit "error", and the hosts up and down
// are counted from the copied hosts' status. A malformed output is an
// error, and the merged document must be discarded.
func (m *Merger) AddDone(r io.Reader) error {
	return m.add(r, true)
}

func (m *Merger) add(r io.Reader, done bool) error {
	br := bufio.NewReaderSize(r, 4096)
	c, err := firstNonSpace(br)
	var info RunInfo
	up, down := 0, 0
	switch {
	case err != nil:
	case c == '[' || c == '{':
		info, err = ParseMasscanJSON(br, func(h Host) error {
			if err := m.header(RunInfo{Scanner: "masscan"}); err != nil {
				return err
			}
			return writeHost(m.w, h)
		})
	case done:
		info, err = ParseRaw(br, m.header, func(h Host, raw []byte) error {
			switch h.Status {
			case "up":
				up++
			case "down":
				down++
			}
			if _, err := m.w.Write(raw); err != nil {
				return err
			}
			return m.w.WriteByte('\n')
		})
	default:
		info, err = ParseRaw(br, m.header, func(_ Host, raw []byte) error {
			if _, err := m.w.Write(raw); err != nil {
				return err
			}
			return m.w.WriteByte('\n')
		})
	}
	if done && (err == nil || errors.Is(err, ErrTruncated)) {
		err = nil
		info.HostsUp, info.HostsDown = up, down
		info.Exit, info.Error = "", ""
	}
	m.outputs++
	switch {
	case errors.Is(err, ErrTruncated):
		m.failed = append(m.failed, fmt.Sprintf("output %d is truncated", m.outputs))
	case err != nil:
		return err
	case info.Exit == "error":
		m.failed = append(m.failed, fmt.Sprintf("output %d: %s", m.outputs, info.Error))
	}
	if err := m.header(info); err != nil {
		return err
	}
	if !info.Start.IsZero() && (m.start.IsZero() || info.Start.Before(m.start)) {
		m.start = info.Start
	}
	if info.End.After(m.end) {
		m.end = info.End
	}
	m.up += info.HostsUp
	m.down += info.HostsDown
	return nil
}

// header writes the document's prolog and <nmaprun> start tag, once, from
// the first output's attributes.
func (m *Merger) header(info RunInfo) error {
	if m.head {
		return nil
	}
	m.head = true
	scanner := info.Scanner
	if scanner == "" {
		scanner = "nmap"
	}
	m.w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<!DOCTYPE nmaprun>\n")
	m.w.WriteString(`<nmaprun scanner="` + escape(scanner) + `" args="` + escape(info.Args) + `"`)
	if !info.Start.IsZero() {
		m.w.WriteString(` start="` + strconv.FormatInt(info.Start.Unix(), 10) + `" startstr="` + info.Start.UTC().Format(time.ANSIC) + `"`)
	}
	m.w.WriteString(` version="` + escape(info.Version) + `" xmloutputversion="1.05">` + "\n")
	return nil
}

// Close writes the merged <runstats> and </nmaprun> and flushes.
func (m *Merger) Close() error {
	if err := m.header(RunInfo{}); err != nil {
		return err
	}
	exit, msg := "success", ""
	if len(m.failed) > 0 {
		exit = "error"
		for i, f := range m.failed {
			if i > 0 {
				msg += "; "
			}
			msg += f
		}
	}
	elapsed := 0.0
	if !m.start.IsZero() && m.end.After(m.start) {
		elapsed = m.end.Sub(m.start).Seconds()
	}
	summary := fmt.Sprintf("Merged %d outputs; %d hosts up", m.outputs, m.up)
	m.w.WriteString("<runstats><finished")
	if !m.end.IsZero() {
		m.w.WriteString(` time="` + strconv.FormatInt(m.end.Unix(), 10) + `" timestr="` + m.end.UTC().Format(time.ANSIC) + `"`)
	}
	fmt.Fprintf(m.w, ` summary="%s" elapsed="%.2f" exit="%s"`, escape(summary), elapsed, exit)
	if msg != "" {
		m.w.WriteString(` errormsg="` + escape(msg) + `"`)
	}
	fmt.Fprintf(m.w, "/><hosts up=\"%d\" down=\"%d\" total=\"%d\"/>\n</runstats>\n</nmaprun>\n", m.up, m.down, m.up+m.down)
	return m.w.Flush()
}

// writeHost renders a host as nmap XML (for outputs that are not XML).
func writeHost(w *bufio.Writer, h Host) error {
	w.WriteString("<host")
	if !h.Start.IsZero() {
		w.WriteString(` starttime="` + strconv.FormatInt(h.Start.Unix(), 10) + `"`)
	}
	if !h.End.IsZero() {
		w.WriteString(` endtime="` + strconv.FormatInt(h.End.Unix(), 10) + `"`)
	}
	w.WriteString(`><status state="` + escape(h.Status) + `" reason="` + escape(h.Reason) + `"/>`)
	for _, a := range h.Addresses {
		w.WriteString(`<address addr="` + escape(a.Addr) + `" addrtype="` + escape(a.Type) + `"`)
		if a.Vendor != "" {
			w.WriteString(` vendor="` + escape(a.Vendor) + `"`)
		}
		w.WriteString("/>")
	}
	w.WriteString("<hostnames>")
	for _, n := range h.Hostnames {
		w.WriteString(`<hostname name="` + escape(n.Name) + `" type="` + escape(n.Type) + `"/>`)
	}
	w.WriteString("</hostnames><ports>")
	for _, p := range h.Ports {
		fmt.Fprintf(w, `<port protocol="%s" portid="%d"><state state="%s" reason="%s"/>`,
			escape(p.Protocol), p.Number, escape(p.State), escape(p.Reason))
		if s := p.Service; s.Name != "" || s.Banner != "" {
			w.WriteString(`<service name="` + escape(s.Name) + `"`)
			if s.Banner != "" {
				w.WriteString(` banner="` + escape(s.Banner) + `"`)
			}
			w.WriteString("/>")
		}
		w.WriteString("</port>")
	}
	w.WriteString("</ports></host>\n")
	return nil
}

// escape makes s safe inside a double-quoted XML attribute.
func escape(s string) string {
	var b bytes.Buffer
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return ""
	}
	return b.String()
}

// firstNonSpace returns the first byte that is not white space without
// consuming it.
func firstNonSpace(br *bufio.Reader) (byte, error) {
	for skipped := 0; ; skipped++ {
		c, err := br.ReadByte()
		if err == io.EOF {
			return 0, fmt.Errorf("%w: the document is empty", ErrTruncated)
		}
		if err != nil {
			return 0, fmt.Errorf("reading scanner output: %w", err)
		}
		if skipped > maxTokenBytes {
			return 0, fmt.Errorf("%w: more than 4 MiB of white space", ErrMalformed)
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c, br.UnreadByte()
	}
}
