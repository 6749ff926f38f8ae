package masscan

import (
	"github.com/scantron/scantron/scan/report"
)

// hostMerger gathers masscan's hosts by address. masscan writes one <host>
// element per open port, and with --banners one more per banner, where
// nmap writes one per host; merged, they are stored as nmap's are: one host
// row with its ports, each port once, with its banner.
type hostMerger struct {
	order []string
	hosts map[string]*report.Host
}

func newHostMerger() *hostMerger { return &hostMerger{hosts: map[string]*report.Host{}} }

func (m *hostMerger) add(h report.Host) {
	ip := h.IP()
	cur, ok := m.hosts[ip]
	if !ok {
		h.Ports = append([]report.Port(nil), h.Ports...)
		m.hosts[ip] = &h
		m.order = append(m.order, ip)
		return
	}
	if cur.Start.IsZero() || (!h.Start.IsZero() && h.Start.Before(cur.Start)) {
		cur.Start = h.Start
	}
	if h.End.After(cur.End) {
		cur.End = h.End
	}
	for _, p := range h.Ports {
		i := portIndex(cur.Ports, p)
		if i < 0 {
			cur.Ports = append(cur.Ports, p)
			continue
		}
		// A banner element repeats the port with what it found: its
		// "service" is the kind of banner (ssh, http, title, ...). The
		// first names the service; every banner is kept.
		have := &cur.Ports[i]
		if have.Service.Name == "" {
			have.Service.Name = p.Service.Name
		}
		switch {
		case p.Service.Banner == "":
		case have.Service.Banner == "":
			have.Service.Banner = p.Service.Banner
		default:
			have.Service.Banner += "\n" + p.Service.Name + ": " + p.Service.Banner
		}
		if have.State == "" {
			have.State, have.Reason = p.State, p.Reason
		}
	}
}

func portIndex(ports []report.Port, p report.Port) int {
	for i, q := range ports {
		if q.Protocol == p.Protocol && q.Number == p.Number {
			return i
		}
	}
	return -1
}

// emit hands the merged hosts on in the order their addresses first
// appeared.
// Banners are stored as the port's extra info, where nmap's version
// detection puts its details.
func (m *hostMerger) emit(fn func(report.Host) error) error {
	for _, ip := range m.order {
		h := m.hosts[ip]
		for i := range h.Ports {
			if s := &h.Ports[i].Service; s.ExtraInfo == "" {
				s.ExtraInfo = s.Banner
			}
		}
		if err := fn(*h); err != nil {
			return err
		}
	}
	return nil
}
