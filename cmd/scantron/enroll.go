package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/scantron/scantron/web"
)

// defaultAgentConfig is where the packaged agent's unit reads its settings.
const defaultAgentConfig = "/etc/scantron/agent.conf"

const enrollUsage = `Usage: scantron agent enroll --server URL --token T [--config FILE] [--ca FILE] [--force] [--insecure-http]

Trades a one-time join token (made on the Agents page, with POST
/api/v1/join-tokens or 'scantron agents join-token create') for this agent's
name, credential and settings, and writes them to FILE with mode 0600. Then
'scantron agent --config FILE' needs nothing else.

The server must be reached over HTTPS, except at a loopback address.

Flags:
`

// runEnroll enrolls this machine's agent and returns the exit code.
func runEnroll(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scantron agent enroll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", getenv("SCANTRON_SERVER_URL"), "the scantron server's base URL, e.g. https://scantron.example.org (env SCANTRON_SERVER_URL)")
	token := fs.String("token", "", "the join token (or env SCANTRON_JOIN_TOKEN, which keeps it out of the process list)")
	config := fs.String("config", "", "file to write the agent's settings to (env SCANTRON_CONFIG, default "+defaultAgentConfig+")")
	ca := fs.String("ca", "", "PEM file of CA certificates to trust for the server instead of the system's")
	force := fs.Bool("force", false, "replace an existing config file")
	insecure := fs.Bool("insecure-http", false, "allow plain HTTP to a server that is not at a loopback address (development only: the credential crosses the network in the clear)")
	fs.Usage = func() {
		fmt.Fprint(stderr, enrollUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "scantron agent enroll: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	o := enrollOptions{server: *server, token: *token, config: *config, ca: *ca, force: *force, insecureHTTP: *insecure}
	if o.token == "" {
		o.token = getenv("SCANTRON_JOIN_TOKEN")
	}
	if o.config == "" {
		o.config = getenv("SCANTRON_CONFIG")
	}
	if o.config == "" {
		o.config = defaultAgentConfig
	}
	b, err := enroll(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "scantron agent enroll: %v\n", err)
		var usage usageError
		if errors.As(err, &usage) {
			return 2
		}
		return 1
	}
	fmt.Fprintf(stdout, "enrolled agent %s; its settings are in %s\nstart it with: scantron agent --config %s\n", b.AgentName, o.config, o.config)
	return 0
}

type enrollOptions struct {
	server, token, config, ca string
	force, insecureHTTP       bool
}

// enroll checks everything it can before spending the token (the URL, the
// CA, that the config file may be written), then spends it and writes the
// file.
func enroll(ctx context.Context, o enrollOptions, stderr io.Writer) (web.EnrollBundle, error) {
	var none web.EnrollBundle
	u, err := url.Parse(strings.TrimRight(o.server, "/"))
	switch {
	case o.server == "":
		return none, usageError{"--server (SCANTRON_SERVER_URL) is required: the scantron server's base URL"}
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return none, usageError{fmt.Sprintf("--server: want the server's https:// base URL, got %q", o.server)}
	case o.token == "":
		return none, usageError{"--token (or SCANTRON_JOIN_TOKEN) is required: the join token an admin made for this agent"}
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		if !o.insecureHTTP {
			return none, usageError{fmt.Sprintf("--server %s: the credential would cross the network unencrypted; use https:// (or --insecure-http, for development only)", u)}
		}
		fmt.Fprintf(stderr, "WARNING: enrolling over plain HTTP to %s: the agent's credential crosses the network unencrypted\n", u.Host)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.ca != "" {
		_, pool, err := readCAFile(o.ca)
		if err != nil {
			return none, fmt.Errorf("--ca: %w", err)
		}
		tlsCfg.RootCAs = pool
	}
	files, err := newConfigWriter(o.config, o.force)
	if err != nil {
		return none, err
	}
	defer files.discard()

	api := apiClient{base: u.String() + "/api/v1", http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsCfg},
		// The bundle must come from the server named, not from wherever a
		// redirect points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	var b web.EnrollBundle
	if err := api.do(ctx, "POST", "/enroll", map[string]string{"token": strings.TrimSpace(o.token)}, &b); err != nil {
		return none, fmt.Errorf("%s: %w", u.Host, err)
	}
	if b.AgentName == "" || b.Credential == "" || b.ServerPublicKey == "" || b.TemporalAddress == "" {
		return none, fmt.Errorf("%s answered an incomplete enrollment (no name, credential, public key or Temporal address)", u.Host)
	}
	lines := []string{
		"# Settings of scantron agent " + b.AgentName + ", written by 'scantron agent enroll' at " + time.Now().UTC().Format(time.RFC3339) + ".",
		"# It holds the agent's credential: keep it readable by the agent's user only.",
		"SCANTRON_AGENT_NAME=" + b.AgentName,
		"SCANTRON_AGENT_CREDENTIAL=" + b.Credential,
		"SCANTRON_SERVER_PUBLIC_KEY=" + b.ServerPublicKey,
		"SCANTRON_SERVER_URL=" + u.String(),
		"SCANTRON_TEMPORAL_ADDRESS=" + b.TemporalAddress,
		"SCANTRON_TEMPORAL_NAMESPACE=" + b.TemporalNamespace,
		"SCANTRON_TEMPORAL_TLS=" + strconv.FormatBool(b.TemporalTLS),
		"SCANTRON_TEMPORAL_AUTH=" + strconv.FormatBool(b.TemporalAuth),
	}
	if b.TemporalTLSServerName != "" {
		lines = append(lines, "SCANTRON_TEMPORAL_TLS_SERVER_NAME="+b.TemporalTLSServerName)
	}
	if len(b.Pools) > 0 {
		lines = append(lines, "SCANTRON_AGENT_POOLS="+strings.Join(b.Pools, ","))
	}
	if b.TemporalTLSCA != "" {
		caPath := o.config + ".temporal-ca.pem"
		if err := files.add(caPath, b.TemporalTLSCA); err != nil {
			return none, err
		}
		lines = append(lines, "SCANTRON_TEMPORAL_TLS_CA="+caPath)
	}
	if err := files.add(o.config, strings.Join(lines, "\n")+"\n"); err != nil {
		return none, err
	}
	if err := files.commit(); err != nil {
		return none, err
	}
	return b, nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// configWriter writes files that hold secrets: each with mode 0600 from its
// first byte, under a temporary name in its final directory, and put in
// place only once all are written.
type configWriter struct {
	force bool
	temps map[string]string // final path -> temporary file
	order []string
}

// newConfigWriter checks, before anything is spent, that path may be
// written: its directory exists and is writable, and it does not exist
// yet unless force.
func newConfigWriter(path string, force bool) (*configWriter, error) {
	if _, err := os.Lstat(path); err == nil && !force {
		return nil, usageError{fmt.Sprintf("--config: %s already exists; pass --force to replace it (the agent it enrolled keeps working until re-enrolled)", path)}
	}
	probe, err := os.CreateTemp(filepath.Dir(path), ".scantron-enroll-*")
	if err != nil {
		return nil, fmt.Errorf("--config: cannot write in %s: %w", filepath.Dir(path), err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &configWriter{force: force, temps: map[string]string{}}, nil
}

func (w *configWriter) add(path, content string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".scantron-enroll-*")
	if err != nil {
		return err
	}
	w.temps[path] = f.Name()
	w.order = append(w.order, path)
	// CreateTemp makes the file 0600 already; Chmod also undoes a umask
	// or ACL default that might have widened it.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// commit puts the files in place: by rename with force, otherwise by a
// hard link, which fails rather than replace a file that appeared since.
func (w *configWriter) commit() error {
	for _, path := range w.order {
		tmp := w.temps[path]
		var err error
		if w.force {
			err = os.Rename(tmp, path)
		} else {
			err = os.Link(tmp, path)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w (the join token is spent: ask for a new one)", path, err)
		}
	}
	return nil
}

// discard removes the temporary files that remain.
func (w *configWriter) discard() {
	if w == nil {
		return
	}
	for _, tmp := range w.temps {
		os.Remove(tmp)
	}
}
