package scanners

import (
	"errors"
	"slices"
	"testing"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// Every scanner a profile may name has a driver, and every driver an
// option policy: the two tables cannot drift apart.
func TestEveryScannerHasADriver(t *testing.T) {
	var names []scan.Scanner
	for _, d := range All() {
		names = append(names, d.Scanner())
	}
	policies := scan.Scanners()
	slices.Sort(names)
	slices.Sort(policies)
	if !slices.Equal(names, policies) {
		t.Fatalf("drivers %v, option policies %v", names, policies)
	}
	if All()[0].Scanner() != scan.DefaultScanner || !All()[0].Required() {
		t.Errorf("the first driver is %s; the default scanner, required, comes first", All()[0].Scanner())
	}
	if _, err := Lookup("nessus"); !errors.Is(err, driver.ErrUnknown) {
		t.Errorf("Lookup(nessus) = %v", err)
	}
}

// Argv is the command line as the agent runs it: the binary, the options
// it adds (output, rate, adapter) and the profile's, with the output path
// filled in.
func TestArgv(t *testing.T) {
	tests := []struct {
		name string
		cmd  driver.Command
		want []string
	}{
		{"nmap", driver.Command{
			Spec:   scan.Spec{RunID: 1, ShardID: 2, Scanner: scan.Nmap, Options: []string{"-sT", "-p", "22"}, Targets: []string{"198.18.0.1-198.18.0.2"}, Excludes: []string{"198.18.0.9"}},
			Output: "/w/out.xml", Machine: driver.Machine{MaxRate: 50, Interface: "veth1"}, StatsEvery: 5e9, PartialEvery: -1,
		}, []string{"nmap", "-e", "veth1", "-oX", "/w/out.xml", "--stats-every", "5s", "--exclude", "198.18.0.9", "-sT", "-p", "22", "--max-rate", "50", "--", "198.18.0.1", "198.18.0.2"}},
		{"masscan", driver.Command{
			Spec:   scan.Spec{RunID: 1, ShardID: 2, Scanner: scan.Masscan, Options: []string{"-p22", "--wait=1"}, Targets: []string{"198.18.0.1"}, Rate: 500},
			Binary: "/opt/masscan", Output: "/w/out.xml", Machine: driver.Machine{MaxRate: 100, Adapter: "veth1"}, PartialEvery: -1,
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Argv(tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && !slices.Equal(got, tt.want) {
				t.Errorf("Argv =\n%q\nwant\n%q", got, tt.want)
			}
			if bin := tt.cmd.BinaryOr(tt.cmd.Spec.Scanner); got[0] != bin {
				t.Errorf("binary %q, want %q", got[0], bin)
			}
			if !slices.Contains(got, tt.cmd.Output) && !slices.Contains(got, "-oX") {
				t.Errorf("no output path in %q", got)
			}
		})
	}
	// masscan: the rate capped by the agent, the adapter, the seed that
	// every attempt shares; no resume index on a first attempt.
	got, _ := Argv(tests[1].cmd)
	for _, want := range []string{"--rate", "100", "--adapter", "veth1", "--seed"} {
		if !slices.Contains(got, want) {
			t.Errorf("masscan Argv %q lacks %q", got, want)
		}
	}
	if slices.Contains(got, "--resume-index") {
		t.Errorf("masscan Argv %q resumes", got)
	}
	bad := tests[0].cmd
	bad.Spec.Scanner = "nessus"
	if _, err := Argv(bad); !errors.Is(err, scan.ErrInvalidSpec) {
		t.Errorf("unknown scanner: %v", err)
	}
}
