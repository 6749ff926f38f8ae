package nmap

import (
	"slices"
	"testing"
	"time"
)

func TestArgsOrder(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want []string
	}{
		{"nothing", nil, nil},
		{"all, given in reverse", []Option{
			WithTargets([]string{"198.18.0.0/24", "scanme.example"}),
			WithProfile([]string{"-sV", "-p", "22,80"}),
			WithExcludes([]string{"198.18.0.7"}),
			WithStatsEvery(5 * time.Second),
			WithXMLOutput("out.xml"),
			WithIPv6(),
		}, []string{
			"-6", "-oX", "out.xml", "--stats-every", "5s", "--exclude", "198.18.0.7",
			"-sV", "-p", "22,80", "--", "198.18.0.0/24", "scanme.example",
		}},
		{"a dangling profile option can only take --", []Option{
			WithXMLOutput("out.xml"),
			WithProfile([]string{"-sV", "-p"}),
			WithTargets([]string{"198.18.0.1"}),
		}, []string{"-oX", "out.xml", "-sV", "-p", "--", "198.18.0.1"}},
		{"no targets, no --", []Option{WithProfile([]string{"-sn"})}, []string{"-sn"}},
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
	profile := []string{"-sV", "-p", "22"}
	targets := []string{"198.18.0.1"}
	args := Args(WithProfile(profile), WithTargets(targets))
	profile[0], targets[0] = "-oXevil", "-iLevil"
	if want := []string{"-sV", "-p", "22", "--", "198.18.0.1"}; !slices.Equal(args, want) {
		t.Errorf("Args = %q, want %q", args, want)
	}
}
