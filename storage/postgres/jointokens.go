package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

const joinTokenCols = `id, agent_name, pools, created_by, created_at, expires_at, used_at, used_from,
	CASE WHEN used_at IS NOT NULL THEN 'used' WHEN expires_at <= now() THEN 'expired' ELSE 'pending' END`

func scanJoinToken(row pgx.Row) (accounts.JoinToken, error) {
	var t accounts.JoinToken
	err := row.Scan(&t.ID, &t.AgentName, &t.Pools, &t.CreatedBy, &t.CreatedAt, &t.ExpiresAt, &t.UsedAt, &t.UsedFrom, &t.State)
	return t, err
}

// CreateJoinToken records a join token under the hash of its secret. It
// expires ttl after now by the database's clock, which also judges it at
// enrollment, so the server's clock cannot stretch it.
func (s *Store) CreateJoinToken(ctx context.Context, t accounts.JoinToken, secretHash []byte, ttl time.Duration) (accounts.JoinToken, error) {
	const q = `
INSERT INTO join_tokens (secret_hash, agent_name, pools, created_by, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
RETURNING ` + joinTokenCols
	pools := t.Pools
	if pools == nil {
		pools = []string{}
	}
	out, err := scanJoinToken(s.pool.QueryRow(ctx, q, secretHash, t.AgentName, pools, t.CreatedBy, ttl.Seconds()))
	if err != nil {
		return accounts.JoinToken{}, mapWrite("create join token", err, "join token exists")
	}
	return out, nil
}

// EnrollAgent spends the join token whose secret hashes to secretHash and
// registers its agent with publicKey: a new agent, or a new credential for
// the agent of that name. A token is spent once even under concurrent
// attempts: the UPDATE that marks it used is the one check. A token that
// cannot be spent fails with accounts.ErrJoinTokenUnknown, ErrJoinTokenUsed
// or ErrJoinTokenExpired; nothing is changed then.
func (s *Store) EnrollAgent(ctx context.Context, secretHash, publicKey []byte, taskQueue func(name string) string, from string) (scan.Agent, accounts.JoinToken, error) {
	var agent scan.Agent
	var tok accounts.JoinToken
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		const spend = `
UPDATE join_tokens SET used_at = now(), used_from = $2
WHERE secret_hash = $1 AND used_at IS NULL AND expires_at > now()
RETURNING ` + joinTokenCols
		var err error
		tok, err = scanJoinToken(tx.QueryRow(ctx, spend, secretHash, from))
		if isNoRows(err) {
			return whyUnspendable(ctx, tx, secretHash)
		}
		if err != nil {
			return fmt.Errorf("spend join token: %w", err)
		}
		// The agent's name keeps its row (and the scans that name it); its
		// old credential stops working.
		const register = `
INSERT INTO agents (name, task_queue, public_key) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET public_key = EXCLUDED.public_key
RETURNING ` + agentCols
		agent, err = scanAgent(tx.QueryRow(ctx, register, tok.AgentName, taskQueue(tok.AgentName), publicKey))
		if err != nil {
			return mapWrite("enroll agent", err, fmt.Sprintf("task queue %q is already used by another agent", taskQueue(tok.AgentName)))
		}
		// The token's pools become exactly the agent's pools, which its
		// Temporal token and the results it may sign for are checked
		// against: an admin chose them, the agent cannot widen them.
		if _, err := tx.Exec(ctx, `DELETE FROM agent_pools WHERE agent_id = $1`, agent.ID); err != nil {
			return fmt.Errorf("enroll agent: pools: %w", err)
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO agent_pools (agent_id, pool_id) SELECT $1, id FROM pools WHERE name = ANY($2)`, agent.ID, tok.Pools); err != nil {
			return fmt.Errorf("enroll agent: pools: %w", err)
		}
		return nil
	})
	if err != nil {
		return scan.Agent{}, accounts.JoinToken{}, err
	}
	return agent, tok, nil
}

// whyUnspendable tells an unknown token from a used or an expired one.
func whyUnspendable(ctx context.Context, q querier, secretHash []byte) error {
	var usedAt *time.Time
	var expiresAt time.Time
	err := q.QueryRow(ctx, `SELECT used_at, expires_at FROM join_tokens WHERE secret_hash = $1`, secretHash).Scan(&usedAt, &expiresAt)
	switch {
	case isNoRows(err):
		return accounts.ErrJoinTokenUnknown
	case err != nil:
		return fmt.Errorf("look up join token: %w", err)
	case usedAt != nil:
		return fmt.Errorf("%w at %s", accounts.ErrJoinTokenUsed, usedAt.UTC().Format(time.RFC3339))
	default:
		return fmt.Errorf("%w at %s", accounts.ErrJoinTokenExpired, expiresAt.UTC().Format(time.RFC3339))
	}
}

// ListJoinTokens returns the tokens kept (pending ones, and spent or
// expired ones for a week), newest first.
func (s *Store) ListJoinTokens(ctx context.Context) ([]accounts.JoinToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+joinTokenCols+` FROM join_tokens ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list join tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.JoinToken, error) { return scanJoinToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list join tokens: %w", err)
	}
	return out, nil
}

// DeleteJoinToken revokes a token: it can no longer be spent.
func (s *Store) DeleteJoinToken(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM join_tokens WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete join token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete join token: %w: join token %d", ErrNotFound, id)
	}
	return nil
}

// DeleteExpiredJoinTokens forgets tokens, used or not, that expired more
// than keep ago by the database's clock (the one that judges them).
func (s *Store) DeleteExpiredJoinTokens(ctx context.Context, keep time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM join_tokens WHERE expires_at < now() - make_interval(secs => $1)`, keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("delete expired join tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}
