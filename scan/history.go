package scan

import (
	"sort"
	"time"
)

// HistoryKind is a kind of event in a host's history.
type HistoryKind string

// Kinds of history event.
const (
	HostUp         HistoryKind = "host_up"         // first seen up, or up again after gone
	HostGone       HistoryKind = "host_gone"       // a run covered the address and did not find it up
	PortOpened     HistoryKind = "port_opened"     // first seen open, or open again after closed
	PortClosed     HistoryKind = "port_closed"     // a run scanned the port and did not find it open
	ServiceChanged HistoryKind = "service_changed" // still open, another service, product or version
)

// HistoryRun is what one completed run said about one address: the ports
// its host row listed (in any state), and the closes and the gone host its
// diff recorded, which cover what the run scanned without listing.
type HistoryRun struct {
	RunID, ScanID, SiteID int64
	Scan, Site, Agent     string
	At                    time.Time // when the run started
	Listed                bool      // the run has a host row for the address
	Up                    bool      // ...and it was up
	Ports                 []HistoryPort
	Closed                []HistoryPort // closed_port changes of the run's diff (protocol and port)
	Gone                  bool          // the run's diff has the host gone
}

// HistoryPort is a port as one run reported it.
type HistoryPort struct {
	Protocol string
	Port     int
	State    string
	ServiceInfo
}

// HistoryEvent is one change of a host on a site, and the run that saw it.
type HistoryEvent struct {
	At       time.Time   `json:"at"`
	Kind     HistoryKind `json:"kind"`
	SiteID   int64       `json:"site_id"`
	Site     string      `json:"site"`
	RunID    int64       `json:"run_id"`
	ScanID   int64       `json:"scan_id"`
	Scan     string      `json:"scan"`
	Agent    string      `json:"agent"`
	Protocol string      `json:"protocol,omitempty"`
	Port     int         `json:"port,omitempty"`
	Before   ServiceInfo `json:"before"` // service_changed and port_closed: what was there
	After    ServiceInfo `json:"after"`  // port_opened and service_changed: what is there
}

// HostHistory is an address's history over the sites whose runs saw it,
// oldest event first.
type HostHistory struct {
	Address string         `json:"address"`
	Runs    int            `json:"runs"`    // runs read
	Partial bool           `json:"partial"` // only the newest runs were read
	Events  []HistoryEvent `json:"events"`
}

// BuildHistory folds runs (any order) into events, per site, in the order
// the runs started. A port opens when a run finds it open and it was not
// open; it closes when a run lists it in another state or the run's diff
// closed it (the run scanned it and did not find it); its service changes
// when a run finds it open with another service, product or version. A
// run that did not list a port says nothing about it: another scan of the
// site may scan other ports.
func BuildHistory(runs []HistoryRun) []HistoryEvent {
	sorted := append([]HistoryRun(nil), runs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].At.Equal(sorted[j].At) {
			return sorted[i].At.Before(sorted[j].At)
		}
		return sorted[i].RunID < sorted[j].RunID
	})
	type portKey struct {
		site  int64
		proto string
		port  int
	}
	open := map[portKey]ServiceInfo{}
	up := map[int64]bool{}
	var out []HistoryEvent
	for _, r := range sorted {
		ev := func(k HistoryKind) HistoryEvent {
			return HistoryEvent{At: r.At, Kind: k, SiteID: r.SiteID, Site: r.Site, RunID: r.RunID, ScanID: r.ScanID,
				Scan: r.Scan, Agent: r.Agent}
		}
		if r.Up && !up[r.SiteID] {
			out = append(out, ev(HostUp))
			up[r.SiteID] = true
		}
		var ports []HistoryEvent
		closeKey := func(k portKey) {
			if was, ok := open[k]; ok {
				e := ev(PortClosed)
				e.Protocol, e.Port, e.Before = k.proto, k.port, was
				ports = append(ports, e)
				delete(open, k)
			}
		}
		if r.Up {
			for _, p := range r.Ports {
				k := portKey{r.SiteID, p.Protocol, p.Port}
				if p.State != "open" {
					closeKey(k)
					continue
				}
				was, ok := open[k]
				switch {
				case !ok:
					e := ev(PortOpened)
					e.Protocol, e.Port, e.After = p.Protocol, p.Port, p.ServiceInfo
					ports = append(ports, e)
				case was != p.ServiceInfo:
					e := ev(ServiceChanged)
					e.Protocol, e.Port, e.Before, e.After = p.Protocol, p.Port, was, p.ServiceInfo
					ports = append(ports, e)
				}
				open[k] = p.ServiceInfo
			}
		}
		for _, p := range r.Closed {
			closeKey(portKey{r.SiteID, p.Protocol, p.Port})
		}
		sort.SliceStable(ports, func(i, j int) bool {
			if ports[i].Protocol != ports[j].Protocol {
				return ports[i].Protocol < ports[j].Protocol
			}
			return ports[i].Port < ports[j].Port
		})
		out = append(out, ports...)
		if !r.Up && up[r.SiteID] && (r.Gone || r.Listed) {
			out = append(out, ev(HostGone))
			up[r.SiteID] = false
		}
	}
	return out
}
