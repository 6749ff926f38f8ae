package scan

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// An agent's credential is an Ed25519 seed, shown once when the agent is
// registered and kept only by the agent. The server stores the public key
// alone, so neither the database nor Temporal holds anything that can sign:
// an agent signs the result of each shard it scans, and the server refuses
// results that its key did not sign.
const credentialPrefix = "sct1_"

// ErrBadCredential is returned for a credential that is not one NewCredential
// made.
var ErrBadCredential = errors.New("not a scantron agent credential")

// NewCredential makes an agent credential and the public key that checks
// its signatures.
func NewCredential() (credential string, publicKey []byte, err error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return "", nil, err
	}
	key := ed25519.NewKeyFromSeed(seed)
	return credentialPrefix + base64.RawURLEncoding.EncodeToString(seed), key.Public().(ed25519.PublicKey), nil
}

// ResultClaim is what an agent signs about a shard it scanned: which output,
// of which attempt, by whom.
type ResultClaim struct {
	RunID   int64
	ShardID int64
	Attempt int
	Agent   string
	Raw     BlobRef
	// Nonce is the dispatch's (Dispatch.Nonce): a signed result answers
	// one dispatch and no other. Empty only for specs dispatched before
	// dispatches had one.
	Nonce string
}

func (c ResultClaim) message() []byte {
	if c.Nonce != "" {
		return fmt.Appendf(nil, "scantron-result-v2\n%d\n%d\n%d\n%s\n%s\n%s\n%d\n%s\n%s",
			c.RunID, c.ShardID, c.Attempt, c.Agent, c.Raw.Bucket, c.Raw.Key, c.Raw.Size, c.Raw.SHA256, c.Nonce)
	}
	return fmt.Appendf(nil, "scantron-result-v1\n%d\n%d\n%d\n%s\n%s\n%s\n%d\n%s",
		c.RunID, c.ShardID, c.Attempt, c.Agent, c.Raw.Bucket, c.Raw.Key, c.Raw.Size, c.Raw.SHA256)
}

// SignResult signs claim with the agent's credential.
func SignResult(credential string, claim ResultClaim) ([]byte, error) {
	key, err := credentialKey(credential)
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(key, claim.message()), nil
}

func credentialKey(credential string) (ed25519.PrivateKey, error) {
	seed, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(credential, credentialPrefix))
	if err != nil || !strings.HasPrefix(credential, credentialPrefix) || len(seed) != ed25519.SeedSize {
		return nil, ErrBadCredential
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// CheckCredential says whether credential is well-formed, so an agent can
// refuse a mistyped one at start.
func CheckCredential(credential string) error {
	_, err := SignResult(credential, ResultClaim{})
	return err
}

// VerifyResult reports whether sig is the signature of claim by the key.
func VerifyResult(publicKey []byte, claim ResultClaim, sig []byte) bool {
	return len(publicKey) == ed25519.PublicKeySize && ed25519.Verify(publicKey, claim.message(), sig)
}
