package scan

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// intrusiveCategories are the script categories whose scripts may harm,
// break into, overload or mislead the targets (exploit, dos, brute,
// intrusive, malware, fuzzer, vuln) or reach beyond them (external,
// broadcast). A script in any of them is intrusive: only a profile an admin
// marked intrusive may run it.
var intrusiveCategories = []string{"exploit", "dos", "brute", "intrusive", "malware", "fuzzer", "vuln", "external", "broadcast"}

// outsideCategories are never run, intrusive flag or not: their scripts
// send to broadcast and multicast groups of the agent's networks or to
// third-party services, outside the scan's targets. scriptGuard keeps them
// out of every --script expression the scanner is given.
var outsideCategories = []string{"broadcast", "external"}

// scriptExpr is one comma-separated part of a --script value, parsed as
// nse_main.lua's selection grammar reads it:
//
//	expression = value (("and" / "or") expression)?
//	value      = "not" value / "(" expression ")" / "true" / "false" / word
//
// which in nmap's PEG makes and/or right-associative with no precedence
// between them: "a and b or c" is "a and (b or c)". Keywords are
// case-insensitive and end at space, a parenthesis or the end. A word is a
// category of the script at hand (any case), "all", or else a file-name
// glob (* is the only wildcard) matched against the script's name.
type scriptExpr struct {
	op          string // "and", "or", "not", "word", "true", "false"
	word        string
	left, right *scriptExpr
}

type exprParser struct {
	toks []string
	i    int
}

func parseScriptExpr(s string) (*scriptExpr, error) {
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || (c >= '\t' && c <= '\r'):
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && s[j] > ' ' && s[j] != '(' && s[j] != ')' && s[j] < 0x7f {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("holds %q", s[i])
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	p := exprParser{toks: toks}
	e, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("has %q where an operator or the end belongs", p.toks[p.i])
	}
	return e, nil
}

func (p *exprParser) peekKeyword(kw string) bool {
	return p.i < len(p.toks) && strings.EqualFold(p.toks[p.i], kw)
}

func (p *exprParser) expr(depth int) (*scriptExpr, error) {
	if depth > 64 {
		return nil, fmt.Errorf("nests too deeply")
	}
	left, err := p.value(depth)
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"and", "or"} {
		if p.peekKeyword(op) {
			p.i++
			right, err := p.expr(depth + 1)
			if err != nil {
				return nil, err
			}
			return &scriptExpr{op: op, left: left, right: right}, nil
		}
	}
	return left, nil
}

func (p *exprParser) value(depth int) (*scriptExpr, error) {
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("ends where a script or category belongs")
	}
	t := p.toks[p.i]
	p.i++
	switch {
	case strings.EqualFold(t, "not"):
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		return &scriptExpr{op: "not", left: v}, nil
	case t == "(":
		e, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.toks) || p.toks[p.i] != ")" {
			return nil, fmt.Errorf("has unbalanced parentheses")
		}
		p.i++
		return e, nil
	case t == ")":
		return nil, fmt.Errorf("has unbalanced parentheses")
	case strings.EqualFold(t, "and") || strings.EqualFold(t, "or"):
		return nil, fmt.Errorf("has %q where a script or category belongs", t)
	case strings.EqualFold(t, "true") || strings.EqualFold(t, "false"):
		return &scriptExpr{op: strings.ToLower(t)}, nil
	}
	return &scriptExpr{op: "word", word: t}, nil
}

// selects reports whether the expression selects script s.
func (e *scriptExpr) selects(s NmapScript) bool {
	switch e.op {
	case "and":
		return e.left.selects(s) && e.right.selects(s)
	case "or":
		return e.left.selects(s) || e.right.selects(s)
	case "not":
		return !e.left.selects(s)
	case "true":
		return true
	case "false":
		return false
	}
	w := strings.ToLower(e.word)
	if w == "all" || slices.Contains(s.Categories, w) {
		return true
	}
	// nmap escapes every pattern character but *, which it turns into a
	// wildcard, and drops an optional .nse (refused here anyway).
	ok, _ := path.Match(strings.NewReplacer(`\`, `\\`, "?", `\?`, "[", `\[`).Replace(e.word), s.Name)
	return ok
}

// words lists the words of the expression, in order.
func (e *scriptExpr) words(out []string) []string {
	switch e.op {
	case "word":
		return append(out, e.word)
	case "true", "false":
		return append(out, e.op)
	case "not":
		return e.left.words(out)
	}
	return e.right.words(e.left.words(out))
}

// ScriptSelection is what a profile's --script, -sC, -A and -sV run, once
// checked: the scripts by name, and those of them that are intrusive.
type ScriptSelection struct {
	Scripts   []string
	Intrusive []string
}

// isOutside reports whether a script is never run (scriptGuard).
func isOutside(s NmapScript) bool {
	for _, c := range outsideCategories {
		if slices.Contains(s.Categories, c) {
			return true
		}
	}
	return false
}

func isIntrusive(s NmapScript) bool {
	for _, c := range intrusiveCategories {
		if slices.Contains(s.Categories, c) {
			return true
		}
	}
	return false
}

// selectScripts checks one --script rule (a comma-separated part) and
// returns the scripts it runs under scriptGuard, or why it is refused.
func selectScripts(rule string) ([]NmapScript, string) {
	rule = strings.TrimSpace(rule)
	if strings.HasPrefix(rule, "+") {
		// "+name" makes nmap run a script even where its rule says no
		// (a closed port, a host it does not apply to).
		return nil, fmt.Sprintf("forces %q with +; forced scripts are not allowed", rule)
	}
	e, err := parseScriptExpr(rule)
	if err != nil {
		return nil, fmt.Sprintf("%q %v", rule, err)
	}
	for _, w := range e.words(nil) {
		lw := strings.ToLower(w)
		if lw == "all" || lw == "true" {
			return nil, fmt.Sprintf("selects every script with %q; name scripts or categories", w)
		}
		if lw == "false" {
			return nil, fmt.Sprintf("has %q; name scripts or categories", w)
		}
		for _, s := range nmapScripts {
			if s.Name == w && isOutside(s) {
				return nil, fmt.Sprintf("names %q, whose categories (%s) reach outside the scan's targets", w, strings.Join(s.Categories, ", "))
			}
		}
		// A word that is no category and matches no script is what nmap
		// would try to load as a file.
		known := slices.Contains(knownCategories, lw)
		for _, s := range nmapScripts {
			if known {
				break
			}
			known = (&scriptExpr{op: "word", word: w}).selects(s)
		}
		if !known {
			return nil, fmt.Sprintf("names %q, which is neither a script nor a category of this nmap", w)
		}
	}
	var out []NmapScript
	everything := true
	for _, s := range nmapScripts {
		if isOutside(s) {
			continue
		}
		if e.selects(s) {
			out = append(out, s)
		} else {
			everything = false
		}
	}
	if everything {
		return nil, fmt.Sprintf("%q selects every script; name scripts or categories", rule)
	}
	return out, ""
}

// knownCategories is every category of the table.
var knownCategories = scriptCategories()

func scriptCategories() []string {
	var out []string
	for _, s := range nmapScripts {
		for _, c := range s.Categories {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// Scripts returns the scripts the set runs, and which are intrusive:
// those --script selects (under scriptGuard) and the "default" category
// for -sC and -A, as nmap adds it. -sC and -A are counted even beside
// --script, where nmap would run only --script's: the set is checked for
// the most it could run.
//
// -sV's "version" category is not counted: service detection is what
// nearly every profile does, and of the version scripts only wdb-version
// is also listed as vuln, for reporting what it reads from a VxWorks debug
// agent's version reply. README says so.
func (s OptionSet) Scripts() ScriptSelection {
	if s.scanner != Nmap {
		return ScriptSelection{}
	}
	chosen := map[string]bool{}
	add := func(list []NmapScript) {
		for _, sc := range list {
			chosen[sc.Name] = true
		}
	}
	for _, it := range s.items {
		switch it.Name {
		case "--script":
			for _, rule := range strings.Split(it.Value, ",") {
				list, _ := selectScripts(rule)
				add(list)
			}
		case "-sC", "-A":
			// nmap adds this rule without scriptGuard.
			for _, sc := range nmapScripts {
				if slices.Contains(sc.Categories, "default") {
					chosen[sc.Name] = true
				}
			}
		}
	}
	var sel ScriptSelection
	for _, sc := range nmapScripts {
		if chosen[sc.Name] {
			sel.Scripts = append(sel.Scripts, sc.Name)
			if isIntrusive(sc) {
				sel.Intrusive = append(sel.Intrusive, sc.Name)
			}
		}
	}
	return sel
}
