package accounts

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a user may do. Each role may do everything the ones below
// it may.
type Role string

const (
	// Viewer reads everything except accounts.
	Viewer Role = "viewer"
	// Operator also changes sites, exclusions, profiles and scans, and
	// starts and stops runs.
	Operator Role = "operator"
	// Admin also manages agents and users.
	Admin Role = "admin"
)

// Roles lists the roles from least to most allowed.
var Roles = []Role{Viewer, Operator, Admin}

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Operator:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a user with role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.Valid() && r.rank() >= need.rank() }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(s))
	if !r.Valid() {
		return "", fmt.Errorf("role %q is not one of admin, operator, viewer", s)
	}
	return r, nil
}

// User is an account.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	// PasswordHash is the bcrypt hash; never sent to clients.
	PasswordHash string `json:"-"`
}

// Token is an API token as listed: the secret itself is shown once, when it
// is made, and only its hash is kept.
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// ExpiresAt is when the token stops working.
	ExpiresAt time.Time `json:"expires_at"`
}

// Expired reports whether the token no longer works at now.
func (t Token) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

// API tokens expire: after DefaultTokenDays unless made with another
// lifetime, which may not exceed MaxTokenDays.
const (
	DefaultTokenDays = 90
	MaxTokenDays     = 365
)

// Session is a browser's login. The cookie holds the secret; the store
// keeps its hash, the CSRF token the session's forms must carry, and when
// it ends.
type Session struct {
	UserID    int64
	CSRF      string
	ExpiresAt time.Time
}

var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.@-]{0,62}$`)

// CheckName checks a user name: 1 to 63 lower-case letters, digits or
// "_.@-", starting with a letter or digit.
func CheckName(name string) error {
	if !userName.MatchString(name) {
		if len(name) > 80 {
			name = strings.ToValidUTF8(name[:80], "") + "…"
		}
		return fmt.Errorf("user name %q: want 1 to 63 lower-case letters, digits, '_', '.', '@' or '-', starting with a letter or digit", name)
	}
	return nil
}

// Password length bounds. bcrypt reads at most 72 bytes, so a longer
// password would be silently cut; refusing it is clearer.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 72
)

// ErrWrongPassword is what CheckPassword answers for a password that does
// not match.
var ErrWrongPassword = errors.New("wrong password")

// HashPassword checks a new password (CheckNewPassword) and hashes it
// with bcrypt.
func HashPassword(password string) (string, error) {
	if err := CheckNewPassword(password); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckNewPassword checks what a new password must be: 12 characters to
// 72 bytes of UTF-8, no control characters, not only spaces.
func CheckNewPassword(password string) error {
	if n := utf8.RuneCountInString(password); n < MinPasswordLen {
		return fmt.Errorf("password: %d characters long, at least %d are needed", n, MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return fmt.Errorf("password: %d bytes long, at most %d are allowed", len(password), MaxPasswordLen)
	}
	if !utf8.ValidString(password) {
		return errors.New("password: not valid UTF-8")
	}
	// Control characters cannot be typed at a login form (and NUL ends a
	// password in many tools); a password of blanks is no password.
	if strings.ContainsFunc(password, unicode.IsControl) {
		return errors.New("password: contains a control character")
	}
	if strings.TrimSpace(password) == "" {
		return errors.New("password: only spaces; choose one with other characters")
	}
	return nil
}

// CheckPassword compares a password with a bcrypt hash.
func CheckPassword(hash, password string) error {
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return ErrWrongPassword
	}
	return err
}

// dummyHash is compared against when a login names no user, so that a
// missing user and a wrong password take the same time.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("scantron-no-such-user"), bcrypt.DefaultCost)

// SpendPasswordCheck costs what CheckPassword costs, for logins that name
// no user.
func SpendPasswordCheck(password string) {
	_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
}

// TokenPrefix starts every API token, so that a leaked one is easy to
// recognise (and to search for in code).
const TokenPrefix = "sct_"

// NewSecret returns 32 random bytes, URL-safe base64 encoded.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("accounts: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewToken returns a new API token secret.
func NewToken() string { return TokenPrefix + NewSecret() }

// HashSecret is how session and token secrets are stored and looked up:
// they are long and random, so a fast hash is enough.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// SameSecret compares two secrets in constant time.
func SameSecret(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
