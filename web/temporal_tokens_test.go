package web

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/temporalauth"
)

func withTokens(tt TemporalTokens) envOption {
	return func(_ *Config, d *Deps) { d.TemporalTokens = tt }
}

// signedTokenRequest is the body an agent sends, signed with credential as
// of at.
func signedTokenRequest(t *testing.T, agent, credential string, at time.Time) string {
	t.Helper()
	r := scan.TokenRequest{Agent: agent, At: at, Nonce: "n-" + uniq("nonce")}
	sig, err := scan.SignTokenRequest(credential, r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(temporalauth.TokenRequest{Agent: agent, Time: at.Unix(), Nonce: r.Nonce, Signature: sig})
	return string(body)
}

func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS", tok)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestAgentTemporalToken: an agent trades a request signed with its
// credential for a token naming its own queue and the pools the server put
// it in; anything else gets a 4xx naming the field.
func TestAgentTemporalToken(t *testing.T) {
	signer := temporalauth.NewSigner(testStore, temporalauth.Policy{}, nil)
	e := newEnv(t, withTokens(signer))
	name, pool, other := uniq("tok"), uniq("pool"), uniq("pool")
	var agent createdAgent
	e.mustDo(t, "POST", "/api/v1/agents", `{"name":"`+name+`"}`, http.StatusCreated, &agent)
	var otherAgent createdAgent
	e.mustDo(t, "POST", "/api/v1/agents", `{"name":"`+uniq("tok")+`"}`, http.StatusCreated, &otherAgent)
	for _, p := range []string{pool, other} {
		e.mustDo(t, "POST", "/api/v1/pools", `{"name":"`+p+`"}`, http.StatusCreated, nil)
	}
	var pools agentPoolsView
	e.mustDo(t, "PUT", fmt.Sprintf("/api/v1/agents/%d/pools", agent.ID), `{"pools":["`+pool+`"]}`, http.StatusOK, &pools)
	if !slices.Equal(pools.Pools, []string{pool}) {
		t.Fatalf("pools after PUT = %v", pools.Pools)
	}
	e.mustDo(t, "GET", fmt.Sprintf("/api/v1/agents/%d/pools", agent.ID), "", http.StatusOK, &pools)
	if !slices.Equal(pools.Pools, []string{pool}) {
		t.Fatalf("pools after GET = %v", pools.Pools)
	}

	var resp temporalauth.TokenResponse
	w := e.doAs(t, "", "POST", "/api/v1/agents/temporal-token", signedTokenRequest(t, name, agent.Credential, e.now))
	if w.Code != http.StatusOK {
		t.Fatalf("token: %d %s\n%s", w.Code, w.Body, e.logs)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	wantQueues := []string{"agent." + name, "pool." + pool}
	claims := tokenClaims(t, resp.Token)
	if !slices.Equal(resp.Queues, wantQueues) || fmt.Sprint(claims["scantron_queues"]) != fmt.Sprint(wantQueues) ||
		claims["sub"] != "agent:"+name || fmt.Sprint(claims["permissions"]) != "[default:worker]" {
		t.Fatalf("answer %+v, claims %v; want queues %v", resp, claims, wantQueues)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("a token answer may be cached")
	}

	// The JWKS is public and names the key that signed the token.
	w = e.doAs(t, "", "GET", "/.well-known/jwks.json", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"kty":"EC"`) {
		t.Fatalf("jwks: %d %s", w.Code, w.Body)
	}
	head, _ := base64.RawURLEncoding.DecodeString(strings.Split(resp.Token, ".")[0])
	var h struct{ Kid string }
	_ = json.Unmarshal(head, &h)
	if h.Kid == "" || !strings.Contains(w.Body.String(), `"kid":"`+h.Kid+`"`) {
		t.Errorf("jwks %s lacks the token's key %q", w.Body, h.Kid)
	}

	refused := []struct {
		name, body string
		status     int
		field      string
	}{
		{"another agent's name, own credential", signedTokenRequest(t, otherAgent.Name, agent.Credential, e.now), http.StatusUnauthorized, "signature:"},
		{"unknown agent", signedTokenRequest(t, uniq("ghost"), agent.Credential, e.now), http.StatusUnauthorized, "signature:"},
		{"signed too long ago", signedTokenRequest(t, name, agent.Credential, e.now.Add(-3*time.Minute)), http.StatusUnauthorized, "time:"},
		{"signed in the future", signedTokenRequest(t, name, agent.Credential, e.now.Add(3*time.Minute)), http.StatusUnauthorized, "time:"},
		{"bad name", `{"agent":"Not An Agent","time":1,"nonce":"x","signature":"AAAA"}`, http.StatusBadRequest, "agent:"},
		{"no signature", `{"agent":"` + name + `","time":1,"nonce":"x"}`, http.StatusBadRequest, "signature:"},
		{"no nonce", `{"agent":"` + name + `","time":1,"signature":"AAAA"}`, http.StatusBadRequest, "nonce:"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			w := e.doAs(t, "", "POST", "/api/v1/agents/temporal-token", tt.body)
			if w.Code != tt.status || !strings.HasPrefix(errorOf(t, w), tt.field) {
				t.Fatalf("%d %s; want %d naming %s", w.Code, w.Body, tt.status, tt.field)
			}
		})
	}

	t.Run("users' tokens", func(t *testing.T) {
		for role, want := range map[accounts.Role]string{accounts.Admin: "default:admin", accounts.Operator: "default:write", accounts.Viewer: "default:read"} {
			w := e.doAs(t, e.userToken(t, role), "POST", "/api/v1/me/temporal-token", "")
			var got userTokenResponse
			if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &got) != nil {
				t.Fatalf("%s: %d %s", role, w.Code, w.Body)
			}
			claims := tokenClaims(t, got.Token)
			if fmt.Sprint(claims["permissions"]) != "["+want+"]" || claims["scantron_queues"] != nil || !strings.HasPrefix(claims["sub"].(string), "user:") {
				t.Errorf("%s's token claims %v, want permissions [%s] and no queues", role, claims, want)
			}
		}
		if w := e.doAs(t, "", "POST", "/api/v1/me/temporal-token", ""); w.Code != http.StatusUnauthorized {
			t.Errorf("a token without login: %d %s", w.Code, w.Body)
		}
	})

	t.Run("pools", func(t *testing.T) {
		w := e.do(t, "PUT", fmt.Sprintf("/api/v1/agents/%d/pools", agent.ID), `{"pools":["`+uniq("nopool")+`"]}`)
		if w.Code != http.StatusNotFound || !strings.HasPrefix(errorOf(t, w), "pools:") {
			t.Errorf("unknown pool: %d %s", w.Code, w.Body)
		}
		w = e.do(t, "PUT", fmt.Sprintf("/api/v1/agents/%d/pools", agent.ID), `{"pools":["Bad Name"]}`)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(errorOf(t, w), "pools:") {
			t.Errorf("bad pool name: %d %s", w.Code, w.Body)
		}
		w = e.doAs(t, e.userToken(t, accounts.Operator), "PUT", fmt.Sprintf("/api/v1/agents/%d/pools", agent.ID), `{"pools":[]}`)
		if w.Code != http.StatusForbidden {
			t.Errorf("an operator set an agent's pools: %d %s", w.Code, w.Body)
		}
		e.mustDo(t, "GET", fmt.Sprintf("/api/v1/agents/%d/pools", agent.ID), "", http.StatusOK, &pools)
		if !slices.Equal(pools.Pools, []string{pool}) {
			t.Errorf("refused changes changed the pools: %v", pools.Pools)
		}
	})
}

func TestTemporalTokensDisabled(t *testing.T) {
	e := newEnv(t)
	for _, req := range [][2]string{{"POST", "/api/v1/agents/temporal-token"}, {"GET", "/.well-known/jwks.json"}, {"POST", "/api/v1/me/temporal-token"}} {
		body := ""
		if req[0] == "POST" {
			body = `{"agent":"a","time":1,"nonce":"x","signature":"AAAA"}`
		}
		token := ""
		if strings.HasPrefix(req[1], "/api/v1/me/") {
			token = e.token
		}
		w := e.doAs(t, token, req[0], req[1], body)
		if w.Code != http.StatusNotFound || !strings.Contains(errorOf(t, w), "no Temporal tokens") {
			t.Errorf("%s %s without tokens: %d %s", req[0], req[1], w.Code, w.Body)
		}
	}
}
