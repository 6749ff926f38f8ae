package scan

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in        string
		kind      TargetKind
		str       string
		addresses uint64
	}{
		{"198.18.0.1", KindAddress, "198.18.0.1", 1},
		{" 198.18.0.1 ", KindAddress, "198.18.0.1", 1},
		{"::1", KindAddress, "::1", 1},
		{"::ffff:198.18.0.7", KindAddress, "198.18.0.7", 1},
		{"2001:db8::1", KindAddress, "2001:db8::1", 1},
		{"198.18.0.0/24", KindCIDR, "198.18.0.0/24", 256},
		{"198.18.0.77/24", KindCIDR, "198.18.0.0/24", 256}, // host bits are masked, as nmap does
		{"198.18.0.1/32", KindCIDR, "198.18.0.1", 1},
		{"2001:db8::/120", KindCIDR, "2001:db8::/120", 256},
		{"2001:db8::/32", KindCIDR, "2001:db8::/32", math.MaxUint64},
		{"198.18.0.1-198.18.0.9", KindRange, "198.18.0.1-198.18.0.9", 9},
		{"198.18.0.0-198.18.0.255", KindRange, "198.18.0.0/24", 256},
		{"198.18.0.250-198.18.1.5", KindRange, "198.18.0.250-198.18.1.5", 12},
		{"198.18.0.1-20", KindRange, "198.18.0.1-198.18.0.20", 20},
		{"198.18.0.5-5", KindRange, "198.18.0.5", 1},
		{"2001:db8::1-2001:db8::ff", KindRange, "2001:db8::1-2001:db8::ff", 255},
		{"scanme.example", KindHost, "scanme.example", 1},
		{"Web-01.Corp.Example.", KindHost, "web-01.corp.example", 1},
		{"localhost", KindHost, "localhost", 1},
		{"0.0.0.0/0", KindCIDR, "0.0.0.0/0", 1 << 32}, // parses; Resolve refuses it by size
		{"::/0", KindCIDR, "::/0", math.MaxUint64},
		{"xn--bcher-kva.example", KindHost, "xn--bcher-kva.example", 1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTarget(tt.in)
			if err != nil {
				t.Fatalf("ParseTarget(%q): %v", tt.in, err)
			}
			if got.Kind != tt.kind || got.String() != tt.str || got.Addresses() != tt.addresses {
				t.Errorf("ParseTarget(%q) = %s %q (%d addresses), want %s %q (%d)", tt.in, got.Kind, got.String(), got.Addresses(), tt.kind, tt.str, tt.addresses)
			}
		})
	}
}

func TestParseTargetRefused(t *testing.T) {
	tests := []struct {
		in, wantInMessage string
	}{
		{"", "empty"},
		{"198.18.0.300", "198.18.0.300"},
		{"198.18.0", "198.18.0"},
		{"1.2.3.4.5", "1.2.3.4.5"},
		{"198.18.0.0/33", "not a CIDR"},
		{"198.18.0.0/", "not a CIDR"},
		{"fe80::1%eth0", "zoned"},
		{"198.18.0.9-198.18.0.1", "before its start"},
		{"198.18.0.1-256", "range end"},
		{"198.18.0.1-2001:db8::1", "mixes IPv4 and IPv6"},
		{"198.18.0.1-x", "range end"},
		{"-iL", "cannot start or end"},
		{"host name", "not allowed"},
		{"a..b", "empty or over-long"},
		{"evil;rm", "not allowed"},
		{"$(id)", "not allowed"},
		{strings.Repeat("a", 64) + ".example", "over-long"},
		{"*.example", "not allowed"},
		{"_dmarc.example", "'_' is not allowed"},
		{"010.18.0.1", "010.18.0.1"},
		{"198.18.0.01", "198.18.0.01"},
		{"198.18.0.1-010", "range end \"010\""},
		{"198.18.0.0/024", "not a CIDR"},
		{"fe80::1%eth0-fe80::2", "zoned"},
		{"fe80::1-fe80::2%eth0", "zoned"},
		{"fe80::/64%eth0", "not a CIDR"},
		{"198.18.0.1,198.18.0.2", "198.18.0.1,198.18.0.2"},
		{"198.18.0.1 198.18.0.2", "' ' is not allowed"},
		{"198.18.0.1\t198.18.0.2", "is not allowed"},
		{"198.18.0.1-", "range end"},
		{"198.18.0.1--198.18.0.2", "range end"},
		{"198.18.0.1 /24", "not a CIDR"},
		{"2001:db8::1-198.18.0.1", "mixes IPv4 and IPv6"},
		{"2001:db8::ff-2001:db8::1", "before its start"},
		{"exämple.com", "not allowed"},
		{"example.123", "not a valid address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseTarget(tt.in)
			if !errors.Is(err, ErrInvalidTarget) {
				t.Fatalf("ParseTarget(%q) error = %v, want ErrInvalidTarget", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.wantInMessage) {
				t.Errorf("ParseTarget(%q) error %q does not mention %q", tt.in, err, tt.wantInMessage)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name       string
		targets    []string
		exclusions []string
		max        uint64
		want       []string
		excludes   []string
		addresses  uint64
	}{
		{
			name:      "single address",
			targets:   []string{"198.18.0.2"},
			want:      []string{"198.18.0.2"},
			addresses: 1,
		},
		{
			name:       "exclusion splits a block into minimal CIDRs",
			targets:    []string{"198.18.0.0/24"},
			exclusions: []string{"198.18.0.128"},
			want:       []string{"198.18.0.0/25", "198.18.0.129", "198.18.0.130/31", "198.18.0.132/30", "198.18.0.136/29", "198.18.0.144/28", "198.18.0.160/27", "198.18.0.192/26"},
			excludes:   []string{"198.18.0.128"},
			addresses:  255,
		},
		{
			name:      "overlapping and adjacent targets merge",
			targets:   []string{"198.18.0.0/25", "198.18.0.128-198.18.0.255", "198.18.0.7"},
			want:      []string{"198.18.0.0/24"},
			addresses: 256,
		},
		{
			name:       "unrelated exclusions are not passed on",
			targets:    []string{"198.18.0.0/30"},
			exclusions: []string{"198.19.0.0/16"},
			want:       []string{"198.18.0.0/30"},
			addresses:  4,
		},
		{
			name:       "host names pass through and keep every exclusion for the scanner",
			targets:    []string{"db.example", "198.18.0.1", "DB.example"},
			exclusions: []string{"198.19.0.0/16", "mail.example"},
			want:       []string{"198.18.0.1", "db.example"},
			excludes:   []string{"198.19.0.0/16", "mail.example"},
			addresses:  2,
		},
		{
			name:       "excluded host name is dropped",
			targets:    []string{"db.example", "www.example"},
			exclusions: []string{"db.example"},
			want:       []string{"www.example"},
			excludes:   []string{"db.example"},
			addresses:  1,
		},
		{
			name:       "IPv6 and IPv4 stay apart",
			targets:    []string{"2001:db8::/126", "198.18.0.0/31"},
			exclusions: []string{"2001:db8::1"},
			want:       []string{"198.18.0.0/31", "2001:db8::", "2001:db8::2/127"},
			excludes:   []string{"2001:db8::1"},
			addresses:  5,
		},
		{
			name:       "a range exclusion reaches the scanner as CIDR blocks",
			targets:    []string{"198.18.0.0/28"},
			exclusions: []string{"198.18.0.1-198.18.0.3"},
			want:       []string{"198.18.0.0", "198.18.0.4/30", "198.18.0.8/29"},
			excludes:   []string{"198.18.0.1", "198.18.0.2/31"},
			addresses:  13,
		},
		{
			name:      "exactly at the limit",
			targets:   []string{"198.18.0.0/24"},
			max:       256,
			want:      []string{"198.18.0.0/24"},
			addresses: 256,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			targets, err := ParseTargets(tt.targets)
			if err != nil {
				t.Fatal(err)
			}
			excl, err := ParseTargets(tt.exclusions)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Resolve(targets, excl, tt.max)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if strings.Join(got.Targets, " ") != strings.Join(tt.want, " ") {
				t.Errorf("targets = %v, want %v", got.Targets, tt.want)
			}
			if strings.Join(got.Excludes, " ") != strings.Join(tt.excludes, " ") {
				t.Errorf("excludes = %v, want %v", got.Excludes, tt.excludes)
			}
			if got.Addresses != tt.addresses {
				t.Errorf("addresses = %d, want %d", got.Addresses, tt.addresses)
			}
		})
	}
}

func TestResolveRefused(t *testing.T) {
	tests := []struct {
		name       string
		targets    []string
		exclusions []string
		max        uint64
		want       error
		message    string
	}{
		{"everything excluded", []string{"198.18.0.0/24"}, []string{"198.18.0.0/16"}, 0, ErrNoTargets, "no targets"},
		{"over the default /16", []string{"198.18.0.0/15"}, nil, 0, ErrTooManyAddresses, "131072 addresses, the limit is 65536"},
		{"over a configured limit", []string{"198.18.0.0/24"}, nil, 255, ErrTooManyAddresses, "256 addresses"},
		{"the whole IPv4 internet", []string{"0.0.0.0/0"}, nil, 0, ErrTooManyAddresses, "4294967296 addresses"},
		{"a huge IPv6 block", []string{"::/0"}, nil, 0, ErrTooManyAddresses, "more than"},
		{"nothing at all", nil, nil, 0, ErrNoTargets, "no targets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			targets, _ := ParseTargets(tt.targets)
			excl, _ := ParseTargets(tt.exclusions)
			_, err := Resolve(targets, excl, tt.max)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("Resolve error = %v, want %v mentioning %q", err, tt.want, tt.message)
			}
		})
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"198.18.0.1", "198.18.0.0/24", "198.18.0.1-9", "2001:db8::/64", "host.example", "::1-::ff", "1.2.3.4-1.2.3.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tgt, err := ParseTarget(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidTarget) {
				t.Fatalf("error %v is not ErrInvalidTarget", err)
			}
			return
		}
		if tgt.Addresses() == 0 {
			t.Fatalf("%q covers no address", s)
		}
		// What we render must parse back to the same set.
		again, err := ParseTarget(tgt.String())
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", tgt.String(), s, err)
		}
		if again.From != tgt.From || again.To != tgt.To || again.Host != tgt.Host {
			t.Fatalf("round trip of %q: %+v != %+v", s, again, tgt)
		}
	})
}

func TestTargetBlocks(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"198.18.0.1", []string{"198.18.0.1"}},
		{"198.18.0.0-198.18.0.255", []string{"198.18.0.0/24"}},
		{"198.18.0.1-9", []string{"198.18.0.1", "198.18.0.2/31", "198.18.0.4/30", "198.18.0.8/31"}},
		{"198.18.0.255-198.18.1.0", []string{"198.18.0.255", "198.18.1.0"}},
		{"0.0.0.0/0", []string{"0.0.0.0/0"}},
		{"255.255.255.254-255.255.255.255", []string{"255.255.255.254/31"}},
		{"2001:db8::1-2001:db8::3", []string{"2001:db8::1", "2001:db8::2/127"}},
		{"2001:db8::-2001:db8::ffff", []string{"2001:db8::/112"}},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"}},
		{"db.example", []string{"db.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tgt, err := ParseTarget(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := tgt.Blocks(); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Blocks() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResolvedByFamily(t *testing.T) {
	r := Resolved{
		Targets:   []string{"198.18.0.0/31", "2001:db8::/127", "db.example"},
		Excludes:  []string{"198.19.0.1", "2001:db8::9", "mail.example"},
		Addresses: 5,
	}
	parts := r.ByFamily()
	if len(parts) != 2 {
		t.Fatalf("parts = %+v", parts)
	}
	if got := strings.Join(parts[0].Targets, " ") + " | " + strings.Join(parts[0].Excludes, " "); got != "198.18.0.0/31 db.example | 198.19.0.1 mail.example" || parts[0].Addresses != 3 {
		t.Errorf("IPv4 part: %s (%d addresses)", got, parts[0].Addresses)
	}
	if got := strings.Join(parts[1].Targets, " ") + " | " + strings.Join(parts[1].Excludes, " "); got != "2001:db8::/127 | 2001:db8::9 mail.example" || parts[1].Addresses != 2 {
		t.Errorf("IPv6 part: %s (%d addresses)", got, parts[1].Addresses)
	}
	if one := (Resolved{Targets: []string{"::1"}}).ByFamily(); len(one) != 1 || one[0].Targets[0] != "::1" {
		t.Errorf("IPv6 only: %+v", one)
	}
}
