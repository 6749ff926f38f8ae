package nmap

import (
	"slices"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// profile parses a profile's options for the builders, failing the test on
// a refused one.
func profile(t *testing.T, options string) scan.OptionSet {
	t.Helper()
	set, err := scan.ParseOptionSet(scan.Nmap, options)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestArgsOrder(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want []string
	}{
		{"nothing", nil, nil},
		{"all, given in reverse", []Option{
			WithTargets([]string{"198.18.0.0/24", "scanme.example"}),
			WithProfile(profile(t, "-sV -p 22,80")),
			WithExcludes([]string{"198.18.0.7"}),
			WithExcludeFile("done.txt"),
			WithStatsEvery(5 * time.Second),
			WithXMLOutput("out.xml"),
			WithInterface("eth1"),
			WithPrivileged(),
			WithIPv6(),
		}, []string{
			"-6", "--privileged", "-e", "eth1", "-oX", "out.xml", "--stats-every", "5s", "--exclude", "198.18.0.7",
			"--excludefile", "done.txt", "-sV", "-p", "22,80", "--", "198.18.0.0/24", "scanme.example",
		}},
		{"no targets, no --", []Option{WithProfile(profile(t, "-sn"))}, []string{"-sn"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Args(tt.opts...); !slices.Equal(got, tt.want) {
				t.Errorf("Args = %q\nwant   %q", got, tt.want)
			}
		})
	}
}

func TestArgsDoesNotAlias(t *testing.T) {
	targets := []string{"198.18.0.1"}
	args := Args(WithProfile(profile(t, "-sV -p 22")), WithTargets(targets))
	targets[0] = "-iLevil"
	if want := []string{"-sV", "-p", "22", "--", "198.18.0.1"}; !slices.Equal(args, want) {
		t.Errorf("Args = %q, want %q", args, want)
	}
}
