package query

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func text(f Field, col int, parts ...string) Term {
	return Term{Field: f, Col: col, Text: Pattern{Parts: parts}}
}

func TestParseTree(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		in   string
		want Query
	}{
		{"", Query{}},
		{"   ", Query{}},
		{"port:80", Query{Root: Term{Field: Port, Col: 1, Ports: []PortRange{{80, 80}}}}},
		{"port:1-1024,8080", Query{Root: Term{Field: Port, Col: 1, Ports: []PortRange{{1, 1024}, {8080, 8080}}}}},
		{"proto:TCP state:open", Query{Root: And{Nodes: []Node{text(Proto, 1, "tcp"), text(State, 11, "open")}}}},
		{"state:open|filtered", Query{Root: text(State, 1, "open|filtered")}},
		{"service:http*", Query{Root: text(Service, 1, "http", "")}},
		{`product:"Apache httpd" version:2.4*`, Query{Root: And{Nodes: []Node{text(Product, 1, "Apache httpd"), text(Version, 24, "2.4", "")}}}},
		{`product:"a \"b\" \\ \*"`, Query{Root: text(Product, 1, `a "b" \ *`)}},
		{`product:a\*b`, Query{Root: text(Product, 1, "a*b")}},
		{"ip:198.18.0.5", Query{Root: Term{Field: IP, Col: 1, Net: netip.MustParsePrefix("198.18.0.5/32")}}},
		{"net:198.18.0.77/24", Query{Root: Term{Field: Net, Col: 1, Net: netip.MustParsePrefix("198.18.0.0/24")}}},
		{"net:2001:db8::1/32", Query{Root: Term{Field: Net, Col: 1, Net: netip.MustParsePrefix("2001:db8::/32")}}},
		{"ip:::ffff:198.18.0.1", Query{Root: Term{Field: IP, Col: 1, Net: netip.MustParsePrefix("198.18.0.1/32")}}},
		{"seen:<7d", Query{Root: Term{Field: Seen, Col: 1, Age: Age{Within: true, D: 7 * day}}}},
		{"first:>30d", Query{Root: Term{Field: First, Col: 1, Age: Age{Within: false, D: 30 * day}}}},
		{"changed:24h", Query{Root: Term{Field: Changed, Col: 1, Age: Age{Within: true, D: 24 * time.Hour}}}},
		{"-port:22", Query{Root: Not{Node: Term{Field: Port, Col: 2, Ports: []PortRange{{22, 22}}}}}},
		{"NOT port:22", Query{Root: Not{Node: Term{Field: Port, Col: 5, Ports: []PortRange{{22, 22}}}}}},
		// NOT binds tighter than AND, AND tighter than OR.
		{"port:80 OR port:443 service:http", Query{Root: Or{Nodes: []Node{
			Term{Field: Port, Col: 1, Ports: []PortRange{{80, 80}}},
			And{Nodes: []Node{Term{Field: Port, Col: 12, Ports: []PortRange{{443, 443}}}, text(Service, 21, "http")}},
		}}}},
		{"(port:80 OR port:443) AND -site:lab*", Query{Root: And{Nodes: []Node{
			Or{Nodes: []Node{Term{Field: Port, Col: 2, Ports: []PortRange{{80, 80}}}, Term{Field: Port, Col: 13, Ports: []PortRange{{443, 443}}}}},
			Not{Node: text(Site, 28, "lab", "")},
		}}}},
		{"-(port:80 OR port:443)", Query{Root: Not{Node: Or{Nodes: []Node{
			Term{Field: Port, Col: 3, Ports: []PortRange{{80, 80}}}, Term{Field: Port, Col: 14, Ports: []PortRange{{443, 443}}}}}}}},
		{"run:12", Query{Run: 12}},
		{"run:12 port:80 seen:1h", Query{Run: 12, Root: And{Nodes: []Node{
			Term{Field: Port, Col: 8, Ports: []PortRange{{80, 80}}}, Term{Field: Seen, Col: 16, Age: Age{Within: true, D: time.Hour}}}}}},
		{"Script:*vsftpd*", Query{Root: text(Script, 1, "", "vsftpd", "")}},
		{"host:*.example.org", Query{Root: text(Host, 1, "", ".example.org")}},
		{"cpe:cpe:/a:apache:*", Query{Root: text(CPE, 1, "cpe:/a:apache:", "")}},
		{"agent:edge-1 scan:nightly site:é", Query{Root: And{Nodes: []Node{text(Agent, 1, "edge-1"), text(Scan, 14, "nightly"), text(Site, 27, "é")}}}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := Parse(c.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.in, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Parse(%q)\n got %#v\nwant %#v", c.in, got, c.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in   string
		col  int
		want string
	}{
		{"port:80 prot:tcp", 9, `unknown field "prot"; did you mean proto?`},
		{"servce:http", 1, "did you mean service?"},
		{"colour:red", 1, "the fields are"},
		{"http", 1, `"http" is not a term`},
		{"port:", 6, "port: needs a value"},
		{"port:99999", 6, `"99999" is not a port`},
		{"port:80,,90", 9, "an empty port"},
		{"port:80,1024-1", 9, "runs backwards"},
		{"port:8*", 6, "wildcards only work in text fields"},
		{"proto:icmp", 7, `"icmp" is not one of tcp, udp, sctp`},
		{"net:10.0.0.0/33", 5, "not an IPv4 or IPv6 address"},
		{"ip:fe80::1%eth0", 4, "not an IPv4 or IPv6 address"},
		{"seen:7y", 6, "not an age"},
		{"seen:<-1d", 6, "not an age"},
		{"seen:99999w", 6, "more than 100 years"},
		{`product:"apache`, 9, "never closed"},
		{`product:"a"b`, 12, "closing quote must end the value"},
		{`product:a"b"`, 10, "quote inside a bare value"},
		{`product:a\nb`, 10, `\n is not an escape`},
		{`"apache"`, 1, "needs a field"},
		{"(port:80", 1, "this ( is never closed"},
		{"port:80)", 8, ") without a matching ("},
		{"()", 2, "empty parentheses"},
		{"OR port:80", 1, "OR needs a term on its left"},
		{"port:80 OR", 9, "OR needs a term on its right"},
		{"port:80 AND", 9, "AND needs a term on its right"},
		{"port:80 - port:22", 9, "- must be followed directly"},
		{"NOT", 1, "nothing to negate"},
		{"service:*", 9, "wildcards alone"},
		{"run:x", 5, "not a run id"},
		{"run:1 run:2", 7, "run: given twice"},
		{"-run:1", 2, "cannot be negated"},
		{"port:80 OR run:1", 12, "cannot be negated, ORed"},
		{"run:3 first:>1d", 7, "a run (run: at col 1) has no first sighting"},
		{"site:é prot:tcp", 8, "did you mean proto?"},
		{"port:80\x00", 8, "control character"},
		{strings.Repeat("(", 20) + "port:80" + strings.Repeat(")", 20), 17, "nested more than 16 deep"},
		{strings.Repeat("port:1 ", 65), 449, "more than 64 terms"},
		{"product:" + strings.Repeat("a", 201), 9, "longer than 200 characters"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, err := Parse(c.in)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q) = %v, want a *query.Error", c.in, err)
			}
			if qe.Col != c.col || !strings.Contains(qe.Msg, c.want) {
				t.Fatalf("Parse(%q) = %q at col %d, want col %d containing %q", c.in, qe.Msg, qe.Col, c.col, c.want)
			}
			if !strings.HasPrefix(err.Error(), "col ") {
				t.Fatalf("error %q does not start with its column", err)
			}
		})
	}
}

func TestPatternString(t *testing.T) {
	for _, in := range []string{`http*`, `a\*b*c`, `x\\y`} {
		q, err := Parse("product:" + in)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Root.(Term).Text.String(); got != in {
			t.Errorf("Pattern.String() = %q, want %q", got, in)
		}
	}
}

// FuzzParse checks that any input either parses or fails with a column
// inside the query (or just past its end), and never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"port:80 OR (service:http* -state:closed)", `product:"a \"b\"" net:10.0.0.0/8`,
		"seen:<7d first:>30d changed:24h run:5", "-(ip:::1 OR host:*.lan)", "port:1-1024,8080 AND NOT proto:udp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q): error %v is not a *query.Error", s, err)
			}
			if n := len([]rune(s)); qe.Col < 1 || qe.Col > n+1 {
				t.Fatalf("Parse(%q): col %d outside 1..%d", s, qe.Col, n+1)
			}
			return
		}
		for _, term := range Terms(q.Root) {
			if term.Field == Run {
				t.Fatalf("Parse(%q): run: left in the tree", s)
			}
		}
	})
}

func TestQuoteRoundTrips(t *testing.T) {
	for _, s := range []string{`plain`, `lab (east)`, `a "b" \ *c`, `é`} {
		q, err := Parse("site:" + Quote(s))
		if err != nil {
			t.Fatalf("Parse(site:%s): %v", Quote(s), err)
		}
		if got := q.Root.(Term).Text; got.Wildcard() || got.Parts[0] != s {
			t.Fatalf("Quote(%q) parsed back as %#v", s, got)
		}
	}
}
