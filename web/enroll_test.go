package web

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// enrollEnv is a test server that hands enrolling agents these settings.
func enrollEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t)
	e.srv.enroll.cfg = Enrollment{ServerPublicKey: "c2VydmVyIHB1YmxpYyBrZXkgZm9yIHRoZSB0ZXN0cyE=",
		TemporalAddress: "temporal.test:7233", TemporalNamespace: "scans", TemporalTLS: true,
		TemporalTLSCA: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n", TemporalTLSServerName: "temporal.test"}
	return e
}

func (e *testEnv) joinToken(t *testing.T, body string) createdJoinToken {
	t.Helper()
	var tok createdJoinToken
	e.mustDo(t, "POST", "/api/v1/join-tokens", body, http.StatusCreated, &tok)
	return tok
}

// enrollFrom posts a join token from the given client address.
func (e *testEnv) enrollFrom(t *testing.T, remote, token string) *httptest.ResponseRecorder {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"token": token})
	req := httptest.NewRequest("POST", "/api/v1/enroll", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = remote
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

func TestJoinTokenInput(t *testing.T) {
	e := enrollEnv(t)
	for _, tc := range []struct{ body, field string }{
		{`{}`, "agent_name: required"},
		{`{"agent_name": "Bad Name"}`, "agent_name: \"Bad Name\" is not a valid agent name"},
		{`{"agent_name": "edge-1", "ttl": "2h"}`, "ttl: \"2h\": want a duration from 1m to 1h"},
		{`{"agent_name": "edge-1", "ttl": "soon"}`, "ttl: \"soon\""},
		{`{"agent_name": "edge-1", "pools": ["no-such-pool-x"]}`, "pools[0]: no pool named \"no-such-pool-x\""},
	} {
		w := e.do(t, "POST", "/api/v1/join-tokens", tc.body)
		if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), tc.field) {
			t.Errorf("%s: status %d, %s; want 400 with %q", tc.body, w.Code, w.Body.String(), tc.field)
		}
	}
	// The database refuses a lifetime over an hour whatever the handler says.
	_, err := testStore.CreateJoinToken(context.Background(), accounts.JoinToken{AgentName: "edge-1"}, accounts.HashSecret(accounts.NewJoinToken()), 2*accounts.MaxJoinTokenTTL)
	if err == nil {
		t.Error("the store kept a join token living two hours")
	}
}

// TestEnroll: a token made by an admin is spent once for a fresh credential
// and the settings; spent, expired, unknown and malformed tokens are each
// refused with their own message.
func TestEnroll(t *testing.T) {
	e := enrollEnv(t)
	pool := uniq("pool")
	e.mustDo(t, "POST", "/api/v1/pools", fmt.Sprintf(`{"name": %q}`, pool), http.StatusCreated, nil)
	name := uniq("edge")
	tok := e.joinToken(t, fmt.Sprintf(`{"agent_name": %q, "pools": [%q, %q], "ttl": "10m"}`, name, pool, pool))
	if !accounts.LooksLikeJoinToken(tok.Token) || tok.AgentName != name || len(tok.Pools) != 1 || tok.UsedAt != nil {
		t.Fatalf("join token %+v", tok)
	}
	if d := tok.ExpiresAt.Sub(tok.CreatedAt); d < 9*60e9 || d > 11*60e9 {
		t.Errorf("token lives %s, want 10m", d)
	}
	if want := "scantron agent enroll --server http://example.com --token " + tok.Token; tok.EnrollCommand != want {
		t.Errorf("enroll command %q, want %q", tok.EnrollCommand, want)
	}
	// The token is stored only as its hash.
	var stored int
	if err := testStore.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM join_tokens WHERE secret_hash = $1 AND position($2 in encode(secret_hash, 'escape')) = 0`,
		accounts.HashSecret(tok.Token), tok.Token).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("stored join token: %d, %v", stored, err)
	}

	w := e.enrollFrom(t, "127.0.0.10:1234", tok.Token)
	if w.Code != http.StatusOK {
		t.Fatalf("enroll: %d %s", w.Code, w.Body.String())
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	var b EnrollBundle
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	want := EnrollBundle{AgentName: name, Credential: b.Credential, ServerPublicKey: e.srv.enroll.cfg.ServerPublicKey,
		TemporalAddress: "temporal.test:7233", TemporalNamespace: "scans", TemporalTLS: true,
		TemporalTLSCA: e.srv.enroll.cfg.TemporalTLSCA, TemporalTLSServerName: "temporal.test", Pools: []string{pool}}
	if fmt.Sprint(b) != fmt.Sprint(want) {
		t.Errorf("bundle %+v\nwant %+v", b, want)
	}
	if strings.Contains(strings.ToLower(w.Body.String()), "s3") || strings.Contains(w.Body.String(), "secret_key") {
		t.Errorf("the bundle mentions object storage: %s", w.Body.String())
	}
	// The agent is registered with the public half of the credential.
	agent, err := testStore.GetAgentByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if !credentialMatches(t, b.Credential, agent.PublicKey) || agent.TaskQueue != "agent."+name {
		t.Errorf("registered agent %+v does not hold the credential's key", agent)
	}
	// Its pools are the token's, as the server records them for its
	// Temporal token and its results.
	if pools, err := testStore.AgentPools(context.Background(), agent.ID); err != nil || len(pools) != 1 || pools[0].Name != pool {
		t.Errorf("enrolled agent's pools = %+v, %v; want [%s]", pools, err, pool)
	}

	// Spent: refused, and the agent keeps its credential.
	w = e.enrollFrom(t, "127.0.0.10:1234", tok.Token)
	if w.Code != http.StatusGone || !strings.Contains(errorOf(t, w), "join token already used at ") {
		t.Errorf("spent token: %d %s", w.Code, w.Body.String())
	}
	if again, _ := testStore.GetAgentByName(context.Background(), name); string(again.PublicKey) != string(agent.PublicKey) {
		t.Error("a refused enrollment changed the agent's key")
	}
	// Expired.
	expired := e.joinToken(t, fmt.Sprintf(`{"agent_name": %q}`, uniq("late")))
	if _, err := testStore.Pool().Exec(context.Background(),
		`UPDATE join_tokens SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1`, expired.ID); err != nil {
		t.Fatal(err)
	}
	w = e.enrollFrom(t, "127.0.0.10:1234", expired.Token)
	if w.Code != http.StatusGone || !strings.Contains(errorOf(t, w), "join token expired at ") {
		t.Errorf("expired token: %d %s", w.Code, w.Body.String())
	}
	// Unknown, and not a token at all.
	w = e.enrollFrom(t, "127.0.0.10:1234", accounts.NewJoinToken())
	if w.Code != http.StatusUnauthorized || !strings.Contains(errorOf(t, w), "join token not recognised") {
		t.Errorf("unknown token: %d %s", w.Code, w.Body.String())
	}
	w = e.enrollFrom(t, "127.0.0.10:1234", "sct_"+strings.Repeat("x", 43))
	if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), "token: not a join token") {
		t.Errorf("malformed token: %d %s", w.Code, w.Body.String())
	}

	// The list shows who spent a token and from where, never a secret.
	var listed []accounts.JoinToken
	e.mustDo(t, "GET", "/api/v1/join-tokens", "", http.StatusOK, &listed)
	states := map[int64]accounts.JoinToken{}
	for _, l := range listed {
		states[l.ID] = l
	}
	if got := states[tok.ID]; got.State != "used" || got.UsedFrom != "127.0.0.10" || got.UsedAt == nil {
		t.Errorf("listed spent token %+v", got)
	}
	if got := states[expired.ID]; got.State != "expired" {
		t.Errorf("listed expired token %+v", got)
	}
	if w := e.do(t, "GET", "/api/v1/join-tokens", ""); strings.Contains(w.Body.String(), "scj_") {
		t.Errorf("the list shows a secret: %s", w.Body.String())
	}
	// A revoked token is gone.
	revoked := e.joinToken(t, fmt.Sprintf(`{"agent_name": %q}`, uniq("revoked")))
	if got := revoked.State; got != "pending" {
		t.Errorf("new token state %q", got)
	}
	e.mustDo(t, "DELETE", fmt.Sprintf("/api/v1/join-tokens/%d", revoked.ID), "", http.StatusNoContent, nil)
	if w := e.enrollFrom(t, "127.0.0.10:1234", revoked.Token); w.Code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d %s", w.Code, w.Body.String())
	}
	e.mustDo(t, "DELETE", fmt.Sprintf("/api/v1/join-tokens/%d", revoked.ID), "", http.StatusNotFound, nil)

	// A token for a registered agent gives it a new credential: the old one
	// stops matching.
	re := e.joinToken(t, fmt.Sprintf(`{"agent_name": %q}`, name))
	w = e.enrollFrom(t, "127.0.0.11:1234", re.Token)
	var b2 EnrollBundle
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &b2) != nil {
		t.Fatalf("re-enroll: %d %s", w.Code, w.Body.String())
	}
	again, _ := testStore.GetAgentByName(context.Background(), name)
	if again.ID != agent.ID || !credentialMatches(t, b2.Credential, again.PublicKey) || credentialMatches(t, b.Credential, again.PublicKey) {
		t.Error("re-enrolling did not replace the agent's credential in place")
	}
}

// credentialMatches tells whether a credential signs what key verifies.
func credentialMatches(t *testing.T, credential string, key []byte) bool {
	t.Helper()
	claim := scan.ResultClaim{RunID: 1, ShardID: 2, Agent: "x"}
	sig, err := scan.SignResult(credential, claim)
	if err != nil {
		t.Fatalf("credential %q: %v", credential, err)
	}
	return len(key) == ed25519.PublicKeySize && scan.VerifyResult(key, claim, sig)
}

// TestEnrollOnceUnderConcurrency: many agents racing with one token get
// exactly one credential between them.
func TestEnrollOnceUnderConcurrency(t *testing.T) {
	e := enrollEnv(t)
	tok := e.joinToken(t, fmt.Sprintf(`{"agent_name": %q}`, uniq("race")))
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.enrollFrom(t, fmt.Sprintf("127.0.1.%d:1000", i), tok.Token).Code
		}()
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			won++
		case http.StatusGone:
		default:
			t.Errorf("status %d", c)
		}
	}
	if won != 1 {
		t.Errorf("%d enrollments succeeded with one token (%v), want 1", won, codes)
	}
}

func TestEnrollRateLimitAndConfig(t *testing.T) {
	e := enrollEnv(t)
	for range e.srv.enroll.limiter.perIP {
		e.enrollFrom(t, "127.0.2.1:1", accounts.NewJoinToken())
	}
	w := e.enrollFrom(t, "127.0.2.1:1", accounts.NewJoinToken())
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("after %d failures: %d %s", e.srv.enroll.limiter.perIP, w.Code, w.Body.String())
	}
	// Another address is not held back.
	if w := e.enrollFrom(t, "127.0.2.2:1", accounts.NewJoinToken()); w.Code != http.StatusUnauthorized {
		t.Errorf("other address: %d", w.Code)
	}
	// A server without enrollment settings says so.
	plain := newEnv(t)
	if w := plain.enrollFrom(t, "127.0.2.3:1", accounts.NewJoinToken()); w.Code != http.StatusServiceUnavailable ||
		!strings.Contains(errorOf(t, w), "enrollment is not configured") {
		t.Errorf("unconfigured: %d %s", w.Code, w.Body.String())
	}
}

// TestJoinTokenForm: the Agents page makes a token and shows it once with
// the exact command; bad input comes back beside its field.
func TestJoinTokenForm(t *testing.T) {
	e := enrollEnv(t)
	_, session, csrf := e.sessionFor(t, accounts.Admin)
	w := e.form(t, session, csrf, "/agents/join-tokens", url.Values{"agent_name": {"Bad Agent"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), "agent_name"), "not a valid agent name") {
		t.Errorf("bad name: %d %q", w.Code, fieldError(w.Body.String(), "agent_name"))
	}
	name := uniq("form")
	w = e.form(t, session, csrf, "/agents/join-tokens", url.Values{"agent_name": {name}, "ttl": {"1h"}})
	m := regexp.MustCompile(`id="enroll-command">scantron agent enroll --server http://example.com --token (scj_[A-Za-z0-9_-]{43})<`).FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusCreated || m == nil {
		t.Fatalf("join token form: %d %s", w.Code, w.Body.String())
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("the page showing a join token may be cached")
	}
	if w := e.enrollFrom(t, "127.0.3.1:1", m[1]); w.Code != http.StatusOK {
		t.Errorf("enroll with the form's token: %d %s", w.Code, w.Body.String())
	}
	page := e.page(t, session, "GET", "/agents", nil).Body.String()
	if strings.Contains(page, m[1]) {
		t.Error("the agents page shows the token again")
	}
	if !regexp.MustCompile(`<td>` + regexp.QuoteMeta(name) + `</td>\s*<td>—</td>\s*<td>used [^<]+ from <code>127\.0\.3\.1</code></td>`).MatchString(page) {
		t.Errorf("the agents page does not list the spent token with its address:\n%s", page)
	}
	// Revoking from the page.
	pending := uniq("pending")
	w = e.form(t, session, csrf, "/agents/join-tokens", url.Values{"agent_name": {pending}})
	tok := regexp.MustCompile(`--token (scj_[A-Za-z0-9_-]{43})<`).FindStringSubmatch(w.Body.String())
	revoke := regexp.MustCompile(`<td>` + regexp.QuoteMeta(pending) + `</td>[\s\S]*?action="(/agents/join-tokens/\d+/delete)"[^>]*>\s*<input[^>]*>\s*<button[^>]*data-confirm="Revoke the join token for ` + regexp.QuoteMeta(pending) + `\?">Revoke<`).FindStringSubmatch(w.Body.String())
	if tok == nil || revoke == nil {
		t.Fatalf("no pending token with a revoke button: %s", w.Body.String())
	}
	if w := e.form(t, session, csrf, revoke[1], nil); w.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", w.Code, w.Body.String())
	}
	if w := e.enrollFrom(t, "127.0.3.1:1", tok[1]); w.Code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", w.Code)
	}
	// Operators see agents, not join tokens.
	_, opSession, _ := e.sessionFor(t, accounts.Operator)
	if page := e.page(t, opSession, "GET", "/agents", nil).Body.String(); strings.Contains(page, `id="join-tokens"`) || strings.Contains(page, "join-token-form") {
		t.Error("an operator sees join tokens")
	}
}
