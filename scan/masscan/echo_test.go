package masscan

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
)

// echo runs the real masscan with --echo, which prints the configuration
// it has read and exits without sending anything, and returns the
// "range = " lines (normalised) and the "ports = " line.
func echo(t *testing.T, args []string) (ranges []string, ports string) {
	t.Helper()
	bin, err := exec.LookPath("masscan")
	if err != nil {
		t.Skip("masscan is not installed")
	}
	out, err := exec.Command(bin, append(args, "--echo")...).CombinedOutput()
	if err != nil {
		t.Fatalf("masscan %q --echo: %v: %s", args, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, value, ok := strings.Cut(line, "=")
		switch name = strings.TrimSpace(name); {
		case !ok:
		case name == "range":
			// masscan writes a block as from-to or as CIDR; compare them
			// the way Scantron writes them.
			tgt, err := scan.ParseTarget(value)
			if err != nil {
				t.Fatalf("masscan echoed range %q: %v", value, err)
			}
			ranges = append(ranges, tgt.String())
		case name == "ports":
			ports = strings.TrimSpace(value)
		}
	}
	return ranges, ports
}

// TestMasscanReadsSpecArgs: whatever an accepted profile holds, the real
// masscan scans exactly the spec's targets and the profile's ports; no
// option takes another's value, and no value becomes a target.
func TestMasscanReadsSpecArgs(t *testing.T) {
	tests := []struct {
		profile string
		ports   string
	}{
		{"-p 80,443 --rate 1000", "80,443"},
		{"--ping --open-only -p 22 --wait 0 --retries 2", "22,I:0"},
		{"--banners -p 80 --connection-timeout 5 --http-user-agent 'Scantron 1.0'", "80"},
		{"--open -p 1-3 --ttl 64 --source-port 40000-40015 --seed 42", "1-3"},
		{"-sS -Pn -n -p U:53 --max-rate 500", "U:53"},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			options, err := scan.ParseOptions(scan.Masscan, tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			spec := scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Masscan, Options: options,
				Targets: []string{"198.18.0.0/30", "198.18.0.9"}, Excludes: []string{"198.18.0.4/30"}}
			args, err := SpecArgs(spec, filepath.Join(t.TempDir(), "out.xml"))
			if err != nil {
				t.Fatal(err)
			}
			ranges, ports := echo(t, args)
			if want := []string{"198.18.0.0/30", "198.18.0.9"}; !slices.Equal(ranges, want) {
				t.Errorf("masscan %q reads ranges %q, want %q", args, ranges, want)
			}
			if ports != tt.ports {
				t.Errorf("masscan %q reads ports %q, want %q", args, ports, tt.ports)
			}
		})
	}
}

// TestMasscanHonoursExclude: targets that still cover an excluded address
// (as they never do once the server has resolved them) lose it to
// masscan's own --exclude, which the agent always passes.
func TestMasscanHonoursExclude(t *testing.T) {
	args := Args(WithXMLOutput(filepath.Join(t.TempDir(), "out.xml")), WithExcludes([]string{"198.18.0.3", "198.18.0.6/31"}),
		WithTargets([]string{"198.18.0.0/29"}), WithProfile(profile(t, "-p 80")))
	ranges, _ := echo(t, args)
	if want := []string{"198.18.0.0-198.18.0.2", "198.18.0.4/31"}; !slices.Equal(ranges, want) {
		t.Errorf("masscan %q reads ranges %q, want %q", args, ranges, want)
	}
}
