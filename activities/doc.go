// Package activities holds Scantron's side effects, run by Temporal workers:
// Agent runs scanners on an agent and uploads their output; Results, on the
// server, prepares runs, parses and stores results, exports them and records
// how each run ended. Each type holds its dependencies through the small
// interfaces declared here, so this package depends on scan alone.
package activities

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
)

// Error types that workflows and retry policies recognise.
const (
	// ErrTypeInvalidSpec marks a scan that can never run as defined: bad
	// targets, refused options, an empty target set. Never retried.
	ErrTypeInvalidSpec = "InvalidSpec"
	// ErrTypeNoRawSockets marks a profile that needs raw sockets on an agent
	// whose scanner has neither root nor CAP_NET_RAW.
	ErrTypeNoRawSockets = "NoRawSockets"
	// ErrTypeBadOutput marks scanner output that cannot be parsed.
	ErrTypeBadOutput = "BadScannerOutput"
)

// nonRetryable turns domain errors that retrying cannot fix into
// non-retryable application errors and passes other errors through.
func nonRetryable(err error) error {
	if err == nil {
		return nil
	}
	for _, sentinel := range []error{scan.ErrInvalidSpec, scan.ErrInvalidTarget, scan.ErrInvalidOptions, scan.ErrNoTargets, scan.ErrTooManyAddresses} {
		if errors.Is(err, sentinel) {
			return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidSpec, err)
		}
	}
	return err
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
