package masscan

import "testing"

func TestWithProfile(t *testing.T) {
	check(t, []argsCase{
		{"none", []Option{WithProfile(profile(t, ""))}, nil},
		{"canonical form", []Option{WithProfile(profile(t, "-p1-65535 --rate=50000 --banners"))},
			[]string{"-p1-65535", "--rate=50000", "--banners"}},
		{"later calls append", []Option{WithProfile(profile(t, "-p 80")), WithProfile(profile(t, "--banners"))},
			[]string{"-p80", "--banners"}},
		{"overrides the agent's rate by coming last", []Option{WithProfile(profile(t, "--rate 10")), WithRate(1000)},
			[]string{"--rate", "1000", "--rate=10"}},
	})
}
