package manage

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// AgentStore keeps agents.
type AgentStore interface {
	CreateAgent(ctx context.Context, a scan.Agent) (scan.Agent, error)
	GetAgent(ctx context.Context, id int64) (scan.Agent, error)
	ListAgents(ctx context.Context) ([]scan.Agent, error)
	DeleteAgent(ctx context.Context, id int64) error
}

// Agents registers and deletes agents.
type Agents struct {
	Store AgentStore
}

// AgentInput is a new agent.
type AgentInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// checkAgentName checks the name of an agent, given in field.
func checkAgentName(field, raw string) (string, error) {
	name := strings.TrimSpace(raw)
	if name == "" {
		return "", invalid(field, "required")
	}
	if !QueueName.MatchString(name) {
		return "", invalid(field, "%q is not a valid agent name: use 1 to 63 of a-z, 0-9, '-', '_' and '.', starting with a letter or digit", Clip(name))
	}
	return name, nil
}

// Create registers an agent with a new credential, which is returned this
// once and never stored (only its public key is).
func (x *Agents) Create(ctx context.Context, in AgentInput) (agent scan.Agent, credential string, err error) {
	name, err := checkAgentName("name", in.Name)
	if err != nil {
		return scan.Agent{}, "", err
	}
	desc, err := CleanText("description", in.Description, MaxDescriptionLen)
	if err != nil {
		return scan.Agent{}, "", err
	}
	credential, key, err := scan.NewCredential()
	if err != nil {
		return scan.Agent{}, "", err
	}
	a := scan.Agent{Name: name, Description: desc, TaskQueue: workflows.AgentTaskQueue(name), PublicKey: key}
	row, err := x.Store.CreateAgent(ctx, a)
	if err != nil {
		return scan.Agent{}, "", storeErr(err, scan.ErrConflict, Conflict, "name", "name: an agent named %q already exists", a.Name)
	}
	return row, credential, nil
}

// Get returns the agent id names.
func (x *Agents) Get(ctx context.Context, id int64) (scan.Agent, error) {
	row, err := x.Store.GetAgent(ctx, id)
	return row, notFound(err, "agent", id)
}

// List returns every agent.
func (x *Agents) List(ctx context.Context) ([]scan.Agent, error) { return x.Store.ListAgents(ctx) }

// Delete deletes an agent no scan uses.
func (x *Agents) Delete(ctx context.Context, id int64) error {
	return deleted(x.Store.DeleteAgent(ctx, id), "agent", id, "is used by a scan; delete or change that scan first")
}

// JoinTokenStore keeps join tokens.
type JoinTokenStore interface {
	CreateJoinToken(ctx context.Context, t accounts.JoinToken, secretHash []byte, ttl time.Duration) (accounts.JoinToken, error)
	DeleteExpiredJoinTokens(ctx context.Context, keep time.Duration) (int64, error)
	ListJoinTokens(ctx context.Context) ([]accounts.JoinToken, error)
	DeleteJoinToken(ctx context.Context, id int64) error
	ListPools(ctx context.Context) ([]scan.Pool, error)
}

// JoinTokens makes and revokes the tokens agents enroll with.
type JoinTokens struct {
	Store JoinTokenStore
	Log   *slog.Logger
}

// JoinTokenInput asks for a join token.
type JoinTokenInput struct {
	AgentName string   `json:"agent_name"`
	Pools     []string `json:"pools"`
	TTL       string   `json:"ttl"`
}

// check validates a request for a token.
func (x *JoinTokens) check(ctx context.Context, in JoinTokenInput) (accounts.JoinToken, time.Duration, error) {
	name, err := checkAgentName("agent_name", in.AgentName)
	if err != nil {
		return accounts.JoinToken{}, 0, err
	}
	ttl := accounts.DefaultJoinTokenTTL
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err == nil {
			err = accounts.CheckJoinTokenTTL(d)
		}
		if err != nil {
			return accounts.JoinToken{}, 0, invalid("ttl", "%q: want a duration from 1m to 1h, such as 30m", Clip(in.TTL))
		}
		ttl = d
	}
	pools := []string{}
	if len(in.Pools) > 0 {
		known, err := x.Store.ListPools(ctx)
		if err != nil {
			return accounts.JoinToken{}, 0, err
		}
		for i, p := range in.Pools {
			p = strings.TrimSpace(p)
			if !slices.ContainsFunc(known, func(k scan.Pool) bool { return k.Name == p }) {
				return accounts.JoinToken{}, 0, refuse(Invalid, "pools", "pools[%d]: no pool named %q; create it first", i, Clip(p))
			}
			if !slices.Contains(pools, p) {
				pools = append(pools, p)
			}
		}
	}
	return accounts.JoinToken{AgentName: name, Pools: pools}, ttl, nil
}

// Create makes a join token on behalf of admin; the secret is returned
// this once and only its hash is kept.
func (x *JoinTokens) Create(ctx context.Context, admin accounts.User, in JoinTokenInput) (tok accounts.JoinToken, secret string, err error) {
	tok, ttl, err := x.check(ctx, in)
	if err != nil {
		return accounts.JoinToken{}, "", err
	}
	tok.CreatedBy = &admin.ID
	secret = accounts.NewJoinToken()
	row, err := x.Store.CreateJoinToken(ctx, tok, accounts.HashSecret(secret), ttl)
	if err != nil {
		return accounts.JoinToken{}, "", err
	}
	// Tokens are kept a week after they expire, for the record, then go.
	if _, err := x.Store.DeleteExpiredJoinTokens(ctx, 7*24*time.Hour); err != nil {
		x.Log.Warn("delete expired join tokens", "error", err)
	}
	x.Log.InfoContext(ctx, "join token created", "agent", row.AgentName, "pools", row.Pools,
		"expires_at", row.ExpiresAt, "by", admin.Name)
	return row, secret, nil
}

// List returns the tokens kept, never their secrets.
func (x *JoinTokens) List(ctx context.Context) ([]accounts.JoinToken, error) {
	return x.Store.ListJoinTokens(ctx)
}

// Delete revokes a token before it is spent (or forgets a spent one).
func (x *JoinTokens) Delete(ctx context.Context, id int64) error {
	return deleted(x.Store.DeleteJoinToken(ctx, id), "join token", id, "")
}
