package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is Scantron's data access over a connection pool. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database at dsn (a URL or key=value string) and checks
// that it answers. It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return &Store{pool: pool}, nil
}

// New wraps a pool the caller owns. Close closes it.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Close closes the pool.
func (s *Store) Close() {
	s.pool.Close()
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool {
	return s.pool
}

// Migrate applies the migrations the database lacks. See the package
// function Migrate.
func (s *Store) Migrate(ctx context.Context) error {
	return Migrate(ctx, s.pool)
}

// querier is what both the pool and a transaction offer, so that reads can
// run inside or outside one.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in a transaction, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// strs makes a nil slice empty: pgx sends nil as NULL, and the array
// columns are NOT NULL.
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// limitArg turns a page size into a LIMIT argument: NULL (no limit) for 0
// or less.
func limitArg(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

func offsetArg(n int) int {
	return max(n, 0)
}
