package scan

import "errors"

// What a store says when it refuses a read or a write. The storage
// package wraps them with detail; callers test with errors.Is, without
// depending on the store.
var (
	// ErrNotFound marks a row that does not exist, including a row that a
	// new or changed row refers to (a scan naming a missing site, say).
	ErrNotFound = errors.New("not found")
	// ErrConflict marks a unique name already taken, or a change that the
	// row's current state forbids (moving a finished run to another status).
	ErrConflict = errors.New("conflict")
	// ErrInUse marks a row that cannot be deleted because another refers to
	// it (a site used by a scan, a scan with runs).
	ErrInUse = errors.New("in use")
	// ErrInvalid marks a value the schema refuses: an empty name, an unknown
	// scanner or status, a malformed blob reference.
	ErrInvalid = errors.New("invalid value")
)
