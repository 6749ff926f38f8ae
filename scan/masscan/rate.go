package masscan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// TakeRate removes masscan's --rate from a profile's options and returns
// the rest with the rate it asked for (0 when it asks none; the last one
// counts, as in masscan). The server caps that rate with the site's and
// passes it as scan.Spec.Rate, so a profile cannot raise it again.
func TakeRate(options []string) ([]string, float64, error) {
	var rest []string
	rate := 0.0
	for i := 0; i < len(options); i++ {
		a := options[i]
		var val string
		switch {
		case a == "--rate" || a == "--max-rate":
			if i+1 >= len(options) {
				return nil, 0, fmt.Errorf("%w: %s needs a value", scan.ErrInvalidOptions, a)
			}
			i++
			val = options[i]
		case strings.HasPrefix(a, "--rate="), strings.HasPrefix(a, "--max-rate="):
			_, val, _ = strings.Cut(a, "=")
		default:
			rest = append(rest, a)
			continue
		}
		r, err := strconv.ParseFloat(val, 64)
		if err != nil || r <= 0 || r > 1e8 {
			return nil, 0, fmt.Errorf("%w: %s %q is not a packet rate from 0 to 100000000", scan.ErrInvalidOptions, a, val)
		}
		rate = r
	}
	return rest, rate, nil
}

// WithAdapter sends masscan's packets from a chosen interface and source
// address, to a chosen next-hop MAC (--adapter, --adapter-ip,
// --router-mac). These belong to the agent's machine and are set by the
// agent's operator; profiles may not set them. Empty values add nothing.
func WithAdapter(name, ip, routerMAC string) Option {
	return func(b *builder) { b.adapter, b.adapterIP, b.routerMAC = name, ip, routerMAC }
}

// DefaultRate is masscan's own rate when it is given no --rate.
const DefaultRate = 100

// LimitRate is the rate to give masscan for rate (0 = masscan's default)
// under a cap (0 = none): driver.LimitRate with masscan's default. The
// server applies its ceiling with it, and an agent its own cap.
func LimitRate(rate, limit float64) float64 {
	return driver.LimitRate(rate, limit, DefaultRate)
}
