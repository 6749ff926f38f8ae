package scan

import (
	"fmt"
	"regexp"
)

// Scanner names a scanner program an agent can run.
type Scanner string

// The scanners Scantron drives.
const (
	Nmap    Scanner = "nmap"
	Masscan Scanner = "masscan"
)

// ParseScanner accepts a scanner name.
func ParseScanner(s string) (Scanner, error) {
	switch Scanner(s) {
	case Nmap, Masscan:
		return Scanner(s), nil
	}
	return "", fmt.Errorf("%w: unknown scanner %q (want nmap or masscan)", ErrInvalidOptions, s)
}

// Spec is one job for an agent: run Scanner with Options over Targets,
// skipping Excludes. It is small by design; results travel as a BlobRef.
type Spec struct {
	RunID    int64    `json:"run_id"`
	ShardID  int64    `json:"shard_id"`
	Scanner  Scanner  `json:"scanner"`
	Options  []string `json:"options"`
	Targets  []string `json:"targets"`
	Excludes []string `json:"excludes,omitempty"`
	// Rate caps masscan's packets per second: the lower of the profile's
	// --rate and the site's max_rate, set by the server (0 = masscan's
	// default). The profile's own --rate is taken out of Options.
	Rate float64 `json:"rate,omitempty"`
}

// Validate is run by the server before dispatch and again by the agent before
// it starts anything, so that a spec altered on the way is still refused.
func (s Spec) Validate() error {
	if s.RunID <= 0 || s.ShardID <= 0 {
		return fmt.Errorf("%w: run and shard ids must be positive", ErrInvalidSpec)
	}
	if _, err := ParseScanner(string(s.Scanner)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	if err := CheckOptions(s.Scanner, s.Options); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	if len(s.Targets) == 0 {
		return fmt.Errorf("%w: no targets", ErrInvalidSpec)
	}
	if s.Rate < 0 {
		return fmt.Errorf("%w: negative rate", ErrInvalidSpec)
	}
	for _, list := range [][]string{s.Targets, s.Excludes} {
		for _, t := range list {
			if _, err := ParseTarget(t); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
			}
		}
	}
	return nil
}

// BlobRef points at an object in S3-compatible storage. It is what travels
// through Temporal in place of scanner output.
type BlobRef struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Validate checks that the reference is complete.
func (b BlobRef) Validate() error {
	if b.Bucket == "" || b.Key == "" || b.Size < 0 || !sha256Hex.MatchString(b.SHA256) {
		return fmt.Errorf("incomplete blob reference %+v", b)
	}
	return nil
}
