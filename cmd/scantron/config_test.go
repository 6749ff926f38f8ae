package main

import (
	"github.com/scantron/scantron/scan"

	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var agentEnv = map[string]string{
	"SCANTRON_AGENT_NAME":        "edge-1",
	"SCANTRON_SERVER_PUBLIC_KEY": "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqo=",
}

func TestLoadConfig(t *testing.T) {
	cfg, err := loadConfig("agent", []string{"--capacity", "4", "--temporal-address", "temporal.internal:7233"}, env(agentEnv), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentName != "edge-1" || cfg.AgentCapacity != 4 || cfg.TemporalAddress != "temporal.internal:7233" ||
		cfg.TemporalNamespace != "default" || cfg.TemporalWait != time.Minute || cfg.ScannerPaths[scan.Nmap] != "nmap" {
		t.Errorf("config = %+v", cfg)
	}
	// A flag beats the environment, which beats the default.
	cfg, err = loadConfig("agent", []string{"--name", "edge-2"}, env(agentEnv), &bytes.Buffer{})
	if err != nil || cfg.AgentName != "edge-2" {
		t.Errorf("flag did not win: %q, %v", cfg.AgentName, err)
	}
}

var serverEnv = map[string]string{"SCANTRON_DATABASE_URL": "postgres://x/y", "SCANTRON_S3_ENDPOINT": "h:1", "SCANTRON_S3_ACCESS_KEY": "a", "SCANTRON_S3_SECRET_KEY": "b"}

func TestLoadConfigExportsAndRetention(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "signing.key")
	if code := run(context.Background(), []string{"keygen", "-out", key}, env(nil), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatalf("keygen exit %d", code)
	}
	serverEnv := maps.Clone(serverEnv)
	serverEnv["SCANTRON_SIGNING_KEY"] = key
	cfg, err := loadConfig("server", nil, env(serverEnv), &bytes.Buffer{})
	if err != nil || cfg.Retention != 0 || cfg.ExportDir != "" || cfg.ExportS3Prefix != "" {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	for v, want := range map[string]time.Duration{"365d": 365 * 24 * time.Hour, "720h": 720 * time.Hour, "0": 0} {
		cfg, err = loadConfig("server", []string{"--retention", v, "--export-dir", dir, "--export-s3-prefix", "exports/"}, env(serverEnv), &bytes.Buffer{})
		if err != nil || cfg.Retention != want || cfg.ExportDir != dir || cfg.ExportS3Prefix != "exports/" {
			t.Errorf("--retention %s: %+v, %v", v, cfg, err)
		}
	}
}

func TestLoadConfigRefusesBadSettings(t *testing.T) {
	tests := []struct {
		name    string
		command string
		args    []string
		env     map[string]string
		want    []string
	}{
		{"missing required", "server", nil, nil, []string{"--database-url (SCANTRON_DATABASE_URL) is required", "--s3-endpoint (SCANTRON_S3_ENDPOINT) is required"}},
		{"bad database URL", "migrate", []string{"--database-url", "mysql://x"}, nil, []string{"--database-url (SCANTRON_DATABASE_URL): want a postgres:// URL"}},
		{"bad duration", "server", []string{"--heartbeat-timeout", "soon"}, map[string]string{"SCANTRON_DATABASE_URL": "postgres://x/y", "SCANTRON_S3_ENDPOINT": "h:1", "SCANTRON_S3_ACCESS_KEY": "a", "SCANTRON_S3_SECRET_KEY": "b"}, []string{"--heartbeat-timeout (SCANTRON_HEARTBEAT_TIMEOUT): want a positive duration"}},
		{"catch-up window under Temporal's minimum", "server", []string{"--schedule-catchup-window", "5s"}, map[string]string{"SCANTRON_DATABASE_URL": "postgres://x/y", "SCANTRON_S3_ENDPOINT": "h:1", "SCANTRON_S3_ACCESS_KEY": "a", "SCANTRON_S3_SECRET_KEY": "b"}, []string{"--schedule-catchup-window (SCANTRON_SCHEDULE_CATCHUP_WINDOW): want a duration of at least 10s"}},
		{"bad agent name", "agent", []string{"--name", "Edge 1"}, agentEnv, []string{"--name (SCANTRON_AGENT_NAME): want lower-case"}},
		{"bad capacity", "agent", []string{"--capacity", "0"}, agentEnv, []string{"--capacity (SCANTRON_AGENT_CAPACITY)"}},
		{"bad event stream limit", "server", []string{"--max-event-streams", "0"}, serverEnv, []string{"--max-event-streams (SCANTRON_MAX_EVENT_STREAMS): want a whole number from 1 to 10000"}},
		{"bad listen address", "server", []string{"--listen", "8080"}, nil, []string{"--listen (SCANTRON_LISTEN): want host:port"}},
		{"bad bucket", "server", []string{"--s3-bucket", "Bad_Bucket"}, serverEnv, []string{"--s3-bucket (SCANTRON_S3_BUCKET)"}},
		{"agents hold no S3 credentials", "agent", []string{"--s3-secret-key", "x"}, agentEnv, []string{"flag provided but not defined: -s3-secret-key"}},
		{"bad agent S3 endpoint", "server", []string{"--s3-agent-endpoint", "https://s3"}, serverEnv, []string{"--s3-agent-endpoint (SCANTRON_S3_AGENT_ENDPOINT): bad port"}},
		{"bad log level", "migrate", []string{"--log-level", "loud"}, map[string]string{"SCANTRON_DATABASE_URL": "postgres://x/y"}, []string{"--log-level (SCANTRON_LOG_LEVEL)"}},
		{"bad bool from the environment", "server", nil, map[string]string{"SCANTRON_S3_TLS": "yes please", "SCANTRON_DATABASE_URL": "postgres://x/y", "SCANTRON_S3_ENDPOINT": "h:1", "SCANTRON_S3_ACCESS_KEY": "a", "SCANTRON_S3_SECRET_KEY": "b"}, []string{"--s3-tls (SCANTRON_S3_TLS): want true or false"}},
		{"bad retention", "server", []string{"--retention", "a year", "--export-dir", "/nonexistent-dir", "--export-s3-prefix", "runs/x"}, serverEnv, []string{
			"--retention (SCANTRON_RETENTION): want 0, a number of days", "--export-dir (SCANTRON_EXPORT_DIR): want an existing directory",
			"--export-s3-prefix (SCANTRON_EXPORT_S3_PREFIX): want a key prefix"}},
		{"stray argument", "agent", []string{"extra"}, agentEnv, []string{`unexpected argument "extra"`}},
		{"flag of another command", "agent", []string{"--database-url", "postgres://x/y"}, agentEnv, []string{"flag provided but not defined: -database-url"}},
		{"bad interface", "agent", []string{"--scan-interface", "eth0 -iL /etc/shadow"}, agentEnv, []string{"--scan-interface (SCANTRON_SCAN_INTERFACE): want an interface name"}},
		{"no signing key", "server", nil, nil, []string{"--signing-key (SCANTRON_SIGNING_KEY) is required"}},
		{"missing signing key file", "server", []string{"--signing-key", "/nonexistent/signing.key"}, nil, []string{"--signing-key (SCANTRON_SIGNING_KEY): open /nonexistent/signing.key"}},
		{"no public key", "agent", []string{"--server-public-key", ""}, map[string]string{"SCANTRON_AGENT_NAME": "a"}, []string{"--server-public-key (SCANTRON_SERVER_PUBLIC_KEY) is required"}},
		{"temporal auth without server URL or credential", "agent", []string{"--temporal-auth=true"}, agentEnv, []string{"--temporal-auth (SCANTRON_TEMPORAL_AUTH) needs --server-url (SCANTRON_SERVER_URL) and --credential"}},
		{"temporal auth and an API key", "agent", []string{"--temporal-auth=true", "--temporal-api-key", "k", "--server-url", "http://s:8080"}, agentEnv, []string{"set one"}},
		{"bad server URL", "agent", []string{"--server-url", "s:8080"}, agentEnv, []string{"--server-url (SCANTRON_SERVER_URL): want an http(s) URL"}},
		{"token TTL out of range", "server", []string{"--temporal-token-ttl", "30s", "--temporal-key-lifetime", "1m"}, serverEnv, []string{
			"--temporal-token-ttl (SCANTRON_TEMPORAL_TOKEN_TTL): want a duration from 1m to 24h", "--temporal-key-lifetime (SCANTRON_TEMPORAL_KEY_LIFETIME): want a duration of at least 10m"}},
		{"bad public key", "agent", []string{"--server-public-key", "c2hvcnQ="}, agentEnv, []string{"--server-public-key (SCANTRON_SERVER_PUBLIC_KEY): want the base64 of a 32-byte ed25519 public key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, err := loadConfig(tt.command, tt.args, env(tt.env), &stderr)
			if err == nil {
				t.Fatal("accepted")
			}
			got := err.Error() + stderr.String()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("error %q does not contain %q", got, w)
				}
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, "Usage: scantron <command>"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"version"}, 0, "scantron dev"},
		{[]string{"agent", "-h"}, 0, "SCANTRON_AGENT_NAME"},
		{[]string{"server"}, 2, "is required"},
		// A database that is not there: a clear error and exit code 1.
		{[]string{"migrate", "--database-url", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, 1, "scantron migrate: database (--database-url / SCANTRON_DATABASE_URL)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, env(nil), strings.NewReader(""), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String()+stderr.String(), tt.out) {
				t.Errorf("exit %d, output %q; want %d containing %q", code, stdout.String()+stderr.String(), tt.code, tt.out)
			}
		})
	}
}

// TestREADMEListsEverySetting keeps the operators' documentation true: every
// setting, with its variable, flag, commands and default, is in README.md.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `SCANTRON_") {
			name := strings.Trim(strings.Fields(line)[1], "`")
			rows[name] = line
		}
	}
	for _, s := range settings {
		row, ok := rows[s.env]
		if !ok {
			t.Errorf("README.md has no row for %s", s.env)
			continue
		}
		if s.flag == "" {
			if !strings.Contains(row, "environment only") {
				t.Errorf("README row of %s does not say it is read from the environment only: %s", s.env, row)
			}
		} else if !strings.Contains(row, "(`--"+s.flag+"`)") {
			t.Errorf("README row of %s does not name --%s: %s", s.env, s.flag, row)
		}
		cells := strings.Split(row, "|")
		if got := strings.TrimSpace(cells[2]); got != strings.Join(strings.Fields(s.commands), ", ") && !(got == "all" && s.commands == "server agent migrate dev user") {
			t.Errorf("README row of %s says it is used by %q, the code says %q", s.env, got, s.commands)
		}
		if s.def != "" && !strings.Contains(cells[3], "`"+s.def+"`") {
			t.Errorf("README row of %s does not give the default %q: %s", s.env, s.def, row)
		}
		if s.required && !strings.Contains(cells[3], "required") {
			t.Errorf("README row of %s does not say it is required", s.env)
		}
		delete(rows, s.env)
	}
	for name := range rows {
		t.Errorf("README.md documents %s, which no command reads", name)
	}
}

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "scantron-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTemporalTLSSettings(t *testing.T) {
	cert, key := writeCert(t)
	load := func(args ...string) (Config, error) {
		return loadConfig("agent", args, env(agentEnv), &bytes.Buffer{})
	}

	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if c, err := cfg.temporalTLS(); err != nil || c != nil {
		t.Errorf("no TLS settings: %v, %v; want a plain connection", c, err)
	}

	cfg, err = load("--temporal-tls-cert", cert, "--temporal-tls-key", key, "--temporal-tls-ca", cert, "--temporal-tls-server-name", "temporal.example")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.temporalTLS()
	if err != nil || c == nil || len(c.Certificates) != 1 || c.RootCAs == nil || c.ServerName != "temporal.example" {
		t.Errorf("mutual TLS: %+v, %v", c, err)
	}

	cfg, err = load("--temporal-api-key", "secret")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := cfg.temporalTLS(); err != nil || c == nil {
		t.Errorf("an API key must bring TLS: %v, %v", c, err)
	}

	refused := []struct {
		args []string
		want string
	}{
		{[]string{"--temporal-tls-cert", cert}, "go together"},
		{[]string{"--temporal-tls-cert", cert, "--temporal-tls-key", cert}, "--temporal-tls-cert/--temporal-tls-key"},
		{[]string{"--temporal-tls-ca", filepath.Join(t.TempDir(), "missing.pem")}, "--temporal-tls-ca (SCANTRON_TEMPORAL_TLS_CA)"},
		{[]string{"--temporal-tls-ca", key}, "no PEM certificate"},
		{[]string{"--temporal-tls", "maybe"}, "--temporal-tls (SCANTRON_TEMPORAL_TLS): want true or false"},
	}
	for _, tt := range refused {
		if _, err := load(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestNetworkListSettings(t *testing.T) {
	key := filepath.Join(t.TempDir(), "signing.key")
	if code := run(context.Background(), []string{"keygen", "-out", key}, env(nil), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatalf("keygen exit %d", code)
	}
	e := maps.Clone(serverEnv)
	e["SCANTRON_SIGNING_KEY"] = key
	cfg, err := loadConfig("server", nil, env(e), &bytes.Buffer{})
	if err != nil || len(cfg.TrustedProxies) != 0 {
		t.Fatalf("default: %v, %v", cfg.TrustedProxies, err)
	}
	e["SCANTRON_TRUSTED_PROXIES"] = "10.1.2.3, 192.168.7.9/24,::1"
	cfg, err = loadConfig("server", nil, env(e), &bytes.Buffer{})
	if err != nil || fmt.Sprint(cfg.TrustedProxies) != "[10.1.2.3/32 192.168.7.0/24 ::1/128]" {
		t.Fatalf("parsed: %v, %v", cfg.TrustedProxies, err)
	}
	cfg, err = loadConfig("server", []string{"--webhook-allow-networks", "127.0.0.0/8,10.20.0.0/16"}, env(e), &bytes.Buffer{})
	if err != nil || fmt.Sprint(cfg.WebhookAllow) != "[127.0.0.0/8 10.20.0.0/16]" {
		t.Fatalf("webhook networks: %v, %v", cfg.WebhookAllow, err)
	}
	cfg, err = loadConfig("server", []string{"--public-url", "https://scantron.example.com/"}, env(e), &bytes.Buffer{})
	if err != nil || cfg.PublicURL != "https://scantron.example.com" {
		t.Fatalf("public URL: %q, %v", cfg.PublicURL, err)
	}
	e2 := maps.Clone(e)
	e2["SCANTRON_PUBLIC_URL"] = "scantron.example.com"
	if _, err = loadConfig("server", nil, env(e2), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--public-url (SCANTRON_PUBLIC_URL): want an http(s) URL") {
		t.Errorf("a public URL without a scheme: %v", err)
	}
	_, err = loadConfig("server", []string{"--trusted-proxies", "10.0.0.0/8,proxy.example"}, env(e), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `--trusted-proxies (SCANTRON_TRUSTED_PROXIES): want addresses or CIDR networks such as 10.0.0.0/8, got "proxy.example"`) {
		t.Errorf("a host name: %v", err)
	}
}
