package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// LoadPlan reads, in one consistent snapshot, everything needed to run a
// scan once: the scan, its site with targets and exclusions, its profile, its
// agent and the targets of every global exclusion. The plan of a scan of
// imported runs has a profile that names only its scanner, and no agent.
func (s *Store) LoadPlan(ctx context.Context, scanID int64) (scan.Plan, error) {
	var p scan.Plan
	err := s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if p.Scan, err = getScan(ctx, tx, scanID); err != nil {
			return err
		}
		if p.Site, err = getSite(ctx, tx, p.Scan.SiteID); err != nil {
			return err
		}
		if p.Scan.Imports != "" {
			// Imported runs have no profile and ran on no agent of ours;
			// what they covered is what their shard lists.
			p.Profile = scan.Profile{Name: "imported", Scanner: p.Scan.Imports}
		} else if p.Profile, err = getProfile(ctx, tx, p.Scan.ProfileID); err != nil {
			return err
		} else if p.Scan.PoolID != 0 {
			if p.Pool, err = getPool(ctx, tx, p.Scan.PoolID); err != nil {
				return err
			}
		} else if p.Agent, err = getAgent(ctx, tx, p.Scan.AgentID); err != nil {
			return err
		}
		excl, err := listExclusions(ctx, tx)
		if err != nil {
			return err
		}
		p.GlobalExclusions = make([]string, 0, len(excl))
		for _, e := range excl {
			p.GlobalExclusions = append(p.GlobalExclusions, e.Target)
		}
		return nil
	})
	if err != nil {
		return scan.Plan{}, fmt.Errorf("load plan for scan %d: %w", scanID, err)
	}
	return p, nil
}
