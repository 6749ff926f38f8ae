package scan

import (
	"errors"
	"strings"
	"testing"
)

func TestSplitOptions(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"-n -Pn -sV", []string{"-n", "-Pn", "-sV"}},
		{"  -p  22,80 \t -T4\n", []string{"-p", "22,80", "-T4"}},
		{`--script-args 'http.useragent=Mozilla 5'`, []string{"--script-args", "http.useragent=Mozilla 5"}},
		{`--script-args "a=\"b c\""`, []string{"--script-args", `a="b c"`}},
		{`-p 1-1024\ 2`, []string{"-p", "1-1024 2"}},
		{`''`, []string{""}},
		{`$HOME $(id) *`, []string{"$HOME", "$(id)", "*"}}, // nothing is expanded
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := SplitOptions(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("SplitOptions(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	for _, bad := range []string{`-p '22`, `"abc`, `abc\`} {
		if _, err := SplitOptions(bad); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("SplitOptions(%q) error = %v, want ErrInvalidOptions", bad, err)
		}
	}
}

func TestParseOptions(t *testing.T) {
	accepted := []struct {
		scanner Scanner
		in      string
	}{
		{Nmap, "-n -Pn -sS -sV --version-light -p 1-65535 -T4"},
		{Nmap, "-n --script default,vuln --script-args http.useragent=x"},
		{Nmap, "-n --script=banner -O --top-ports 100"},
		{Masscan, "-p 1-65535 --rate 1000 --banners"},
	}
	for _, tt := range accepted {
		if _, err := ParseOptions(tt.scanner, tt.in); err != nil {
			t.Errorf("ParseOptions(%s, %q): %v", tt.scanner, tt.in, err)
		}
	}

	refused := []struct {
		scanner Scanner
		in      string
		names   string
	}{
		{Nmap, "-iL /etc/shadow", "-iL"},
		{Nmap, "-iL/etc/shadow", "-iL"},
		{Nmap, "-iR 1000", "-iR"},
		{Nmap, "-oN /tmp/x", "-oN"},
		{Nmap, "-oX /tmp/x.xml", "-oX"},
		{Nmap, "-oX/tmp/x.xml", "-oX"},
		{Nmap, "-oA out", "-oA"},
		{Nmap, "-oG -", "-oG"},
		{Nmap, "--resume /tmp/x", "--resume"},
		{Nmap, "--datadir /tmp", "--datadir"},
		{Nmap, "--servicedb=/tmp/s", "--servicedb"},
		{Nmap, "--script /tmp/evil.nse", "--script"},
		{Nmap, "--script=../../evil", "--script"},
		{Nmap, "--script-args-file /etc/passwd", "--script-args-file"},
		{Nmap, "--excludefile /etc/hosts", "--excludefile"},
		{Nmap, "--exclude 198.18.0.1", "--exclude"},
		{Nmap, "--stylesheet http://x/y.xsl", "--stylesheet"},
		{Nmap, "--append-output", "--append-output"},
		{Nmap, "-e eth0", "-e"},
		{Nmap, "-S 198.18.0.9", "-S"},
		{Masscan, "-c /etc/masscan.conf", "-c"},
		{Masscan, "--includefile /etc/shadow", "--includefile"},
		{Masscan, "--adapter eth0", "--adapter"},
		{Masscan, "-oJ out.json", "-oJ"},
		{Masscan, "--readscan x.bin", "--readscan"},
		{Scanner("zmap"), "-p 80", "zmap"},
	}
	for _, tt := range refused {
		_, err := ParseOptions(tt.scanner, tt.in)
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tt.names) {
			t.Errorf("ParseOptions(%s, %q) error = %v, want ErrInvalidOptions naming %s", tt.scanner, tt.in, err, tt.names)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	good := Spec{RunID: 1, ShardID: 1, Scanner: Nmap, Options: []string{"-n"}, Targets: []string{"198.18.0.2"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid spec refused: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Spec)
	}{
		{"no run", func(s *Spec) { s.RunID = 0 }},
		{"unknown scanner", func(s *Spec) { s.Scanner = "zmap" }},
		{"refused option", func(s *Spec) { s.Options = []string{"-iL", "/etc/shadow"} }},
		{"no targets", func(s *Spec) { s.Targets = nil }},
		{"bad target", func(s *Spec) { s.Targets = []string{"198.18.0.2", "-iL"} }},
		{"bad exclude", func(s *Spec) { s.Excludes = []string{"a b"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			s.Options = append([]string(nil), good.Options...)
			tt.change(&s)
			if err := s.Validate(); !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate() = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	if got := RawKey(7, 12, 2, Nmap); got != "runs/7/12/2/nmap.xml" {
		t.Errorf("RawKey = %q", got)
	}
	if got := ExportKey(7, "results.csv"); got != "runs/7/export/results.csv" {
		t.Errorf("ExportKey = %q", got)
	}
}
