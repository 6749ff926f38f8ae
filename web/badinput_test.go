package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
)

// The bad-input suite: every operation of the served OpenAPI document, every
// field of its body and query, sent malformed as each role and anonymously
// against the real handlers and PostgreSQL. What the document says decides
// what is forbidden, so a new route or field is covered without editing
// this file.

// apiDoc is the part of the OpenAPI document the suite reads.
type apiDoc struct {
	Paths      map[string]map[string]apiOp `json:"paths"`
	Components struct {
		Schemas map[string]*apiSchema `json:"schemas"`
	} `json:"components"`
}

type apiOp struct {
	Role        string     `json:"x-scantron-role"`
	Parameters  []apiParam `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema *apiSchema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

type apiParam struct {
	Name     string     `json:"name"`
	In       string     `json:"in"`
	Required bool       `json:"required"`
	Schema   *apiSchema `json:"schema"`
}

type apiSchema struct {
	Ref        string                `json:"$ref"`
	Type       string                `json:"type"`
	Format     string                `json:"format"`
	Enum       []any                 `json:"enum"`
	Properties map[string]*apiSchema `json:"properties"`
	Required   []string              `json:"required"`
	Items      *apiSchema            `json:"items"`
	MinLength  *int                  `json:"minLength"`
	MaxLength  *int                  `json:"maxLength"`
	Minimum    *json.Number          `json:"minimum"`
	Maximum    *json.Number          `json:"maximum"`
	MinItems   *int                  `json:"minItems"`
	MaxItems   *int                  `json:"maxItems"`
	Pattern    string                `json:"pattern"`
	Example    json.RawMessage       `json:"example"`
	WriteOnly  bool                  `json:"writeOnly"`
	ReadOnly   bool                  `json:"readOnly"`

	re *regexp.Regexp
}

func (d *apiDoc) resolve(s *apiSchema) *apiSchema {
	if s == nil || s.Ref == "" {
		return s
	}
	return d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
}

func (d *apiDoc) bodySchema(op apiOp) *apiSchema {
	if op.RequestBody == nil {
		return nil
	}
	return d.resolve(op.RequestBody.Content["application/json"].Schema)
}

// loadDoc fetches the document from the server, as a client would.
func loadDoc(t *testing.T, base string) *apiDoc {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var doc apiDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var compile func(s *apiSchema)
	compile = func(s *apiSchema) {
		if s == nil {
			return
		}
		if s.Pattern != "" && s.re == nil {
			s.re = regexp.MustCompile(s.Pattern)
		}
		for _, p := range s.Properties {
			compile(p)
		}
		compile(s.Items)
	}
	for _, s := range doc.Components.Schemas {
		compile(s)
	}
	for _, ops := range doc.Paths {
		for _, op := range ops {
			for _, p := range op.Parameters {
				compile(p.Schema)
			}
		}
	}
	return &doc
}

// forbids reports whether the document forbids v (a decoded JSON value,
// numbers as json.Number) for a field of schema s. The document's general
// rules count too: null, and "" for an optional field, mean "left out";
// strings never hold control characters other than tab and newlines.
func (s *apiSchema) forbids(v any, required bool) bool {
	if v == nil {
		return required
	}
	switch s.Type {
	case "string":
		str, ok := v.(string)
		if !ok {
			return true
		}
		if strings.TrimSpace(str) == "" && !required {
			return false
		}
		n := utf8.RuneCountInString(str)
		if (s.MinLength != nil && n < *s.MinLength) || (s.MaxLength != nil && n > *s.MaxLength) {
			return true
		}
		if s.re != nil && !s.re.MatchString(str) {
			return true
		}
		if strings.ContainsFunc(str, func(r rune) bool { return isControl(r) && r != '\t' && r != '\n' && r != '\r' }) {
			return true
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, any(str)) {
			return true
		}
	case "integer", "number":
		num, ok := v.(json.Number)
		if !ok {
			return true
		}
		if s.Type == "integer" {
			n, err := strconv.ParseInt(num.String(), 10, 64)
			if err != nil {
				return true
			}
			if s.Minimum != nil {
				if lo, _ := s.Minimum.Int64(); n < lo {
					return true
				}
			}
			if s.Maximum != nil {
				if hi, _ := s.Maximum.Int64(); n > hi {
					return true
				}
			}
		}
	case "boolean":
		_, ok := v.(bool)
		return !ok
	case "array":
		list, ok := v.([]any)
		if !ok {
			return true
		}
		if (s.MinItems != nil && len(list) < *s.MinItems) || (s.MaxItems != nil && len(list) > *s.MaxItems) {
			return true
		}
		for _, it := range list {
			if s.Items != nil && s.Items.forbids(it, true) {
				return true
			}
		}
	case "object":
		_, ok := v.(map[string]any)
		return !ok
	}
	return false
}

// docSecrets are the example values of write-only fields and the
// passwords of example URLs: the suite sends them, and no answer may hold
// them.
func docSecrets(doc *apiDoc) []string {
	var out []string
	for _, sc := range doc.Components.Schemas {
		for _, p := range sc.Properties {
			var ex string
			if json.Unmarshal(p.Example, &ex) != nil || ex == "" {
				continue
			}
			if p.WriteOnly {
				out = append(out, ex)
			}
			if u, err := url.Parse(ex); err == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok {
					out = append(out, pw)
				}
			}
		}
	}
	return out
}

// badInputWorld is the server under test and the rows its routes act on.
type badInputWorld struct {
	env    *testEnv
	base   string
	tokens map[string]string // role -> API token; "" is anonymous
	ids    map[string]int64  // path resource ("sites") -> a row's id
	// login is a real user whose password the login body carries.
	loginName, loginPassword string
	// secrets must never appear in any response.
	secrets []string
	seq     atomic.Int64
}

const missingID = 987654321

// silentTester stands in for the orchestrator's notifier, so that the
// test-send route is answered as on a real server. The suite checks what
// the API does with its input and must send nothing anywhere; deliveries
// are tested with real receivers in activities and e2e.
type silentTester struct{}

func (silentTester) SendTest(context.Context, int64) (scan.NotificationTest, error) {
	skipped := scan.ChannelOutcome{Skipped: "the bad-input suite sends nothing"}
	return scan.NotificationTest{Webhook: skipped, Email: skipped}, nil
}

func newBadInputWorld(t *testing.T) *badInputWorld {
	t.Helper()
	e := enrollEnv(t) // a server with every feature configured
	e.srv.ui.ops.notifications.(*manage.Notifications).Tester = silentTester{}
	// Global exclusions apply to every scan in the shared test database:
	// the ones the suite's valid requests add (a host name among them,
	// which no masscan scan may then be saved with) go when it ends.
	before := map[int64]bool{}
	existing, err := testStore.ListExclusions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range existing {
		before[x.ID] = true
	}
	t.Cleanup(func() {
		after, err := testStore.ListExclusions(context.Background())
		if err != nil {
			t.Errorf("listing the global exclusions the suite added: %v", err)
			return
		}
		for _, x := range after {
			if !before[x.ID] {
				if err := testStore.DeleteExclusion(context.Background(), x.ID); err != nil {
					t.Errorf("removing global exclusion %d (%s): %v", x.ID, x.Target, err)
				}
			}
		}
	})
	// Each request comes from its own loopback address, so that the login
	// limiter (which counts per address) does not answer 429 before the
	// suite's logins are validated.
	var client atomic.Uint32
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n := client.Add(1)
		r.RemoteAddr = fmt.Sprintf("127.%d.%d.%d:40000", byte(n>>16), byte(n>>8), byte(n))
		e.h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	w := &badInputWorld{env: e, base: srv.URL, ids: map[string]int64{}, tokens: map[string]string{"": ""}}
	// Users with real password hashes, since the suite changes passwords.
	hash, err := accounts.HashPassword("role password 0123")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []accounts.Role{accounts.Viewer, accounts.Operator, accounts.Admin} {
		u, err := testStore.CreateUser(context.Background(), accounts.User{Name: uniq(string(r)), Role: r, PasswordHash: hash})
		if err != nil {
			t.Fatal(err)
		}
		secret := accounts.NewToken()
		if _, err := testStore.CreateToken(context.Background(), u.ID, "suite", secret[:8], accounts.HashSecret(secret), e.now.AddDate(1, 0, 0)); err != nil {
			t.Fatal(err)
		}
		w.tokens[string(r)] = secret
	}
	f := makeFixtures(t, e)
	var pool scan.Pool
	e.mustDo(t, "POST", "/api/v1/pools", fmt.Sprintf(`{"name": %q}`, uniq("pool")), http.StatusCreated, &pool)
	var sc scan.Scan
	e.mustDo(t, "POST", "/api/v1/scans", fmt.Sprintf(`{"name": %q, "site_id": %d, "profile_id": %d, "agent_id": %d, "start_at": "2031-01-02T03:04:05Z", "rrule": "FREQ=DAILY"}`,
		uniq("scan"), f.site.ID, f.profile.ID, f.agent.ID), http.StatusCreated, &sc)
	var agent struct {
		ID         int64  `json:"id"`
		Credential string `json:"credential"`
	}
	e.mustDo(t, "POST", "/api/v1/agents", fmt.Sprintf(`{"name": %q}`, uniq("agent")), http.StatusCreated, &agent)
	const webhookSecret, urlPassword = "fixture-webhook-secret-0123456789", "fixture-url-password"
	e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/scans/%d/notifications", sc.ID),
		fmt.Sprintf(`{"webhook_url": "https://hook:%s@hooks.example.test/x", "webhook_secret": %q}`, urlPassword, webhookSecret), http.StatusOK, nil)
	w.loginName, w.loginPassword = uniq("login"), "login password 0123"
	hash, err = accounts.HashPassword(w.loginPassword)
	if err != nil {
		t.Fatal(err)
	}
	u, err := testStore.CreateUser(context.Background(), accounts.User{Name: w.loginName, Role: accounts.Viewer, PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	var run scan.Run
	e.mustDo(t, "POST", fmt.Sprintf("/api/v1/scans/%d/runs", sc.ID), "", http.StatusAccepted, &run)
	w.ids = map[string]int64{"sites": f.site.ID, "profiles": f.profile.ID, "agents": agent.ID, "pools": pool.ID,
		"scans": sc.ID, "users": u.ID, "runs": run.ID}
	w.secrets = []string{webhookSecret, urlPassword, w.loginPassword, "role password 0123", "$2a$", agent.Credential}
	// Tokens, and their stored hashes in any common spelling.
	for _, tok := range w.tokens {
		if tok != "" {
			h := accounts.HashSecret(tok)
			w.secrets = append(w.secrets, tok, hex.EncodeToString(h), base64.StdEncoding.EncodeToString(h)[:40],
				base64.RawURLEncoding.EncodeToString(h)[:40])
		}
	}
	return w
}

// The fake schedule handle has no Backfill, Pause or Unpause of its own;
// the suite reaches them, so they succeed here.
func (h *fakeScheduleHandle) Backfill(context.Context, client.ScheduleBackfillOptions) error {
	return nil
}

// pathFor fills {id}: an existing row of the resource, except for deletes
// of a row itself, which get an id that does not exist so that the suite
// keeps its rows.
func (w *badInputWorld) pathFor(tpl, method string) string {
	resource := strings.Split(strings.TrimPrefix(tpl, "/"), "/")[0]
	id, ok := w.ids[resource]
	if !ok || (method == http.MethodDelete && strings.HasSuffix(tpl, "/{id}")) {
		id = missingID
	}
	return "/api/v1" + strings.NewReplacer("{id}", strconv.FormatInt(id, 10), "{ip}", "198.18.0.2").Replace(tpl)
}

// value is a valid value for a field: the document's example, an existing
// row for references, or one made from the schema.
func (w *badInputWorld) value(schemaName, field string, s *apiSchema) any {
	switch {
	case schemaName == "LoginInput" && field == "name":
		return w.loginName
	case schemaName == "LoginInput" && field == "password":
		return w.loginPassword
	case strings.HasSuffix(field, "_id") && s.Type == "integer":
		if id, ok := w.ids[strings.TrimSuffix(field, "_id")+"s"]; ok {
			return json.Number(strconv.FormatInt(id, 10))
		}
	}
	if len(s.Example) > 0 {
		var v any
		dec := json.NewDecoder(bytes.NewReader(s.Example))
		dec.UseNumber()
		if err := dec.Decode(&v); err == nil {
			return v
		}
	}
	switch s.Type {
	case "string":
		if len(s.Enum) > 0 {
			return s.Enum[0]
		}
		n := 12
		if s.MaxLength != nil {
			n = min(n, *s.MaxLength)
		}
		if s.MinLength != nil {
			n = max(n, *s.MinLength)
		}
		return w.word(n)
	case "integer", "number":
		if s.Minimum != nil {
			return *s.Minimum
		}
		return json.Number("1")
	case "boolean":
		return true
	case "array":
		if s.Items != nil {
			return []any{w.value(schemaName, field, s.Items)}
		}
		return []any{}
	}
	return map[string]any{}
}

// word is n characters that every name pattern accepts, different each
// time, so that creates do not collide.
func (w *badInputWorld) word(n int) string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte(fmt.Sprintf("b%dx%d", w.seq.Add(1), rand.IntN(1e6)))
	for len(b) < n {
		b = append(b, alnum[rand.IntN(len(alnum))])
	}
	return string(b[:n])
}

// body is a valid body for schema: its required fields and those with an
// example.
func (w *badInputWorld) body(name string, s *apiSchema) map[string]any {
	out := map[string]any{}
	for field, p := range s.Properties {
		if p.ReadOnly {
			continue
		}
		if slices.Contains(s.Required, field) || len(p.Example) > 0 || (name == "LoginInput") {
			out[field] = w.value(name, field, p)
		}
	}
	return out
}

// badCase is one request the suite sends.
type badCase struct {
	route     string // "POST /sites/{id}"
	what      string
	role      string // "" is anonymous
	method    string
	path      string // with /api/v1 and any query
	ctype     string
	body      []byte
	forbidden bool   // the document forbids something in it
	field     string // the field a 400 must name
}

// mutation is a value to put in a field, as JSON text, and whether the
// document forbids it.
type mutation struct {
	what      string
	raw       string
	forbidden bool
}

// mutations are the malformed values for a field of schema s.
func mutations(s *apiSchema, required bool) []mutation {
	var out []mutation
	add := func(what, raw string) {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var v any
		forbidden := true // what is not even JSON text of one value
		if err := dec.Decode(&v); err == nil && utf8.ValidString(raw) && !strings.Contains(strings.ToLower(raw), `\ud8`) {
			forbidden = s.forbids(v, required)
		}
		out = append(out, mutation{what, raw, forbidden})
	}
	for _, m := range []struct{ what, raw string }{
		{"null", "null"}, {"string", `"x"`}, {"empty string", `""`}, {"integer", "7"}, {"float", "1.5"},
		{"true", "true"}, {"array", "[]"}, {"object", "{}"}, {"array of null", "[null]"},
	} {
		add(m.what, m.raw)
	}
	switch s.Type {
	case "string":
		for _, m := range []struct{ what, raw string }{
			{"NUL", `"a\u0000b"`}, {"raw control character", "\"a\x01b\""}, {"escape sequence", `"\u001b[31mred"`},
			{"DEL", `"a\u007fb"`}, {"C1 control", `"a\u0085b"`}, {"newline", `"a\nb"`}, {"tab", `"a\tb"`},
			{"carriage return", `"a\rb"`}, {"invalid UTF-8", "\"a\xffb\""}, {"overlong UTF-8", "\"a\xc0\xafb\""},
			{"lone surrogate", `"a\ud800b"`}, {"right-to-left override", `"a\u202eb"`}, {"only spaces", `"    "`},
			{"long", strconv.Quote(strings.Repeat("x", 100_000))}, {"long multibyte", strconv.Quote(strings.Repeat("é", 5000))},
			{"SQL", `"'; DROP TABLE sites; --"`}, {"percent", `"%00%s%n"`}, {"unicode escape FFFD", `"\ufffd"`},
		} {
			add(m.what, m.raw)
		}
		if s.MaxLength != nil {
			add("one over maxLength", strconv.Quote(strings.Repeat("a", *s.MaxLength+1)))
		}
		if s.MinLength != nil && *s.MinLength > 1 {
			add("one under minLength", strconv.Quote(strings.Repeat("a", *s.MinLength-1)))
		}
	case "integer", "number":
		for _, m := range []string{"0", "-1", "-0", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
			"1e309", "1e3", "18446744073709551616", `"1"`, "2147483648", "4294967297"} {
			add("number "+m, m)
		}
		if s.Minimum != nil {
			if lo, err := s.Minimum.Int64(); err == nil {
				add("one under minimum", strconv.FormatInt(lo-1, 10))
			}
		}
		if s.Maximum != nil {
			if hi, err := s.Maximum.Int64(); err == nil {
				add("one over maximum", strconv.FormatInt(hi+1, 10))
			}
		}
	case "array":
		add("array of integers", "[1, 2]")
		add("nested arrays", "[[\"a\"]]")
		add("array with NUL", `["a\u0000b"]`)
		add("array of invalid UTF-8", "[\"\xfe\"]")
		add("array of 20000", "["+strings.TrimSuffix(strings.Repeat(`"198.18.0.1",`, 20000), ",")+"]")
		if s.MaxItems != nil {
			add("one over maxItems", "["+strings.TrimSuffix(strings.Repeat(`"198.18.0.1",`, *s.MaxItems+1), ",")+"]")
		}
	}
	return out
}

// queryMutations are malformed values of a query parameter, as the text
// the server decodes from the query string.
func queryMutations(s *apiSchema) []mutation {
	var out []mutation
	add := func(what, text string) {
		forbidden := false
		switch {
		case text == "":
			// An empty value is the parameter left out.
		case s.Type == "integer":
			n, err := strconv.ParseInt(text, 10, 64)
			forbidden = err != nil || s.forbids(json.Number(strconv.FormatInt(n, 10)), true)
		default:
			forbidden = !utf8.ValidString(text) || s.forbids(text, true)
		}
		out = append(out, mutation{what, text, forbidden})
	}
	for _, m := range []struct{ what, text string }{
		{"empty", ""}, {"word", "abc"}, {"NUL", "a\x00b"}, {"control character", "a\x01b"},
		{"escape sequence", "\x1b[31m"}, {"newline", "a\nb"}, {"invalid UTF-8", "a\xffb"},
		{"overlong UTF-8", "\xc0\xaf"}, {"long", strings.Repeat("x", 100_000)}, {"long multibyte", strings.Repeat("é", 3000)},
		{"SQL", "'; DROP TABLE runs; --"}, {"wildcards", "%_*"}, {"float", "1.5"}, {"negative", "-1"},
		{"exponent", "1e3"}, {"huge", "99999999999999999999"}, {"max int64", "9223372036854775807"},
		{"padded", " 1"}, {"hex", "0x10"}, {"CIDR", "198.18.0.0/15"}, {"IPv6", "::1"},
	} {
		add(m.what, m.text)
	}
	if s.MaxLength != nil {
		add("one over maxLength", strings.Repeat("a", *s.MaxLength+1))
	}
	if s.Minimum != nil {
		if lo, err := s.Minimum.Int64(); err == nil {
			add("one under minimum", strconv.FormatInt(lo-1, 10))
		}
	}
	if s.Maximum != nil {
		if hi, err := s.Maximum.Int64(); err == nil {
			add("one over maximum", strconv.FormatInt(hi+1, 10))
		}
	}
	return out
}

func roleAllows(role, need string) bool {
	if need == "public" {
		return true
	}
	if role == "" {
		return false
	}
	return accounts.Role(role).Allows(accounts.Role(need))
}

// cases generates the requests for one operation.
func (w *badInputWorld) cases(doc *apiDoc, tpl, method string, op apiOp) []badCase {
	method = strings.ToUpper(method)
	route := method + " " + tpl
	allowed := "" // the least role that may: it gets the malformed requests
	for _, r := range []string{"", "viewer", "operator", "admin"} {
		if roleAllows(r, op.Role) {
			allowed = r
			break
		}
	}
	path := w.pathFor(tpl, method)
	schema := doc.bodySchema(op)
	schemaName := ""
	if schema != nil {
		schemaName = strings.TrimPrefix(op.RequestBody.Content["application/json"].Schema.Ref, "#/components/schemas/")
	}
	validBody := func() []byte {
		if schema == nil {
			return nil
		}
		b, _ := json.Marshal(w.body(schemaName, schema))
		return b
	}
	var out []badCase
	mk := func(what, role, p, ctype string, body []byte, forbidden bool, field string) {
		out = append(out, badCase{route: route, what: what, role: role, method: method, path: p, ctype: ctype,
			body: body, forbidden: forbidden, field: field})
	}
	ct := ""
	if schema != nil {
		ct = "application/json"
	}
	// Every role, and no one, with a valid request.
	for _, r := range []string{"", "viewer", "operator", "admin"} {
		mk("valid request", r, path, ct, validBody(), false, "")
	}
	// Malformed path ids.
	if strings.Contains(tpl, "{id}") {
		for _, id := range []string{"0", "-1", "abc", "1.5", "1e3", "99999999999999999999", "%00", "%FF", "1%0A", "0x10", "+1", " 1"} {
			p := "/api/v1" + strings.ReplaceAll(tpl, "{id}", strings.ReplaceAll(id, " ", "%20"))
			mk("path id "+id, allowed, p, ct, validBody(), true, "")
		}
		mk("path id missing row", allowed, "/api/v1"+strings.ReplaceAll(tpl, "{id}", strconv.Itoa(missingID)), ct, validBody(), false, "")
	}
	// Query parameters.
	for _, prm := range op.Parameters {
		if prm.In != "query" || prm.Schema == nil {
			continue
		}
		for _, m := range queryMutations(prm.Schema) {
			q := path + "?" + prm.Name + "=" + queryEscapeBytes(m.raw)
			mk("query "+prm.Name+" "+m.what, allowed, q, ct, validBody(), m.forbidden, prm.Name)
			if m.what == "NUL" {
				for _, r := range []string{"", "viewer", "operator", "admin"} {
					if !roleAllows(r, op.Role) {
						mk("query "+prm.Name+" "+m.what, r, q, ct, validBody(), true, "")
					}
				}
			}
		}
	}
	if op.RequestBody != nil && op.RequestBody.Content["multipart/form-data"].Schema != nil {
		for _, m := range multipartMutations() {
			mk("multipart "+m.what, allowed, path, m.ctype, m.body, m.forbidden, m.field)
		}
	}
	if schema == nil {
		return out
	}
	// The body as a whole.
	valid := validBody()
	first := firstField(valid)
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	utf16Body := func() []byte {
		u := utf16.Encode([]rune(string(valid)))
		b := make([]byte, 2*len(u))
		for i, c := range u {
			b[2*i], b[2*i+1] = byte(c), byte(c>>8)
		}
		return b
	}()
	for _, m := range []struct {
		what, ctype string
		body        []byte
	}{
		{"no content type", "", valid},
		{"text/plain", "text/plain", valid},
		{"form content type", "application/x-www-form-urlencoded", []byte("name=x")},
		{"multipart", "multipart/form-data; boundary=x", valid},
		{"json+utf-16 declared", "application/json; charset=utf-16", utf16Body},
		{"json declared latin1", "application/json; charset=iso-8859-1", valid},
		{"malformed content type", "application/json; charset", valid},
		{"empty body", "application/json", nil},
		{"whitespace body", "application/json", []byte("  \n ")},
		{"array body", "application/json", []byte("[]")},
		{"string body", "application/json", []byte(`"x"`)},
		{"number body", "application/json", []byte("1")},
		{"null body", "application/json", []byte("null")},
		{"truncated JSON", "application/json", valid[:len(valid)/2]},
		{"two objects", "application/json", append(append([]byte{}, valid...), valid...)},
		{"trailing garbage", "application/json", append(append([]byte{}, valid...), 'x')},
		{"byte order mark", "application/json", append([]byte("\xef\xbb\xbf"), valid...)},
		{"invalid UTF-8 outside strings", "application/json", append(append([]byte{}, valid...), 0xff)},
		{"unknown field", "application/json", []byte(strings.Replace(string(valid), "{", `{"no_such_field": 1,`, 1))},
		{"deep nesting", "application/json", []byte(`{"` + first + `": ` + deep + `}`)},
		{"duplicate key", "application/json", []byte(strings.Replace(string(valid), "{", `{"`+first+`": "x",`, 1))},
		{"NUL key", "application/json", []byte(`{"a\u0000b": 1}`)},
		{"2 MB body", "application/json", append([]byte(`{"`+first+`": "`), append(bytes.Repeat([]byte("a"), 2<<20), '"', '}')...)},
	} {
		if m.what == "duplicate key" && first == "" {
			continue
		}
		mk("body "+m.what, allowed, path, m.ctype, m.body, true, "")
	}
	// Each field.
	var fields []string
	for f := range schema.Properties {
		if !schema.Properties[f].ReadOnly {
			fields = append(fields, f)
		}
	}
	sort.Strings(fields)
	for _, f := range fields {
		p := schema.Properties[f]
		required := slices.Contains(schema.Required, f)
		if required {
			b := w.body(schemaName, schema)
			delete(b, f)
			raw, _ := json.Marshal(b)
			mk("field "+f+" missing", allowed, path, "application/json", raw, true, f)
		}
		for _, m := range mutations(p, required) {
			b := w.body(schemaName, schema)
			delete(b, f)
			rest, _ := json.Marshal(b)
			raw := []byte(`{"` + f + `": ` + m.raw)
			if len(rest) > 2 {
				raw = append(append(raw, ','), rest[1:]...)
			} else {
				raw = append(raw, '}')
			}
			mk("field "+f+" "+m.what, allowed, path, "application/json", raw, m.forbidden, f)
			// Who may not use the route is refused before the body is read.
			if m.what == "NUL" {
				for _, r := range []string{"", "viewer", "operator", "admin"} {
					if !roleAllows(r, op.Role) {
						mk("field "+f+" "+m.what, r, path, "application/json", raw, true, "")
					}
				}
			}
		}
	}
	return out
}

func firstField(body []byte) string {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// queryEscapeBytes percent-encodes every byte that is not plainly safe,
// invalid UTF-8 included.
func queryEscapeBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// badResult is what one request got.
type badResult struct {
	status int
	body   string
	err    error
}

func (w *badInputWorld) send(ctx context.Context, hc *http.Client, c badCase) badResult {
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, w.base+c.path, body)
	if err != nil {
		return badResult{err: err}
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	if tok := w.tokens[c.role]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return badResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return badResult{status: resp.StatusCode, body: string(b), err: err}
}

// check returns what is wrong with the answer to c, or "".
func (w *badInputWorld) check(c badCase, need string, r badResult) string {
	switch {
	case r.err != nil:
		return fmt.Sprintf("no answer: %v", r.err)
	case r.status >= 500:
		return fmt.Sprintf("status %d: %s", r.status, clip(r.body))
	case !roleAllows(c.role, need) && c.role == "" && r.status != http.StatusUnauthorized:
		return fmt.Sprintf("anonymous: status %d, want 401", r.status)
	case !roleAllows(c.role, need) && c.role != "" && r.status != http.StatusForbidden:
		return fmt.Sprintf("%s: status %d, want 403", c.role, r.status)
	case c.forbidden && r.status < 400:
		return fmt.Sprintf("status %d for a value the document forbids: %s", r.status, clip(r.body))
	}
	for _, s := range w.secrets {
		// The document's examples are public; everything else is not.
		if s != "" && strings.Contains(r.body, s) && c.route != "GET /openapi.json" {
			return fmt.Sprintf("the answer holds a secret (%.6s…)", s)
		}
	}
	if r.status == http.StatusBadRequest && c.forbidden && c.field != "" && roleAllows(c.role, need) {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(r.body), &e) != nil || !strings.Contains(e.Error, c.field) {
			return fmt.Sprintf("400 does not name %s: %s", c.field, clip(r.body))
		}
	}
	return ""
}

// maxLogLine bounds one line of the server's log, whatever was sent.
const maxLogLine = 8 << 10

// TestBadInput is the bad-input suite.
func TestBadInput(t *testing.T) {
	w := newBadInputWorld(t)
	doc := loadDoc(t, w.base)
	w.secrets = append(w.secrets, docSecrets(doc)...)
	var all []badCase
	roles := map[string]string{}
	for tpl, ops := range doc.Paths {
		for method, op := range ops {
			all = append(all, w.cases(doc, tpl, method, op)...)
			roles[strings.ToUpper(method)+" "+tpl] = op.Role
		}
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var (
		mu          sync.Mutex
		table       = map[string]map[int]int{}
		failures    []string
		slowest     time.Duration
		slowestCase string
	)
	work := make(chan badCase)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				t0 := time.Now()
				r := w.send(ctx, hc, c)
				took := time.Since(t0)
				problem := w.check(c, roles[c.route], r)
				mu.Lock()
				if took > slowest {
					slowest, slowestCase = took, c.route+" "+c.what
				}
				if table[c.route] == nil {
					table[c.route] = map[int]int{}
				}
				table[c.route][r.status]++
				if problem != "" {
					failures = append(failures, fmt.Sprintf("%s %s as %q (%s): %s", c.route, c.what, c.role, c.path, problem))
				}
				mu.Unlock()
			}
		}()
	}
	for _, c := range all {
		work <- c
	}
	close(work)
	wg.Wait()

	t.Logf("%d requests over %d operations; the slowest took %v (%s)", len(all), len(table), slowest.Round(time.Millisecond), slowestCase)
	t.Log(statusTable(table))
	sort.Strings(failures)
	for i, f := range failures {
		if i == 200 {
			t.Errorf("… and %d more", len(failures)-i)
			break
		}
		t.Error(f)
	}
	for i, line := range strings.Split(w.env.logs.String(), "\n") {
		if len(line) > maxLogLine {
			t.Errorf("log line %d is %d bytes long (bound %d): %.200s…", i+1, len(line), maxLogLine, line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("log line %d is not valid UTF-8: %.200q", i+1, line)
		}
	}
}

// statusTable renders route x status counts.
func statusTable(table map[string]map[int]int) string {
	statusSet := map[int]bool{}
	var routes []string
	for r, m := range table {
		routes = append(routes, r)
		for s := range m {
			statusSet[s] = true
		}
	}
	sort.Strings(routes)
	var statuses []int
	for s := range statusSet {
		statuses = append(statuses, s)
	}
	sort.Ints(statuses)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-45s", "route")
	for _, s := range statuses {
		fmt.Fprintf(&b, "%6d", s)
	}
	b.WriteByte('\n')
	for _, r := range routes {
		fmt.Fprintf(&b, "%-45s", r)
		for _, s := range statuses {
			fmt.Fprintf(&b, "%6d", table[r][s])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestOpenAPILimitsEnforced checks that the server enforces exactly the
// limits the document states: for every documented bound of a body field
// (maxLength, minLength, maximum, minimum, maxItems, minItems) a value at
// the bound is not refused for that field, and one past it is refused with
// a 400 naming the field; for query parameters, integer bounds both ways
// and string lengths past the bound. References (int64 ids) are left out:
// whether an id is valid depends on the rows, not on a bound.
func TestOpenAPILimitsEnforced(t *testing.T) {
	w := newBadInputWorld(t)
	doc := loadDoc(t, w.base)
	hc := &http.Client{Timeout: 30 * time.Second}
	ctx := context.Background()
	var paths []string
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	checked := 0
	for _, tpl := range paths {
		for method, op := range doc.Paths[tpl] {
			method = strings.ToUpper(method)
			role := ""
			for _, r := range []string{"", "viewer", "operator", "admin"} {
				if roleAllows(r, op.Role) {
					role = r
					break
				}
			}
			path := w.pathFor(tpl, method)
			schema := doc.bodySchema(op)
			schemaName := ""
			if schema != nil {
				schemaName = strings.TrimPrefix(op.RequestBody.Content["application/json"].Schema.Ref, "#/components/schemas/")
			}
			send := func(query string, body map[string]any) badResult {
				c := badCase{method: method, path: path + query, role: role}
				if schema != nil {
					c.body, _ = json.Marshal(body)
					c.ctype = "application/json"
				}
				return w.send(ctx, hc, c)
			}
			refused := func(r badResult, field string) bool {
				var e struct {
					Error string `json:"error"`
				}
				return r.status == http.StatusBadRequest && json.Unmarshal([]byte(r.body), &e) == nil && strings.Contains(e.Error, field)
			}
			for _, prm := range op.Parameters {
				if prm.In != "query" || prm.Schema == nil {
					continue
				}
				for _, b := range limitsOf(prm.Schema) {
					for _, past := range []bool{false, true} {
						b.past = past
						if prm.Schema.Type == "string" && !b.past {
							continue // a filter's text must also mean something
						}
						if prm.Schema.Type != "string" && prm.Schema.Type != "integer" {
							continue
						}
						q := "?" + prm.Name + "=" + queryEscapeBytes(b.text(w, prm.Schema, nil))
						r := send(q, w.bodyOrNil(schemaName, schema))
						checked++
						if b.past != refused(r, prm.Name) {
							t.Errorf("%s %s%s (%s): status %d %s", method, tpl, q[:min(len(q), 60)], b.what, r.status, clip(r.body))
						}
					}
				}
			}
			if schema == nil {
				continue
			}
			var fields []string
			for f := range schema.Properties {
				fields = append(fields, f)
			}
			sort.Strings(fields)
			for _, f := range fields {
				p := schema.Properties[f]
				if p.ReadOnly || p.Format == "int64" {
					continue
				}
				required := slices.Contains(schema.Required, f)
				for _, b := range limitsOf(p) {
					if !required && b.empty {
						continue // an optional field left empty is left out
					}
					ok := false
					var last badResult
					for _, v := range b.values(w, schemaName, f, p) {
						body := w.body(schemaName, schema)
						body[f] = v.at
						last = send("", body)
						if refused(last, f) {
							continue // this way of filling the field is refused for another reason
						}
						body = w.body(schemaName, schema)
						body[f] = v.past
						r := send("", body)
						checked++
						if !refused(r, f) {
							t.Errorf("%s %s %s: %s: status %d, want 400 naming %s: %s", method, tpl, f, b.what, r.status, f, clip(r.body))
						}
						ok = true
						break
					}
					if !ok {
						t.Errorf("%s %s %s: the value at %s is refused: %s", method, tpl, f, b.what, clip(last.body))
					}
				}
			}
		}
	}
	t.Logf("%d documented limits checked", checked)
	if checked < 40 {
		t.Errorf("only %d limits checked; is the document still stating them?", checked)
	}
}

func (w *badInputWorld) bodyOrNil(name string, s *apiSchema) map[string]any {
	if s == nil {
		return nil
	}
	return w.body(name, s)
}

// bound is one documented limit of a field.
type bound struct {
	what  string
	kind  string // "length", "integer", "items"
	n     int64  // the bound itself
	step  int64  // +1 past a maximum, -1 past a minimum
	past  bool   // for query parameters: send the value past the bound
	empty bool   // the value past the bound is empty
}

func limitsOf(s *apiSchema) []bound {
	var out []bound
	if s.MaxLength != nil {
		out = append(out, bound{what: "maxLength", kind: "length", n: int64(*s.MaxLength), step: 1})
	}
	if s.MinLength != nil && *s.MinLength > 0 {
		out = append(out, bound{what: "minLength", kind: "length", n: int64(*s.MinLength), step: -1, empty: *s.MinLength == 1})
	}
	if s.Maximum != nil {
		if n, err := s.Maximum.Int64(); err == nil {
			out = append(out, bound{what: "maximum", kind: "integer", n: n, step: 1})
		}
	}
	if s.Minimum != nil {
		if n, err := s.Minimum.Int64(); err == nil {
			out = append(out, bound{what: "minimum", kind: "integer", n: n, step: -1})
		}
	}
	if s.MaxItems != nil {
		out = append(out, bound{what: "maxItems", kind: "items", n: int64(*s.MaxItems), step: 1})
	}
	if s.MinItems != nil && *s.MinItems > 0 {
		out = append(out, bound{what: "minItems", kind: "items", n: int64(*s.MinItems), step: -1, empty: *s.MinItems == 1})
	}
	return out
}

// text is a query parameter's value at or past the bound.
func (b bound) text(w *badInputWorld, s *apiSchema, _ any) string {
	n := b.n
	if b.past {
		n += b.step
	}
	if b.kind == "length" {
		return w.word(int(n))
	}
	return strconv.FormatInt(n, 10)
}

// atPast is a body value at a bound and the same one just past it.
type atPast struct{ at, past any }

// values are ways to fill a field up to the bound: a plain word, the
// document's example padded at its end or in its middle. The first way
// whose value at the bound is accepted decides.
func (b bound) values(w *badInputWorld, schemaName, field string, s *apiSchema) []atPast {
	past := b.n + b.step
	switch b.kind {
	case "integer":
		return []atPast{{json.Number(strconv.FormatInt(b.n, 10)), json.Number(strconv.FormatInt(past, 10))}}
	case "items":
		item := any("x")
		if v, ok := w.value(schemaName, field, s).([]any); ok && len(v) > 0 {
			item = v[0]
		} else if s.Items != nil {
			item = w.value(schemaName, field, s.Items)
		}
		fill := func(n int64) []any {
			out := make([]any, n)
			for i := range out {
				out[i] = item
			}
			return out
		}
		return []atPast{{fill(b.n), fill(past)}}
	}
	out := []atPast{{w.word(int(b.n)), w.word(int(past))}}
	var ex string
	if json.Unmarshal(s.Example, &ex) == nil && ex != "" && int64(len(ex)) < min(b.n, past) {
		pad := func(n int64, c string) string { return ex + strings.Repeat(c, int(n)-len(ex)) }
		out = append(out, atPast{pad(b.n, "a"), pad(past, "a")})
		if i := strings.Index(ex, " "); i > 0 {
			inner := func(n int64) string { return ex[:i] + strings.Repeat(" ", int(n)-len(ex)) + ex[i:] }
			out = append(out, atPast{inner(b.n), inner(past)})
		}
		out = append(out, atPast{pad(b.n, " "), pad(past, " ")})
	}
	return out
}

// uploadBoundary separates the parts of the multipart bodies below.
const uploadBoundary = "scantron-test-boundary"

// multipartBody is a multipart/form-data body of parts, each a field name,
// a file name ("" for a plain field) and content, ended unless cut.
func multipartBody(cut bool, parts ...[3]string) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString("--" + uploadBoundary + "\r\n")
		if p[1] != "" {
			fmt.Fprintf(&b, "Content-Disposition: form-data; name=%q; filename=%q\r\nContent-Type: application/octet-stream\r\n\r\n", p[0], p[1])
		} else {
			fmt.Fprintf(&b, "Content-Disposition: form-data; name=%q\r\n\r\n", p[0])
		}
		b.WriteString(p[2] + "\r\n")
	}
	if !cut {
		b.WriteString("--" + uploadBoundary + "--\r\n")
	}
	return b.Bytes()
}

// importXML is nmap output of one host, in the test site's 198.18.0.0/28
// unless addr says otherwise.
func importXML(addr, scanner string) string {
	return `<?xml version="1.0"?>
<nmaprun scanner="` + scanner + `" args="nmap -n ` + addr + `" start="1700000000" version="7.94" xmloutputversion="1.05">
<host starttime="1700000000" endtime="1700000001"><status state="up" reason="echo-reply"/>
<address addr="` + addr + `" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/><service name="ssh"/></port></ports></host>
<runstats><finished time="1700000002" elapsed="2" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
`
}

// multipartMutations are the upload bodies an import must take (the first)
// or refuse with a 4xx, and the field a 400 must name.
func multipartMutations() []struct {
	what, ctype string
	body        []byte
	forbidden   bool
	field       string
} {
	ct := "multipart/form-data; boundary=" + uploadBoundary
	valid := importXML("198.18.0.2", "nmap")
	laughs := `<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>` +
		`<nmaprun scanner="nmap" start="1700000000"><host><status state="up" reason="x"/><address addr="198.18.0.2" addrtype="ipv4"/><hostnames><hostname name="&c;"/></hostnames></host></nmaprun>`
	external := `<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file:///etc/passwd">]>` +
		`<nmaprun scanner="nmap" start="1700000000"><host><status state="up" reason="&x;"/><address addr="198.18.0.2" addrtype="ipv4"/></host></nmaprun>`
	huge := `<?xml version="1.0"?><nmaprun scanner="nmap" start="1700000000" args="` + strings.Repeat("a", 5<<20) + `"></nmaprun>`
	type m = struct {
		what, ctype string
		body        []byte
		forbidden   bool
		field       string
	}
	return []m{
		{"valid nmap XML", ct, multipartBody(false, [3]string{"file", "scan.xml", valid}), false, ""},
		{"no file part", ct, multipartBody(false, [3]string{"other", "", "x"}), true, "file"},
		{"no parts", ct, []byte("--" + uploadBoundary + "--\r\n"), true, "file"},
		{"empty file", ct, multipartBody(false, [3]string{"file", "empty.xml", ""}), true, "file"},
		{"whitespace file", ct, multipartBody(false, [3]string{"file", "blank.xml", " \n\t "}), true, "file"},
		{"not XML or JSON", ct, multipartBody(false, [3]string{"file", "notes.txt", "hello, world"}), true, ""},
		{"JSON not masscan", ct, multipartBody(false, [3]string{"file", "x.json", `{"hosts": [1, 2]}`}), true, ""},
		{"grepable nmap output", ct, multipartBody(false, [3]string{"file", "scan.gnmap", "# Nmap 7.94 scan initiated\nHost: 198.18.0.2 ()\tStatus: Up\n"}), true, ""},
		{"truncated XML", ct, multipartBody(false, [3]string{"file", "cut.xml", valid[:len(valid)/2]}), true, ""},
		{"entity expansion", ct, multipartBody(false, [3]string{"file", "laughs.xml", laughs}), true, ""},
		{"external entity", ct, multipartBody(false, [3]string{"file", "xxe.xml", external}), true, ""},
		{"5 MiB attribute", ct, multipartBody(false, [3]string{"file", "huge.xml", huge}), true, ""},
		{"another scanner", ct, multipartBody(false, [3]string{"file", "zmap.xml", importXML("198.18.0.2", "zmap")}), true, ""},
		{"host outside the site", ct, multipartBody(false, [3]string{"file", "out.xml", importXML("198.51.100.7", "nmap")}), true, ""},
		{"one good file and one bad", ct, multipartBody(false, [3]string{"file", "a.xml", valid}, [3]string{"file", "b.xml", "junk"}), true, ""},
		{"cut-off multipart", ct, multipartBody(true, [3]string{"file", "scan.xml", valid}), true, "file"},
		{"no boundary", "multipart/form-data", multipartBody(false, [3]string{"file", "scan.xml", valid}), true, "file"},
		{"JSON body", "application/json", []byte(`{"file": "x"}`), true, "file"},
		{"no body", "", nil, true, "file"},
	}
}
