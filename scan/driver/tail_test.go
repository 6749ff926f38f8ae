package driver

import (
	"strings"
	"testing"
)

func TestTailWriter(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"short", 16, []string{"error: x\n"}, "error: x"},
		{"empty", 16, nil, ""},
		{"cut to a line", 16, []string{"first line\nsecond\nthird\n"}, "...second\nthird"},
		{"many writes", 8, []string{"aaaa\n", "bbbb\n", "cccc\n", "dd\n"}, "...cccc\ndd"},
		{"one huge write", 8, []string{strings.Repeat("z", 100) + "\nend\n"}, "...end"},
		{"no newline in the tail", 4, []string{"abcdefgh"}, "...efgh"},
		{"invalid UTF-8", 16, []string{"bad \xff byte"}, "bad \uFFFD byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &tailWriter{max: tt.max}
			for _, s := range tt.writes {
				w.Write([]byte(s))
			}
			if got := w.String(); got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
		})
	}
}
