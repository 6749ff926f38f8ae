package manage

import (
	"context"
	"regexp"
	"strings"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// QueueName matches the names of agents and pools: they become part of
// task queues and of command lines, so they are kept to a small,
// unambiguous alphabet.
var QueueName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// PoolStore keeps pools.
type PoolStore interface {
	CreatePool(ctx context.Context, p scan.Pool) (scan.Pool, error)
	GetPool(ctx context.Context, id int64) (scan.Pool, error)
	ListPools(ctx context.Context) ([]scan.Pool, error)
	DeletePool(ctx context.Context, id int64) error
}

// Pools creates and deletes pools of agents.
type Pools struct {
	Store PoolStore
}

// PoolInput is a new pool.
type PoolInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Create checks and stores a new pool with its task queue.
func (p *Pools) Create(ctx context.Context, in PoolInput) (scan.Pool, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return scan.Pool{}, invalid("name", "required")
	}
	// The name becomes a task queue and a value of agents' --pools.
	if !QueueName.MatchString(name) {
		return scan.Pool{}, invalid("name", "%q is not a valid pool name: use 1 to 63 of a-z, 0-9, '-', '_' and '.', starting with a letter or digit", Clip(name))
	}
	desc, err := CleanText("description", in.Description, MaxDescriptionLen)
	if err != nil {
		return scan.Pool{}, err
	}
	row, err := p.Store.CreatePool(ctx, scan.Pool{Name: name, Description: desc, TaskQueue: workflows.PoolTaskQueue(name)})
	if err != nil {
		return scan.Pool{}, storeErr(err, scan.ErrConflict, Conflict, "name", "name: a pool named %q already exists", name)
	}
	return row, nil
}

// Get returns the pool id names.
func (p *Pools) Get(ctx context.Context, id int64) (scan.Pool, error) {
	row, err := p.Store.GetPool(ctx, id)
	return row, notFound(err, "pool", id)
}

// List returns every pool.
func (p *Pools) List(ctx context.Context) ([]scan.Pool, error) { return p.Store.ListPools(ctx) }

// Delete deletes a pool no scan uses.
func (p *Pools) Delete(ctx context.Context, id int64) error {
	return deleted(p.Store.DeletePool(ctx, id), "pool", id, "is used by a scan; delete or change that scan first")
}
