package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/signing"
	"github.com/scantron/scantron/web"
)

// enrollServer answers POST /api/v1/enroll with a bundle over TLS, and
// writes its certificate to a file for --ca.
func enrollServer(t *testing.T) (srv *httptest.Server, caFile string, calls *atomic.Int32, bundle web.EnrollBundle) {
	t.Helper()
	calls = &atomic.Int32{}
	cred, _, err := scan.NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	srv = httptest.NewUnstartedServer(nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req struct{ Token string }
		if r.URL.Path != "/api/v1/enroll" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Token != "scj_test" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error": "token: join token not recognised; ask an admin for a new join token"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(bundle)
	})
	srv.StartTLS()
	t.Cleanup(srv.Close)
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(certPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle = web.EnrollBundle{AgentName: "edge-9", Credential: cred, ServerPublicKey: signing.EncodePublicKey(pub),
		TemporalAddress: "temporal.example:7233", TemporalNamespace: "scans", TemporalTLS: true,
		TemporalTLSCA: certPEM, TemporalTLSServerName: "temporal.example", Pools: []string{"dmz", "edge"}}
	return srv, caFile, calls, bundle
}

func TestEnrollWritesAConfigTheAgentLoads(t *testing.T) {
	srv, caFile, calls, bundle := enrollServer(t)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	conf := filepath.Join(dir, "agent.conf")
	if err := os.WriteFile(conf, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := runEnroll(context.Background(), []string{"--server", srv.URL + "/", "--ca", caFile, "--config", conf, "--force"},
		env(map[string]string{"SCANTRON_JOIN_TOKEN": "scj_test"}), &out, &errb)
	if code != 0 || calls.Load() != 1 {
		t.Fatalf("exit %d after %d calls: %s%s", code, calls.Load(), out.String(), errb.String())
	}
	for _, f := range []string{conf, conf + ".temporal-ca.pem"} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", f, err, fi.Mode())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%s holds %v, want the config and the CA only", dir, entries)
	}
	// The agent starts from the file and nothing else.
	cfg, err := loadConfig("agent", []string{"--config", conf}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentName != "edge-9" || cfg.AgentCred != bundle.Credential || signing.EncodePublicKey(cfg.ServerPublicKey) != bundle.ServerPublicKey ||
		cfg.ServerURL != srv.URL || cfg.TemporalAddress != "temporal.example:7233" || cfg.TemporalNamespace != "scans" ||
		!cfg.TemporalTLS || cfg.TemporalTLSCA != conf+".temporal-ca.pem" || cfg.TemporalTLSServer != "temporal.example" ||
		strings.Join(cfg.AgentPools, ",") != "dmz,edge" {
		t.Errorf("loaded config %+v", cfg)
	}
	if tlsCfg, err := cfg.temporalTLS(); err != nil || tlsCfg == nil || tlsCfg.RootCAs == nil {
		t.Errorf("Temporal TLS from the written CA: %v", err)
	}
}

// Whatever can be checked on this machine is checked before the token is
// sent, so a mistake does not cost the token.
func TestEnrollRefusesBeforeSpending(t *testing.T) {
	srv, caFile, calls, _ := enrollServer(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "agent.conf")
	if err := os.WriteFile(existing, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--token", "scj_test"}, 2, "--server (SCANTRON_SERVER_URL) is required"},
		{[]string{"--server", srv.URL}, 2, "--token (or SCANTRON_JOIN_TOKEN) is required"},
		{[]string{"--server", "ftp://x", "--token", "scj_test"}, 2, "--server: want the server's https:// base URL"},
		{[]string{"--server", "http://scantron.invalid", "--token", "scj_test", "--config", filepath.Join(dir, "a.conf")}, 2, "unencrypted; use https://"},
		{[]string{"--server", srv.URL, "--token", "scj_test", "--ca", caFile, "--config", existing}, 2, "already exists; pass --force"},
		{[]string{"--server", srv.URL, "--token", "scj_test", "--ca", existing, "--config", filepath.Join(dir, "b.conf")}, 1, "--ca: no PEM certificate"},
		{[]string{"--server", srv.URL, "--token", "scj_test", "--ca", caFile, "--config", filepath.Join(dir, "missing", "c.conf")}, 1, "--config: cannot write in"},
		{[]string{"--server", srv.URL, "--token", "scj_test", "extra"}, 2, "unexpected argument"},
	} {
		var out, errb bytes.Buffer
		code := runEnroll(context.Background(), tc.args, env(nil), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, %q; want %d with %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the server was asked %d times", n)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep\n" {
		t.Error("the existing config was changed")
	}
	// Without --ca the test server's certificate is not trusted; the
	// refusal of the server itself comes back with its reason.
	var errb bytes.Buffer
	if code := runEnroll(context.Background(), []string{"--server", srv.URL, "--token", "scj_test", "--config", filepath.Join(dir, "d.conf")}, env(nil), &bytes.Buffer{}, &errb); code != 1 ||
		!strings.Contains(errb.String(), "certificate") {
		t.Errorf("untrusted certificate: exit %d, %s", code, errb.String())
	}
	errb.Reset()
	if code := runEnroll(context.Background(), []string{"--server", srv.URL, "--token", "scj_other", "--ca", caFile, "--config", filepath.Join(dir, "e.conf")}, env(nil), &bytes.Buffer{}, &errb); code != 1 ||
		!strings.Contains(errb.String(), "join token not recognised; ask an admin for a new join token (HTTP 401)") {
		t.Errorf("refused token: exit %d, %s", code, errb.String())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".scantron-enroll-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// The server tells enrolling agents its public key and how to reach
// Temporal: the agents' address if set, its own TLS settings and CA.
func TestServerEnrollmentSettings(t *testing.T) {
	_, caFile, _, _ := enrollServer(t)
	pub, _, _ := ed25519.GenerateKey(nil)
	c := Config{TemporalAddress: "temporal:7233", TemporalNamespace: "scans"}
	e, err := c.enrollment(pub)
	if err != nil || e.TemporalAddress != "temporal:7233" || e.TemporalTLS || e.TemporalTLSCA != "" || e.ServerPublicKey != signing.EncodePublicKey(pub) {
		t.Errorf("plain: %+v, %v", e, err)
	}
	c.AgentTemporalAddress, c.TemporalTLSCA, c.TemporalTLSServer = "temporal.example.org:7233", caFile, "temporal.example.org"
	e, err = c.enrollment(pub)
	ca, _ := os.ReadFile(caFile)
	if err != nil || e.TemporalAddress != "temporal.example.org:7233" || !e.TemporalTLS || e.TemporalTLSCA != string(ca) || e.TemporalTLSServerName != "temporal.example.org" {
		t.Errorf("with TLS: %+v, %v", e, err)
	}
}
