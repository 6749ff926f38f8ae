package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

const agentCols = `id, name, description, task_queue, created_at, last_seen_at, public_key`

func scanAgent(row pgx.Row) (scan.Agent, error) {
	var a scan.Agent
	err := row.Scan(&a.ID, &a.Name, &a.Description, &a.TaskQueue, &a.CreatedAt, &a.LastSeenAt, &a.PublicKey)
	return a, err
}

// CreateAgent registers an agent with the public key of its credential, if
// any. The caller chooses its task queue (workflows.AgentTaskQueue); names
// and task queues are unique.
func (s *Store) CreateAgent(ctx context.Context, a scan.Agent) (scan.Agent, error) {
	const q = `
INSERT INTO agents (name, description, task_queue, public_key) VALUES ($1, $2, $3, $4)
RETURNING ` + agentCols
	var key []byte
	if len(a.PublicKey) > 0 {
		key = a.PublicKey
	}
	out, err := scanAgent(s.pool.QueryRow(ctx, q, a.Name, a.Description, a.TaskQueue, key))
	if err != nil {
		conflict := fmt.Sprintf("an agent named %q already exists", a.Name)
		if pe := pgError(err); pe != nil && pe.ConstraintName == "agents_task_queue_key" {
			conflict = fmt.Sprintf("task queue %q is already used by another agent", a.TaskQueue)
		}
		return scan.Agent{}, mapWrite("create agent", err, conflict)
	}
	return out, nil
}

// GetAgent returns one agent.
func (s *Store) GetAgent(ctx context.Context, id int64) (scan.Agent, error) {
	return getAgent(ctx, s.pool, id)
}

func getAgent(ctx context.Context, q querier, id int64) (scan.Agent, error) {
	a, err := scanAgent(q.QueryRow(ctx, `SELECT `+agentCols+` FROM agents WHERE id = $1`, id))
	if err != nil {
		return scan.Agent{}, mapRead("get agent", err, fmt.Sprintf("agent %d", id))
	}
	return a, nil
}

// GetAgentByName returns the agent with that name.
func (s *Store) GetAgentByName(ctx context.Context, name string) (scan.Agent, error) {
	a, err := scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentCols+` FROM agents WHERE name = $1`, name))
	if err != nil {
		return scan.Agent{}, mapRead("get agent", err, fmt.Sprintf("agent %q", name))
	}
	return a, nil
}

// ListAgents returns all agents by name.
func (s *Store) ListAgents(ctx context.Context) ([]scan.Agent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+agentCols+` FROM agents ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Agent, error) { return scanAgent(r) })
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return out, nil
}

// DeleteAgent deletes an agent. It fails with ErrInUse while a scan uses it;
// shards it ran keep their history with no agent.
func (s *Store) DeleteAgent(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM agents WHERE id = $1`, id)
	if err != nil {
		return mapDelete("delete agent", err, fmt.Sprintf("agent %d is used by a scan", id))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete agent: %w: agent %d", ErrNotFound, id)
	}
	return nil
}

// TouchAgent records that the agent was seen at at. last_seen_at never moves
// backwards, so reports arriving out of order are harmless.
func (s *Store) TouchAgent(ctx context.Context, id int64, at time.Time) error {
	const q = `UPDATE agents SET last_seen_at = GREATEST(last_seen_at, $2) WHERE id = $1`
	tag, err := s.pool.Exec(ctx, q, id, at)
	if err != nil {
		return fmt.Errorf("touch agent: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("touch agent: %w: agent %d", ErrNotFound, id)
	}
	return nil
}

// AgentPublicKey returns the public key of the named agent's credential
// (nil if it has none) and whether the agent is registered at all.
func (s *Store) AgentPublicKey(ctx context.Context, name string) ([]byte, bool, error) {
	var key []byte
	err := s.pool.QueryRow(ctx, `SELECT public_key FROM agents WHERE name = $1`, name).Scan(&key)
	if isNoRows(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("agent public key: %w", err)
	}
	return key, true, nil
}
