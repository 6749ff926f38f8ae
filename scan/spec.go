package scan

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Scanner names a scanner program an agent can run.
type Scanner string

// The scanners Scantron drives.
const (
	Nmap    Scanner = "nmap"
	Masscan Scanner = "masscan"
)

// DefaultScanner is the scanner of a profile, and of a stored output, that
// names none: Scantron began with nmap alone.
const DefaultScanner = Nmap

// ParseScanner accepts a scanner name.
func ParseScanner(s string) (Scanner, error) {
	if _, ok := policies[Scanner(s)]; ok {
		return Scanner(s), nil
	}
	return "", fmt.Errorf("%w: unknown scanner %q (want one of %s)", ErrInvalidOptions, s, ScannerList())
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
	// Expires and Signature are set by the server when it dispatches the
	// spec (scan/signing): the agent refuses a spec that is unsigned,
	// altered or past Expires. They are not part of Validate.
	Expires   time.Time `json:"expires,omitzero"`
	Signature []byte    `json:"signature,omitempty"`
	// Rate caps masscan's packets per second: the lower of the profile's
	// --rate and the site's max_rate, set by the server (0 = masscan's
	// default). The profile's own --rate is taken out of Options.
	Rate float64 `json:"rate,omitempty"`
	// Dispatch binds the signed spec to one attempt of the shard on one
	// task queue, and carries the only access to object storage the agent
	// gets for it. Set and signed by the server with Expires; agents refuse
	// a spec without it.
	Dispatch *Dispatch `json:"dispatch,omitempty"`
	// Groups, when set, split the run into one scanner run per group,
	// one after another: each group's targets (together, exactly
	// Targets) on the group's ports alone. A second stage's hosts that
	// its first stage found open on the same ports form one group.
	Groups []PortGroup `json:"groups,omitempty"`
}

// MaxPortGroups bounds a spec's Groups: each is a scanner started once
// more, in turn, within one attempt.
const MaxPortGroups = 16

// PortGroup is one run of a grouped spec: Targets (some of the spec's)
// scanned on Ports, sorted and without repeats.
type PortGroup struct {
	Ports   []uint16 `json:"ports"`
	Targets []string `json:"targets"`
}

// Dispatch is one attempt of one shard, sent to one task queue: the agent
// refuses the spec from any other queue, and the server accepts the result
// only for the shard's current dispatch (Nonce), from the agent it was sent
// to or a member of the pool whose queue it was sent to.
type Dispatch struct {
	TaskQueue string `json:"task_queue"`
	Attempt   int    `json:"attempt"`
	// Nonce is new for every dispatch; the server records it.
	Nonce string `json:"nonce"`
	// Objects are presigned URLs for exactly this attempt's objects,
	// expiring with the spec.
	Objects ShardURLs `json:"objects"`
}

// ShardURLs are the presigned object storage URLs of one shard attempt.
type ShardURLs struct {
	Bucket string `json:"bucket"`
	// OutputPut stores the scanner's output at RawKey(run, shard, attempt).
	OutputPut string `json:"output_put"`
	// ResumePut stores the attempt's resume state at PartialKey(run,
	// shard, attempt).
	ResumePut string `json:"resume_put"`
	// ResumeKey and ResumeGet read the resume state an earlier attempt
	// saved, if there is one.
	ResumeKey string `json:"resume_key,omitempty"`
	ResumeGet string `json:"resume_get,omitempty"`
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
	if err := s.validGroups(); err != nil {
		return err
	}
	targets, err := ParseTargets(s.Targets)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	excludes, err := ParseTargets(s.Excludes)
	if err != nil {
		return fmt.Errorf("%w: exclusion: %v", ErrInvalidSpec, err)
	}
	// The server removed every exclusion from the targets before dispatch;
	// a target that still touches one means the spec was built or altered
	// elsewhere. The scanner is given the exclusions as well (--exclude).
	for _, t := range targets {
		for _, e := range excludes {
			if overlaps(t, e) {
				return fmt.Errorf("%w: target %s overlaps exclusion %s", ErrInvalidSpec, t, e)
			}
		}
	}
	return nil
}

// validGroups checks that the groups, if any, are at most MaxPortGroups,
// each with ports (sorted, without repeats, none 0), and that their targets
// are exactly the spec's, each once and in order: a group scans nothing the
// spec does not name.
func (s Spec) validGroups() error {
	if len(s.Groups) == 0 {
		return nil
	}
	if len(s.Groups) > MaxPortGroups {
		return fmt.Errorf("%w: %d port groups, at most %d", ErrInvalidSpec, len(s.Groups), MaxPortGroups)
	}
	var all []string
	for i, g := range s.Groups {
		if len(g.Ports) == 0 || len(g.Targets) == 0 {
			return fmt.Errorf("%w: port group %d has no ports or no targets", ErrInvalidSpec, i)
		}
		for j, p := range g.Ports {
			if p == 0 || (j > 0 && p <= g.Ports[j-1]) {
				return fmt.Errorf("%w: port group %d: ports must be sorted, without repeats, above 0", ErrInvalidSpec, i)
			}
		}
		all = append(all, g.Targets...)
	}
	if !slices.Equal(all, s.Targets) {
		return fmt.Errorf("%w: the port groups' targets are not the spec's targets", ErrInvalidSpec)
	}
	return nil
}

// overlaps reports whether two targets share an address (host names: the
// same name).
func overlaps(a, b Target) bool {
	if a.Kind == KindHost || b.Kind == KindHost {
		return a.Kind == b.Kind && a.Host == b.Host
	}
	return a.From.Is4() == b.From.Is4() && !a.To.Less(b.From) && !b.To.Less(a.From)
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
