package masscan

import (
	"errors"
	"slices"
	"testing"

	"github.com/scantron/scantron/scan"
)

func TestTakeRate(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		rest []string
		rate float64
	}{
		{[]string{"-p", "80"}, []string{"-p", "80"}, 0},
		{[]string{"--rate", "5000", "-p", "80"}, []string{"-p", "80"}, 5000},
		{[]string{"--rate=100", "-p", "80", "--max-rate", "250.5"}, []string{"-p", "80"}, 250.5},
	} {
		rest, rate, err := TakeRate(tt.in)
		if err != nil || !slices.Equal(rest, tt.rest) || rate != tt.rate {
			t.Errorf("TakeRate(%q) = %q, %v, %v; want %q, %v", tt.in, rest, rate, err, tt.rest, tt.rate)
		}
	}
	for _, bad := range [][]string{{"--rate"}, {"--rate", "fast"}, {"--rate=-1"}, {"--rate", "0"}} {
		if _, _, err := TakeRate(bad); !errors.Is(err, scan.ErrInvalidOptions) {
			t.Errorf("TakeRate(%q) error = %v", bad, err)
		}
	}
}

func TestArgsAdapter(t *testing.T) {
	check(t, []argsCase{
		{"agent's adapter before targets and profile", []Option{
			WithProfile(profile(t, "-p 80")), WithTargets([]string{"198.18.0.2"}),
			WithAdapter("veth0", "198.18.0.1", "02:00:00:00:00:02"), WithRate(100),
		}, []string{"--rate", "100", "--adapter", "veth0", "--adapter-ip", "198.18.0.1", "--router-mac", "02:00:00:00:00:02", "--range=198.18.0.2", "-p80"}},
		{"empty adapter settings add nothing", []Option{WithAdapter("", "", ""), WithTargets([]string{"198.18.0.2"})}, []string{"--range=198.18.0.2"}},
	})
}

func TestLimitRate(t *testing.T) {
	for _, tt := range []struct{ spec, agent, want float64 }{
		{0, 0, 0},
		{5000, 0, 5000},
		{5000, 1000, 1000},
		{500, 1000, 500},
		{0, 1000, DefaultRate}, // a cap never raises masscan's default
		{0, 50, 50},
	} {
		if got := LimitRate(tt.spec, tt.agent); got != tt.want {
			t.Errorf("LimitRate(%v, %v) = %v, want %v", tt.spec, tt.agent, got, tt.want)
		}
	}
}
