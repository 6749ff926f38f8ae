package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresUser is the superuser of clusters made by devstack. Authentication
// is "trust": the server listens on 127.0.0.1 only.
const PostgresUser = "postgres"

// PostgresRunAs is the system user PostgreSQL runs as when devstack runs as
// root (PostgreSQL refuses root). `make tools` creates it.
const PostgresRunAs = "scantron"

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// Dir holds the cluster (Dir/data) and, by default, its log
	// (Dir/postgres.log). Required. An existing cluster is reused.
	Dir string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// Database is created if missing; "" means "scantron".
	Database string
	// Durable keeps fsync on. Off (the default) is faster and fine for tests:
	// only an OS crash can lose data.
	Durable bool
	// Settings are extra server settings passed as -c name=value.
	Settings map[string]string
	// LogFile receives the server's output; "" means Dir/postgres.log.
	LogFile string
	// StartTimeout bounds initdb and start-up; 0 means 2 minutes.
	StartTimeout time.Duration
}

// Postgres is a running PostgreSQL server.
type Postgres struct {
	// DSN connects to Database as the superuser, e.g.
	// postgres://postgres@127.0.0.1:5432/scantron?sslmode=disable.
	DSN      string
	Host     string // always 127.0.0.1
	Port     int
	User     string // PostgresUser
	Database string
	Dir      string
	DataDir  string // Dir/data
	LogFile  string

	opt  PostgresOptions
	proc *proc
}

// DSNFor returns a DSN for another database on the same server.
func (pg *Postgres) DSNFor(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(pg.User),
		Host:     net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Pid returns the postmaster's process id.
func (pg *Postgres) Pid() int { return pg.proc.pid() }

// Stop shuts the server down (fast shutdown: clients are disconnected),
// SIGKILLing it if it takes too long.
func (pg *Postgres) Stop() error {
	if pg == nil {
		return nil
	}
	return pg.proc.stop(defaultStopTimeout)
}

// Kill SIGKILLs the server and its backends at once, as a crash would.
// The cluster recovers on the next start.
func (pg *Postgres) Kill() error {
	if pg == nil {
		return nil
	}
	return pg.proc.kill()
}

// Done is closed when the server process has exited.
func (pg *Postgres) Done() <-chan struct{} { return pg.proc.done }

// Restart shuts the server down if it runs and starts it again on the same
// port over the same cluster: committed data survives it. Do not call it
// concurrently with the other methods.
func (pg *Postgres) Restart(ctx context.Context) error {
	if err := pg.Stop(); err != nil {
		return err
	}
	opt := pg.opt
	opt.Port = pg.Port
	n, err := StartPostgres(ctx, opt)
	if err != nil {
		return err
	}
	pg.proc = n.proc
	return nil
}

// StartPostgres starts PostgreSQL on 127.0.0.1, running initdb first when
// opt.Dir holds no cluster yet, waits until it accepts connections and
// creates opt.Database if missing.
func StartPostgres(ctx context.Context, opt PostgresOptions) (*Postgres, error) {
	if opt.Dir == "" {
		return nil, errors.New("devstack: PostgresOptions.Dir is required")
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, err
	}
	if opt.Database == "" {
		opt.Database = "scantron"
	}
	if opt.LogFile == "" {
		opt.LogFile = filepath.Join(dir, "postgres.log")
	}
	if opt.StartTimeout <= 0 {
		opt.StartTimeout = defaultStartTimeout
	}
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devstack: postgres: %w", err)
	}
	cred, err := postgresCredential(dir)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	env := postgresEnv()

	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil {
		if err := initdb(ctx, bin, dir, dataDir, opt.LogFile, env, cred, opt.StartTimeout); err != nil {
			return nil, err
		}
	}

	return retryOnPortClash(opt.Port == 0, func() (*Postgres, *proc, error) {
		port, err := portOr(opt.Port)
		if err != nil {
			return nil, nil, err
		}
		args := []string{
			"-D", dataDir,
			"-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=",
			"-c", "logging_collector=off",
		}
		if !opt.Durable {
			// Only an OS crash can lose data with these; a killed server
			// (fault tests) loses nothing committed. Do not add
			// synchronous_commit=off: that loses commits on SIGKILL.
			args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off")
		}
		keys := make([]string, 0, len(opt.Settings))
		for k := range opt.Settings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			args = append(args, "-c", k+"="+opt.Settings[k])
		}
		p, err := startProc(procSpec{
			name:    "postgres",
			path:    filepath.Join(bin, "postgres"),
			args:    args,
			env:     env,
			dir:     dir,
			logPath: opt.LogFile,
			cred:    cred,
			stopSig: syscall.SIGINT, // fast shutdown
		})
		if err != nil {
			return nil, nil, err
		}
		pg := &Postgres{
			Host:     "127.0.0.1",
			Port:     port,
			User:     PostgresUser,
			Database: opt.Database,
			Dir:      dir,
			DataDir:  dataDir,
			LogFile:  opt.LogFile,
			opt:      opt,
			proc:     p,
		}
		pg.DSN = pg.DSNFor(opt.Database)
		admin := pg.DSNFor("postgres") + "&connect_timeout=2"
		err = p.waitReady(ctx, opt.StartTimeout, func(ctx context.Context) error {
			conn, err := pgx.Connect(ctx, admin)
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			return createDatabase(ctx, conn, opt.Database)
		})
		if err != nil {
			_ = p.kill()
			return nil, p, err
		}
		return pg, p, nil
	})
}

func createDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

func initdb(ctx context.Context, bin, dir, dataDir, logFile string, env []string, cred *syscall.Credential, timeout time.Duration) error {
	p, err := startProc(procSpec{
		name: "initdb",
		path: filepath.Join(bin, "initdb"),
		args: []string{
			"-D", dataDir,
			"-U", PostgresUser,
			"-A", "trust",
			"-E", "UTF8",
			"--no-locale",
			"--no-sync",
		},
		env:     env,
		dir:     dir,
		logPath: logFile,
		cred:    cred,
	})
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.kill()
		return p.failure(ctx.Err())
	case <-time.After(timeout):
		_ = p.kill()
		return p.failure(fmt.Errorf("did not finish within %v", timeout))
	}
	if p.waitErr != nil {
		return p.failure(p.waitErr)
	}
	return nil
}

// postgresEnv is the parent's environment without PG* variables, which
// would otherwise change what initdb and postgres do.
func postgresEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// postgresCredential returns nil when not root. As root it returns the
// credential of PostgresRunAs, after giving that user dir and checking it
// can reach dir.
func postgresCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(PostgresRunAs)
	if err != nil {
		return nil, fmt.Errorf("devstack: postgres refuses to run as root and user %q is missing (%v): run `make tools`", PostgresRunAs, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("devstack: user %q has a non-numeric uid/gid", PostgresRunAs)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("devstack: postgres: %w", err)
	}
	tmp, _ := filepath.Abs(os.TempDir())
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if !canTraverse(d, uint32(uid), uint32(gid)) && isBelow(d, tmp) {
			// Temporary directories (os.MkdirTemp, t.TempDir) are 0700:
			// let the user pass through (x only, no listing).
			if fi, err := os.Stat(d); err == nil {
				_ = os.Chmod(d, fi.Mode().Perm()|0o011)
			}
		}
		if !canTraverse(d, uint32(uid), uint32(gid)) {
			return nil, fmt.Errorf("devstack: postgres runs as user %q, which cannot enter %s (needed to reach %s): "+
				"use a directory elsewhere, or `chmod o+x %s`", PostgresRunAs, d, dir, d)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func canTraverse(dir string, uid, gid uint32) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := uint32(fi.Mode().Perm())
	switch {
	case st.Uid == uid:
		return mode&0o100 != 0
	case st.Gid == gid:
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

// isBelow reports whether path is strictly inside dir.
func isBelow(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}
