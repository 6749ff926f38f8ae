package targethost

import "testing"

// TestNamespaceHostOffloadsOff checks that the side of the link masscan
// scans from reports no offloads to libpcap's own queries, so that its
// capture ring holds frames of the MTU's size rather than 32 of 64 KiB.
func TestNamespaceHostOffloadsOff(t *testing.T) {
	h := New(t, Options{Name: "offl", Net: 19, Index: 6})
	if h.Namespace == "" {
		t.Skip("no namespace host could be made")
	}
	for _, o := range offloads {
		on, err := ethtoolValue(h.HostIf, o.get, 0)
		if err != nil {
			t.Fatalf("ethtool get %s on %s: %v", o.name, h.HostIf, err)
		}
		if on != 0 {
			t.Errorf("%s is on on %s", o.name, h.HostIf)
		}
	}
}
