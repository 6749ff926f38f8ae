package nmap

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", maxLine+1)
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"split across writes", []string{"SYN Stealth Scan Tim", "ing: About 1% done\r", "\nnext"}, []string{"SYN Stealth Scan Timing: About 1% done", "next"}},
		{"empty lines", []string{"\n\n"}, []string{"", ""}},
		{"too long a line is dropped", []string{long[:10], long[10:] + "\nafter\n"}, []string{"after"}},
		{"a line of exactly the limit is kept", []string{long[1:] + "\n"}, []string{long[1:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var tee bytes.Buffer
			w := &lineWriter{tee: &tee, onLine: func(s string) { got = append(got, s) }}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.Flush()
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
			if tee.String() != strings.Join(tt.writes, "") {
				t.Errorf("tee got %q", tee.String())
			}
		})
	}
}

type failingWriter struct{ calls int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.calls++
	return 0, errors.New("disk full")
}

func TestLineWriterFailingTee(t *testing.T) {
	var got []string
	fw := &failingWriter{}
	w := &lineWriter{tee: fw, onLine: func(s string) { got = append(got, s) }}
	for _, s := range []string{"a\n", "b\n"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v: a failing tee must not stop the scanner", n, err)
		}
	}
	if fw.calls != 1 || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("tee calls = %d, lines = %q", fw.calls, got)
	}
}
