// Package signing signs the scan specs the server dispatches and verifies
// them on the agent, with ed25519. Temporal carries the specs, so without
// this anyone able to start workflows or activities on the Temporal
// namespace could make agents scan targets of their choosing; with it, an
// agent runs only what the holder of the server's private key sent, unaltered
// and before it expires.
package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/scantron/scantron/scan"
)

// The reasons an agent refuses a spec. Each wraps scan.ErrInvalidSpec, which
// activities turn into a non-retryable error: no retry can fix them.
var (
	ErrUnsigned      = fmt.Errorf("%w: spec is not signed", scan.ErrInvalidSpec)
	ErrBadSignature  = fmt.Errorf("%w: spec signature does not verify (altered, or signed by another server)", scan.ErrInvalidSpec)
	ErrExpired       = fmt.Errorf("%w: spec has expired", scan.ErrInvalidSpec)
	ErrNotDispatched = fmt.Errorf("%w: spec is not bound to a dispatch", scan.ErrInvalidSpec)
	ErrWrongQueue    = fmt.Errorf("%w: spec was dispatched to another task queue", scan.ErrInvalidSpec)
)

// domain starts every signed message, so that a signature over a spec can
// never be taken for a signature over anything else.
const domain = "scantron scan spec v2\x00"

// Message is the canonical encoding of spec that is signed: every field
// but Signature, each length-prefixed, so that no two different specs
// encode alike (moving a word from Targets to Excludes changes it). Nil and
// empty lists encode alike, as JSON may turn one into the other.
func Message(spec scan.Spec) []byte {
	var b bytes.Buffer
	b.WriteString(domain)
	num := func(v uint64) { _ = binary.Write(&b, binary.BigEndian, v) }
	text := func(s string) { num(uint64(len(s))); b.WriteString(s) }
	list := func(l []string) {
		num(uint64(len(l)))
		for _, s := range l {
			text(s)
		}
	}
	num(uint64(spec.RunID))
	num(uint64(spec.ShardID))
	text(string(spec.Scanner))
	list(spec.Options)
	list(spec.Targets)
	list(spec.Excludes)
	num(math.Float64bits(spec.Rate))
	num(uint64(spec.Expires.UnixNano()))
	if d := spec.Dispatch; d != nil {
		// Specs signed before dispatches existed end here, and still
		// verify; agents refuse them for want of a dispatch.
		b.WriteString("dispatch")
		text(d.TaskQueue)
		num(uint64(d.Attempt))
		text(d.Nonce)
		o := d.Objects
		list([]string{o.Bucket, o.OutputPut, o.ResumePut, o.ResumeKey, o.ResumeGet})
	}
	if len(spec.Groups) > 0 {
		// Specs without groups end before this, as they did before
		// groups existed.
		b.WriteString("groups")
		num(uint64(len(spec.Groups)))
		for _, g := range spec.Groups {
			num(uint64(len(g.Ports)))
			for _, p := range g.Ports {
				num(uint64(p))
			}
			list(g.Targets)
		}
	}
	return b.Bytes()
}

// Signer signs specs with the server's private key.
type Signer struct {
	key ed25519.PrivateKey
}

// NewSigner returns a Signer for key.
func NewSigner(key ed25519.PrivateKey) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("signing: not an ed25519 private key")
	}
	return &Signer{key: key}, nil
}

// Sign returns spec valid until expires, signed.
func (s *Signer) Sign(spec scan.Spec, expires time.Time) scan.Spec {
	spec.Expires = expires.UTC().Truncate(time.Second)
	spec.Signature = ed25519.Sign(s.key, Message(spec))
	return spec
}

// PublicKey is the key agents verify with.
func (s *Signer) PublicKey() ed25519.PublicKey {
	return s.key.Public().(ed25519.PublicKey)
}

// Verifier checks specs against the server's public key.
type Verifier struct {
	pub ed25519.PublicKey
}

// NewVerifier returns a Verifier for pub.
func NewVerifier(pub ed25519.PublicKey) (*Verifier, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("signing: not an ed25519 public key")
	}
	return &Verifier{pub: pub}, nil
}

// VerifyDispatch is Verify, and also that spec is bound to a dispatch to
// taskQueue, the queue the agent received it from: a spec for another agent
// or pool, taken from its queue and sent to this one, is refused.
func (v *Verifier) VerifyDispatch(spec scan.Spec, taskQueue string, now time.Time) error {
	if err := v.Verify(spec, now); err != nil {
		return err
	}
	if spec.Dispatch == nil || spec.Dispatch.Nonce == "" || spec.Dispatch.Attempt < 1 {
		return ErrNotDispatched
	}
	if spec.Dispatch.TaskQueue != taskQueue {
		return fmt.Errorf("%w (%q, received from %q)", ErrWrongQueue, spec.Dispatch.TaskQueue, taskQueue)
	}
	return nil
}

// Verify returns nil if spec carries a valid signature and has not expired
// at now; otherwise an error wrapping ErrUnsigned, ErrBadSignature or
// ErrExpired (and so scan.ErrInvalidSpec).
func (v *Verifier) Verify(spec scan.Spec, now time.Time) error {
	if len(spec.Signature) == 0 || spec.Expires.IsZero() {
		return ErrUnsigned
	}
	if !ed25519.Verify(v.pub, Message(spec), spec.Signature) {
		return ErrBadSignature
	}
	if !now.Before(spec.Expires) {
		return fmt.Errorf("%w (at %s)", ErrExpired, spec.Expires.Format(time.RFC3339))
	}
	return nil
}

// GenerateKey makes a new private key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	return key, err
}

// MarshalPrivateKey writes key as a PKCS #8 "PRIVATE KEY" PEM block, the
// form `openssl genpkey -algorithm ed25519` writes too.
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey reads a PKCS #8 PEM ed25519 private key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM \"PRIVATE KEY\" block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the key is a %T, not ed25519", key)
	}
	return ed, nil
}

// ReadPrivateKeyFile reads a private key written by MarshalPrivateKey.
func ReadPrivateKeyFile(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// EncodePublicKey writes pub as base64 (44 characters), the form agents
// are configured with.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads a public key written by EncodePublicKey.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("want the base64 of a 32-byte ed25519 public key (scantron keygen prints it)")
	}
	return ed25519.PublicKey(b), nil
}
