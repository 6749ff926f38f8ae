package scan

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestWebhookPolicy(t *testing.T) {
	var none WebhookPolicy
	for _, a := range []string{"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::", "169.254.169.254",
		"fe80::1", "fe80::1%eth0", "10.0.0.1", "172.31.255.255", "192.168.0.1", "100.64.0.1", "100.127.255.254", "fd00::1", "fc00::1",
		"224.0.0.251", "239.255.255.250", "ff02::1", "255.255.255.255", "240.0.0.1", "198.18.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1",
		"192.0.0.170", "::ffff:169.254.169.254"} {
		if err := none.CheckAddr(netip.MustParseAddr(a)); !errors.Is(err, ErrWebhookAddress) {
			t.Errorf("%s allowed: %v", a, err)
		}
	}
	for _, a := range []string{"93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "100.128.0.1", "172.32.0.1"} {
		if err := none.CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
	allow := WebhookPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("::1/128")}}
	if allow.CheckAddr(netip.MustParseAddr("10.20.1.1")) != nil || allow.CheckAddr(netip.MustParseAddr("::1")) != nil {
		t.Error("an allowed network is refused")
	}
	if allow.CheckAddr(netip.MustParseAddr("10.21.1.1")) == nil || allow.CheckAddr(netip.MustParseAddr("127.0.0.1")) == nil {
		t.Error("an address outside the allowed networks is accepted")
	}

	// A name passes only if every address it resolves to does.
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host == "mixed.test" {
			return []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("169.254.169.254")}, nil
		}
		if host == "public.test" {
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		}
		return nil, errors.New("no such host")
	}
	ctx := context.Background()
	if err := none.CheckHost(ctx, "mixed.test", lookup); !errors.Is(err, ErrWebhookAddress) {
		t.Errorf("a name with one internal address: %v", err)
	}
	if err := none.CheckHost(ctx, "nowhere.test", lookup); !errors.Is(err, ErrWebhookAddress) {
		t.Errorf("a name that does not resolve: %v", err)
	}
	if err := none.CheckHost(ctx, "public.test", lookup); err != nil {
		t.Errorf("a public name: %v", err)
	}
	if err := none.CheckHost(ctx, "10.0.0.1", lookup); !errors.Is(err, ErrWebhookAddress) {
		t.Errorf("an internal literal: %v", err)
	}
}
