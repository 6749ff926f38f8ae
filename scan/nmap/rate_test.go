package nmap

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
)

// An agent's cap reaches nmap's command line, whatever the spec asks.
func TestCapSpecRateArgs(t *testing.T) {
	tests := []struct {
		options []string
		limit   float64
		want    string // the profile part of the arguments
	}{
		{[]string{"-sT"}, 0, "-sT"},
		{[]string{"-sT"}, 250, "-sT --max-rate 250"},
		{[]string{"-sT", "--max-rate", "100"}, 250, "-sT --max-rate 100"},
		{[]string{"-sT", "--max-rate", "1000"}, 250, "-sT --max-rate 250"},
		{[]string{"--min-rate", "5000", "-sT"}, 250, "--min-rate 250 -sT --max-rate 250"},
	}
	for _, tt := range tests {
		spec := scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Nmap, Options: tt.options, Targets: []string{"127.0.0.1"}}
		capped, err := CapSpecRate(spec, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		args, err := SpecArgs(capped, "/tmp/x.xml", 0)
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(args, " ")
		if !strings.Contains(joined, tt.want) {
			t.Errorf("%q capped at %v: args %q lack %q", tt.options, tt.limit, joined, tt.want)
		}
		if tt.limit > 0 && strings.Count(joined, "--max-rate") != 1 {
			t.Errorf("%q: args %q", tt.options, joined)
		}
		if !slices.Equal(spec.Options, tt.options) {
			t.Errorf("the caller's spec changed: %q", spec.Options)
		}
	}
	bad := scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Nmap, Options: []string{"-iL", "/etc/shadow"}, Targets: []string{"127.0.0.1"}}
	if _, err := CapSpecRate(bad, 10); !errors.Is(err, scan.ErrInvalidSpec) {
		t.Errorf("refused options: %v", err)
	}
}
