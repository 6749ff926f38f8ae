package driver

import "errors"

// Sentinel errors of Run. Callers wrap them with detail; test with
// errors.Is.
var (
	// ErrScannerNotFound marks a scanner binary that cannot be found or
	// executed. Retrying on the same agent will not help.
	ErrScannerNotFound = errors.New("scanner binary not found")
	// ErrScannerFailed marks a scanner that exited with a non-zero status or
	// was killed by a signal it was not sent by Run. The error text carries
	// the exit status and the end of its standard error.
	ErrScannerFailed = errors.New("scanner failed")
)
