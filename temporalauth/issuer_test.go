package temporalauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

type jwks struct {
	Keys []struct {
		Kty, Crv, X, Y, Kid, Alg string
	} `json:"keys"`
}

func readJWKS(t *testing.T, s *Signer) map[string]*ecdsa.PublicKey {
	t.Helper()
	data, err := s.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set jwks
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	out := map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" {
			t.Fatalf("key %+v is not an ES256 P-256 key", k)
		}
		x, _ := base64.RawURLEncoding.DecodeString(k.X)
		y, _ := base64.RawURLEncoding.DecodeString(k.Y)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
		if err != nil {
			t.Fatalf("key %s: %v", k.Kid, err)
		}
		out[k.Kid] = pub
	}
	return out
}

// verify checks a compact ES256 JWS against keys the way a JWT library
// does, and returns its header and claims.
func verify(t *testing.T, tok string, keys map[string]*ecdsa.PublicKey) (map[string]any, map[string]any, error) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", tok, len(parts))
	}
	var header, claims map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	c, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(h, &header) != nil || json.Unmarshal(c, &claims) != nil {
		t.Fatalf("token %q does not decode", tok)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	key := keys[header["kid"].(string)]
	if key == nil {
		return header, claims, errors.New("unknown kid")
	}
	if len(sig) != 64 {
		return header, claims, errors.New("signature is not r||s")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(key, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return header, claims, errors.New("bad signature")
	}
	return header, claims, nil
}

func TestAgentTokenClaims(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := NewSigner(&MemoryKeys{}, Policy{TokenTTL: 10 * time.Minute}, func() time.Time { return now })
	tok, exp, err := s.AgentToken(context.Background(), "edge-1", "default", []string{"agent.edge-1", "pool.dmz"})
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("expiry %v, want %v", exp, now.Add(10*time.Minute))
	}
	header, claims, err := verify(t, tok, readJWKS(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if header["alg"] != "ES256" || header["typ"] != "JWT" {
		t.Errorf("header %v", header)
	}
	want := map[string]any{
		"iss": "scantron", "aud": "temporal", "sub": "agent:edge-1",
		"iat": float64(now.Unix()), "nbf": float64(now.Add(-time.Minute).Unix()), "exp": float64(now.Add(10 * time.Minute).Unix()),
		"permissions": []any{"default:worker"}, "scantron_queues": []any{"agent.edge-1", "pool.dmz"},
	}
	got, _ := json.Marshal(claims)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("claims\n %s\nwant\n %s", got, wantJSON)
	}

	svc, _, err := s.ServiceToken(context.Background(), "scantron-server", "default", RoleWrite)
	if err != nil {
		t.Fatal(err)
	}
	_, claims, err = verify(t, svc, readJWKS(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if _, has := claims["scantron_queues"]; has || claims["sub"] != "scantron-server" {
		t.Errorf("service token claims %v: want no queues claim", claims)
	}
	if _, _, err := s.AgentToken(context.Background(), "edge-1", "default", nil); err == nil {
		t.Error("an agent token with no queues was minted")
	}
}

// TestKeyRotation follows one server's keys over two key lifetimes: the
// successor is published PublishLead before it signs, the predecessor stays
// published until its last token has expired, and every token verifies
// against the key set Temporal would read at that moment.
func TestKeyRotation(t *testing.T) {
	store := &MemoryKeys{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pol := Policy{TokenTTL: 10 * time.Minute, KeyLifetime: time.Hour, PublishLead: 2 * time.Minute}
	s := NewSigner(store, pol, func() time.Time { return now })
	ctx := context.Background()

	mint := func() (string, string) {
		t.Helper()
		tok, _, err := s.AgentToken(ctx, "a", "default", []string{"agent.a"})
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := verify(t, tok, readJWKS(t, s))
		if err != nil {
			t.Fatalf("at %v: %v", now, err)
		}
		return tok, h["kid"].(string)
	}
	_, first := mint()
	if ids := slices.Collect(maps.Keys(readJWKS(t, s))); !slices.Equal(ids, []string{first}) {
		t.Fatalf("published %v, want only %s", ids, first)
	}

	// Just before the lead time: still one key.
	now = now.Add(time.Hour - pol.PublishLead - time.Second)
	if _, kid := mint(); kid != first {
		t.Fatalf("key changed early")
	}
	if n := len(readJWKS(t, s)); n != 1 {
		t.Fatalf("%d keys published before the lead time, want 1", n)
	}
	// Within the lead time: the successor is published but does not sign.
	now = now.Add(2 * time.Second)
	lastOld, kid := mint()
	if kid != first {
		t.Fatalf("the successor signed before its time")
	}
	published := readJWKS(t, s)
	if len(published) != 2 {
		t.Fatalf("%d keys published in the lead time, want 2", len(published))
	}
	// After the first key's lifetime: the successor signs, and the first
	// stays published while lastOld may still be in use.
	now = time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	_, second := mint()
	if second == first {
		t.Fatal("no rotation after the key lifetime")
	}
	if _, _, err := verify(t, lastOld, readJWKS(t, s)); err != nil {
		t.Fatalf("the predecessor's last token no longer verifies: %v", err)
	}
	// Once its tokens have expired, the first key is gone.
	now = now.Add(pol.TokenTTL + time.Second)
	mint()
	if _, still := readJWKS(t, s)[first]; still {
		t.Error("the first key is still published after its last token expired")
	}

	// A second server sharing the store signs with the same current key.
	other := NewSigner(store, pol, func() time.Time { return now })
	tok, _, err := other.AgentToken(ctx, "a", "default", []string{"agent.a"})
	if err != nil {
		t.Fatal(err)
	}
	if h, _, err := verify(t, tok, readJWKS(t, s)); err != nil || h["kid"] != second {
		t.Errorf("second server signed with %v (%v), want %s", h["kid"], err, second)
	}
}

func TestSourceRenewsBeforeExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := 0
	fail := false
	src := NewSource(func(context.Context) (string, time.Time, error) {
		calls++
		if fail {
			return "", time.Time{}, errors.New("server down")
		}
		return "tok" + string(rune('0'+calls)), now.Add(9 * time.Minute), nil
	})
	src.now = func() time.Time { return now }
	ctx := context.Background()
	get := func() string {
		t.Helper()
		tok, err := src.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if tok := get(); tok != "tok1" {
		t.Fatalf("first token %q", tok)
	}
	now = now.Add(5 * time.Minute) // before two thirds of 9 minutes
	if tok := get(); tok != "tok1" || calls != 1 {
		t.Fatalf("renewed too early: %q after %d fetches", tok, calls)
	}
	now = now.Add(time.Minute + time.Second) // past two thirds
	if tok := get(); tok != "tok2" || calls != 2 {
		t.Fatalf("not renewed at two thirds: %q after %d fetches", tok, calls)
	}
	// The server is down: the token in hand serves while it is valid...
	fail = true
	now = now.Add(7 * time.Minute)
	if tok := get(); tok != "tok2" {
		t.Fatalf("token in hand not used while the server is down: %q", tok)
	}
	// ...and not after.
	now = now.Add(3 * time.Minute)
	if _, err := src.Token(ctx); err == nil {
		t.Fatal("an expired token was handed out")
	}
}
