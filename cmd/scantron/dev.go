package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// devAgent is the agent `scantron dev` registers and runs on this machine.
const devAgent = "local"

// runDev brings up the whole stack on this machine: PostgreSQL, an S3 server
// and the Temporal dev server under the data dir, then `scantron server` and
// one `scantron agent` as child processes. Ctrl-C stops all of it.
func runDev(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	log := cfg.logger(stderr)
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Starting PostgreSQL, S3 and Temporal under %s ...\n", dir)
	st, err := devstack.Start(ctx, devstack.DevOptions(dir))
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stdout, "Stopping the dev stack ...")
		if err := st.Stop(); err != nil {
			log.Error("stop dev stack", "error", err)
		}
	}()

	// Register the local agent so scans can use it from the first minute.
	store, err := postgres.Open(ctx, st.Postgres.DSN)
	if err != nil {
		return err
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return err
	}
	credFile := filepath.Join(dir, "agent-local.credential")
	if _, err := store.GetAgentByName(ctx, devAgent); errors.Is(err, postgres.ErrNotFound) {
		// Registered like any agent: it signs its results with a credential,
		// kept for the next start in the data directory.
		credential, key, err := scan.NewCredential()
		if err != nil {
			store.Close()
			return err
		}
		_, err = store.CreateAgent(ctx, scan.Agent{Name: devAgent, Description: "the agent `scantron dev` runs on this machine",
			TaskQueue: workflows.AgentTaskQueue(devAgent), PublicKey: key})
		if err != nil {
			store.Close()
			return fmt.Errorf("register agent %q: %w", devAgent, err)
		}
		if err := os.WriteFile(credFile, []byte(credential+"\n"), 0o600); err != nil {
			store.Close()
			return err
		}
	} else if err != nil {
		store.Close()
		return err
	}
	agentCredential := ""
	if b, err := os.ReadFile(credFile); err == nil {
		agentCredential = strings.TrimSpace(string(b))
	}
	adminNote, err := devAdmin(ctx, store, dir)
	store.Close()
	if err != nil {
		return err
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	env := append(os.Environ(), st.Env()...)
	env = append(env, "SCANTRON_LISTEN="+cfg.Listen, "SCANTRON_LOG_LEVEL="+cfg.LogLevel, "SCANTRON_LOG_FORMAT="+cfg.LogFormat)
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	server, err := startChild(self, env, filepath.Join(logDir, "server.log"), "server")
	if err != nil {
		return err
	}
	defer server.stop(log)
	// The agent gets no database or S3 settings, as in production.
	agentEnv := append(append(os.Environ(), st.AgentEnv()...), "SCANTRON_LOG_LEVEL="+cfg.LogLevel, "SCANTRON_LOG_FORMAT="+cfg.LogFormat,
		"SCANTRON_AGENT_NAME="+devAgent)
	if agentCredential != "" {
		agentEnv = append(agentEnv, "SCANTRON_AGENT_CREDENTIAL="+agentCredential)
	}
	agent, err := startChild(self, agentEnv, filepath.Join(logDir, "agent-local.log"), "agent")
	if err != nil {
		return err
	}
	defer agent.stop(log)

	ui := "http://" + cfg.Listen
	if err := waitHTTP(ctx, ui+"/readyz", server, 90*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
Scantron is running.

  Web UI        %s/  (%s)
  REST API      %s/api/v1
  Temporal Web  %s
  Temporal      %s (namespace %s)
  PostgreSQL    %s
  S3            http://%s (bucket %s)
  Agent         %q on task queue %s
  Logs          %s

Press Ctrl-C to stop everything.
`, ui, adminNote, ui, st.Temporal.UIURL, st.Temporal.HostPort, st.Temporal.Namespace, st.Postgres.DSN,
		st.S3.Endpoint, st.S3.Bucket, devAgent, workflows.AgentTaskQueue(devAgent), logDir)

	select {
	case <-ctx.Done():
		return nil
	case <-server.done:
		return fmt.Errorf("scantron server exited; see %s", server.logFile)
	case <-agent.done:
		return fmt.Errorf("scantron agent exited; see %s", agent.logFile)
	}
}

type child struct {
	cmd     *exec.Cmd
	done    chan struct{}
	logFile string
}

func startChild(bin string, env []string, logFile string, args ...string) (*child, error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group, so Ctrl-C reaches only us and we stop children in
	// order; and they die with us if we are killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	waited, err := devstack.StartCommand(cmd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start scantron %s: %w", args[0], err)
	}
	c := &child{cmd: cmd, done: make(chan struct{}), logFile: logFile}
	go func() {
		<-waited
		f.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) stop(log interface{ Warn(string, ...any) }) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		log.Warn("child did not stop in time; killing it", "cmd", c.cmd.Args)
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func waitHTTP(ctx context.Context, url string, c *child, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return fmt.Errorf("scantron server exited during start; see %s", c.logFile)
		case <-time.After(300 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("scantron server did not answer %s within %s; see %s", url, limit, c.logFile)
		}
	}
}

// devAdmin makes the dev stack's first admin, "admin" with a random
// password kept in the data dir, and says how to log in.
func devAdmin(ctx context.Context, store *postgres.Store, dir string) (string, error) {
	file := filepath.Join(dir, "admin-password")
	password := accounts.NewSecret()[:24]
	hash, err := accounts.HashPassword(password)
	if err != nil {
		return "", err
	}
	made, err := store.CreateFirstUser(ctx, accounts.User{Name: "admin", Role: accounts.Admin, PasswordHash: hash})
	if err != nil {
		return "", err
	}
	if made {
		if err := os.WriteFile(file, []byte(password+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	if _, err := os.Stat(file); err == nil {
		return "user admin, password in " + file, nil
	}
	return "log in with your accounts", nil
}
