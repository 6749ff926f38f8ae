package accounts

import (
	"errors"
	"strings"
	"time"
)

// JoinTokenPrefix starts every join token, so that one pasted in the wrong
// place is recognised.
const JoinTokenPrefix = "scj_"

// MaxJoinTokenTTL is the longest a join token may wait for its agent; the
// database refuses longer ones too.
const MaxJoinTokenTTL = time.Hour

// DefaultJoinTokenTTL is a join token's lifetime when its maker names none.
const DefaultJoinTokenTTL = 30 * time.Minute

// A join token lets one agent enroll once: trade the token for its
// credential and the settings it needs. Only the hash of its secret is
// stored.
type JoinToken struct {
	ID        int64      `json:"id"`
	AgentName string     `json:"agent_name"`
	Pools     []string   `json:"pools"`
	CreatedBy *int64     `json:"created_by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	// UsedFrom is the address the token was spent from.
	UsedFrom string `json:"used_from,omitempty"`
	// State is pending, used or expired, by the database's clock, which
	// is the one that decides.
	State string `json:"state"`
}

// Why a join token is refused. The token's secret is 256 random bits, so
// saying that a presented token was used or has expired tells nothing to
// anyone who does not already hold it.
var (
	ErrJoinTokenUnknown = errors.New("join token not recognised")
	ErrJoinTokenUsed    = errors.New("join token already used")
	ErrJoinTokenExpired = errors.New("join token expired")
)

// NewJoinToken returns a new join token secret.
func NewJoinToken() string { return JoinTokenPrefix + NewSecret() }

// CheckJoinTokenTTL checks a requested lifetime.
func CheckJoinTokenTTL(d time.Duration) error {
	if d < time.Minute || d > MaxJoinTokenTTL {
		return errors.New("want a duration from 1m to 1h, such as 30m")
	}
	return nil
}

// LooksLikeJoinToken reports whether s has the shape of a join token, so
// that a mangled paste gets a precise message without a database lookup.
func LooksLikeJoinToken(s string) bool {
	rest, ok := strings.CutPrefix(s, JoinTokenPrefix)
	return ok && len(rest) == 43
}
