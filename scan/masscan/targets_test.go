package masscan

import "testing"

func TestTargetOptions(t *testing.T) {
	check(t, []argsCase{
		{"targets", []Option{WithTargets([]string{"198.18.0.0/24", "198.18.1.1-198.18.1.9", "fe80::1"})},
			[]string{"--range=198.18.0.0/24", "--range=198.18.1.1-198.18.1.9", "--range=fe80::1"}},
		{"targets append", []Option{WithTargets([]string{"198.18.0.1"}), WithTargets([]string{"198.18.0.2"})},
			[]string{"--range=198.18.0.1", "--range=198.18.0.2"}},
		{"no targets", []Option{WithTargets(nil)}, nil},
		{"excludes", []Option{WithExcludes([]string{"198.18.0.7", "198.18.0.64/26"})}, []string{"--exclude", "198.18.0.7,198.18.0.64/26"}},
		{"excludes append", []Option{WithExcludes([]string{"198.18.0.7"}), WithExcludes([]string{"198.18.0.9"})},
			[]string{"--exclude", "198.18.0.7,198.18.0.9"}},
		{"no excludes", []Option{WithExcludes(nil)}, nil},
	})
}
