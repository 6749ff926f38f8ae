// Package query is Scantron's search language: one grammar for the UI's
// search box, GET /api/v1/search and `scantron search`. Parse turns a query
// into a Query whose tree of terms the store translates to SQL; the package
// depends on the standard library and package scan only, so every surface
// shares it.
//
//	query  = or
//	or     = and { "OR" and }
//	and    = unary { ["AND"] unary }           (juxtaposition is AND)
//	unary  = ("-" | "NOT") unary | "(" or ")" | term
//	term   = field ":" value
//	value  = bare | "\"" quoted "\""           (\" \\ \* escape in both)
//
// NOT and - bind tighter than AND, AND tighter than OR.
package query

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/scantron/scantron/scan"
)

// Node is a node of the query tree: And, Or, Not or Term.
type Node interface{ node() }

// And matches when every one of its nodes matches.
type And struct{ Nodes []Node }

// Or matches when any one of its nodes matches.
type Or struct{ Nodes []Node }

// Not matches when its node does not.
type Not struct{ Node Node }

// Term is one field:value condition. Exactly the value fields of the
// field's kind are set.
type Term struct {
	Field Field
	Col   int // 1-based column of the field name in the query

	Text  Pattern      // KindText and KindEnum (enums are lower-cased, no wildcards)
	Ports []PortRange  // KindPorts
	Net   netip.Prefix // KindNet: an address is its own /32 or /128
	Age   Age          // KindAge
	Run   int64        // KindRun
}

func (And) node()  {}
func (Or) node()   {}
func (Not) node()  {}
func (Term) node() {}

// Pattern is a text value split at its wildcards: "ht*p" is {"ht", "p"}.
// A pattern of one part has no wildcard.
type Pattern struct{ Parts []string }

// Wildcard says whether the pattern has a *.
func (p Pattern) Wildcard() bool { return len(p.Parts) > 1 }

// String is the pattern as written, with * for each wildcard and literal
// stars escaped.
func (p Pattern) String() string {
	s := ""
	for i, part := range p.Parts {
		if i > 0 {
			s += "*"
		}
		for _, r := range part {
			if r == '*' || r == '\\' {
				s += `\`
			}
			s += string(r)
		}
	}
	return s
}

// PortRange is an inclusive range of port numbers; a single port has Lo == Hi.
type PortRange struct{ Lo, Hi int }

// Age compares how long ago something happened with D: Within means less
// than D ago ("seen:<7d", also "seen:7d"), otherwise more than D ago
// ("first:>30d").
type Age struct {
	Within bool
	D      time.Duration
}

// Since is the instant Age compares with: now minus D.
func (a Age) Since(now time.Time) time.Time { return now.Add(-a.D) }

// Query is a parsed query: a tree of terms (nil matches everything) over
// the current assets, or over one run's results when Run is set.
type Query struct {
	Root Node
	Run  int64 // 0: the current assets of every site
}

// Hit is one port that matches a query: over the assets, a port some run
// found open on a site's host, with when it was first and last seen; over
// a run, a port that run reported, with the run's time for both.
type Hit struct {
	SiteID    int64     `json:"site_id"`
	Site      string    `json:"site"`
	Scan      string    `json:"scan"` // of the run that last saw the port ("" when deleted)
	RunID     *int64    `json:"run_id"`
	Address   string    `json:"address"`
	Hostnames []string  `json:"hostnames"`
	Protocol  string    `json:"protocol"`
	Port      int       `json:"port"`
	State     string    `json:"state"`
	Service   string    `json:"service"`
	Product   string    `json:"product"`
	Version   string    `json:"version"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// HitColumns are the CSV columns of a Hit, in order; HitRecord fills them.
var HitColumns = []string{"site", "address", "hostnames", "protocol", "port", "state", "service", "product", "version",
	"first_seen", "last_seen", "scan", "run_id"}

// HitRecord is a Hit as a CSV record under HitColumns, each cell made
// safe for spreadsheets.
func HitRecord(h Hit) []string {
	run := ""
	if h.RunID != nil {
		run = strconv.FormatInt(*h.RunID, 10)
	}
	rec := []string{h.Site, h.Address, strings.Join(h.Hostnames, " "), h.Protocol, strconv.Itoa(h.Port), h.State,
		h.Service, h.Product, h.Version, h.FirstSeen.UTC().Format(time.RFC3339), h.LastSeen.UTC().Format(time.RFC3339),
		h.Scan, run}
	for i, cell := range rec {
		rec[i] = scan.SpreadsheetSafe(cell)
	}
	return rec
}

// Quote writes s as a quoted value that matches s literally: quotes,
// backslashes and stars escaped. Pages use it to build queries such as
// site:"lab (east)".
func Quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `*`, `\*`).Replace(s) + `"`
}
