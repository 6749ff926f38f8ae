package query

import "sort"

// Field is a searchable field.
type Field string

// The fields of the language.
const (
	IP      Field = "ip"
	Net     Field = "net"
	Port    Field = "port"
	Proto   Field = "proto"
	State   Field = "state"
	Service Field = "service"
	Product Field = "product"
	Version Field = "version"
	CPE     Field = "cpe"
	Script  Field = "script"
	Host    Field = "host"
	Site    Field = "site"
	Scan    Field = "scan"
	Agent   Field = "agent"
	Seen    Field = "seen"
	First   Field = "first"
	Changed Field = "changed"
	Run     Field = "run"
)

// Kind says how a field's value is read.
type Kind int

// The kinds of value.
const (
	KindText  Kind = iota // text, * wildcards, case-insensitive
	KindEnum              // one of a fixed set of words
	KindPorts             // 80, 1-1024, 80,443,8000-8100
	KindNet               // an IPv4 or IPv6 address or CIDR block
	KindAge               // <7d, >30d, 24h (s, m, h, d, w)
	KindRun               // a run id
)

// fields maps each field to its kind; enums list their words.
var fields = map[Field]Kind{
	IP: KindNet, Net: KindNet, Port: KindPorts, Proto: KindEnum, State: KindEnum,
	Service: KindText, Product: KindText, Version: KindText, CPE: KindText, Script: KindText,
	Host: KindText, Site: KindText, Scan: KindText, Agent: KindText,
	Seen: KindAge, First: KindAge, Changed: KindAge, Run: KindRun,
}

var enums = map[Field][]string{
	Proto: {"tcp", "udp", "sctp"},
	State: {"open", "closed", "filtered", "unfiltered", "open|filtered", "closed|filtered"},
}

// Fields lists the field names in alphabetical order.
func Fields() []string {
	out := make([]string, 0, len(fields))
	for f := range fields {
		out = append(out, string(f))
	}
	sort.Strings(out)
	return out
}

// KindOf is the kind of a field's value; ok is false for an unknown field.
func KindOf(f Field) (k Kind, ok bool) {
	k, ok = fields[f]
	return k, ok
}

// closest is the known field nearest to name by edit distance, when it is
// near enough to be a likely typo.
func closest(name string) string {
	best, bestD := "", 3
	for _, f := range Fields() {
		if d := distance(name, f); d < bestD {
			best, bestD = f, d
		}
	}
	return best
}

// distance is the Levenshtein distance of two short strings.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
