// Package postgres is Scantron's PostgreSQL store: sites, exclusions,
// profiles, agents, scans, runs, shards and the hosts and ports parsed from
// scanner output.
//
// The schema lives in embedded, numbered SQL migrations that Migrate applies
// in order, each in its own transaction, under an advisory lock so that
// servers starting together do not race. Open does not migrate; the server
// calls Migrate once at start.
//
// Every method takes a context first and wraps its errors with %w. Test them
// with errors.Is against ErrNotFound, ErrConflict, ErrInUse and ErrInvalid;
// a method never returns a zero value with a nil error for a missing row.
package postgres
