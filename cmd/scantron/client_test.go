package main

import (
	"strings"
	"testing"
)

func TestProgressBar(t *testing.T) {
	for pct, want := range map[float64]string{
		0: "[..........]   0.0%", 75: "[#######...]  75.0%", 100: "[##########] 100.0%", 140: "[##########] 100.0%",
	} {
		if got := progressBar(pct, 10); got != want {
			t.Errorf("progressBar(%v) = %q, want %q", pct, got, want)
		}
	}
	if splitList(" a, ,b ") == nil || strings.Join(splitList(" a, ,b "), "|") != "a|b" {
		t.Errorf("splitList = %q", splitList(" a, ,b "))
	}
}
