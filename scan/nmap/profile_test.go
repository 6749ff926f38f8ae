package nmap

import (
	"slices"
	"testing"
)

func TestWithProfile(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want []string
	}{
		{"none", []Option{WithProfile(profile(t, ""))}, nil},
		{"canonical form", []Option{WithProfile(profile(t, "-sS -T 4 --top-ports=100 --script default,safe -p22"))},
			[]string{"-sS", "-T4", "--top-ports", "100", "--script",
				"(default) and not (broadcast or external),(safe) and not (broadcast or external)", "-p", "22"}},
		{"values with spaces stay one argument", []Option{WithProfile(profile(t, "--script-args 'http.useragent=Scantron 1.0'"))},
			[]string{"--script-args", "http.useragent=Scantron 1.0"}},
		{"later calls append", []Option{WithProfile(profile(t, "-sV")), WithProfile(profile(t, "-O"))}, []string{"-sV", "-O"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Args(tt.opts...); !slices.Equal(got, tt.want) {
				t.Errorf("Args = %q, want %q", got, tt.want)
			}
		})
	}
}
