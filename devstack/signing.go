package devstack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/scantron/scantron/scan/signing"
)

// ensureSigningKey gives the stack a server signing key, Dir/signing.key,
// made on first start and kept (a durable stack's agents keep verifying
// specs across restarts), and the public key agents verify with.
func (s *Stack) ensureSigningKey() error {
	path := filepath.Join(s.Dir, "signing.key")
	key, err := signing.ReadPrivateKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if key, err = signing.GenerateKey(); err != nil {
			return fmt.Errorf("devstack: signing key: %w", err)
		}
		pem, err := signing.MarshalPrivateKey(key)
		if err != nil {
			return fmt.Errorf("devstack: signing key: %w", err)
		}
		if err := os.WriteFile(path, pem, 0o600); err != nil {
			return fmt.Errorf("devstack: signing key: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("devstack: signing key: %w", err)
	}
	signer, err := signing.NewSigner(key)
	if err != nil {
		return fmt.Errorf("devstack: signing key: %w", err)
	}
	s.SigningKeyFile, s.PublicKey = path, signing.EncodePublicKey(signer.PublicKey())
	return nil
}
