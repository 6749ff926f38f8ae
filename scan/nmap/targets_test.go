package nmap

import (
	"slices"
	"testing"
)

func TestTargetOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want []string
	}{
		{"targets", []Option{WithTargets([]string{"198.18.0.0/24", "198.18.1.1", "2001:db8::/120", "scanme.example"})},
			[]string{"--", "198.18.0.0/24", "198.18.1.1", "2001:db8::/120", "scanme.example"}},
		{"targets append", []Option{WithTargets([]string{"198.18.0.1"}), WithTargets([]string{"198.18.0.2"})},
			[]string{"--", "198.18.0.1", "198.18.0.2"}},
		{"no targets", []Option{WithTargets(nil)}, nil},
		{"excludes", []Option{WithExcludes([]string{"198.18.0.7", "198.18.0.64/26", "2001:db8::1"})},
			[]string{"--exclude", "198.18.0.7,198.18.0.64/26,2001:db8::1"}},
		{"excludes append", []Option{WithExcludes([]string{"198.18.0.7"}), WithExcludes([]string{"gw.example"})},
			[]string{"--exclude", "198.18.0.7,gw.example"}},
		{"no excludes", []Option{WithExcludes(nil), WithExcludes([]string{})}, nil},
		{"ipv6", []Option{WithIPv6(), WithTargets([]string{"::1"})}, []string{"-6", "--", "::1"}},
		{"excludes before targets", []Option{WithTargets([]string{"198.18.0.0/24"}), WithExcludes([]string{"198.18.0.1"})},
			[]string{"--exclude", "198.18.0.1", "--", "198.18.0.0/24"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Args(tt.opts...); !slices.Equal(got, tt.want) {
				t.Errorf("Args = %q, want %q", got, tt.want)
			}
		})
	}
}
