package masscan

import "testing"

func TestWithProfile(t *testing.T) {
	check(t, []argsCase{
		{"none", []Option{WithProfile(nil)}, nil},
		{"kept as given", []Option{WithProfile([]string{"-p", "1-65535", "--rate", "50000", "--randomize-hosts"})},
			[]string{"-p", "1-65535", "--rate", "50000", "--randomize-hosts"}},
		{"later calls append", []Option{WithProfile([]string{"-p", "80"}), WithProfile([]string{"--banners"})},
			[]string{"-p", "80", "--banners"}},
		{"overrides the agent's rate by coming last", []Option{WithProfile([]string{"--rate", "10"}), WithRate(1000)},
			[]string{"--rate", "1000", "--rate", "10"}},
	})
}
