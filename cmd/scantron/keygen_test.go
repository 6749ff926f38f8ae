package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/signing"
)

// TestKeygen: the key pair keygen makes configures a server and an agent
// that agree on signatures, and keygen never overwrites a key.
func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.key")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"keygen", "-out", path}, env(nil), strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("keygen exit %d: %s", code, stderr.String())
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		k, v, _ := strings.Cut(line, "=")
		vars[k] = v
	}
	if vars["SCANTRON_SIGNING_KEY"] != path || vars["SCANTRON_SERVER_PUBLIC_KEY"] == "" {
		t.Fatalf("keygen printed %q", stdout.String())
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", info, err)
	}

	serverEnv := map[string]string{"SCANTRON_DATABASE_URL": "postgres://x/y", "SCANTRON_S3_ENDPOINT": "h:1", "SCANTRON_S3_ACCESS_KEY": "a", "SCANTRON_S3_SECRET_KEY": "b"}
	serverCfg, err := loadConfig("server", []string{"--signing-key", path}, env(serverEnv), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	agentCfg, err := loadConfig("agent", []string{"--server-public-key", vars["SCANTRON_SERVER_PUBLIC_KEY"]}, env(agentEnv), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	// The .pub file configures an agent too.
	fromFile, err := loadConfig("agent", []string{"--server-public-key", path + ".pub"}, env(agentEnv), &bytes.Buffer{})
	if err != nil || !fromFile.ServerPublicKey.Equal(agentCfg.ServerPublicKey) {
		t.Fatalf("public key from %s.pub: %v", path, err)
	}
	signer, err := signing.NewSigner(serverCfg.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := signing.NewVerifier(agentCfg.ServerPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	spec := signer.Sign(scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Nmap, Targets: []string{"198.18.0.1"}}, time.Now().Add(time.Hour))
	if err := verifier.Verify(spec, time.Now()); err != nil {
		t.Fatalf("the agent does not verify the server's signature: %v", err)
	}

	before, _ := os.ReadFile(path)
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"keygen", "-out", path}, env(nil), strings.NewReader(""), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "exists") {
		t.Errorf("keygen over an existing key: exit %d, %q", code, stderr.String())
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("keygen overwrote an existing key")
	}

	stdout.Reset()
	if code := run(context.Background(), []string{"keygen"}, env(nil), strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("keygen to standard output: exit %d", code)
	}
	if _, err := signing.ParsePrivateKey(stdout.Bytes()); err != nil || !strings.Contains(stdout.String(), "SCANTRON_SERVER_PUBLIC_KEY=") {
		t.Errorf("keygen printed %q (%v)", stdout.String(), err)
	}
}
