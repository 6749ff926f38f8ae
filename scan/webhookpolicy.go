package scan

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// ErrWebhookAddress marks a webhook address that is not allowed.
var ErrWebhookAddress = errors.New("address not allowed for webhooks")

// internalNetworks are the addresses a webhook may not reach unless an admin
// allows them: they belong to this machine, its networks or its cloud's
// metadata service, or are not ordinary unicast destinations. IPv4-mapped
// IPv6 addresses are judged as IPv4.
var internalNetworks = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this" network, unspecified
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // carrier-grade NAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, cloud metadata
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"64:ff9b::/96",    // NAT64: may reach internal IPv4
		"64:ff9b:1::/48",  // local NAT64
		"100::/64",        // discard
		"2001::/23",       // IETF protocol assignments
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4: may embed internal IPv4
		"fc00::/7",        // unique local
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// WebhookPolicy decides which addresses webhooks may be delivered to:
// public unicast addresses, and the networks an admin allows.
type WebhookPolicy struct {
	// Allow are networks webhooks may reach although they are internal
	// (the server's --webhook-allow-networks).
	Allow []netip.Prefix
}

// CheckAddr refuses an internal address that Allow does not cover.
func (p WebhookPolicy) CheckAddr(a netip.Addr) error {
	a = a.WithZone("").Unmap()
	if !a.IsValid() {
		return fmt.Errorf("%w: not an IP address", ErrWebhookAddress)
	}
	for _, n := range p.Allow {
		if n.Contains(a) {
			return nil
		}
	}
	for _, n := range internalNetworks {
		if n.Contains(a) {
			return fmt.Errorf("%w: %s is in %s, an internal network", ErrWebhookAddress, a, n)
		}
	}
	if !a.IsGlobalUnicast() {
		return fmt.Errorf("%w: %s is not a unicast address", ErrWebhookAddress, a)
	}
	return nil
}

// Lookup resolves a host name to its addresses.
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

// CheckHost checks a URL's host: an IP literal as it is, a name by every
// address lookup gives for it. The check when a webhook is delivered is
// the one that counts (a name may resolve elsewhere by then); this one
// refuses the obvious at once.
func (p WebhookPolicy) CheckHost(ctx context.Context, host string, lookup Lookup) error {
	if a, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(a)
	}
	addrs, err := lookup(ctx, host)
	if err != nil {
		return fmt.Errorf("%w: cannot resolve %s: %v", ErrWebhookAddress, host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w: %s has no addresses", ErrWebhookAddress, host)
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return fmt.Errorf("%w; %s resolves to it", err, host)
		}
	}
	return nil
}
