package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// AuthTemporalTool is the Temporal server build with Scantron's authorizer
// (temporal-config/server), which `make temporal-server` puts in ./bin.
const AuthTemporalTool = "scantron-temporal"

// AuthTemporalOptions configures StartAuthTemporal.
type AuthTemporalOptions struct {
	// JWKSURL is where the server reads the token keys: the scantron
	// server's /.well-known/jwks.json, or a file:// URL. Required.
	JWKSURL string
	// DBFile is the SQLite file; "" keeps state in memory.
	DBFile string
	// PostgresURL, when set, keeps state in PostgreSQL instead of SQLite:
	// its database and DATABASE_visibility are created if missing and
	// their schemas set up at start (idempotently). A password belongs in
	// the URL only for loopback test clusters.
	PostgresURL string
	// HistoryShards of a new cluster; 0 means the server's default (1 on
	// SQLite, 16 on PostgreSQL).
	HistoryShards int
	// DynamicConfig, when not nil, sets dynamic config values over
	// BurstDynamicConfig, written to a file beside LogFile (the server's
	// defaults otherwise).
	DynamicConfig map[string]any
	// Port of the frontend on 127.0.0.1; 0 picks a free one.
	Port int
	// Namespace is created at start-up; "" means "default".
	Namespace string
	// Token, when set, gives an admin or writer token, so that start-up
	// waits until the namespace can be described; otherwise it waits only
	// for the frontend to answer health checks.
	Token func(ctx context.Context) (string, error)
	// LogFile receives the server's output; "" makes one in the temporary
	// directory.
	LogFile string
	// StartTimeout bounds start-up; 0 means 2 minutes.
	StartTimeout time.Duration
}

// ErrNoAuthTemporal means the authorizing server has not been built.
var ErrNoAuthTemporal = errors.New("devstack: " + AuthTemporalTool + " not built: run `make temporal-server`")

// StartAuthTemporal starts the authorizing Temporal server on 127.0.0.1
// (its internal frontend, used by its own system workers, on another
// 127.0.0.1 port) and waits until it is ready. Stop it with Stop.
func StartAuthTemporal(ctx context.Context, opt AuthTemporalOptions) (*Temporal, error) {
	if opt.JWKSURL == "" {
		return nil, errors.New("devstack: StartAuthTemporal: JWKSURL is required")
	}
	if opt.Namespace == "" {
		opt.Namespace = "default"
	}
	bin, err := FindTool(AuthTemporalTool)
	if err != nil {
		return nil, ErrNoAuthTemporal
	}
	if opt.LogFile == "" {
		f, err := os.CreateTemp("", "scantron-temporal-auth-*.log")
		if err != nil {
			return nil, fmt.Errorf("devstack: temporal: %w", err)
		}
		opt.LogFile = f.Name()
		f.Close()
	}
	if opt.DBFile != "" {
		abs, err := filepath.Abs(opt.DBFile)
		if err != nil {
			return nil, err
		}
		opt.DBFile = abs
	}
	dynFile := ""
	if opt.DynamicConfig != nil {
		dynFile = strings.TrimSuffix(opt.LogFile, ".log") + ".dynamicconfig.yaml"
		if err := writeDynamicConfig(dynFile, withBurst(opt.DynamicConfig)); err != nil {
			return nil, err
		}
	}
	return retryOnPortClash(opt.Port == 0, func() (*Temporal, *proc, error) {
		port, err := portOr(opt.Port)
		if err != nil {
			return nil, nil, err
		}
		args := []string{
			"--ip", "127.0.0.1",
			"--port", strconv.Itoa(port),
			"--namespace", opt.Namespace,
			"--jwks-url", opt.JWKSURL,
			"--log-level", "warn",
			// The schedule reconciler's key, as for the dev server.
			"--search-attribute", "ScantronScheduleKey=Keyword",
		}
		if dynFile != "" {
			args = append(args, "--dynamic-config-file", dynFile)
		}
		if opt.DBFile != "" {
			args = append(args, "--db-filename", opt.DBFile)
		}
		if opt.PostgresURL != "" {
			args = append(args, "--postgres-url", opt.PostgresURL)
		}
		if opt.HistoryShards != 0 {
			args = append(args, "--history-shards", strconv.Itoa(opt.HistoryShards))
		}
		t := &Temporal{
			HostPort:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Port:      port,
			Namespace: opt.Namespace,
			DBFile:    opt.DBFile,
			LogFile:   opt.LogFile,
			authOpt:   &opt,
		}
		p, err := startProc(procSpec{name: AuthTemporalTool, path: bin, args: args, logPath: opt.LogFile})
		if err != nil {
			return nil, nil, err
		}
		t.proc = p
		err = p.waitReady(ctx, opt.StartTimeout, func(ctx context.Context) error {
			copts := client.Options{HostPort: t.HostPort, Namespace: t.Namespace, Logger: quietLogger()}
			if opt.Token != nil {
				copts.Credentials = client.NewAPIKeyDynamicCredentials(opt.Token)
				copts.ConnectionOptions.TLSDisabled = true
			}
			c, err := client.DialContext(ctx, copts)
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil || opt.Token == nil {
				return err
			}
			nc, err := client.NewNamespaceClient(copts)
			if err != nil {
				return err
			}
			defer nc.Close()
			if _, err := nc.Describe(ctx, t.Namespace); err != nil {
				return err
			}
			// A namespace registered at start (on PostgreSQL) reaches the
			// services' namespace caches a while after it can be described:
			// wait until a workflow call finds it.
			_, err = c.DescribeWorkflowExecution(ctx, "devstack-readiness-probe", "")
			var notFound *serviceerror.NotFound
			if err == nil || errors.As(err, &notFound) {
				return nil
			}
			return err
		})
		if err != nil {
			_ = p.kill()
			return nil, p, err
		}
		return t, p, nil
	})
}

// writeDynamicConfig writes values as a Temporal dynamic config file, each
// key with one unconstrained value. JSON is YAML, which the server reads.
func writeDynamicConfig(path string, values map[string]any) error {
	file := map[string][]map[string]any{}
	for k, v := range values {
		file[k] = []map[string]any{{"value": v}}
	}
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return fmt.Errorf("devstack: temporal: dynamic config: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("devstack: temporal: %w", err)
	}
	return nil
}
