package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/temporalauth"
)

// authStack is the authorizing Temporal build (temporal-config/server) and a
// scantron server that issues its tokens, started once per test binary by
// the first test that needs them. It has its own database and bucket, so
// that its server's reconcilers never see the other tests' runs, nor theirs
// its runs.
type authStack struct {
	temporal *devstack.Temporal
	base     string   // the scantron server's base URL
	env      []string // settings of the server, and of its agents
	store    *postgres.Store
	logFile  string
}

var (
	authOnce  sync.Once
	authS     *authStack
	authErr   error
	authStops []func()
)

// authStackFor returns the running auth stack, starting it on first use.
// It skips the test when the server build is missing, saying how to make it.
func authStackFor(t *testing.T) *authStack {
	t.Helper()
	authOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		authS, authErr = startAuthStack(ctx)
	})
	if errors.Is(authErr, devstack.ErrNoAuthTemporal) {
		t.Skip(authErr.Error() + " (make test builds it)")
	}
	if authErr != nil {
		t.Fatal(authErr)
	}
	return authS
}

// stopAuthStack stops what startAuthStack started; runMain calls it.
func stopAuthStack() {
	for i := len(authStops) - 1; i >= 0; i-- {
		authStops[i]()
	}
}

const authDatabase = "scantron_tauth"

func startAuthStack(ctx context.Context) (*authStack, error) {
	port, err := devstack.FreePort()
	if err != nil {
		return nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	a := &authStack{base: "http://" + listen}
	temporal, err := devstack.StartAuthTemporal(ctx, devstack.AuthTemporalOptions{JWKSURL: a.base + temporalauth.JWKSPath})
	if err != nil {
		return nil, err
	}
	a.temporal = temporal
	authStops = append(authStops, func() { _ = temporal.Stop(); _ = os.Remove(temporal.LogFile) })

	conn, err := pgx.Connect(ctx, stack.Postgres.DSN)
	if err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+authDatabase)
	conn.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", authDatabase, err)
	}
	dsn := stack.Postgres.DSNFor(authDatabase)
	a.env = append(stackEnv(listen),
		"SCANTRON_DATABASE_URL="+dsn,
		"SCANTRON_S3_BUCKET=scantron-tauth",
		"SCANTRON_TEMPORAL_ADDRESS="+temporal.HostPort,
		"SCANTRON_TEMPORAL_AUTH=true",
		"SCANTRON_SERVER_URL="+a.base,
	)

	logf, err := os.CreateTemp("", "scantron-tauth-server-*.log")
	if err != nil {
		return nil, err
	}
	a.logFile = logf.Name()
	cmd := exec.Command(scantron, "server")
	cmd.Env = append(os.Environ(), a.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	waited, err := devstack.StartCommand(cmd)
	logf.Close()
	if err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { <-waited; close(exited) }()
	authStops = append(authStops, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = os.Remove(a.logFile)
	})
	for {
		resp, err := http.Get(a.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("the scantron server with Temporal auth exited:\n%s", tail(a.logFile))
		case <-ctx.Done():
			return nil, fmt.Errorf("the scantron server with Temporal auth did not become healthy:\n%s", tail(a.logFile))
		case <-time.After(200 * time.Millisecond):
		}
	}
	a.store, err = postgres.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	authStops = append(authStops, a.store.Close)
	return a, nil
}

func tail(path string) string {
	data, _ := os.ReadFile(filepath.Clean(path))
	if len(data) > 6000 {
		data = data[len(data)-6000:]
	}
	return string(data)
}

// serverLog is the auth stack's server output so far, for failure messages.
func (a *authStack) serverLog() string { return tail(a.logFile) }
