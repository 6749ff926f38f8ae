package scan

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// scriptArgsEdgeCases are --script-args values chosen to reach every rule
// of nse_main.lua's grammar and the corners between them.
var scriptArgsEdgeCases = []string{
	"a", "a=1", "a = 1", " a=1 ", "a=1,b=2", "a=1 , b=2", "a=1,\nb=2", "a=1\nb=2", "a=1\n\nb=2",
	"a=1,", ",", ",,", "a=1,,b=2", "=", "=1", "a=", "a==1", "a=1=2", "a b=c d", "a\tb = c\td",
	"a\v=\f1\r", "a=1\r\n", "\n", " ", "  a  ", "{}", "{a}", "{a=1}", "a={}", "a={ }", "a={b=1,c={d=2}}",
	"a={1,2,3}", "a={b}", "{{}}", "{{{a=1}}}", "a={b=1}c", "a={b=1},c", "a={", "a=}", "a={b={}", "}",
	"a=1}", "a=1},b=2", "a=1} ,b=/etc/passwd", "a=1}}", "{}}", "a={}}", "a={b=1}} x",
	`a="}"`, `a="}",userdb=/etc/passwd`, `a="{"`, `a="x,y"`, `a="x=y"`, `a="x\ny"`, `a=""`, `""`, `''`,
	`"a"=1`, `'a'=1`, `"a b"="c d"`, `a='}'`, `a='"'`, `a="'"`, `a="\""`, `a='\''`, `a="\\"`, `a='\\'`,
	`a="\n"`, `a="\x"`, `a="\\\""`, `a="b\"c"`, `a="b\\"c`, `a="b`, `a='b`, `a="b"c`, `a="b" c`, `a="b" ,c=1`,
	`a= "b"`, `a ="b"`, `"a"b=1`, `"a" b=1`, `a"b"=1`, `a=b"c"`, `a=b'c'`, `a="b"'c'`, `"a"`, `"a",b`, `"a"="b"="c"`,
	`a="b\`, `a="b\\`, `a='b\'c'`, `a='b\"c'`, `a="b\'c"`, `"`, `'`, `"\"`, `'\'`, `\`, `\\`, `a=\"b\"`,
	`a=b\,c`, `a\=b`, `a={"b"="c"}`, `a={'}'}`, `a={"{"}`, `a={b="}"},c=1`, `{"a"}`, `{"a"=1}`,
	"http.useragent=Mozilla/5.0 (X11; Linux x86_64)", "smbuser=admin,smbpass=secret", "creds.smb=guest:",
	"unpwdb.timeout=1,brute.threads=2", "newtargets", "http-put.file=/etc/passwd", "userdb = /etc/shadow",
	"é=ü", "a=é", "ключ=значение", "a=\u00a0b\u00a0", "\u00a0a=1", "a=1\u2028b=2", "a=日本語", "a=\xff\xfe",
	"a=1\u3000", "a\u0085=1",
}

// generatedScriptArgs makes n values from random pieces of the grammar:
// the seed is fixed, so a failure names a value that fails again.
func generatedScriptArgs(n int) []string {
	r := rand.New(rand.NewPCG(11, 7))
	pieces := []string{"a", "b.c", "userdb", "x y", "=", "=", ",", ",", "{", "}", "{", "}", `"`, `'`, `\`, `\\`,
		`\"`, " ", "\t", "\n", "\r", "\v", "é", "é", "/etc/passwd", "1", "http.useragent", "-", ".", "\u00a0", "()"}
	out := make([]string, 0, n)
	// Shapes that parse: tables rendered with random quoting and spacing.
	var value func(depth int) string
	word := func() string {
		w := []string{"a", "b.c", "k-1", "x y", "é", "1", "", "}", "{", ",", "=", `"`, `'`, `\`, "v\nw"}[r.IntN(15)]
		switch r.IntN(4) {
		case 0:
			return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w) + `"`
		case 1:
			return `'` + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(w) + `'`
		case 2:
			return `"` + w + `"` // unescaped: may or may not parse
		}
		return strings.Trim(w, "{}=,\n")
	}
	space := func() string { return []string{"", "", " ", "\t", "  ", "\n"}[r.IntN(6)] }
	value = func(depth int) string {
		if depth < 3 && r.IntN(4) == 0 {
			var fields []string
			for range r.IntN(4) {
				f := value(depth + 1)
				if r.IntN(2) == 0 {
					f = word() + space() + "=" + space() + f
				}
				fields = append(fields, f)
			}
			return "{" + space() + strings.Join(fields, space()+[]string{",", "\n"}[r.IntN(2)]+space()) + space() + "}"
		}
		return word()
	}
	for len(out) < n/2 {
		var fields []string
		for range 1 + r.IntN(4) {
			fields = append(fields, word()+space()+"="+space()+value(0))
		}
		out = append(out, strings.Join(fields, ","))
	}
	for len(out) < n {
		var b strings.Builder
		for range 1 + r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		out = append(out, b.String())
	}
	return out
}

// canonicalScriptArgs renders a parse as testdata/printargs.nse prints
// nmap's: positional entries as #n=, named ones as k<hex key>= ordered by
// hex key, strings as s<hex>.
func canonicalScriptArgs(t *ScriptArgs) string {
	str := func(v ScriptArg) string {
		if v.Table != nil {
			return canonicalScriptArgs(v.Table)
		}
		return "s" + hex.EncodeToString([]byte(v.Str))
	}
	var out []string
	for i, v := range t.List {
		out = append(out, "#"+strconv.Itoa(i+1)+"="+str(v))
	}
	keys := make([]string, 0, len(t.Named))
	for k := range t.Named {
		keys = append(keys, hex.EncodeToString([]byte(k)))
	}
	slices.Sort(keys)
	for _, h := range keys {
		k, _ := hex.DecodeString(h)
		out = append(out, "k"+h+"="+str(t.Named[string(k)]))
	}
	return "{" + strings.Join(out, ",") + "}"
}

// nmapScriptArgs runs the real nmap on a value with the test-only script
// testdata/printargs.nse and returns nmap's table in canonical form, or
// ok=false when nmap refuses the value. nmap gets no targets, so it sends
// nothing. datadir holds an empty scripts/script.db: nmap then loads only
// the script it is given, rather than compiling a selection pattern for
// each of its 600 scripts, which takes twenty times as long.
func nmapScriptArgs(ctx context.Context, datadir, script, v string) (canon string, ok bool, err error) {
	cmd := exec.CommandContext(ctx, "nmap", "--datadir", datadir, "-n", "-sn", "--script", script, "--script-args", v)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	out, runErr := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if c, found := strings.CutPrefix(line, "SCANTRON-ARGS "); found {
			return c, true, nil
		}
	}
	if strings.Contains(string(out), "arguments did not parse") {
		return "", false, nil
	}
	return "", false, fmt.Errorf("nmap printed neither the table nor a parse error (%v):\n%s", runErr, out)
}

// TestParseScriptArgsMatchesNmap is the differential test: nmap itself
// parses every value of the corpus, and ParseScriptArgs must build the same
// table, or refuse exactly where nmap does.
func TestParseScriptArgsMatchesNmap(t *testing.T) {
	if _, err := exec.LookPath("nmap"); err != nil {
		t.Skip("nmap is not installed")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "printargs.nse"))
	if err != nil {
		t.Fatal(err)
	}
	datadir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(datadir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(datadir, "scripts", "script.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	corpus := append(slices.Clone(scriptArgsEdgeCases), generatedScriptArgs(260)...)
	if len(corpus) < 300 {
		t.Fatalf("only %d values", len(corpus))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type result struct {
		canon string
		ok    bool
		err   error
	}
	results := make([]result, len(corpus))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, v := range corpus {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, ok, err := nmapScriptArgs(ctx, datadir, script, v)
			results[i] = result{c, ok, err}
		}()
	}
	wg.Wait()
	parsed, refused := 0, 0
	for i, v := range corpus {
		res := results[i]
		if res.err != nil {
			t.Errorf("%q: %v", v, res.err)
			continue
		}
		got, _, err := ParseScriptArgs(v)
		switch {
		case res.ok && err != nil:
			t.Errorf("%q: nmap reads %s; ParseScriptArgs refuses: %v", v, res.canon, err)
		case !res.ok && err == nil:
			t.Errorf("%q: nmap refuses it; ParseScriptArgs reads %s", v, canonicalScriptArgs(got))
		case res.ok && canonicalScriptArgs(got) != res.canon:
			t.Errorf("%q: nmap reads %s; ParseScriptArgs reads %s", v, res.canon, canonicalScriptArgs(got))
		case res.ok:
			parsed++
		default:
			refused++
		}
	}
	t.Logf("%d values: nmap and ParseScriptArgs agree on %d tables and %d refusals", len(corpus), parsed, refused)
	if parsed < 100 || refused < 30 {
		t.Errorf("the corpus is lopsided: %d parsed, %d refused", parsed, refused)
	}
}

func TestParseScriptArgsIgnoredAndDepth(t *testing.T) {
	for v, want := range map[string]string{"a=1": "", "a=1}": "}", "a=1},b=/etc/passwd": "},b=/etc/passwd", " a=1 } x": "} x"} {
		_, ignored, err := ParseScriptArgs(v)
		if err != nil || ignored != want {
			t.Errorf("ParseScriptArgs(%q) ignored %q, %v; want %q", v, ignored, err, want)
		}
	}
	// nmap itself takes about 60 levels (LPeg's backtrack stack); we stop
	// sooner and say why.
	deep := "a=" + strings.Repeat("{", maxScriptArgsDepth) + strings.Repeat("}", maxScriptArgsDepth)
	if _, _, err := ParseScriptArgs(deep); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("depth %d: %v", maxScriptArgsDepth, err)
	}
	ok := "a=" + strings.Repeat("{", maxScriptArgsDepth-1) + strings.Repeat("}", maxScriptArgsDepth-1)
	if _, _, err := ParseScriptArgs(ok); err != nil {
		t.Errorf("depth %d: %v", maxScriptArgsDepth-1, err)
	}
}

func FuzzParseScriptArgs(f *testing.F) {
	for _, v := range scriptArgsEdgeCases {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		args, ignored, err := ParseScriptArgs(v)
		if err != nil {
			return
		}
		if !strings.HasSuffix(v, ignored) {
			t.Fatalf("%q: ignored %q is not its tail", v, ignored)
		}
		// A table nmap reads, written back with every string quoted,
		// reads as the same table.
		again, rest, err := ParseScriptArgs(renderScriptArgs(args))
		if err != nil || rest != "" || canonicalScriptArgs(again) != canonicalScriptArgs(args) {
			t.Fatalf("%q: %s renders as %q, which reads as %v (%v, rest %q)", v, canonicalScriptArgs(args), renderScriptArgs(args), again, err, rest)
		}
		// The policy never panics on what parses.
		_ = checkScriptArgs(v)
	})
}

// renderScriptArgs writes a table back as a --script-args value.
func renderScriptArgs(t *ScriptArgs) string {
	q := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
	val := func(v ScriptArg) string {
		if v.Table != nil {
			return "{" + renderScriptArgs(v.Table) + "}"
		}
		return q(v.Str)
	}
	var out []string
	for _, v := range t.List {
		out = append(out, val(v))
	}
	for k, v := range t.Named {
		out = append(out, q(k)+"="+val(v))
	}
	return strings.Join(out, ",")
}

// scriptArgsNotFiles are the arguments whose documentation in the installed
// scripts mentions files or directories but which name none on the agent:
// remote paths and URLs, spider depths, switches about remote files. Each
// was read; a new nmap that documents another file-taking argument fails
// TestFileArgsOfInstalledScriptsAreRefused until it is refused or listed.
var scriptArgsNotFiles = []string{
	"broadcast-listener.timeout", "broadcast-wpad-discover.getwpad", "http-max-cache-size", "http-domino-enum-passwords.count",
	"http-enum.displayall", "http-enum.category", "http-fetch.withinhost", "webdavfolder", "basefolder",
	"http-litespeed-sourcecode-download.uri", "http-ls.checksum", "http-put.url", "http-virustotal.upload",
	"http-virustotal.checksum", "http-vuln-cve2014-3704.uri", "http-vuln-cve2014-8877.uri", "http-vuln-cve2017-1001000.uri",
	"http-wordpress-brute.uri", "nfs-ls.time", "nfs-statfs.human", "smb-ls.checksum", "text", "nohide", "cleanup", "nocleanup",
	"upnp-info.override", "ls.checksum", "ls.human", "randomseed",
}

// Every argument that the installed scripts' and libraries' @args
// documentation says takes a file or directory is refused.
func TestFileArgsOfInstalledScriptsAreRefused(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/nmap/scripts/*.nse")
	libs, _ := filepath.Glob("/usr/share/nmap/nselib/*.lua")
	if len(files) == 0 {
		t.Skip("nmap's scripts are not installed")
	}
	start := regexp.MustCompile(`^--\s*@args\s+(\S+)\s*(.*)$`)
	fileish := regexp.MustCompile(`(?i)\b(files?|filenames?|director(y|ies)|folders?)\b`)
	spider := regexp.MustCompile(`(?i)^the maximum amount of directories|^the maximum depth to recurse`)
	checked := 0
	for _, f := range append(files, libs...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i, line := range lines {
			m := start.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			key, doc := strings.TrimSuffix(m[1], "."), m[2]
			for j := i + 1; j < len(lines) && strings.HasPrefix(lines[j], "--") && !strings.Contains(lines[j], "@"); j++ {
				doc += " " + strings.TrimLeft(lines[j], "- ")
			}
			doc = strings.TrimSpace(doc)
			if !fileish.MatchString(doc) || spider.MatchString(doc) || slices.Contains(scriptArgsNotFiles, key) {
				continue
			}
			checked++
			if why := scriptArgKeyReason(key); why == "" {
				t.Errorf("%s: %s is accepted; its documentation says: %.120s", filepath.Base(f), key, doc)
			}
		}
	}
	t.Logf("%d documented file-taking arguments refused", checked)
	if checked < 50 {
		t.Errorf("only %d file-taking arguments found; has the documentation format changed?", checked)
	}
}
