// Package temporalauth issues and fetches the tokens that authorize calls to
// Scantron's Temporal server build (temporal-config/server). The scantron
// server signs short-lived ES256 JWTs with rotated keys it keeps in its
// database, publishes their public halves as a JWKS, and hands each agent,
// on a request signed with the agent's credential, a token naming only its
// own task queue and its pools' queues. Agents fetch and refresh tokens with
// TokenSource.
package temporalauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/scantron/scantron/scan"
)

// The claims the authorizer in temporal-config/server reads. permissions is
// Temporal's (`<namespace>:<role>`); queues makes a token an agent token.
const (
	Issuer      = "scantron"
	Audience    = "temporal"
	claimQueues = "scantron_queues"
)

// Roles of a namespace permission.
const (
	RoleWorker = "worker"
	RoleRead   = "read"
	RoleWrite  = "write"
	RoleAdmin  = "admin"
)

// KeyStore keeps the signing keys. *postgres.Store satisfies it.
type KeyStore interface {
	TemporalTokenKeys(ctx context.Context, now time.Time) ([]scan.TokenKey, error)
	AddTemporalTokenKey(ctx context.Context, k scan.TokenKey, now time.Time) error
}

// Policy sets token and key lifetimes. The zero value means the defaults.
type Policy struct {
	// TokenTTL is how long a token is valid (default 10 minutes).
	TokenTTL time.Duration
	// KeyLifetime is how long one key signs new tokens (default 24 hours).
	KeyLifetime time.Duration
	// PublishLead is how long a new key is published before it signs
	// anything, so that Temporal has read it by then (default 2 minutes;
	// keep it above Temporal's JWKS refresh interval).
	PublishLead time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.TokenTTL <= 0 {
		p.TokenTTL = 10 * time.Minute
	}
	if p.KeyLifetime <= 0 {
		p.KeyLifetime = 24 * time.Hour
	}
	if p.PublishLead <= 0 {
		p.PublishLead = 2 * time.Minute
	}
	return p
}

// Signer mints tokens with the current key, adding the next key to the
// published set PublishLead before it takes over, and keeping a retired key
// published until the last token it signed has expired.
type Signer struct {
	store  KeyStore
	policy Policy
	now    func() time.Time

	mu     sync.Mutex
	keys   []key // published keys, by UseFrom
	loaded time.Time
}

type key struct {
	scan.TokenKey
	priv *ecdsa.PrivateKey
}

// reloadEvery bounds how stale one server's view of the keys may be when
// several servers share the database.
const reloadEvery = 30 * time.Second

// NewSigner returns a Signer over store. now is nil for time.Now.
func NewSigner(store KeyStore, policy Policy, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{store: store, policy: policy.withDefaults(), now: now}
}

// TokenTTL is how long the tokens this Signer mints are valid.
func (s *Signer) TokenTTL() time.Duration { return s.policy.TokenTTL }

// AgentToken mints a worker token for an agent, allowed to poll queues.
func (s *Signer) AgentToken(ctx context.Context, agent, namespace string, queues []string) (string, time.Time, error) {
	if len(queues) == 0 {
		return "", time.Time{}, errors.New("temporalauth: an agent token needs at least one queue")
	}
	return s.mint(ctx, "agent:"+agent, []string{namespace + ":" + RoleWorker}, queues)
}

// ServiceToken mints a token for the scantron server or an operator's tool
// with the given roles in namespace (RoleWrite, RoleAdmin, ...).
func (s *Signer) ServiceToken(ctx context.Context, subject, namespace string, roles ...string) (string, time.Time, error) {
	perms := make([]string, 0, len(roles))
	for _, r := range roles {
		perms = append(perms, namespace+":"+r)
	}
	return s.mint(ctx, subject, perms, nil)
}

func (s *Signer) mint(ctx context.Context, subject string, permissions, queues []string) (string, time.Time, error) {
	k, err := s.signingKey(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	exp := now.Add(s.policy.TokenTTL)
	claims := map[string]any{
		"iss":         Issuer,
		"aud":         Audience,
		"sub":         subject,
		"iat":         now.Unix(),
		"nbf":         now.Add(-time.Minute).Unix(), // other clocks may lag a little
		"exp":         exp.Unix(),
		"permissions": permissions,
	}
	if queues != nil {
		claims[claimQueues] = queues
	}
	tok, err := signES256(k.priv, k.ID, claims)
	return tok, time.Unix(exp.Unix(), 0), err
}

// signingKey returns the key that signs now, making one (and its
// successor, when due) as needed.
func (s *Signer) signingKey(ctx context.Context) (key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.loaded) >= reloadEvery || len(s.keys) == 0 {
		if err := s.load(ctx, now); err != nil {
			return key{}, err
		}
	}
	cur, ok := s.current(now)
	if !ok {
		// First start, or every key has lapsed (a long outage): nothing
		// signed by a new key exists yet, so it may sign at once. Temporal's
		// key set is refetched when a token names an unknown key.
		k, err := s.add(ctx, now, now)
		if err != nil {
			return key{}, err
		}
		return k, nil
	}
	if now.Add(s.policy.PublishLead).After(cur.UseUntil) && !s.hasSuccessor(cur) {
		// Publish the successor now; it signs from cur.UseUntil.
		if _, err := s.add(ctx, now, cur.UseUntil); err != nil {
			return key{}, err
		}
	}
	return cur, nil
}

func (s *Signer) current(now time.Time) (key, bool) {
	var best key
	found := false
	for _, k := range s.keys {
		if !now.Before(k.UseFrom) && now.Before(k.UseUntil) && (!found || k.UseFrom.After(best.UseFrom)) {
			best, found = k, true
		}
	}
	return best, found
}

func (s *Signer) hasSuccessor(cur key) bool {
	for _, k := range s.keys {
		if k.UseUntil.After(cur.UseUntil) {
			return true
		}
	}
	return false
}

func (s *Signer) load(ctx context.Context, now time.Time) error {
	stored, err := s.store.TemporalTokenKeys(ctx, now)
	if err != nil {
		return err
	}
	keys := make([]key, 0, len(stored))
	for _, sk := range stored {
		parsed, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey)
		priv, ok := parsed.(*ecdsa.PrivateKey)
		if err != nil || !ok {
			return fmt.Errorf("temporalauth: stored key %s is not an ECDSA key", sk.ID)
		}
		keys = append(keys, key{TokenKey: sk, priv: priv})
	}
	s.keys, s.loaded = keys, now
	return nil
}

func (s *Signer) add(ctx context.Context, now, useFrom time.Time) (key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return key{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return key{}, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return key{}, err
	}
	sum := sha256.Sum256(pubDER)
	useUntil := useFrom.Add(s.policy.KeyLifetime)
	k := key{TokenKey: scan.TokenKey{
		ID:           base64.RawURLEncoding.EncodeToString(sum[:12]),
		PrivateKey:   der,
		UseFrom:      useFrom,
		UseUntil:     useUntil,
		PublishUntil: useUntil.Add(s.policy.TokenTTL),
	}, priv: priv}
	if err := s.store.AddTemporalTokenKey(ctx, k.TokenKey, now); err != nil {
		return key{}, err
	}
	s.keys = append(s.keys, k)
	return k, nil
}

// JWKS returns the published public keys as a JSON Web Key Set, making the
// first key if there is none yet (so Temporal can start reading it).
func (s *Signer) JWKS(ctx context.Context) ([]byte, error) {
	if _, err := s.signingKey(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	now := s.now()
	for _, k := range s.keys {
		if !now.Before(k.PublishUntil) {
			continue
		}
		pub := &k.priv.PublicKey
		raw, err := pub.Bytes() // uncompressed point: 0x04 || X || Y
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, jwk{Kty: "EC", Crv: "P-256",
			X:   base64.RawURLEncoding.EncodeToString(raw[1:33]),
			Y:   base64.RawURLEncoding.EncodeToString(raw[33:65]),
			Kid: k.ID, Alg: "ES256", Use: "sig"})
	}
	return json.Marshal(set)
}

// signES256 builds a compact JWS (RFC 7515) over claims with ES256: the
// signature is r||s, each 32 bytes (RFC 7518 section 3.4), not ASN.1.
func signES256(priv *ecdsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signing))
	r, sv, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
