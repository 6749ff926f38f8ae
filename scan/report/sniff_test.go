package report

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func TestSniffScanner(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"masscan xml", "<?xml version=\"1.0\"?>\r\n<!-- masscan v1.0 scan -->\r\n<nmaprun scanner=\"masscan\" start=\"1\">", "masscan"},
		{"nmap xml", `<?xml version="1.0"?><!DOCTYPE nmaprun><nmaprun scanner="nmap" args="nmap -n">`, "nmap"},
		{"single quotes", `<nmaprun start='1' scanner='masscan'>`, "masscan"},
		{"masscan json", "  [\n{\"ip\": \"198.18.0.1\"}", "masscan"},
		{"masscan ndjson", `{"ip":"198.18.0.1"}`, "masscan"},
		{"no attribute", `<nmaprun start="1"><host>`, ""},
		{"attribute of a later element", `<nmaprun start="1"><x scanner="masscan">`, ""},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 4096)
			if got := SniffScanner(br); got != tc.want {
				t.Errorf("SniffScanner = %q, want %q", got, tc.want)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tc.in {
				t.Errorf("SniffScanner consumed input: %q left", rest)
			}
		})
	}
}
