package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/scantron/scantron/scan"
)

// Sentinel errors, the domain's (package scan), so that callers need not
// depend on this package to tell them apart. Methods wrap them with
// detail; test with errors.Is.
var (
	ErrNotFound = scan.ErrNotFound
	ErrConflict = scan.ErrConflict
	ErrInUse    = scan.ErrInUse
	ErrInvalid  = scan.ErrInvalid
)

// PostgreSQL error codes this package maps to sentinels.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeCheckViolation      = "23514"
	codeNotNullViolation    = "23502"
	codeInvalidText         = "22P02"
)

func pgError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// mapWrite turns the errors of an INSERT or UPDATE into sentinels. conflict
// describes what a unique violation means ("a site named \"x\" already
// exists"); a foreign key violation here means a referenced row is missing.
func mapWrite(op string, err error, conflict string) error {
	pe := pgError(err)
	switch {
	case pe == nil:
		return fmt.Errorf("%s: %w", op, err)
	case pe.Code == codeUniqueViolation:
		return fmt.Errorf("%s: %w: %s", op, ErrConflict, conflict)
	case pe.Code == codeForeignKeyViolation:
		return fmt.Errorf("%s: %w: %s", op, ErrNotFound, referenced(pe))
	case pe.Code == codeCheckViolation, pe.Code == codeNotNullViolation, pe.Code == codeInvalidText:
		return fmt.Errorf("%s: %w: %s", op, ErrInvalid, pe.Message)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// mapDelete turns the errors of a DELETE into sentinels: a foreign key
// violation means another row still refers to this one.
func mapDelete(op string, err error, inUse string) error {
	if pe := pgError(err); pe != nil && pe.Code == codeForeignKeyViolation {
		return fmt.Errorf("%s: %w: %s", op, ErrInUse, inUse)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// mapRead turns pgx.ErrNoRows into ErrNotFound naming what was looked for.
func mapRead(op string, err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w: %s", op, ErrNotFound, what)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// referenced names the missing row of a foreign key violation from the
// constraint name PostgreSQL gives it (<table>_<column>_fkey).
func referenced(pe *pgconn.PgError) string {
	switch pe.ConstraintName {
	case "scans_site_id_fkey":
		return "the scan's site does not exist"
	case "scans_profile_id_fkey":
		return "the scan's profile does not exist"
	case "scans_agent_id_fkey":
		return "the scan's agent does not exist"
	case "scans_pool_id_fkey":
		return "the scan's pool does not exist"
	case "runs_scan_id_fkey":
		return "the run's scan does not exist"
	case "shards_run_id_fkey":
		return "the shard's run does not exist"
	case "shards_agent_id_fkey":
		return "the shard's agent does not exist"
	}
	return pe.Message
}

func isNoRows(err error) bool {
	return errors.Is(err, pgx.ErrNoRows)
}
