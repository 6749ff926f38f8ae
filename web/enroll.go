package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// JoinTokenStore spends join tokens (making and revoking them is the
// operations', manage.JoinTokenStore).
type JoinTokenStore interface {
	EnrollAgent(ctx context.Context, secretHash, publicKey []byte, taskQueue func(name string) string, from string) (scan.Agent, accounts.JoinToken, error)
}

// JoinTokenService is what the join token handlers and forms ask of join
// tokens; *manage.JoinTokens does it.
type JoinTokenService interface {
	Create(ctx context.Context, admin accounts.User, in manage.JoinTokenInput) (accounts.JoinToken, string, error)
	List(ctx context.Context) ([]accounts.JoinToken, error)
	Delete(ctx context.Context, id int64) error
}

// Enrollment is what the server tells an agent that enrolls, besides its
// name and new credential. Empty ServerPublicKey turns enrollment off.
type Enrollment struct {
	// ServerPublicKey is the base64 public key that verifies the specs
	// the server signs.
	ServerPublicKey string
	// TemporalAddress is Temporal's frontend as agents reach it, which may
	// differ from the server's own view of it.
	TemporalAddress   string
	TemporalNamespace string
	// TemporalTLS: agents use TLS to reach Temporal, trusting
	// TemporalTLSCA (PEM; empty: the system's roots) and checking the
	// certificate against TemporalTLSServerName (empty: the address's host).
	TemporalTLS           bool
	TemporalTLSCA         string
	TemporalTLSServerName string
	// TemporalAuth: Temporal admits only tokens the server issues, so the
	// agent trades its credential for one (SCANTRON_TEMPORAL_AUTH).
	TemporalAuth bool
}

// enrollHandlers make join tokens (admins) and trade them for an agent's
// credential and settings (anyone holding one).
type enrollHandlers struct {
	base
	store   JoinTokenStore
	tokens  JoinTokenService
	cfg     Enrollment
	limiter *loginLimiter
	// https: the server is reached over TLS although requests arrive in
	// plain HTTP (behind a TLS proxy), for the enroll command shown.
	https bool
}

// createdJoinToken is the only answer that shows the token.
type createdJoinToken struct {
	accounts.JoinToken
	Token         string `json:"token"`
	EnrollCommand string `json:"enroll_command"`
}

func (h *enrollHandlers) createJoinToken(c *gin.Context) error {
	var in manage.JoinTokenInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	// The route demands an admin, so there is always one.
	row, secret, err := h.tokens.Create(c.Request.Context(), who(c).user, in)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, h.shown(c, row, secret))
	return nil
}

// shown is a new token as its one answer shows it, with the command that
// enrolls the agent with it.
func (h *enrollHandlers) shown(c *gin.Context, row accounts.JoinToken, secret string) createdJoinToken {
	return createdJoinToken{JoinToken: row, Token: secret,
		EnrollCommand: fmt.Sprintf("scantron agent enroll --server %s --token %s", h.serverURL(c), secret)}
}

// listJoinTokens shows the tokens kept, never their secrets.
func (h *enrollHandlers) listJoinTokens(c *gin.Context) error {
	return listAll(c, h.tokens.List, func(t accounts.JoinToken) string { return t.AgentName })
}

// deleteJoinToken revokes a token before it is spent (or forgets a spent one).
func (h *enrollHandlers) deleteJoinToken(c *gin.Context) error { return deleteOne(c, h.tokens.Delete) }

// serverURL is this server's address as the admin's request reached it.
func (h *enrollHandlers) serverURL(c *gin.Context) string {
	scheme := "http"
	if c.Request.TLS != nil || h.https {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

type enrollRequest struct {
	Token string `json:"token"`
}

// EnrollBundle is everything an enrolled agent needs to run: the answer to
// POST /api/v1/enroll, written by `scantron agent enroll` to the agent's
// config file. It holds no object storage keys and no Temporal client
// certificate.
type EnrollBundle struct {
	AgentName             string   `json:"agent_name"`
	Credential            string   `json:"credential"`
	ServerPublicKey       string   `json:"server_public_key"`
	TemporalAddress       string   `json:"temporal_address"`
	TemporalNamespace     string   `json:"temporal_namespace"`
	TemporalTLS           bool     `json:"temporal_tls"`
	TemporalTLSCA         string   `json:"temporal_tls_ca,omitempty"`
	TemporalTLSServerName string   `json:"temporal_tls_server_name,omitempty"`
	TemporalAuth          bool     `json:"temporal_auth"`
	Pools                 []string `json:"pools"`
}

// enroll trades a join token for the agent's credential and settings. It
// needs no login, only the token; failures count against the caller's
// address like failed logins.
func (h *enrollHandlers) enroll(c *gin.Context) error {
	if h.cfg.ServerPublicKey == "" {
		return errorf(http.StatusServiceUnavailable, "enrollment is not configured on this server")
	}
	// Failures count against the client (an IPv6 /64), as logins do; the
	// address recorded is the client's own.
	ip, client := c.ClientIP(), limiterClient(c)
	if wait := h.limiter.blocked(client, client); wait > 0 {
		c.Header("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		return errorf(http.StatusTooManyRequests, "too many failed enrollments from this address; try again in %s", wait.Round(time.Second))
	}
	var req enrollRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	token := strings.TrimSpace(req.Token)
	if !accounts.LooksLikeJoinToken(token) {
		h.limiter.failed(client, client)
		return badRequest("token: not a join token (want %s followed by 43 characters, as the server showed it)", accounts.JoinTokenPrefix)
	}
	credential, key, err := scan.NewCredential()
	if err != nil {
		return err
	}
	agent, tok, err := h.store.EnrollAgent(c.Request.Context(), accounts.HashSecret(token), key, workflows.AgentTaskQueue, ip)
	if err != nil {
		status := 0
		switch {
		case errors.Is(err, accounts.ErrJoinTokenUnknown):
			status = http.StatusUnauthorized
		case errors.Is(err, accounts.ErrJoinTokenUsed), errors.Is(err, accounts.ErrJoinTokenExpired):
			status = http.StatusGone
		default:
			return err
		}
		h.limiter.failed(client, client)
		h.log.WarnContext(c.Request.Context(), "enrollment refused", "remote", ip, "reason", err.Error())
		return errorf(status, "token: %v; ask an admin for a new join token", err)
	}
	h.log.InfoContext(c.Request.Context(), "agent enrolled", "agent", agent.Name, "join_token", tok.ID, "remote", ip)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, EnrollBundle{
		AgentName:             agent.Name,
		Credential:            credential,
		ServerPublicKey:       h.cfg.ServerPublicKey,
		TemporalAddress:       h.cfg.TemporalAddress,
		TemporalNamespace:     h.cfg.TemporalNamespace,
		TemporalTLS:           h.cfg.TemporalTLS,
		TemporalTLSCA:         h.cfg.TemporalTLSCA,
		TemporalTLSServerName: h.cfg.TemporalTLSServerName,
		TemporalAuth:          h.cfg.TemporalAuth,
		Pools:                 tok.Pools,
	})
	return nil
}

// newEnrollLimiter counts failed enrollments per client only: there is no
// name to count against, so callers pass the client as the name too.
func newEnrollLimiter(now func() time.Time) *loginLimiter {
	l := newLoginLimiter(now)
	l.perIP, l.perName = 10, 10
	return l
}
