package scan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SplitOptions splits a profile's option string the way a POSIX shell splits
// words, honouring single and double quotes and backslashes, but expanding
// nothing: no variables, globs or command substitution.
func SplitOptions(s string) ([]string, error) {
	var (
		out     []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' {
				escaped = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%w: unterminated %c quote", ErrInvalidOptions, quote)
	}
	if escaped {
		return nil, fmt.Errorf("%w: trailing backslash", ErrInvalidOptions)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// OptionSet is a profile's scanner options once parsed and checked against
// the scanner's allow-list. Only a set can reach a scanner's command line
// (nmap.WithProfile, masscan.WithProfile take one), and Args renders it in
// one canonical form, which parses back to the same set.
//
// Its fields are unexported so that a set can only come from the parser.
type OptionSet struct {
	scanner Scanner
	items   []OptionItem
}

// Scanner is the scanner the set was checked for.
func (s OptionSet) Scanner() Scanner { return s.scanner }

// Items returns the options in the order given.
func (s OptionSet) Items() []OptionItem { return slices.Clone(s.items) }

// OptionItem is one accepted option: its canonical name ("-sS", "-p",
// "--top-ports") and its value, "" for a flag.
type OptionItem struct {
	Name  string
	Value string
}

// Args renders the set as scanner arguments: a flag as its name, an option
// whose value nmap reads only when glued (-T4, -PS22) glued, any other nmap
// option as its name then its value, as two words. masscan options come
// with their values bound (--rate=100, -p80): masscan takes the word after
// any option it does not know to be a flag as its value (which flags those
// are differs between versions), so no value may stand as a word of its
// own, where it could be taken for a target.
func (s OptionSet) Args() []string {
	pol := policies[s.scanner]
	var out []string
	for _, it := range s.items {
		spec := pol.options[it.Name]
		switch {
		case spec.kind == argNone:
			out = append(out, it.Name)
		case spec.glued:
			out = append(out, it.Name+it.Value)
		case pol.boundValues && strings.HasPrefix(it.Name, "--"):
			out = append(out, it.Name+"="+it.Value)
		case pol.boundValues:
			out = append(out, it.Name+it.Value)
		case spec.kind == argScripts:
			out = append(out, it.Name, guardScripts(it.Value))
		default:
			out = append(out, it.Name, it.Value)
		}
	}
	return out
}

// Has reports whether the set holds the option name (canonical form).
func (s OptionSet) Has(name string) bool {
	for _, it := range s.items {
		if it.Name == name {
			return true
		}
	}
	return false
}

// Without returns the set without the named options (canonical names),
// and the values of those taken out, in order: a driver takes the options
// it sets itself (a rate it caps) out of a profile's.
func (s OptionSet) Without(names ...string) (OptionSet, []string) {
	out := OptionSet{scanner: s.scanner}
	var taken []string
	for _, it := range s.items {
		if slices.Contains(names, it.Name) {
			taken = append(taken, it.Value)
			continue
		}
		out.items = append(out.items, it)
	}
	return out, taken
}

// Last is the value of the last of the named options in the set (the one a
// scanner goes by), and whether there is one.
func (s OptionSet) Last(names ...string) (string, bool) {
	for i := len(s.items) - 1; i >= 0; i-- {
		if slices.Contains(names, s.items[i].Name) {
			return s.items[i].Value, true
		}
	}
	return "", false
}

// RawSocketOptions lists the options in the set that need raw sockets
// (CAP_NET_RAW), in order; a scanner whose every scan needs them (masscan,
// zmap) is reported by its name. Empty means a connect scan will do.
func (s OptionSet) RawSocketOptions() []string {
	pol := policies[s.scanner]
	if pol == nil {
		return nil
	}
	if pol.alwaysRaw {
		return []string{string(s.scanner)}
	}
	var out []string
	for _, it := range s.items {
		if pol.options[it.Name].raw {
			out = append(out, it.Name)
		}
	}
	return out
}

// CheckRateCeiling refuses a set whose rate options ask for more than
// ceiling packets per second (0: no ceiling). The server checks profiles
// against its ceiling when they are saved; when a run starts it caps them
// (CapRate), since the ceiling may have been lowered since.
func (s OptionSet) CheckRateCeiling(ceiling float64) error {
	if ceiling <= 0 {
		return nil
	}
	for _, it := range s.items {
		if !slices.Contains(policies[s.scanner].rateOptions, it.Name) {
			continue
		}
		if r, err := strconv.ParseFloat(it.Value, 64); err != nil || r > ceiling {
			return fmt.Errorf("%w: option %s: %s packets/s is above the server's ceiling of %s", ErrInvalidOptions, it.Name, it.Value, formatRate(ceiling))
		}
	}
	return nil
}

// CapRate returns a set that sends at most limit packets per second, for a
// scanner whose rate is capped by its options (nmap): --max-rate lowered to
// limit (or added), --min-rate lowered to it too (nmap refuses a --min-rate
// above --max-rate). limit <= 0 and the sets of scanners whose rate travels
// in Spec.Rate (masscan, zmap) come back unchanged.
func (s OptionSet) CapRate(limit float64) OptionSet {
	if limit <= 0 || !policies[s.scanner].capByOptions {
		return s
	}
	out := OptionSet{scanner: s.scanner}
	capped := false
	for _, it := range s.items {
		if it.Name == "--max-rate" || it.Name == "--min-rate" {
			if r, err := strconv.ParseFloat(it.Value, 64); err != nil || r > limit {
				it.Value = formatRate(limit)
			}
			capped = capped || it.Name == "--max-rate"
		}
		out.items = append(out.items, it)
	}
	if !capped {
		out.items = append(out.items, OptionItem{Name: "--max-rate", Value: formatRate(limit)})
	}
	return out
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }

// ParseOptions splits and checks a profile's option string and returns it
// in canonical form (OptionSet.Args).
func ParseOptions(scanner Scanner, options string) ([]string, error) {
	set, err := ParseOptionSet(scanner, options)
	if err != nil {
		return nil, err
	}
	return set.Args(), nil
}

// ParseOptionSet splits and checks a profile's option string.
func ParseOptionSet(scanner Scanner, options string) (OptionSet, error) {
	args, err := SplitOptions(options)
	if err != nil {
		return OptionSet{}, err
	}
	return ParseOptionArgs(scanner, args)
}

// CheckOptions checks already split options (a Spec's) against the
// scanner's allow-list. The error wraps ErrInvalidOptions and names the
// option.
func CheckOptions(scanner Scanner, args []string) error {
	_, err := ParseOptionArgs(scanner, args)
	return err
}

// ParseOptionArgs parses split options against the scanner's allow-list.
// Only options known to be safe are accepted, with their values checked;
// an option that reads or writes files on the agent, changes its
// environment, or picks targets or interfaces (which only the agent and the
// site choose) is refused, as is anything unknown, any word that is not an
// option, and any byte outside printable ASCII. Errors wrap
// ErrInvalidOptions and name the offending option or word.
func ParseOptionArgs(scanner Scanner, args []string) (OptionSet, error) {
	pol, ok := policies[scanner]
	if !ok {
		return OptionSet{}, fmt.Errorf("%w: unknown scanner %q", ErrInvalidOptions, scanner)
	}
	table := pol.options
	set := OptionSet{scanner: scanner}
	for i := 0; i < len(args); i++ {
		word := args[i]
		if err := printableASCII(word); err != nil {
			return OptionSet{}, err
		}
		name, value, hasValue, err := splitWord(scanner, table, word)
		if err != nil {
			return OptionSet{}, err
		}
		spec := table[name]
		if spec.kind == argNone {
			if hasValue {
				return OptionSet{}, fmt.Errorf("%w: option %s takes no value (%q)", ErrInvalidOptions, name, word)
			}
			set.items = append(set.items, OptionItem{Name: name})
			continue
		}
		if !hasValue && !spec.optional {
			if i+1 >= len(args) {
				return OptionSet{}, fmt.Errorf("%w: option %s needs a value", ErrInvalidOptions, name)
			}
			i++
			value = args[i]
			if err := printableASCII(value); err != nil {
				return OptionSet{}, err
			}
		}
		if spec.kind == argScripts {
			value = unguardScripts(value)
		}
		if value != "" || !spec.optional {
			if err := checkValue(scanner, name, spec.kind, value); err != nil {
				return OptionSet{}, err
			}
		}
		set.items = append(set.items, OptionItem{Name: name, Value: value})
	}
	return set, nil
}

// printableASCII refuses control bytes (NUL, newlines), and anything beyond
// ASCII, such as the look-alike dashes (–, —, ‐) that a scanner would take
// for the start of a target rather than an option.
func printableASCII(word string) error {
	for _, r := range word {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("%w: %q holds the character %U; options are printable ASCII only", ErrInvalidOptions, word, r)
		}
	}
	return nil
}

// splitWord finds which allowed option word is: "--name=value", "--name",
// an exact short form ("-sS"), or a short option with its value glued
// ("-p22", "-T4", "-PS22,80").
func splitWord(scanner Scanner, table map[string]optSpec, word string) (name, value string, hasValue bool, err error) {
	if !strings.HasPrefix(word, "-") || word == "-" || word == "--" {
		return "", "", false, fmt.Errorf("%w: unexpected argument %q: a profile holds options only; targets come from the site", ErrInvalidOptions, word)
	}
	if strings.HasPrefix(word, "--") {
		name, value, hasValue = strings.Cut(word, "=")
		if reason, bad := refusedReason(scanner, name); bad {
			return "", "", false, fmt.Errorf("%w: option %s is not allowed in a profile: %s", ErrInvalidOptions, name, reason)
		}
		if _, ok := table[name]; !ok {
			return "", "", false, unknownOption(scanner, name)
		}
		return name, value, hasValue, nil
	}
	// A single dash: refused forms first, so that "-iL/etc/shadow" and
	// "-oX-" are named as what the scanner would read them as.
	for _, r := range policies[scanner].refusedShort {
		if strings.HasPrefix(word, r) {
			reason, _ := refusedReason(scanner, r)
			return "", "", false, fmt.Errorf("%w: option %s is not allowed in a profile: %s", ErrInvalidOptions, r, reason)
		}
	}
	if _, ok := table[word]; ok {
		return word, "", false, nil
	}
	if n, _, _ := strings.Cut(word, "="); policies[scanner].longOnly && len(n) > 3 {
		// nmap reads "-script" as "--script" (getopt_long_only); only the
		// two-dash spelling is accepted, so that one name means one thing.
		if reason, bad := refusedReason(scanner, "-"+n); bad {
			return "", "", false, fmt.Errorf("%w: option %s is not allowed in a profile: %s", ErrInvalidOptions, n, reason)
		}
		if _, ok := table["-"+n]; ok {
			return "", "", false, fmt.Errorf("%w: option %s: write long options with two dashes (-%s)", ErrInvalidOptions, n, n)
		}
	}
	// The longest allowed short option that prefixes the word and takes a
	// value owns the rest of it.
	best := ""
	for n, spec := range table {
		if spec.kind != argNone && !strings.HasPrefix(n, "--") && strings.HasPrefix(word, n) && len(n) > len(best) {
			best = n
		}
	}
	if best != "" {
		return best, word[len(best):], true, nil
	}
	return "", "", false, unknownOption(scanner, word)
}

func unknownOption(scanner Scanner, name string) error {
	return fmt.Errorf("%w: option %s is not among the %s options a profile may use", ErrInvalidOptions, name, scanner)
}

func refusedReason(scanner Scanner, name string) (string, bool) {
	for reason, names := range policies[scanner].refused {
		for _, n := range names {
			if n == name {
				return reason, true
			}
		}
	}
	return "", false
}

// Why options are refused, and which. The names are listed so that the
// error says why, not only that the option is unknown; anything not in the
// allow-list is refused either way.
const (
	whyOutput    = "only the agent chooses output files"
	whyFiles     = "it reads files on the agent"
	whyTargets   = "targets and exclusions come from the site and the global exclusions"
	whyInterface = "only the agent chooses its interface and source address"
	whyEnv       = "it changes the agent's environment or privileges"
	whyElsewhere = "it sends traffic to hosts outside the scan's targets"
	whyNothing   = "it does not scan"
)

type argKind int

const (
	argNone       argKind = iota
	argInt                // a non-negative integer within [min, max]
	argFloat              // a positive decimal number (rates)
	argTime               // nmap time: 500ms, 30s, 30m, 2h, 1.5
	argPorts              // a port list: 22,80,1-1024,U:53,T:22,http*, -
	argProtos             // IP protocol numbers: 1,6,17
	argTiming             // 0-5 or paranoid..insane
	argScripts            // script names, categories, and/or/not expressions
	argScriptArgs         // key=value pairs, none naming a file
	argText               // printable text
	argHex                // hexadecimal payload
	argWord               // one of words
	argPortRange          // a port or a from-to range of ports
	argShard              // masscan x/y
)

type optSpec struct {
	kind     argKind
	min, max int64 // argInt bounds; argTime bounds in nanoseconds
	words    []string
	glued    bool // the value is written glued to a short name: -T4, -PS22
	optional bool // the value may be absent: -PS, -d
	raw      bool // needs raw sockets (CAP_NET_RAW)
}

func flag() optSpec               { return optSpec{} }
func rawFlag() optSpec            { return optSpec{raw: true} }
func intArg(lo, hi int64) optSpec { return optSpec{kind: argInt, min: lo, max: hi} }
func of(kind argKind) optSpec     { return optSpec{kind: kind} }
func words(w ...string) optSpec   { return optSpec{kind: argWord, words: w} }
func timeArg(lo, hi time.Duration) optSpec {
	return optSpec{kind: argTime, min: int64(lo), max: int64(hi)}
}
func gluedInt(lo, hi int64) optSpec {
	return optSpec{kind: argInt, min: lo, max: hi, glued: true, optional: true}
}

// policies is every scanner's option policy: the allow-list table, one
// entry per scanner, each defined in its own file (options_<scanner>.go).
var policies = map[Scanner]*optionPolicy{
	Nmap:    &nmapPolicy,
	Masscan: &masscanPolicy,
	Zmap:    &zmapPolicy,
}

// optionPolicy is what a profile may give one scanner, and how the
// scanner reads it.
type optionPolicy struct {
	// options is every option a profile may use.
	options map[string]optSpec
	// refused names options refused by reason, so that the error says
	// why, not only that the option is unknown; anything not in options
	// is refused either way.
	refused map[string][]string
	// refusedShort are the single-dash refused options the scanner also
	// reads with a value glued on (-iL/etc/shadow, -oXout.xml, -eeth0).
	refusedShort []string
	// boundValues: every value is written bound to its option
	// (--rate=100, -p80), never as a word of its own.
	boundValues bool
	// longOnly: the scanner reads "-script" as "--script"
	// (getopt_long_only); only the two-dash spelling is accepted.
	longOnly bool
	// alwaysRaw: every scan sends raw packets, whatever its options.
	alwaysRaw bool
	// rateOptions are the options that set packets per second.
	rateOptions []string
	// noHostNames: the scanner cannot resolve host names, neither as
	// targets nor as exclusions.
	noHostNames bool
	// defaultPorts is how many ports per address a scan probes when its
	// options name none (0: one).
	defaultPorts int
	// defaultRate is the scanner's packets per second when it is given no
	// rate (0: it sets its own pace).
	defaultRate float64
	// capByOptions: CapRate lowers or adds the scanner's own
	// --max-rate (and lowers --min-rate); otherwise the rate travels in
	// Spec.Rate and the set is left as it is.
	capByOptions bool
}

// Scanners lists the scanners with an option policy: DefaultScanner
// first, then the others by name.
func Scanners() []Scanner {
	out := make([]Scanner, 0, len(policies))
	for s := range policies {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Scanner) int {
		switch {
		case a == b:
			return 0
		case a == DefaultScanner:
			return -1
		case b == DefaultScanner:
			return 1
		}
		return strings.Compare(string(a), string(b))
	})
	return out
}

// AcceptsHostNames says whether the scanner resolves host names given as
// targets or exclusions.
func (s Scanner) AcceptsHostNames() bool {
	pol := policies[s]
	return pol != nil && !pol.noHostNames
}

// DefaultRate is the scanner's packets per second when it is given no rate
// (0: it sets its own pace).
func (s Scanner) DefaultRate() float64 {
	if pol := policies[s]; pol != nil {
		return pol.defaultRate
	}
	return 0
}

// ScannerList is Scanners as text: "nmap, masscan".
func ScannerList() string {
	names := make([]string, 0, len(policies))
	for _, s := range Scanners() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// checkValue checks an option's value against its kind; the error names the
// option and the value.
func checkValue(scanner Scanner, name string, kind argKind, v string) error {
	spec := policies[scanner].options[name]
	bad := func(why string) error {
		return fmt.Errorf("%w: option %s: value %q %s", ErrInvalidOptions, name, v, why)
	}
	if v == "" {
		return bad("is empty")
	}
	switch kind {
	case argInt:
		n, ok := parseUint(v)
		if !ok || n < spec.min || n > spec.max {
			return bad(fmt.Sprintf("is not a whole number from %d to %d", spec.min, spec.max))
		}
	case argFloat:
		if !isDecimal(v) || strings.Trim(v, "0.") == "" {
			return bad("is not a positive number")
		}
	case argTime:
		d, ok := nmapDuration(v)
		if !ok {
			return bad("is not a time (500ms, 30s, 30m, 2h)")
		}
		if spec.max > 0 && (d < time.Duration(spec.min) || d > time.Duration(spec.max)) {
			return bad(fmt.Sprintf("is not a time from %v to %v", time.Duration(spec.min), time.Duration(spec.max)))
		}
	case argPorts:
		if err := checkPorts(v); err != "" {
			return bad(err)
		}
	case argProtos:
		for _, p := range strings.Split(v, ",") {
			if n, ok := parseUint(p); !ok || n > 255 {
				return bad("is not a list of IP protocol numbers")
			}
		}
	case argTiming:
		switch v {
		case "0", "1", "2", "3", "4", "5", "paranoid", "sneaky", "polite", "normal", "aggressive", "insane":
		default:
			return bad("is not a timing template (0-5 or paranoid..insane)")
		}
	case argScripts:
		if err := checkScripts(v); err != "" {
			return bad(err)
		}
	case argScriptArgs:
		if err := checkScriptArgs(v); err != "" {
			return bad(err)
		}
	case argText:
		// printableASCII has checked it.
	case argHex:
		h := strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "\\x")
		if h == "" || len(h)%2 != 0 || strings.Trim(h, "0123456789abcdefABCDEF") != "" {
			return bad("is not hexadecimal bytes")
		}
	case argWord:
		for _, w := range spec.words {
			if v == w {
				return nil
			}
		}
		return bad("is not one of " + strings.Join(spec.words, ", "))
	case argPortRange:
		from, to, isRange := strings.Cut(v, "-")
		a, ok1 := parseUint(from)
		b, ok2 := a, true
		if isRange {
			b, ok2 = parseUint(to)
		}
		if !ok1 || !ok2 || a < 1 || b > 65535 || b < a {
			return bad("is not a port or a range of ports")
		}
	case argShard:
		x, y, ok := strings.Cut(v, "/")
		a, ok1 := parseUint(x)
		b, ok2 := parseUint(y)
		if !ok || !ok1 || !ok2 || a < 1 || b < a {
			return bad("is not a shard x/y")
		}
	}
	return nil
}

// nmapDuration reads an nmap time: a decimal number of seconds, or of the
// unit that follows it (ms, s, m, h).
func nmapDuration(v string) (time.Duration, bool) {
	num := strings.TrimRight(v, "mshd")
	unit := v[len(num):]
	mult := map[string]time.Duration{"": time.Second, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if !isDecimal(num) || mult == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f*float64(mult) > float64(1<<62) {
		return 0, false
	}
	return time.Duration(f * float64(mult)), true
}

func parseUint(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func isDecimal(s string) bool {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return false
	}
	_, ok1 := parseUint(whole)
	_, ok2 := parseUint(frac)
	return (whole == "" || ok1) && (frac == "" || ok2)
}

// checkPorts accepts nmap's and masscan's port lists: numbers and ranges
// (22, 1-1024, -1024, 1024-, -), a protocol prefix (T:, U:, S:, P:),
// service names with * and ? wildcards, and brackets; not paths.
func checkPorts(v string) string {
	for _, item := range strings.Split(v, ",") {
		if len(item) > 2 && item[1] == ':' && strings.ContainsRune("TUSPtusp", rune(item[0])) {
			item = item[2:]
		}
		item = strings.TrimSuffix(strings.TrimPrefix(item, "["), "]")
		if item == "" {
			return "has an empty entry"
		}
		if item == "-" {
			continue
		}
		from, to, isRange := strings.Cut(item, "-")
		if isRange || (from != "" && from[0] >= '0' && from[0] <= '9') {
			if (from != "" && !portNumber(from)) || (to != "" && !portNumber(to)) {
				return fmt.Sprintf("has %q, which is not a port or range", item)
			}
			continue
		}
		// A service name from nmap-services.
		if c := item[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*' || c == '?') {
			return fmt.Sprintf("has %q, which is not a port, range or service name", item)
		}
		if strings.Trim(strings.ToLower(item), "abcdefghijklmnopqrstuvwxyz0123456789-_*?") != "" {
			return fmt.Sprintf("has %q, which is not a port, range or service name", item)
		}
	}
	return ""
}

func portNumber(s string) bool {
	n, ok := parseUint(s)
	return ok && n <= 65535
}

// scriptGuard ends every --script expression a scanner is given: scripts
// of the broadcast category send to broadcast and multicast addresses of
// the agent's networks, and external ones to third-party services, both
// outside the scan's targets; "safe" or "discovery" would otherwise select
// some of them.
const scriptGuard = " and not (broadcast or external)"

// guardScripts renders a --script value with scriptGuard. nmap splits the
// value at every comma before it reads each part as an expression, so each
// part is guarded on its own.
func guardScripts(v string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = "(" + p + ")" + scriptGuard
	}
	return strings.Join(parts, ",")
}

// unguardScripts undoes guardScripts, so that the canonical form parses
// back to the expression the operator wrote. Anything else is returned as
// it is (and refused by checkScripts if it names broadcast or external).
func unguardScripts(v string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		if !strings.HasPrefix(p, "(") || !strings.HasSuffix(p, ")"+scriptGuard) {
			return v
		}
		inner := p[1 : len(p)-len(")"+scriptGuard)]
		if !balanced(inner) {
			return v
		}
		parts[i] = inner
	}
	return strings.Join(parts, ",")
}

// balanced reports whether every parenthesis in s is closed, in order.
func balanced(s string) bool {
	depth := 0
	for _, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		}
		if depth < 0 {
			return false
		}
	}
	return depth == 0
}

// checkScripts accepts what --script may name without touching a file of
// the operator's choosing: script names and categories (with * wildcards),
// joined by commas or by and/or/not with parentheses. A path, a URL or a
// file name (/, \, ., :) is refused: nmap would load it as a script. So are
// the broadcast and external categories and the broadcast-* and targets-*
// scripts, which reach beyond the scan's targets.
func checkScripts(v string) string {
	if strings.ContainsAny(v, `/\.:~`) {
		return "is a path or file name; name scripts or categories (default, safe, http-title, \"default and safe\")"
	}
	for _, r := range v {
		// "+" is let through here to be refused by name in selectScripts.
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_*,() +", r)
		if !ok {
			return fmt.Sprintf("holds %q; name scripts or categories", r)
		}
	}
	if !balanced(v) {
		return "has unbalanced parentheses"
	}
	for _, part := range strings.Split(v, ",") {
		if strings.TrimSpace(part) == "" {
			return "has an empty entry"
		}
		// The whole is balanced, so a part that is not had a comma
		// inside parentheses.
		if !balanced(part) {
			return "has a comma inside parentheses; nmap splits --script at every comma (write \"a or b\")"
		}
	}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(",() +", r) }) {
		if strings.HasPrefix(f, "-") {
			return fmt.Sprintf("has %q, which is not a script name", f)
		}
		w := strings.ToLower(f)
		if w == "broadcast" || w == "external" || strings.HasPrefix(w, "broadcast-") || strings.HasPrefix(w, "targets-") {
			return fmt.Sprintf("names %q, whose scripts send traffic outside the scan's targets or add targets", f)
		}
	}
	for _, part := range strings.Split(v, ",") {
		if _, why := selectScripts(part); why != "" {
			return why
		}
	}
	return ""
}
