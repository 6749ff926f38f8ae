package scan

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ScriptArgs is the table nmap's script engine builds from a --script-args
// value (nmap.registry.args): positional entries (t[1], t[2], ...) and
// named ones. Keys are always strings; an entry's value is a string or a
// nested table.
type ScriptArgs struct {
	List  []ScriptArg
	Named map[string]ScriptArg
}

// ScriptArg is one value of a ScriptArgs table: a string, or a table when
// Table is not nil.
type ScriptArg struct {
	Str   string
	Table *ScriptArgs
}

// maxScriptArgsDepth bounds how deeply tables may nest. nmap's own limit
// comes from LPeg's backtrack stack and lies well above it; no script reads
// tables nested deeper than two.
const maxScriptArgsDepth = 16

// errScriptArgsSyntax is what ParseScriptArgs returns where nmap stops with
// "arguments did not parse!".
var errScriptArgsSyntax = errors.New("does not parse as nmap reads --script-args (unbalanced braces or quotes, or text after a quoted string)")

// ParseScriptArgs reads a --script-args value exactly as nmap 7's
// nse_main.lua does: it matches "{" .. value .. "}" against the LPeg
// grammar
//
//	top      = space* table space*          (not anchored at the end)
//	table    = "{" space* fieldlst? space* "}"
//	fieldlst = field (hws* [\n,] space* field)*
//	field    = string hws* "=" hws* value   (key = value)
//	         / value                        (positional)
//	value    = table / string
//	string   = qstring / uqstring
//	qstring  = "..." or '...', where \\ and \<quote> are escapes and a
//	           backslash before any other byte stays as it is
//	uqstring = hws* (any byte where hws* [\n,{}=] does not start)* hws*
//
// with space the C locale's isspace bytes and hws those but "\n". It is a
// PEG: choices commit, repetitions are greedy, and an unquoted string may
// be empty (so "{}" holds one empty positional string).
//
// Because the match is not anchored at the end, nmap silently ignores
// whatever follows the brace that closes the outer table: ignored returns
// the value from that brace on ("" when nmap reads the whole value).
func ParseScriptArgs(v string) (args *ScriptArgs, ignored string, err error) {
	p := argsParser{s: "{" + v + "}"}
	pos := p.skip(0, isSpace)
	t, pos, ok := p.table(pos, 0)
	if p.tooDeep {
		return nil, "", fmt.Errorf("nests tables deeper than %d", maxScriptArgsDepth)
	}
	if !ok {
		return nil, "", errScriptArgsSyntax
	}
	if p.skip(pos, isSpace) < len(p.s) {
		// v's own brace closed the table; ours is left over.
		ignored = v[pos-2:]
	}
	return t, ignored, nil
}

type argsParser struct {
	s       string
	tooDeep bool
}

// isSpace is lpeg.locale's space class in the C locale, where nmap runs.
func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// isHWS is the grammar's horizontal whitespace: space but newline.
func isHWS(c byte) bool { return c != '\n' && isSpace(c) }

func (p *argsParser) skip(pos int, class func(byte) bool) int {
	for pos < len(p.s) && class(p.s[pos]) {
		pos++
	}
	return pos
}

func (p *argsParser) table(pos, depth int) (*ScriptArgs, int, bool) {
	if pos >= len(p.s) || p.s[pos] != '{' {
		return nil, pos, false
	}
	if depth >= maxScriptArgsDepth {
		p.tooDeep = true
		return nil, pos, false
	}
	t := &ScriptArgs{Named: map[string]ScriptArg{}}
	pos = p.skip(pos+1, isSpace)
	// fieldlst: a field always matches (an unquoted string may be empty).
	pos = p.field(t, pos, depth)
	for {
		q := p.skip(pos, isHWS)
		if q >= len(p.s) || (p.s[q] != '\n' && p.s[q] != ',') {
			break
		}
		pos = p.field(t, p.skip(q+1, isSpace), depth)
	}
	pos = p.skip(pos, isSpace)
	if pos >= len(p.s) || p.s[pos] != '}' {
		return nil, pos, false
	}
	return t, pos + 1, true
}

// field reads key = value, or else a positional value, into t.
func (p *argsParser) field(t *ScriptArgs, pos, depth int) int {
	if key, q, ok := p.str(pos); ok {
		q = p.skip(q, isHWS)
		if q < len(p.s) && p.s[q] == '=' {
			if v, end, ok := p.value(p.skip(q+1, isHWS), depth); ok {
				t.Named[key] = v
				return end
			}
		}
	}
	v, end, ok := p.value(pos, depth)
	if !ok {
		// Unreachable: an unquoted string always matches.
		return pos
	}
	t.List = append(t.List, v)
	return end
}

func (p *argsParser) value(pos, depth int) (ScriptArg, int, bool) {
	if t, end, ok := p.table(pos, depth+1); ok {
		return ScriptArg{Table: t}, end, true
	}
	if p.tooDeep {
		return ScriptArg{}, pos, false
	}
	s, end, ok := p.str(pos)
	return ScriptArg{Str: s}, end, ok
}

func (p *argsParser) str(pos int) (string, int, bool) {
	if s, end, ok := p.quoted(pos, '"'); ok {
		return s, end, true
	}
	if s, end, ok := p.quoted(pos, '\''); ok {
		return s, end, true
	}
	return p.unquoted(pos)
}

// quoted is lpeg-utility's escaped_quote(q): a backslash before a
// backslash or the quote stands for that byte; before anything else both
// bytes stay.
func (p *argsParser) quoted(pos int, q byte) (string, int, bool) {
	if pos >= len(p.s) || p.s[pos] != q {
		return "", pos, false
	}
	var b strings.Builder
	i := pos + 1
	for i < len(p.s) {
		c := p.s[i]
		if c == q {
			return b.String(), i + 1, true
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(p.s) {
			break
		}
		n := p.s[i+1]
		if n != q && n != '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(n)
		i += 2
	}
	return "", pos, false
}

func (p *argsParser) unquoted(pos int) (string, int, bool) {
	pos = p.skip(pos, isHWS)
	start := pos
	for pos < len(p.s) {
		q := p.skip(pos, isHWS)
		if q < len(p.s) && strings.IndexByte("\n,{}=", p.s[q]) >= 0 {
			break
		}
		if q >= len(p.s) {
			// Only horizontal space is left: the capture takes it.
			pos = q
			break
		}
		pos = q + 1
	}
	return p.s[start:pos], p.skip(pos, isHWS), true
}

// Walk calls fn for every entry of the table and of every table nested in
// it, depth first, positional entries first then named ones by key. path
// holds the keys that lead to the entry ("" for a positional one).
func (t *ScriptArgs) Walk(fn func(path []string, key string, v ScriptArg) error) error {
	return t.walk(nil, fn)
}

func (t *ScriptArgs) walk(path []string, fn func([]string, string, ScriptArg) error) error {
	visit := func(key string, v ScriptArg) error {
		if err := fn(path, key, v); err != nil {
			return err
		}
		if v.Table != nil {
			return v.Table.walk(append(slices.Clip(path), key), fn)
		}
		return nil
	}
	for _, v := range t.List {
		if err := visit("", v); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(t.Named))
	for k := range t.Named {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := visit(k, t.Named[k]); err != nil {
			return err
		}
	}
	return nil
}

// fileArgWords mark the script arguments that name a file or directory on
// the agent, to read (word lists, credential and key files, fingerprint
// databases) or to write (saved searches, downloads, TFTP roots). They were
// found by reading every stdnse.get_script_args and nmap.registry.args use
// in nmap's scripts/ and nselib/ that reaches io.open, io.lines,
// nmap.fetchfile or lfs: userdb, passdb, brute.credfile, *.file,
// *.filename, *.filelist, *.fingerprintfile, *.outfile, *.rfile, *.path,
// *.dir, *.scandb, *.whodb, *.communitiesdb, publickeydb, *.hostlist,
// lulist, idlist, *.userslist, *.wordlist, ssh.privatekeys,
// ssh.publickeys, ssh-hostkey.known-hosts, knownbad, ldap.savesearch,
// stuxnet-detect.save, http-config-backup.save, http-fetch.destination,
// snmp-ios-config.tftproot, puppet-naivesigning.csr, *.out,
// targets-xml.iX. A word matches anywhere in the last dotted part of a
// key, so that names not yet written (a new script's "foo.logfile") are
// caught too; the cost is refusing some harmless keys (ms-sql-tables.keywords,
// drda-brute.dbname), which an operator can live without.
var fileArgWords = []string{"file", "path", "dir", "db", "list", "save", "root", "dest", "key", "known", "csr", "cert", "fingerprint"}

// fileArgNames are file-taking arguments whose names say nothing of it,
// found in the scripts' @args documentation: oraclesids (oracle-sid-brute
// reads it), http-sql-injection.errorstrings and http-userdir-enum.users
// (files read), hostmap.prefix and hostmap-bfk.prefix (files written,
// named <prefix><target>), smb-psexec's config (a Lua file it loads and
// runs) and bittorrent-discovery.torrent (a .torrent file read). They are
// matched as the last dotted part, like the words.
var fileArgNames = []string{"oraclesids", "errorstrings", "users", "prefix", "config", "torrent"}

// checkScriptArgs parses a --script-args value as nmap does and checks every
// key and value at every depth. The reason it returns names the key.
func checkScriptArgs(v string) string {
	args, ignored, err := ParseScriptArgs(v)
	if err != nil {
		return err.Error()
	}
	if ignored != "" {
		// nmap drops it without a word; a profile says what it means.
		return fmt.Sprintf("has %q after the brace that closes it, which nmap ignores", ignored)
	}
	err = args.Walk(func(path []string, key string, a ScriptArg) error {
		name := strings.Join(append(slices.Clip(path), key), ".")
		if key == "" && a.Table == nil {
			// stdnse.get_script_args reads a positional string as a
			// flag of that name set to 1 (--script-args=newtargets).
			key, name = a.Str, strings.Join(append(slices.Clip(path), a.Str), ".")
		}
		if why := scriptArgKeyReason(key); why != "" {
			return fmt.Errorf("sets %q, %s", name, why)
		}
		if a.Table == nil && key != a.Str && looksLikePath(a.Str) {
			return fmt.Errorf("gives %q the path %q; script arguments may not name files on the agent", name, a.Str)
		}
		return nil
	})
	if err != nil {
		return err.Error()
	}
	return ""
}

// scriptArgKeyReason says why a script argument key is refused, or "".
// stdnse.get_script_args falls back from "script.arg" to "arg", so a bare
// last part ("file") reaches every script's "<name>.file"; each rule looks
// at the last dotted part as well as at the whole key.
func scriptArgKeyReason(key string) string {
	k := strings.ToLower(key)
	last := k[strings.LastIndexByte(k, '.')+1:]
	// newtargets lets scripts add hosts to the scan; targets-* scripts read
	// them from files, the network or third parties.
	if strings.Contains(k, "newtargets") || strings.HasPrefix(k, "targets-") {
		return "which lets scripts add targets outside the site"
	}
	for _, w := range fileArgWords {
		if strings.Contains(last, w) {
			return "which makes a script read or write a file on the agent"
		}
	}
	// "out", "outfile", "output": files a script writes. Not a substring
	// rule, which would catch every "timeout".
	if strings.HasPrefix(last, "out") || last == "ix" || slices.Contains(fileArgNames, last) {
		return "which makes a script read or write a file on the agent"
	}
	return ""
}

// looksLikePath reports whether a script argument value could be a file
// name on the agent: absolute, home-relative, relative to the working
// directory, climbing directories, or a file: URL.
func looksLikePath(v string) bool {
	v = strings.TrimSpace(v)
	return strings.HasPrefix(v, "/") || strings.HasPrefix(v, "~") || strings.HasPrefix(v, `\`) ||
		strings.HasPrefix(v, "./") || strings.Contains(v, "..") || strings.Contains(strings.ToLower(v), "file:")
}
