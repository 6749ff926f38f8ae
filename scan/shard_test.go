package scan

import (
	"fmt"
	"slices"
	"testing"
)

func TestShardsSplitByAddressCount(t *testing.T) {
	resolve := func(targets ...string) Resolved {
		t.Helper()
		ts, err := ParseTargets(targets)
		if err != nil {
			t.Fatal(err)
		}
		excl, _ := ParseTargets([]string{"198.18.0.7"})
		r, err := Resolve(ts, excl, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tt := range []struct {
		name    string
		in      Resolved
		size    uint64
		targets [][]string
		counts  []uint64
	}{
		{"a /16 is 256 shards of a /24", resolve("198.18.0.0/16"), 256, nil, nil},
		{"small sets stay whole", resolve("198.18.1.1", "198.18.1.2", "scanme.test"), 256,
			[][]string{{"198.18.1.1", "198.18.1.2", "scanme.test"}}, []uint64{3}},
		{"one address per shard", resolve("198.18.1.1-198.18.1.3"), 1,
			[][]string{{"198.18.1.1"}, {"198.18.1.2"}, {"198.18.1.3"}}, []uint64{1, 1, 1}},
		{"blocks are cut across shard edges", resolve("198.18.2.0/29", "198.18.3.0/30"), 6,
			[][]string{{"198.18.2.0/30", "198.18.2.4/31"}, {"198.18.2.6/31", "198.18.3.0/30"}}, []uint64{6, 6}},
		{"families never share a shard", resolve("198.18.1.1", "2001:db8::1"), 256,
			[][]string{{"198.18.1.1"}, {"2001:db8::1"}}, []uint64{1, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.Shards(tt.size)
			var total uint64
			for _, s := range got {
				if s.Addresses > tt.size || s.Addresses == 0 {
					t.Errorf("shard of %d addresses, size %d", s.Addresses, tt.size)
				}
				total += s.Addresses
			}
			if total != tt.in.Addresses {
				t.Errorf("shards cover %d addresses, the set has %d", total, tt.in.Addresses)
			}
			if tt.targets == nil {
				// 65,535 addresses once 198.18.0.7 is excluded: 255 full shards
				// and one of 255.
				if len(got) != 256 || got[0].Targets[0] != "198.18.0.0/30" || got[1].Targets[0] != "198.18.1.1" ||
					got[255].Targets[len(got[255].Targets)-1] != "198.18.255.128/25" || got[255].Addresses != 255 {
					t.Errorf("got %d shards, first %v, last %v", len(got), got[0].Targets, got[len(got)-1].Targets)
				}
				if !slices.Equal(got[0].Excludes, []string{"198.18.0.7"}) {
					t.Errorf("excludes = %v", got[0].Excludes)
				}
				return
			}
			var targets [][]string
			var counts []uint64
			for _, s := range got {
				targets = append(targets, s.Targets)
				counts = append(counts, s.Addresses)
			}
			if fmt.Sprint(targets) != fmt.Sprint(tt.targets) || !slices.Equal(counts, tt.counts) {
				t.Errorf("shards = %v %v, want %v %v", targets, counts, tt.targets, tt.counts)
			}
		})
	}
}
