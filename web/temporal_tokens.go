package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/temporalauth"
)

// TemporalTokens mints agents' Temporal tokens and publishes the keys that
// check them. *temporalauth.Signer satisfies it.
type TemporalTokens interface {
	AgentToken(ctx context.Context, agent, namespace string, queues []string) (string, time.Time, error)
	ServiceToken(ctx context.Context, subject, namespace string, roles ...string) (string, time.Time, error)
	JWKS(ctx context.Context) ([]byte, error)
}

// AgentPoolStore keeps which pools each agent belongs to.
type AgentPoolStore interface {
	GetAgentByName(ctx context.Context, name string) (scan.Agent, error)
	AgentPools(ctx context.Context, agentID int64) ([]scan.Pool, error)
	SetAgentPools(ctx context.Context, agentID int64, pools []string) error
}

// tokenClockSkew is how far a token request's time may be from the
// server's: a captured request is useless once it is this old.
const tokenClockSkew = 2 * time.Minute

type temporalTokenHandlers struct {
	base
	store     AgentPoolStore
	tokens    TemporalTokens // nil: the server issues no Temporal tokens
	namespace string
	now       func() time.Time
}

var errTokensDisabled = errorf(http.StatusNotFound, "this server issues no Temporal tokens (its Temporal does not require them)")

// agentToken trades a request signed with an agent's credential for a
// short-lived Temporal token that may poll only the agent's own task queue
// and those of the pools the server has put it in.
func (h *temporalTokenHandlers) agentToken(c *gin.Context) error {
	if h.tokens == nil {
		return errTokensDisabled
	}
	var req temporalauth.TokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if !agentName.MatchString(req.Agent) {
		return badRequest("agent: want an agent name")
	}
	if req.Nonce == "" || len(req.Nonce) > 64 {
		return badRequest("nonce: want 1 to 64 characters")
	}
	if len(req.Signature) == 0 {
		return badRequest("signature: required")
	}
	at := time.Unix(req.Time, 0)
	if d := h.now().Sub(at); d > tokenClockSkew || d < -tokenClockSkew {
		return errorf(http.StatusUnauthorized, "time: the request was signed at %s, more than %s from the server's clock", at.UTC().Format(time.RFC3339), tokenClockSkew)
	}
	refused := errorf(http.StatusUnauthorized, "signature: not the credential of a registered agent named %q", req.Agent)
	ctx := c.Request.Context()
	a, err := h.store.GetAgentByName(ctx, req.Agent)
	if err != nil {
		return mapErr(err, scan.ErrNotFound, http.StatusUnauthorized, "signature: not the credential of a registered agent named %q", req.Agent)
	}
	if !scan.VerifyTokenRequest(a.PublicKey, scan.TokenRequest{Agent: req.Agent, At: at, Nonce: req.Nonce}, req.Signature) {
		return refused
	}
	pools, err := h.store.AgentPools(ctx, a.ID)
	if err != nil {
		return err
	}
	queues := []string{a.TaskQueue}
	for _, p := range pools {
		queues = append(queues, p.TaskQueue)
	}
	tok, exp, err := h.tokens.AgentToken(ctx, a.Name, h.namespace, queues)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, temporalauth.TokenResponse{Token: tok, ExpiresAt: exp.UTC(), Namespace: h.namespace, Queues: queues})
	return nil
}

// jwks publishes the public keys Temporal checks tokens with.
func (h *temporalTokenHandlers) jwks(c *gin.Context) error {
	if h.tokens == nil {
		return errTokensDisabled
	}
	ServeJWKS(c.Writer, c.Request, h.tokens)
	return nil
}

// ServeJWKS answers with the key set of tokens. The server also calls it
// before its routes are ready, since Temporal must read the keys before it
// accepts the server's own token.
func ServeJWKS(w http.ResponseWriter, r *http.Request, tokens TemporalTokens) {
	set, err := tokens.JWKS(r.Context())
	if err != nil {
		http.Error(w, "key set unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=30")
	_, _ = w.Write(set)
}

// userTokenResponse is a user's Temporal token, for tools such as the
// temporal CLI (--api-key).
type userTokenResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Namespace string    `json:"namespace"`
	Role      string    `json:"role"`
}

// temporalRoles maps a user's role to the Temporal role of their token.
var temporalRoles = map[accounts.Role]string{
	accounts.Admin:    temporalauth.RoleAdmin,
	accounts.Operator: temporalauth.RoleWrite,
	accounts.Viewer:   temporalauth.RoleRead,
}

// userToken gives the calling user a short-lived Temporal token with the
// Temporal role matching theirs: admin, write (operators) or read
// (viewers), for operating Temporal directly with its own tools.
func (h *temporalTokenHandlers) userToken(c *gin.Context) error {
	if h.tokens == nil {
		return errTokensDisabled
	}
	u := who(c).user
	role, ok := temporalRoles[u.Role]
	if !ok {
		return errorf(http.StatusForbidden, "role %q has no Temporal role", u.Role)
	}
	tok, exp, err := h.tokens.ServiceToken(c.Request.Context(), "user:"+u.Name, h.namespace, role)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, userTokenResponse{Token: tok, ExpiresAt: exp.UTC(), Namespace: h.namespace, Role: role})
	return nil
}

type agentPoolsRequest struct {
	Pools []string `json:"pools"`
}

type agentPoolsView struct {
	Pools []string `json:"pools"`
}

// setPools makes the named pools exactly the agent's pools: the queues its
// next Temporal token may poll besides its own.
func (h *temporalTokenHandlers) setPools(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req agentPoolsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	for _, p := range req.Pools {
		if !agentName.MatchString(p) {
			return badRequest("pools: %q is not a valid pool name", clip(p))
		}
	}
	ctx := c.Request.Context()
	if err := h.store.SetAgentPools(ctx, id, req.Pools); err != nil {
		return mapErr(err, scan.ErrNotFound, http.StatusNotFound, "pools: %v", err)
	}
	return h.writePools(c, id)
}

func (h *temporalTokenHandlers) getPools(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return h.writePools(c, id)
}

func (h *temporalTokenHandlers) writePools(c *gin.Context, id int64) error {
	pools, err := h.store.AgentPools(c.Request.Context(), id)
	if err != nil {
		return err
	}
	out := agentPoolsView{Pools: []string{}}
	for _, p := range pools {
		out.Pools = append(out.Pools, p.Name)
	}
	c.JSON(http.StatusOK, out)
	return nil
}
