package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// clientNouns are the first words of the client verbs.
func clientNouns() map[string]bool {
	nouns := map[string]bool{"run": true} // "run start" and "run watch" from before "runs"
	for _, c := range commands {
		nouns[c.words[0]] = true
	}
	return nouns
}

// findCommand picks the command named by the leading words of args, the
// longest match first, and returns it with the remaining arguments.
func findCommand(args []string) (*command, []string) {
	var best *command
	for i := range commands {
		c := &commands[i]
		if len(c.words) > len(args) || (best != nil && len(c.words) <= len(best.words)) {
			continue
		}
		match := true
		for j, w := range c.words {
			if args[j] != w && !(j == 0 && w == "runs" && args[j] == "run") {
				match = false
				break
			}
		}
		if match {
			best = c
		}
	}
	if best == nil {
		return nil, args
	}
	return best, args[len(best.words):]
}

// clientUsage lists every client verb, from the command table.
func clientUsage() string {
	var b strings.Builder
	b.WriteString("Usage: scantron <verb> [flags]\n\nClient verbs, against a server's API (every verb takes --json: the API's answer as it is):\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %s\n      %s\n", c.synopsis(), c.help)
	}
	b.WriteString("\nSCANTRON_URL and SCANTRON_TOKEN, when set, take the place of the stored login.\n" +
		"Run 'scantron <verb> -h' for a verb's flags.\n")
	return b.String()
}

// synopsis is the verb with its arguments and flags, e.g.
// "sites update ID [--name S] [--targets A,B]".
func (c *command) synopsis() string {
	parts := append([]string{}, c.words...)
	for _, a := range c.args {
		parts = append(parts, strings.ToUpper(a))
	}
	for _, p := range c.allFlags() {
		switch {
		case p.flag == "":
		case p.placeholder() == "":
			parts = append(parts, "[--"+p.flag+"]")
		default:
			parts = append(parts, "[--"+p.flag+" "+p.placeholder()+"]")
		}
	}
	if c.list {
		parts = append(parts, "[--limit N] [--offset N]")
		if c.takesMatch() {
			parts = append(parts, "[--match S]")
		}
	}
	if c.ownArgs != "" {
		parts = append(parts, c.ownArgs)
	}
	return strings.Join(parts, " ")
}

// placeholder is the flag's value in usage: "" for a switch.
func (p param) placeholder() string {
	switch {
	case p.meta != "":
		return p.meta
	case p.kind == kindBool || p.kind == kindPassword:
		return ""
	case p.kind == kindInt:
		return "N"
	case p.kind == kindList:
		return "A,B"
	case p.kind == kindSemiList:
		return "A;B"
	}
	return "S"
}

func (c *command) allFlags() []param {
	out := append(append(append([]param{}, c.flags...), c.body...), c.query...)
	return out
}

// callsRoutes are the API routes the verb calls, as "METHOD /path".
func (c *command) callsRoutes() []string {
	if c.run != nil {
		return c.routes
	}
	return []string{c.method + " " + c.path}
}

// takesMatch: the configuration lists filter by name with q.
func (c *command) takesMatch() bool {
	return c.list && c.items == "" && c.path != "/runs" && !strings.HasPrefix(c.path, "/runs/") && !strings.HasSuffix(c.path, "/diffs")
}

// runClient runs a client verb and returns the exit code: 0, 1 for an
// error (the API's, as it words it), 2 for a usage error.
func runClient(ctx context.Context, verb string, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	all := append([]string{verb}, args...)
	err := clientVerb(ctx, all, getenv, stdin, stdout, stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	name := verb
	if cmd, _ := findCommand(all); cmd != nil {
		name = strings.Join(cmd.words, " ")
	}
	fmt.Fprintf(stderr, "scantron %s: %v\n", name, err)
	var usage usageError
	if errors.As(err, &usage) {
		return 2
	}
	return 1
}

func clientVerb(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := findCommand(args)
	if cmd == nil {
		var near []string
		var help strings.Builder
		for _, c := range commands {
			if c.words[0] == args[0] || (args[0] == "run" && c.words[0] == "runs") {
				near = append(near, strings.Join(c.words, " "))
				fmt.Fprintf(&help, "  %s\n      %s\n", c.synopsis(), c.help)
			}
		}
		if len(near) > 0 && len(args) > 1 && (args[len(args)-1] == "-h" || args[len(args)-1] == "--help" || args[len(args)-1] == "help") {
			fmt.Fprint(stdout, help.String())
			return flag.ErrHelp
		}
		if len(near) > 0 {
			return usageError{fmt.Sprintf("want one of: %s", strings.Join(near, ", "))}
		}
		return usageError{fmt.Sprintf("unknown verb %q; see 'scantron help'", strings.Join(args, " "))}
	}
	cc := &call{cmd: cmd, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr,
		args: map[string]string{}, ids: map[string]int64{}, set: map[string]bool{},
		values: map[string]*string{}, bools: map[string]*bool{}}
	if cmd.ownArgs != "" {
		// The verb reads its own flags and arguments.
		cc.rest = rest
	} else if err := cc.parse(rest); err != nil {
		return err
	}
	if cmd.words[0] != "login" && cmd.words[0] != "logout" {
		creds, err := loadCredentials(getenv)
		if err != nil {
			return err
		}
		cc.creds, cc.api = creds, newAPIClient(creds)
	}
	if cmd.run != nil {
		return cmd.run(ctx, cc)
	}
	return cc.generic(ctx)
}

// parse reads the verb's flags and positional arguments, which may come
// in any order.
func (cc *call) parse(args []string) error {
	c := cc.cmd
	fs := flag.NewFlagSet("scantron "+strings.Join(c.words, " "), flag.ContinueOnError)
	fs.SetOutput(cc.stderr)
	fs.Usage = func() {
		fmt.Fprintf(cc.stderr, "Usage: scantron %s\n  %s\n\nFlags:\n", c.synopsis(), c.help)
		fs.VisitAll(func(f *flag.Flag) {
			meta := ""
			for _, p := range c.allFlags() {
				if p.flag == f.Name {
					meta = p.placeholder()
				}
			}
			if f.Name == "limit" || f.Name == "offset" {
				meta = "N"
			} else if f.Name == "match" {
				meta = "S"
			}
			line := "  --" + f.Name
			if meta != "" {
				line += " " + meta
			}
			if f.DefValue != "" && f.DefValue != "false" {
				line += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(cc.stderr, "%s\n      %s\n", line, f.Usage)
		})
	}
	fs.BoolVar(&cc.json, "json", false, "print the API's JSON answer as it is")
	if c.list {
		fs.StringVar(&cc.limit, "limit", "", "rows per page (default: every row, page by page)")
		fs.StringVar(&cc.offset, "offset", "", "rows to skip")
		if c.takesMatch() {
			cc.values["q"] = fs.String("match", "", "only the rows whose name contains this")
		}
	}
	for _, p := range c.allFlags() {
		switch {
		case p.flag == "":
		case p.kind == kindBool || p.kind == kindPassword:
			cc.bools[p.flag] = fs.Bool(p.flag, false, p.help)
		default:
			cc.values[p.flag] = fs.String(p.flag, p.def, p.help)
		}
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			positional = append(positional, args[1:]...)
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	fs.Visit(func(f *flag.Flag) { cc.set[f.Name] = true })
	if len(positional) != len(c.args) {
		want := "no arguments"
		if len(c.args) > 0 {
			want = strings.ToUpper(strings.Join(c.args, " "))
		}
		return usageError{fmt.Sprintf("want %s, got %q", want, positional)}
	}
	for i, name := range c.args {
		if name == "ip" {
			if a, err := netip.ParseAddr(positional[i]); err != nil || a.Zone() != "" {
				return usageError{fmt.Sprintf("IP: %q is not an IP address", positional[i])}
			}
			cc.args[name] = positional[i]
			continue
		}
		id, err := strconv.ParseInt(positional[i], 10, 64)
		if err != nil || id <= 0 {
			return usageError{fmt.Sprintf("%s: %q is not an id", strings.ToUpper(name), positional[i])}
		}
		cc.args[name], cc.ids[name] = positional[i], id
	}
	if err := checkPage(cc.limit, cc.offset); err != nil {
		return err
	}
	for _, p := range c.allFlags() {
		if p.kind != kindInt || p.flag == "" || (!cc.set[p.flag] && p.def == "") {
			continue
		}
		if _, err := strconv.ParseInt(*cc.values[p.flag], 10, 64); err != nil {
			return usageError{fmt.Sprintf("--%s: %q is not a whole number", p.flag, *cc.values[p.flag])}
		}
	}
	return nil
}

// checkPage refuses a --limit or --offset that is not a count.
func checkPage(limit, offset string) error {
	for _, n := range []struct{ name, v string }{{"limit", limit}, {"offset", offset}} {
		if n.v == "" {
			continue
		}
		if _, err := strconv.ParseUint(n.v, 10, 31); err != nil {
			return usageError{fmt.Sprintf("--%s: %q is not a number", n.name, n.v)}
		}
	}
	return nil
}

// value is a flag's value as JSON: nil when neither given nor defaulted.
func (cc *call) value(p param) (any, bool) {
	if p.kind == kindBool {
		if !cc.set[p.flag] {
			return nil, false
		}
		return *cc.bools[p.flag], true
	}
	if !cc.set[p.flag] && p.def == "" {
		return nil, false
	}
	v := *cc.values[p.flag]
	switch p.kind {
	case kindInt:
		n, _ := strconv.ParseInt(v, 10, 64) // checked in parse
		return n, true
	case kindList:
		return splitList(v), true
	case kindSemiList:
		return splitBy(v, ";"), true
	}
	return v, true
}

// path fills the route's {name} parts with the positional arguments.
func (cc *call) path(p string) string {
	for name, v := range cc.args {
		p = strings.ReplaceAll(p, "{"+name+"}", url.PathEscape(v))
	}
	return p
}

// generic runs a verb that is one API call.
func (cc *call) generic(ctx context.Context) error {
	c := cc.cmd
	path := cc.path(c.path)
	q := url.Values{}
	for _, p := range c.query {
		if v, ok := cc.value(p); ok {
			q.Set(p.name(), fmt.Sprint(v))
		}
	}
	if v := cc.values["q"]; v != nil && *v != "" {
		q.Set("q", *v)
	}
	if c.list {
		return cc.list(ctx, path, q)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var body any
	if len(c.body) > 0 {
		b, err := cc.body(ctx, path)
		if err != nil {
			return err
		}
		body = b
	}
	data, _, err := cc.api.read(ctx, c.method, path, body)
	if err != nil {
		return err
	}
	return cc.show(data)
}

// body builds the request's JSON object: for an update, the current
// object's fields first; then every flag given.
func (cc *call) body(ctx context.Context, path string) (map[string]any, error) {
	c := cc.cmd
	body := map[string]any{}
	if c.merge {
		var cur map[string]any
		err := cc.api.do(ctx, "GET", path, nil, &cur)
		var ae *apiError
		if err != nil && !(c.mergeMissing && errors.As(err, &ae) && ae.status == http.StatusNotFound) {
			return nil, err
		}
		for _, p := range c.body {
			if v, ok := cur[p.name()]; ok && p.kind != kindPassword {
				body[p.name()] = v
			}
		}
	}
	for _, p := range c.body {
		if p.kind == kindPassword {
			if p.flag != "" && !*cc.bools[p.flag] {
				continue
			}
			pw, err := readNewPassword(cc.getenv, cc.stdin, cc.stderr)
			if err != nil {
				return nil, err
			}
			body[p.name()] = pw
			continue
		}
		v, ok := cc.value(p)
		if !ok {
			continue
		}
		body[p.name()] = v
		if p.clears != "" {
			delete(body, p.clears)
		}
	}
	return body, nil
}

// list answers one page when --limit or --offset is given, otherwise every
// row, page by page.
func (cc *call) list(ctx context.Context, path string, q url.Values) error {
	c := cc.cmd
	if cc.limit != "" || cc.offset != "" || c.items != "" {
		if cc.limit != "" {
			q.Set("limit", cc.limit)
		}
		if cc.offset != "" {
			q.Set("offset", cc.offset)
		}
		data, header, err := cc.api.read(ctx, "GET", path+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		if err := cc.show(data); err != nil {
			return err
		}
		if !cc.json {
			cc.more(data, header.Get("X-Total-Count"))
		}
		return nil
	}
	const pageSize = 500
	var rows []json.RawMessage
	for offset := 0; ; offset += pageSize {
		q.Set("limit", strconv.Itoa(pageSize))
		q.Set("offset", strconv.Itoa(offset))
		data, header, err := cc.api.read(ctx, "GET", path+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		var page []json.RawMessage
		if err := json.Unmarshal(data, &page); err != nil {
			return fmt.Errorf("the answer is not a JSON array: %w", err)
		}
		rows = append(rows, page...)
		total, terr := strconv.Atoi(header.Get("X-Total-Count"))
		if len(page) < pageSize || (terr == nil && offset+len(page) >= total) {
			break
		}
	}
	if rows == nil {
		rows = []json.RawMessage{}
	}
	data, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	return cc.show(data)
}

// more tells, on standard error, that a page is not all there is.
func (cc *call) more(data []byte, totalHeader string) {
	var n, offset, total int
	var obj struct {
		Total  *int `json:"total"`
		Offset int  `json:"offset"`
	}
	var rows []json.RawMessage
	if json.Unmarshal(data, &rows) == nil {
		n = len(rows)
		offset, _ = strconv.Atoi(cc.offset)
		t, err := strconv.Atoi(totalHeader)
		if err != nil {
			return
		}
		total = t
	} else if json.Unmarshal(data, &obj) == nil && obj.Total != nil {
		var items map[string]json.RawMessage
		_ = json.Unmarshal(data, &items)
		_ = json.Unmarshal(items[cc.cmd.items], &rows)
		n, offset, total = len(rows), obj.Offset, *obj.Total
	} else {
		return
	}
	if offset+n < total {
		fmt.Fprintf(cc.stderr, "%d-%d of %d; --offset %d for more\n", offset+1, offset+n, total, offset+n)
	}
}

// show prints the API's answer: as it is with --json; otherwise a table,
// the verb's sentence, or the fields one a line.
func (cc *call) show(data []byte) error {
	c := cc.cmd
	if cc.json {
		if len(bytes.TrimSpace(data)) == 0 {
			return nil
		}
		_, err := cc.stdout.Write(data)
		if err == nil && !bytes.HasSuffix(data, []byte("\n")) {
			_, err = io.WriteString(cc.stdout, "\n")
		}
		return err
	}
	var v any
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("the answer is not JSON: %w", err)
		}
	}
	if c.say != "" {
		obj, _ := v.(map[string]any)
		_, err := fmt.Fprintln(cc.stdout, cc.fill(c.say, obj))
		return err
	}
	if len(c.columns) > 0 {
		rows, _ := v.([]any)
		if obj, ok := v.(map[string]any); ok && c.items != "" {
			rows, _ = obj[c.items].([]any)
		}
		return table(cc.stdout, c.columns, rows)
	}
	switch v := v.(type) {
	case nil:
		_, err := fmt.Fprintln(cc.stdout, "done")
		return err
	case map[string]any:
		return fields(cc.stdout, data)
	case []any:
		var cols []string
		for _, r := range v {
			if o, ok := r.(map[string]any); ok {
				for k := range o {
					if !contains(cols, k) {
						cols = append(cols, k)
					}
				}
			}
		}
		sort.Strings(cols)
		return table(cc.stdout, cols, v)
	default:
		_, err := fmt.Fprintln(cc.stdout, cell(v))
		return err
	}
}

var placeholder = regexp.MustCompile(`\{(\.?[a-z_.-]+)\}`)

func (cc *call) fill(tmpl string, obj map[string]any) string {
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[1 : len(m)-1]
		switch {
		case name == "url":
			return strings.TrimRight(cc.creds.URL, "/")
		case strings.HasPrefix(name, "."):
			return cell(lookup(obj, name[1:]))
		}
		return cc.args[name]
	})
}

// lookup follows a dotted path into a JSON object.
func lookup(obj map[string]any, path string) any {
	var v any = obj
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// table prints rows (JSON objects) as aligned columns.
func table(w io.Writer, cols []string, rows []any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// A column is headed by its field's name, or by its whole path where
	// two columns' fields share a name (before.service, after.service).
	last := func(c string) string { return c[strings.LastIndex(c, ".")+1:] }
	seen := map[string]int{}
	for _, c := range cols {
		seen[last(c)]++
	}
	head := make([]string, len(cols))
	for i, c := range cols {
		h := last(c)
		if seen[h] > 1 {
			h = c
		}
		head[i] = strings.ToUpper(strings.NewReplacer("_", " ", ".", " ").Replace(h))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		obj, _ := r.(map[string]any)
		line := make([]string, len(cols))
		for i, c := range cols {
			line[i] = cell(lookup(obj, c))
		}
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	return tw.Flush()
}

// fields prints a JSON object's fields one a line, in the API's order;
// the fields of a nested object follow as parent.field.
func fields(w io.Writer, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if err := fieldsOf(dec, tw, ""); err != nil {
		return err
	}
	return tw.Flush()
}

// fieldsOf prints the rest of an object whose { dec has read.
func fieldsOf(dec *json.Decoder, w io.Writer, prefix string) error {
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		name := prefix + fmt.Sprint(k)
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' && !bytes.Equal(t, []byte("{}")) {
			sub := json.NewDecoder(bytes.NewReader(t))
			sub.UseNumber()
			if _, err := sub.Token(); err != nil {
				return err
			}
			if err := fieldsOf(sub, w, name+"."); err != nil {
				return err
			}
			continue
		}
		var v any
		inner := json.NewDecoder(bytes.NewReader(raw))
		inner.UseNumber()
		if err := inner.Decode(&v); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s:\t%s\n", name, cell(v))
	}
	_, err := dec.Token() // }
	return err
}

// cell is a JSON value in a table cell: lists joined with commas, ports as
// port/protocol, objects with a name by it, other objects as (key=value ...).
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return strings.ReplaceAll(v, "\n", " ")
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			parts = append(parts, cell(x))
		}
		return strings.Join(parts, ",")
	case map[string]any:
		if p, ok := v["port"]; ok {
			if proto, ok := v["protocol"]; ok {
				return cell(p) + "/" + cell(proto)
			}
		}
		if n, ok := v["name"]; ok {
			return cell(n)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			if c := cell(v[k]); c != "" {
				parts = append(parts, k+"="+c)
			}
		}
		return "(" + strings.Join(parts, " ") + ")"
	}
	return fmt.Sprint(v)
}
