package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan"
)

// ImportScan returns the scan that holds the site's runs imported from
// files of scanner's output, creating it the first time. It is named for
// the site and the scanner, has no profile, agent or pool, and never runs.
func (s *Store) ImportScan(ctx context.Context, siteID int64, scanner scan.Scanner) (scan.Scan, error) {
	const get = `SELECT ` + scanCols + ` FROM scans WHERE site_id = $1 AND imports = $2`
	sc, err := scanScan(s.pool.QueryRow(ctx, get, siteID, scanner))
	if err == nil {
		return sc, nil
	}
	if !isNoRows(err) {
		return scan.Scan{}, fmt.Errorf("import scan: %w", err)
	}
	const ins = `
INSERT INTO scans (name, site_id, imports, enabled)
SELECT name || ' (imported ' || $2 || ')', id, $2, false FROM sites WHERE id = $1
ON CONFLICT (site_id, imports) WHERE imports IS NOT NULL DO NOTHING
RETURNING ` + scanCols
	sc, err = scanScan(s.pool.QueryRow(ctx, ins, siteID, scanner))
	if isNoRows(err) {
		// Another import created it first, or the site does not exist.
		sc, err = scanScan(s.pool.QueryRow(ctx, get, siteID, scanner))
		return sc, mapRead("import scan", err, fmt.Sprintf("site %d", siteID))
	}
	if err != nil {
		return scan.Scan{}, mapWrite("import scan", err, fmt.Sprintf("a scan named like the imports of site %d already exists", siteID))
	}
	return sc, nil
}

// CreateImportedRun records, in one transaction, an imported run of the
// import scan: created and started when the file's scan started, running
// until its results are parsed, with one shard whose raw output is the
// file, and where the file came from. Runs are ordered by creation time,
// so an import takes its place among the scan's runs by the file's time.
func (s *Store) CreateImportedRun(ctx context.Context, in scan.ImportedRun) (scan.Run, error) {
	var run scan.Run
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		const ins = `
INSERT INTO runs (scan_id, workflow_id, status, targets, excludes, addresses, created_at, started_at, finished_at)
VALUES ($1, $2, 'running', $3, $4, $5, $6, $6, $7)
RETURNING ` + runCols
		addrs := int64(min(in.Targets.Addresses, 1<<62))
		var err error
		run, err = scanRun(tx.QueryRow(ctx, ins, in.ScanID, in.WorkflowID, strs(in.Targets.Targets), strs(in.Targets.Excludes),
			addrs, in.Start, in.End))
		if err != nil {
			return mapWrite("create imported run", err, fmt.Sprintf("workflow %q already has a run", in.WorkflowID))
		}
		const shard = `
INSERT INTO shards (run_id, idx, targets, status, attempt, raw_bucket, raw_key, raw_size, raw_sha256, started_at, finished_at, ran_by)
VALUES ($1, 0, $2, 'completed', 1, $3, $4, $5, $6, $7, $8, $9)`
		if _, err := tx.Exec(ctx, shard, run.ID, strs(in.Targets.Targets), in.Raw.Bucket, in.Raw.Key, in.Raw.Size, in.Raw.SHA256,
			in.Start, in.End, "import"); err != nil {
			return mapWrite("create imported shard", err, "")
		}
		const imp = `INSERT INTO run_imports (run_id, file_name, sha256, size, imported_by) VALUES ($1, $2, $3, $4, $5)`
		if _, err := tx.Exec(ctx, imp, run.ID, in.FileName, in.Raw.SHA256, in.Raw.Size, in.ImportedBy); err != nil {
			return mapWrite("record import", err, "")
		}
		return nil
	})
	if err != nil {
		return scan.Run{}, err
	}
	return run, nil
}

// LookupRunImport returns where an imported run came from; found is false
// for a run Scantron scanned.
func (s *Store) LookupRunImport(ctx context.Context, runID int64) (imp scan.RunImport, found bool, err error) {
	const q = `SELECT run_id, file_name, sha256, size, imported_by, imported_at FROM run_imports WHERE run_id = $1`
	err = s.pool.QueryRow(ctx, q, runID).Scan(&imp.RunID, &imp.FileName, &imp.SHA256, &imp.Size, &imp.ImportedBy, &imp.ImportedAt)
	if isNoRows(err) {
		return scan.RunImport{}, false, nil
	}
	if err != nil {
		return scan.RunImport{}, false, fmt.Errorf("run import: %w", err)
	}
	return imp, true, nil
}

// ImportsInProgress counts the site's imported runs still being recorded.
func (s *Store) ImportsInProgress(ctx context.Context, siteID int64) (int, error) {
	const q = `SELECT count(*) FROM runs r JOIN scans s ON s.id = r.scan_id
WHERE s.site_id = $1 AND s.imports IS NOT NULL AND r.status IN ('pending', 'running', 'parsing')`
	var n int
	if err := s.pool.QueryRow(ctx, q, siteID).Scan(&n); err != nil {
		return 0, fmt.Errorf("imports in progress: %w", err)
	}
	return n, nil
}
