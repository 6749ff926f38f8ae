package report

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	nmap "github.com/Ullaakut/nmap/v3"
)

// TestParseMatchesUllaakut parses each complete fixture with
// github.com/Ullaakut/nmap/v3 (reflection-based xml.Unmarshal of the whole
// document) and compares every field both parsers know, host by host.
func TestParseMatchesUllaakut(t *testing.T) {
	for _, f := range fixtures {
		if !f.complete {
			continue // Ullaakut's parser refuses a cut-off document
		}
		t.Run(f.file, func(t *testing.T) {
			doc := readFixture(t, f.file)
			var run nmap.Run
			if err := nmap.Parse(doc, &run); err != nil {
				t.Fatalf("Ullaakut: %v", err)
			}
			info, hosts, err := collect(bytes.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			masscan := run.Scanner == "masscan"
			eq := func(what string, ours, theirs any) {
				t.Helper()
				if !reflect.DeepEqual(ours, theirs) {
					t.Errorf("%s: ours %#v, Ullaakut %#v", what, ours, theirs)
				}
			}
			eqTime := func(what string, ours time.Time, theirs nmap.Timestamp) {
				t.Helper()
				if !ours.Equal(time.Time(theirs)) {
					t.Errorf("%s: ours %v, Ullaakut %v", what, ours, time.Time(theirs))
				}
			}
			eq("scanner", info.Scanner, run.Scanner)
			eq("args", info.Args, run.Args)
			eq("version", info.Version, run.Version)
			eqTime("start", info.Start, run.Start)
			eqTime("end", info.End, run.Stats.Finished.Time)
			eq("summary", info.Summary, run.Stats.Finished.Summary)
			eq("exit", info.Exit, run.Stats.Finished.Exit)
			eq("up", info.HostsUp, run.Stats.Hosts.Up)
			eq("down", info.HostsDown, run.Stats.Hosts.Down)
			eq("elapsed", float32(info.Elapsed), run.Stats.Finished.Elapsed)
			if len(hosts) != len(run.Hosts) {
				t.Fatalf("%d hosts, Ullaakut %d", len(hosts), len(run.Hosts))
			}
			for i, h := range hosts {
				u := run.Hosts[i]
				eqTime("host start", h.Start, u.StartTime)
				eqTime("host end", h.End, u.EndTime)
				if masscan && u.Status.State == "" {
					// Ours reports a masscan host with a port as up.
					eq("masscan status", h.Status+"/"+h.Reason, "up/"+u.Ports[0].State.Reason)
				} else {
					eq("status", h.Status, u.Status.State)
					eq("reason", h.Reason, u.Status.Reason)
				}
				eq("address count", len(h.Addresses), len(u.Addresses))
				for j, a := range u.Addresses {
					typ := a.AddrType
					if masscan && strings.Contains(a.Addr, ":") {
						typ = "ipv6" // ours corrects masscan's addrtype
					}
					eq("address", h.Addresses[j], Address{Addr: a.Addr, Type: typ, Vendor: a.Vendor})
				}
				eq("hostname count", len(h.Hostnames), len(u.Hostnames))
				for j, n := range u.Hostnames {
					eq("hostname", h.Hostnames[j], Hostname{Name: n.Name, Type: n.Type})
				}
				eq("port count", len(h.Ports), len(u.Ports))
				for j, up := range u.Ports {
					p := h.Ports[j]
					eq("protocol", p.Protocol, up.Protocol)
					eq("port", p.Number, int(up.ID))
					eq("state", p.State, up.State.State)
					eq("port reason", p.Reason, up.State.Reason)
					s, us := p.Service, up.Service
					eq("service name", s.Name, us.Name)
					eq("product", s.Product, us.Product)
					eq("version", s.Version, us.Version)
					eq("extrainfo", s.ExtraInfo, us.ExtraInfo)
					eq("tunnel", s.Tunnel, us.Tunnel)
					eq("method", s.Method, us.Method)
					eq("conf", s.Conf, us.Confidence)
					eq("cpe count", len(s.CPE), len(us.CPEs))
					for k, c := range us.CPEs {
						eq("cpe", s.CPE[k], string(c))
					}
					eq("script count", len(p.Scripts), len(up.Scripts))
					for k, sc := range up.Scripts {
						eq("script", p.Scripts[k], Script{ID: sc.ID, Output: sc.Output})
					}
				}
				eq("os count", len(h.OS), len(u.OS.Matches))
				for j, m := range u.OS.Matches {
					eq("os", h.OS[j], OSMatch{Name: m.Name, Accuracy: m.Accuracy})
				}
				eq("host script count", len(h.Scripts), len(u.HostScripts))
				itoa := func(n int) string {
					if n == 0 {
						return ""
					}
					return strconv.Itoa(n)
				}
				eq("times", [3]string{itoa(h.Times.SRTT), itoa(h.Times.RTTVar), itoa(h.Times.Timeout)}, [3]string{u.Times.SRTT, u.Times.RTT, u.Times.To})
			}
		})
	}
}
