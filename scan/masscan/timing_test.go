package masscan

import (
	"testing"
	"time"
)

func TestTimingOptions(t *testing.T) {
	check(t, []argsCase{
		{"rate", []Option{WithRate(100000)}, []string{"--rate", "100000"}},
		{"fractional rate", []Option{WithRate(0.5)}, []string{"--rate", "0.5"}},
		{"no rate", []Option{WithRate(0)}, nil},
		{"negative rate", []Option{WithRate(-1)}, nil},
		{"wait", []Option{WithWait(10 * time.Second)}, []string{"--wait", "10"}},
		{"wait rounded up", []Option{WithWait(1500 * time.Millisecond)}, []string{"--wait", "2"}},
		{"no wait at all", []Option{WithWait(0)}, []string{"--wait", "0"}},
		{"default wait", []Option{WithWait(-1)}, nil},
		{"banners", []Option{WithBanners()}, []string{"--banners"}},
		{"all", []Option{WithBanners(), WithWait(time.Second), WithRate(500)}, []string{"--rate", "500", "--wait", "1", "--banners"}},
	})
}
