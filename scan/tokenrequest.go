package scan

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// TokenRequest is what an agent signs with its credential to ask the server
// for a Temporal token: who asks, when, and a random nonce, so that a signed
// request is useless once its few minutes are over.
type TokenRequest struct {
	Agent string
	At    time.Time
	Nonce string
}

func (r TokenRequest) message() []byte {
	return fmt.Appendf(nil, "scantron-temporal-token-v1\n%s\n%d\n%s", r.Agent, r.At.Unix(), r.Nonce)
}

// SignTokenRequest signs r with the agent's credential.
func SignTokenRequest(credential string, r TokenRequest) ([]byte, error) {
	key, err := credentialKey(credential)
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(key, r.message()), nil
}

// VerifyTokenRequest reports whether sig is the signature of r by the key.
func VerifyTokenRequest(publicKey []byte, r TokenRequest, sig []byte) bool {
	return len(publicKey) == ed25519.PublicKeySize && ed25519.Verify(publicKey, r.message(), sig)
}

// TokenKey is one of the server's keys for signing Temporal tokens, as
// stored: the PKCS #8 private key, when it may sign, and until when its
// public half stays published (its last token's expiry).
type TokenKey struct {
	ID           string
	PrivateKey   []byte
	UseFrom      time.Time
	UseUntil     time.Time
	PublishUntil time.Time
}
