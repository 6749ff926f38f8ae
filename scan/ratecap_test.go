package scan

import (
	"errors"
	"strings"
	"testing"
)

func TestOptionSetCapRate(t *testing.T) {
	tests := []struct {
		in    string
		limit float64
		want  string
	}{
		{"-sT -p 80", 0, "-sT|-p|80"},
		{"-sT -p 80", 500, "-sT|-p|80|--max-rate|500"},
		{"--max-rate 100 -sT", 500, "--max-rate|100|-sT"},
		{"--max-rate 1000 -sT", 500, "--max-rate|500|-sT"},
		{"--min-rate 2000 -sT", 500, "--min-rate|500|-sT|--max-rate|500"},
		{"--min-rate 10 --max-rate 20000", 1500.5, "--min-rate|10|--max-rate|1500.5"},
		{"--max-rate 1 --max-rate 9000", 100, "--max-rate|1|--max-rate|100"},
	}
	for _, tt := range tests {
		set, err := ParseOptionSet(Nmap, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		got := set.CapRate(tt.limit).Args()
		if strings.Join(got, "|") != tt.want {
			t.Errorf("%q capped at %v: %q, want %q", tt.in, tt.limit, strings.Join(got, "|"), tt.want)
		}
		// What the server puts in a spec, the agent must accept.
		if _, err := ParseOptionArgs(Nmap, got); err != nil {
			t.Errorf("%q: capped form refused: %v", tt.in, err)
		}
	}
	m, _ := ParseOptionSet(Masscan, "-p80 --rate 9000")
	if got := strings.Join(m.CapRate(10).Args(), "|"); got != "-p80|--rate=9000" {
		t.Errorf("masscan set changed: %s", got)
	}
}

func TestOptionSetCheckRateCeiling(t *testing.T) {
	tests := []struct {
		scanner Scanner
		in      string
		ceiling float64
		names   string // "" = accepted
	}{
		{Nmap, "--min-rate 100000000", 0, ""},
		{Nmap, "--min-rate 100 --max-rate 5000", 5000, ""},
		{Nmap, "--min-rate 100000000", 10000, "--min-rate"},
		{Nmap, "--max-rate 10001", 10000, "--max-rate"},
		{Nmap, "--max-parallelism 100", 10, ""},
		{Masscan, "--rate 100000000", 10000, "--rate"},
		{Masscan, "--max-rate=10000.5", 10000, "--max-rate"},
		{Masscan, "--rate 10000 -p80", 10000, ""},
	}
	for _, tt := range tests {
		set, err := ParseOptionSet(tt.scanner, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		err = set.CheckRateCeiling(tt.ceiling)
		switch {
		case tt.names == "" && err != nil:
			t.Errorf("%s %q under %v: %v", tt.scanner, tt.in, tt.ceiling, err)
		case tt.names != "" && (!errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tt.names) || !strings.Contains(err.Error(), "ceiling")):
			t.Errorf("%s %q under %v: %v, want a refusal naming %s and the ceiling", tt.scanner, tt.in, tt.ceiling, err, tt.names)
		}
	}
}

// Timing and parallelism bounds: each refused with the option named.
func TestTimingBounds(t *testing.T) {
	for _, tt := range []struct{ in, names string }{
		{"--max-parallelism 100000", "--max-parallelism"},
		{"--min-parallelism 1000", "--min-parallelism"},
		{"--min-hostgroup 100000", "--min-hostgroup"},
		{"--max-hostgroup 0", "--max-hostgroup"},
		{"--scan-delay 2m", "--scan-delay"},
		{"--max-scan-delay 61", "--max-scan-delay"},
		{"--host-timeout 73h", "--host-timeout"},
		{"--max-rtt-timeout 2h", "--max-rtt-timeout"},
		{"--initial-rtt-timeout 99999999999999999", "--initial-rtt-timeout"},
		{"--stats-every 1ms", "--stats-every"},
		{"--max-retries 21", "--max-retries"},
		{"--script-timeout 25h", "--script-timeout"},
	} {
		if _, err := ParseOptions(Nmap, tt.in); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tt.names) {
			t.Errorf("%q: %v", tt.in, err)
		}
	}
	if _, err := ParseOptions(Masscan, "--retries 50"); err == nil {
		t.Error("masscan --retries 50 accepted")
	}
	for _, ok := range []string{"--max-parallelism 1024 --min-parallelism 256", "--scan-delay 1m --host-timeout 72h", "--max-rtt-timeout 1.5 --stats-every 1s", "--host-timeout 0"} {
		if _, err := ParseOptions(Nmap, ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// Without takes options out of a set, Last reads the one a scanner goes by.
func TestOptionSetWithoutAndLast(t *testing.T) {
	set, err := ParseOptionSet(Masscan, "-p80 --rate 100 --wait 1 --rate=200")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := set.Last("--rate", "--max-rate"); !ok || v != "200" {
		t.Errorf("Last = %q, %v", v, ok)
	}
	rest, taken := set.Without("--rate", "--max-rate")
	if got := strings.Join(rest.Args(), " "); got != "-p80 --wait=1" || strings.Join(taken, " ") != "100 200" {
		t.Errorf("Without = %q, %q", got, taken)
	}
	if _, ok := rest.Last("--rate"); ok {
		t.Error("Last finds an option taken out")
	}
}
