package scan

import "errors"

// Sentinel errors. Callers wrap them with detail; test with errors.Is.
var (
	// ErrInvalidTarget marks a target or exclusion that does not parse.
	ErrInvalidTarget = errors.New("invalid target")
	// ErrTooManyAddresses marks a target set larger than the configured limit.
	ErrTooManyAddresses = errors.New("too many addresses")
	// ErrNoTargets marks a target set that is empty once exclusions are removed.
	ErrNoTargets = errors.New("no targets left after exclusions")
	// ErrInvalidOptions marks scanner options that are refused.
	ErrInvalidOptions = errors.New("invalid scanner options")
	// ErrInvalidSpec marks a job spec that an agent must not run. Retrying
	// cannot fix it, so activities turn it into a non-retryable error.
	ErrInvalidSpec = errors.New("invalid scan spec")
)
