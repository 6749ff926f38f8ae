package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

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
		if opt.DBFile != "" {
			args = append(args, "--db-filename", opt.DBFile)
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
			_, err = nc.Describe(ctx, t.Namespace)
			return err
		})
		if err != nil {
			_ = p.kill()
			return nil, p, err
		}
		return t, p, nil
	})
}
