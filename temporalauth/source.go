package temporalauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/scan"
)

// TokenPath is the scantron server's endpoint where an agent trades a
// request signed with its credential for a Temporal token; JWKSPath is
// where Temporal reads the public keys.
const (
	TokenPath = "/api/v1/agents/temporal-token"
	JWKSPath  = "/.well-known/jwks.json"
)

// TokenRequest is the body of a POST to TokenPath.
type TokenRequest struct {
	Agent     string `json:"agent"`
	Time      int64  `json:"time"` // Unix seconds
	Nonce     string `json:"nonce"`
	Signature []byte `json:"signature"`
}

// TokenResponse is the answer to a TokenRequest.
type TokenResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Namespace string    `json:"namespace"`
	Queues    []string  `json:"queues"`
}

// Source hands out a token, fetching a new one when the one it holds is
// within a third of its lifetime of expiring, so that a call never carries
// a token about to lapse. Safe for concurrent use.
type Source struct {
	fetch func(ctx context.Context) (string, time.Time, error)
	now   func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	renewAt time.Time
}

// NewSource returns a Source over fetch, which returns a token and its expiry.
func NewSource(fetch func(ctx context.Context) (string, time.Time, error)) *Source {
	return &Source{fetch: fetch, now: time.Now}
}

// Token returns a valid token.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.renewAt) {
		return s.token, nil
	}
	tok, exp, err := s.fetch(ctx)
	if err != nil {
		if s.token != "" && now.Before(s.expires) {
			return s.token, nil // still valid: try again on the next call
		}
		return "", err
	}
	s.token, s.expires = tok, exp
	s.renewAt = now.Add(exp.Sub(now) * 2 / 3)
	return tok, nil
}

// Credentials makes every Temporal call carry the Source's token as a
// bearer token.
func (s *Source) Credentials() client.Credentials {
	return client.NewAPIKeyDynamicCredentials(s.Token)
}

// AgentFetcher asks the scantron server at serverURL for the named agent's
// token, signing the request with its credential.
func AgentFetcher(serverURL, agent, credential string, hc *http.Client) func(ctx context.Context) (string, time.Time, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	url := strings.TrimRight(serverURL, "/") + TokenPath
	return func(ctx context.Context) (string, time.Time, error) {
		resp, err := FetchAgentToken(ctx, hc, url, agent, credential, time.Now())
		if err != nil {
			return "", time.Time{}, err
		}
		return resp.Token, resp.ExpiresAt, nil
	}
}

// FetchAgentToken makes one signed token request at the given time.
func FetchAgentToken(ctx context.Context, hc *http.Client, url, agent, credential string, at time.Time) (TokenResponse, error) {
	var out TokenResponse
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return out, err
	}
	req := TokenRequest{Agent: agent, Time: at.Unix(), Nonce: base64.RawURLEncoding.EncodeToString(nonce)}
	sig, err := scan.SignTokenRequest(credential, scan.TokenRequest{Agent: req.Agent, At: time.Unix(req.Time, 0), Nonce: req.Nonce})
	if err != nil {
		return out, err
	}
	req.Signature = sig
	body, err := json.Marshal(req)
	if err != nil {
		return out, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(hreq)
	if err != nil {
		return out, fmt.Errorf("temporal token: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("temporal token: %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	if err := json.Unmarshal(data, &out); err != nil || out.Token == "" {
		return out, fmt.Errorf("temporal token: unexpected answer from %s", url)
	}
	return out, nil
}
