package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

const profileCols = `id, name, description, scanner, options, intrusive, discovery_scanner, discovery_options, created_at`

func scanProfile(row pgx.Row) (scan.Profile, error) {
	var p scan.Profile
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.Scanner, &p.Options, &p.Intrusive, &p.DiscoveryScanner, &p.DiscoveryOptions, &p.CreatedAt)
	return p, err
}

func profileTaken(name string) string {
	return fmt.Sprintf("a profile named %q already exists", name)
}

// CreateProfile inserts a profile. The scanner must be one the schema allows; the
// options are stored as given (check them with scan.ParseOptions first).
func (s *Store) CreateProfile(ctx context.Context, p scan.Profile) (scan.Profile, error) {
	const q = `
INSERT INTO profiles (name, description, scanner, options, intrusive, discovery_scanner, discovery_options)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING ` + profileCols
	out, err := scanProfile(s.pool.QueryRow(ctx, q, p.Name, p.Description, p.Scanner, p.Options, p.Intrusive, p.DiscoveryScanner, p.DiscoveryOptions))
	if err != nil {
		return scan.Profile{}, mapWrite("create profile", err, profileTaken(p.Name))
	}
	return out, nil
}

// GetProfile returns one profile.
func (s *Store) GetProfile(ctx context.Context, id int64) (scan.Profile, error) {
	return getProfile(ctx, s.pool, id)
}

func getProfile(ctx context.Context, q querier, id int64) (scan.Profile, error) {
	p, err := scanProfile(q.QueryRow(ctx, `SELECT `+profileCols+` FROM profiles WHERE id = $1`, id))
	if err != nil {
		return scan.Profile{}, mapRead("get profile", err, fmt.Sprintf("profile %d", id))
	}
	return p, nil
}

// ListProfiles returns all profiles by name.
func (s *Store) ListProfiles(ctx context.Context) ([]scan.Profile, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+profileCols+` FROM profiles ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Profile, error) { return scanProfile(r) })
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	return out, nil
}

// UpdateProfile replaces a profile's fields and returns it as stored.
func (s *Store) UpdateProfile(ctx context.Context, p scan.Profile) (scan.Profile, error) {
	const q = `
UPDATE profiles SET name = $2, description = $3, scanner = $4, options = $5, intrusive = $6,
  discovery_scanner = $7, discovery_options = $8 WHERE id = $1
RETURNING ` + profileCols
	out, err := scanProfile(s.pool.QueryRow(ctx, q, p.ID, p.Name, p.Description, p.Scanner, p.Options, p.Intrusive, p.DiscoveryScanner, p.DiscoveryOptions))
	if isNoRows(err) {
		return scan.Profile{}, mapRead("update profile", err, fmt.Sprintf("profile %d", p.ID))
	}
	if err != nil {
		return scan.Profile{}, mapWrite("update profile", err, profileTaken(p.Name))
	}
	return out, nil
}

// DeleteProfile deletes a profile. It fails with ErrInUse while a scan uses
// it.
func (s *Store) DeleteProfile(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM profiles WHERE id = $1`, id)
	if err != nil {
		return mapDelete("delete profile", err, fmt.Sprintf("profile %d is used by a scan", id))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete profile: %w: profile %d", ErrNotFound, id)
	}
	return nil
}
