package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// siteSelect reads a site with its targets and exclusions in order.
const siteSelect = `
SELECT s.id, s.name, s.description, s.created_at, COALESCE(s.max_rate, 0),
       ARRAY(SELECT value FROM site_targets t WHERE t.site_id = s.id ORDER BY position),
       ARRAY(SELECT value FROM site_exclusions e WHERE e.site_id = s.id ORDER BY position)
FROM sites s`

func scanSite(row pgx.Row) (scan.Site, error) {
	var s scan.Site
	err := row.Scan(&s.ID, &s.Name, &s.Description, &s.CreatedAt, &s.MaxRate, &s.Targets, &s.Exclusions)
	s.Targets, s.Exclusions = strs(s.Targets), strs(s.Exclusions)
	return s, err
}

// replaceSiteLists writes a site's targets and exclusions, numbered from 1
// in the order given.
func replaceSiteLists(ctx context.Context, q querier, site scan.Site) error {
	const (
		delTargets = `DELETE FROM site_targets WHERE site_id = $1`
		delExcl    = `DELETE FROM site_exclusions WHERE site_id = $1`
		insTargets = `
INSERT INTO site_targets (site_id, position, value)
SELECT $1, ord, v FROM unnest($2::text[]) WITH ORDINALITY AS t(v, ord)`
		insExcl = `
INSERT INTO site_exclusions (site_id, position, value)
SELECT $1, ord, v FROM unnest($2::text[]) WITH ORDINALITY AS t(v, ord)`
	)
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{delTargets, []any{site.ID}},
		{delExcl, []any{site.ID}},
		{insTargets, []any{site.ID, strs(site.Targets)}},
		{insExcl, []any{site.ID, strs(site.Exclusions)}},
	} {
		if _, err := q.Exec(ctx, stmt.sql, stmt.args...); err != nil {
			return err
		}
	}
	return nil
}

// CreateSite inserts a site with its targets and exclusions in one
// transaction and returns it as stored.
func (s *Store) CreateSite(ctx context.Context, site scan.Site) (scan.Site, error) {
	const q = `INSERT INTO sites (name, description, max_rate) VALUES ($1, $2, NULLIF($3, 0)) RETURNING id`
	var out scan.Site
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, q, site.Name, site.Description, site.MaxRate).Scan(&site.ID); err != nil {
			return err
		}
		if err := replaceSiteLists(ctx, tx, site); err != nil {
			return err
		}
		var err error
		out, err = scanSite(tx.QueryRow(ctx, siteSelect+` WHERE s.id = $1`, site.ID))
		return err
	})
	if err != nil {
		return scan.Site{}, mapWrite("create site", err, fmt.Sprintf("a site named %q already exists", site.Name))
	}
	return out, nil
}

// GetSite returns one site.
func (s *Store) GetSite(ctx context.Context, id int64) (scan.Site, error) {
	return getSite(ctx, s.pool, id)
}

func getSite(ctx context.Context, q querier, id int64) (scan.Site, error) {
	site, err := scanSite(q.QueryRow(ctx, siteSelect+` WHERE s.id = $1`, id))
	if err != nil {
		return scan.Site{}, mapRead("get site", err, fmt.Sprintf("site %d", id))
	}
	return site, nil
}

// ListSites returns all sites by name.
func (s *Store) ListSites(ctx context.Context) ([]scan.Site, error) {
	rows, err := s.pool.Query(ctx, siteSelect+` ORDER BY s.name, s.id`)
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan.Site, error) { return scanSite(r) })
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	return out, nil
}

// UpdateSite replaces a site's name, description, targets and exclusions,
// and returns it as stored.
func (s *Store) UpdateSite(ctx context.Context, site scan.Site) (scan.Site, error) {
	const q = `UPDATE sites SET name = $2, description = $3, max_rate = NULLIF($4, 0) WHERE id = $1`
	var out scan.Site
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, site.ID, site.Name, site.Description, site.MaxRate)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		if err := replaceSiteLists(ctx, tx, site); err != nil {
			return err
		}
		out, err = scanSite(tx.QueryRow(ctx, siteSelect+` WHERE s.id = $1`, site.ID))
		return err
	})
	if err != nil {
		if isNoRows(err) {
			return scan.Site{}, mapRead("update site", err, fmt.Sprintf("site %d", site.ID))
		}
		return scan.Site{}, mapWrite("update site", err, fmt.Sprintf("a site named %q already exists", site.Name))
	}
	return out, nil
}

// DeleteSite deletes a site. It fails with ErrInUse while a scan uses it.
func (s *Store) DeleteSite(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sites WHERE id = $1`, id)
	if err != nil {
		return mapDelete("delete site", err, fmt.Sprintf("site %d is used by a scan", id))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete site: %w: site %d", ErrNotFound, id)
	}
	return nil
}
