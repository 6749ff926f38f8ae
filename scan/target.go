package scan

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
)

// TargetKind says how a target was written.
type TargetKind string

// The kinds of target an operator may write.
const (
	KindAddress TargetKind = "address" // 198.18.0.1, 2001:db8::1
	KindCIDR    TargetKind = "cidr"    // 198.18.0.0/24
	KindRange   TargetKind = "range"   // 198.18.0.1-198.18.0.9 or 198.18.0.1-9
	KindHost    TargetKind = "host"    // scanme.example
)

// Target is one parsed target or exclusion. Address, CIDR and range targets
// are held as an inclusive address range [From, To]; host names keep the name.
type Target struct {
	Kind TargetKind
	From netip.Addr
	To   netip.Addr
	Host string
}

// ParseTarget parses one target strictly. The error names the offending text.
//
// It takes an IPv4 or IPv6 address (no leading zeros in IPv4 octets, no
// zone), a CIDR block, a from-to range of one family (or nmap's short form
// 198.18.0.1-20), or a host name per RFC 1123 (letters, digits and inner
// hyphens; no underscores, no wildcards). A CIDR block with host bits set
// (198.18.0.77/24) is accepted and means its whole block, as it does to
// nmap: String writes it normalised (198.18.0.0/24), which is what sites
// show and scanners get. Surrounding white space is ignored; any inside,
// and commas, are refused: each target is one token.
func ParseTarget(s string) (Target, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return Target{}, fmt.Errorf("%w: empty target", ErrInvalidTarget)
	}
	if strings.Contains(raw, "/") {
		p, err := netip.ParsePrefix(raw)
		if err != nil {
			return Target{}, fmt.Errorf("%w %q: not a CIDR block", ErrInvalidTarget, raw)
		}
		if p.Addr().Zone() != "" {
			return Target{}, fmt.Errorf("%w %q: zoned addresses are not supported", ErrInvalidTarget, raw)
		}
		p = p.Masked()
		return Target{Kind: KindCIDR, From: p.Addr(), To: lastAddr(p)}, nil
	}
	if a, err := netip.ParseAddr(raw); err == nil {
		if a.Zone() != "" {
			return Target{}, fmt.Errorf("%w %q: zoned addresses are not supported", ErrInvalidTarget, raw)
		}
		a = a.Unmap()
		return Target{Kind: KindAddress, From: a, To: a}, nil
	}
	if from, to, ok := strings.Cut(raw, "-"); ok && looksLikeAddress(from) {
		return parseRange(raw, from, to)
	}
	if err := checkHostName(raw); err != nil {
		return Target{}, err
	}
	return Target{Kind: KindHost, Host: strings.ToLower(strings.TrimSuffix(raw, "."))}, nil
}

// ParseTargets parses a list, failing on the first bad entry.
func ParseTargets(list []string) ([]Target, error) {
	out := make([]Target, 0, len(list))
	for _, s := range list {
		t, err := ParseTarget(s)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// String renders the target for people and for storage: a range that is not
// one CIDR block is written from-to, which masscan reads but nmap does not.
// Scanners get Blocks.
func (t Target) String() string {
	switch t.Kind {
	case KindHost:
		return t.Host
	case KindAddress:
		return t.From.String()
	}
	if t.From == t.To {
		return t.From.String()
	}
	if p, ok := rangeAsPrefix(t.From, t.To); ok {
		return p.String()
	}
	return t.From.String() + "-" + t.To.String()
}

// Blocks renders the target as single addresses and CIDR blocks (a host name
// as itself): the form nmap, masscan and their exclude options all read. A
// range that is not one block becomes the fewest blocks that cover it.
func (t Target) Blocks() []string {
	if t.Kind == KindHost {
		return []string{t.Host}
	}
	return blocks(t.From, t.To)
}

func blocks(from, to netip.Addr) []string {
	var out []string
	for _, p := range rangeToPrefixes(from, to) {
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	return out
}

// Addresses is the number of addresses the target covers, saturating at
// math.MaxUint64. A host name counts as one.
func (t Target) Addresses() uint64 {
	if t.Kind == KindHost {
		return 1
	}
	return rangeSize(t.From, t.To)
}

func looksLikeAddress(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func parseRange(raw, fromText, toText string) (Target, error) {
	from, _ := netip.ParseAddr(fromText)
	if from.Zone() != "" || strings.Contains(toText, "%") {
		return Target{}, fmt.Errorf("%w %q: zoned addresses are not supported", ErrInvalidTarget, raw)
	}
	from = from.Unmap()
	to, err := netip.ParseAddr(toText)
	if err != nil && from.Is4() {
		// nmap's short form: 198.18.0.1-20 changes only the last octet.
		to, err = lastOctetForm(from, toText)
	}
	if err != nil {
		return Target{}, fmt.Errorf("%w %q: range end %q is not an address", ErrInvalidTarget, raw, toText)
	}
	to = to.Unmap()
	if from.Is4() != to.Is4() {
		return Target{}, fmt.Errorf("%w %q: range mixes IPv4 and IPv6", ErrInvalidTarget, raw)
	}
	if to.Less(from) {
		return Target{}, fmt.Errorf("%w %q: range end is before its start", ErrInvalidTarget, raw)
	}
	return Target{Kind: KindRange, From: from, To: to}, nil
}

func lastOctetForm(from netip.Addr, s string) (netip.Addr, error) {
	var n int
	if len(s) == 0 || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return netip.Addr{}, fmt.Errorf("bad octet")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return netip.Addr{}, fmt.Errorf("bad octet")
		}
		n = n*10 + int(c-'0')
	}
	if n > 255 {
		return netip.Addr{}, fmt.Errorf("bad octet")
	}
	b := from.As4()
	b[3] = byte(n)
	return netip.AddrFrom4(b), nil
}

func checkHostName(raw string) error {
	name := strings.TrimSuffix(raw, ".")
	if len(name) > 253 {
		return fmt.Errorf("%w %q: host name longer than 253 characters", ErrInvalidTarget, raw)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("%w %q: empty or over-long label in host name", ErrInvalidTarget, raw)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("%w %q: a host name label cannot start or end with '-'", ErrInvalidTarget, raw)
		}
		for _, c := range l {
			ok := c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			if !ok {
				return fmt.Errorf("%w %q: character %q is not allowed in a host name", ErrInvalidTarget, raw, c)
			}
		}
	}
	// A name whose last label is all digits is a mistyped address (300.1.1.1,
	// 198.18.0), not a host name.
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" {
		return fmt.Errorf("%w %q: not a valid address", ErrInvalidTarget, raw)
	}
	return nil
}

// lastAddr is the highest address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		return a.Unmap()
	}
	return a
}

// rangeAsPrefix reports whether [from, to] is exactly one CIDR block.
func rangeAsPrefix(from, to netip.Addr) (netip.Prefix, bool) {
	for bits := 0; bits <= from.BitLen(); bits++ {
		p := netip.PrefixFrom(from, bits).Masked()
		if p.Addr() == from && lastAddr(p) == to {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// rangeToPrefixes covers [from, to] with the fewest CIDR blocks.
func rangeToPrefixes(from, to netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for {
		var block netip.Prefix
		for bits := 0; bits <= from.BitLen(); bits++ {
			p := netip.PrefixFrom(from, bits).Masked()
			if p.Addr() == from && !to.Less(lastAddr(p)) {
				block = p
				break
			}
		}
		out = append(out, block)
		end := lastAddr(block)
		if end == to {
			return out
		}
		from = end.Next()
	}
}

// rangeSize counts the addresses in [from, to], saturating.
func rangeSize(from, to netip.Addr) uint64 {
	a, b := from.As16(), to.As16()
	hiA, loA := be64(a[:8]), be64(a[8:])
	hiB, loB := be64(b[:8]), be64(b[8:])
	hi := hiB - hiA
	lo := loB - loA
	if loB < loA {
		hi--
	}
	if hi != 0 || lo == math.MaxUint64 {
		return math.MaxUint64
	}
	return lo + 1
}

func be64(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}
