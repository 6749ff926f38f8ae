package devstack

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/scantron/scantron/scan/signing"
)

// TestSigningKey: a stack makes its signing key once and keeps it, so that
// a durable stack's agents go on verifying specs across restarts, and hands
// server and agent the two halves of one pair.
func TestSigningKey(t *testing.T) {
	dir := t.TempDir()
	first := &Stack{Dir: dir}
	if err := first.ensureSigningKey(); err != nil {
		t.Fatal(err)
	}
	if first.SigningKeyFile != filepath.Join(dir, "signing.key") {
		t.Errorf("key file %q", first.SigningKeyFile)
	}
	if info, err := os.Stat(first.SigningKeyFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", info, err)
	}
	again := &Stack{Dir: dir}
	if err := again.ensureSigningKey(); err != nil {
		t.Fatal(err)
	}
	if again.PublicKey != first.PublicKey {
		t.Error("a restarted stack made a new key")
	}
	key, err := signing.ReadPrivateKeyFile(first.SigningKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := signing.NewSigner(key)
	if signing.EncodePublicKey(signer.PublicKey()) != first.PublicKey {
		t.Error("the public key does not belong to the private key")
	}
	env := (&Stack{Postgres: &Postgres{}, S3: &S3{}, Temporal: &Temporal{}, SigningKeyFile: first.SigningKeyFile, PublicKey: first.PublicKey}).Env()
	for _, want := range []string{"SCANTRON_SIGNING_KEY=" + first.SigningKeyFile, "SCANTRON_SERVER_PUBLIC_KEY=" + first.PublicKey} {
		if !slices.Contains(env, want) {
			t.Errorf("Env() lacks %s", want)
		}
	}
}
