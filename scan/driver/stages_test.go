package driver

import (
	"net/netip"
	"reflect"
	"testing"
)

// GroupPairs: hosts found open on the same ports are one group; beyond the
// bound the smallest group joins its closest, and the pairs that adds are
// counted.
func TestGroupPairs(t *testing.T) {
	a := netip.MustParseAddr
	pairs := func(ps ...any) []Pair {
		var out []Pair
		for i := 0; i < len(ps); i += 2 {
			out = append(out, Pair{Addr: ps[i].(string), Port: uint16(ps[i+1].(int))})
		}
		return out
	}
	tests := []struct {
		name  string
		pairs []Pair
		limit int
		want  []HostGroup
		extra int
	}{
		{"identical sets", pairs("198.18.0.9", 80, "198.18.0.2", 22, "198.18.0.2", 80, "198.18.0.9", 22, "198.18.0.9", 22), 16,
			[]HostGroup{{Ports: []uint16{22, 80}, Hosts: []netip.Addr{a("198.18.0.2"), a("198.18.0.9")}}}, 0},
		{"disjoint sets", pairs("198.18.0.1", 443, "198.18.0.2", 22, "198.18.0.2", 2222, "198.18.0.3", 443), 16,
			[]HostGroup{
				{Ports: []uint16{443}, Hosts: []netip.Addr{a("198.18.0.1"), a("198.18.0.3")}},
				{Ports: []uint16{22, 2222}, Hosts: []netip.Addr{a("198.18.0.2")}},
			}, 0},
		{"overlapping sets", pairs("198.18.0.1", 22, "198.18.0.2", 22, "198.18.0.2", 80), 16,
			[]HostGroup{
				{Ports: []uint16{22}, Hosts: []netip.Addr{a("198.18.0.1")}},
				{Ports: []uint16{22, 80}, Hosts: []netip.Addr{a("198.18.0.2")}},
			}, 0},
		// Bound 2: of the groups {22} (.1, .4), {22,80} (.2) and {8080}
		// (.3), the first with the fewest hosts, {22,80}, joins {22}
		// (adding .1 and .4 on 80: 2 pairs) rather than {8080} (adding
		// .2 on 8080 and .3 on 22 and 80: 3).
		{"bound reached", pairs("198.18.0.1", 22, "198.18.0.4", 22, "198.18.0.2", 22, "198.18.0.2", 80, "198.18.0.3", 8080), 2,
			[]HostGroup{
				{Ports: []uint16{22, 80}, Hosts: []netip.Addr{a("198.18.0.1"), a("198.18.0.2"), a("198.18.0.4")}},
				{Ports: []uint16{8080}, Hosts: []netip.Addr{a("198.18.0.3")}},
			}, 2},
		// Bound 1: everything is one group, the union over every host.
		{"bound one", pairs("198.18.0.1", 22, "198.18.0.2", 80, "198.18.0.3", 443), 1,
			[]HostGroup{{Ports: []uint16{22, 80, 443}, Hosts: []netip.Addr{a("198.18.0.1"), a("198.18.0.2"), a("198.18.0.3")}}}, 6},
		{"none", nil, 16, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, extra, err := GroupPairs(tt.pairs, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) || extra != tt.extra {
				t.Errorf("GroupPairs = %v, extra %d; want %v, extra %d", got, extra, tt.want, tt.extra)
			}
		})
	}
	if _, _, err := GroupPairs(pairs("198.18.0.1", 0), 16); err == nil {
		t.Error("port 0 accepted")
	}
	if _, _, err := GroupPairs(pairs("not-an-address", 22), 16); err == nil {
		t.Error("a bad address accepted")
	}
}
