package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/scantron/scantron/temporalauth"
)

// Fixed ports of the development stack (DevOptions). Tests use 0 (free ports).
const (
	DevPostgresPort   = 54320
	DevS3Port         = 59000
	DevTemporalPort   = 57233
	DevTemporalUIPort = 58233
)

// Options configures Start. The zero value suits tests: a new temporary
// directory removed by Stop, free ports, non-durable storage.
type Options struct {
	// Dir is the root of the stack's state (see the package doc for the
	// layout). "" creates a temporary directory that Stop removes.
	Dir string
	// Ports on 127.0.0.1; 0 picks free ones.
	PostgresPort, S3Port, TemporalPort, TemporalUIPort int
	// Database (PostgreSQL) and Bucket (S3) are created if missing;
	// "" means "scantron".
	Database, Bucket string
	// S3 credentials; "" means DefaultS3AccessKey / DefaultS3SecretKey.
	S3AccessKey, S3SecretKey string
	// Namespace of Temporal; "" means "default".
	Namespace string
	// Durable keeps PostgreSQL's fsync on and Temporal's state in
	// Dir/temporal.db. Otherwise (tests) PostgreSQL skips fsync and Temporal
	// keeps its state in memory.
	Durable bool
	// TemporalHeadless disables Temporal's web UI.
	TemporalHeadless bool
	// TemporalDynamicConfig sets Temporal dynamic config values.
	TemporalDynamicConfig map[string]any
	// TemporalPostgres runs Scantron's Temporal build (scantron-temporal,
	// `make temporal-server`) on the stack's PostgreSQL, in databases
	// TemporalDatabase and TemporalDatabase_visibility, instead of the dev
	// server on SQLite: the one that keeps up with a burst of schedule
	// fires. It checks tokens: Temporal.Dial carries an admin token signed
	// by a key the stack makes (its JWKS in Dir/temporal-jwks.json), and
	// Env's settings do not reach it. It has no web UI.
	TemporalPostgres bool
	// TemporalHistoryShards of a new PostgreSQL-backed Temporal; 0 means
	// the server's default.
	TemporalHistoryShards int
	// StartTimeout bounds each service's start-up; 0 means 2 minutes.
	StartTimeout time.Duration
}

// DevOptions returns the options of the development stack: state under dir,
// fixed ports (DevPostgresPort, ...), durable storage.
func DevOptions(dir string) Options {
	return Options{
		Dir:            dir,
		PostgresPort:   DevPostgresPort,
		S3Port:         DevS3Port,
		TemporalPort:   DevTemporalPort,
		TemporalUIPort: DevTemporalUIPort,
		Durable:        true,
	}
}

// Stack is a running PostgreSQL, S3 server and Temporal dev server.
type Stack struct {
	Dir      string
	Postgres *Postgres
	S3       *S3
	Temporal *Temporal
	// SigningKeyFile is the server's spec signing key (Dir/signing.key);
	// PublicKey is the base64 public key agents verify specs with.
	SigningKeyFile string
	PublicKey      string

	removeDir bool
	stopOnce  sync.Once
	stopErr   error
}

// Start starts PostgreSQL, S3 and Temporal in parallel under opt.Dir. If one
// fails, the others are stopped and the error says which failed and why.
func Start(ctx context.Context, opt Options) (*Stack, error) {
	st := &Stack{}
	if opt.Dir == "" {
		dir, err := os.MkdirTemp("", "scantron-devstack-")
		if err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		st.Dir, st.removeDir = dir, true
	} else {
		dir, err := filepath.Abs(opt.Dir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		st.Dir = dir
	}
	// PostgreSQL may run as another user (see the package doc): let it
	// traverse the root. MkdirTemp makes 0700 directories.
	if err := ensureTraversable(st.Dir); err != nil {
		st.cleanup()
		return nil, err
	}
	if err := st.ensureSigningKey(); err != nil {
		st.cleanup()
		return nil, err
	}
	if opt.Database == "" {
		opt.Database = "scantron"
	}
	if opt.Bucket == "" {
		opt.Bucket = DefaultS3Bucket
	}
	dbFile := ""
	if opt.Durable {
		dbFile = filepath.Join(st.Dir, "temporal.db")
	}

	if opt.TemporalPostgres && opt.Database == TemporalDatabase {
		st.cleanup()
		return nil, fmt.Errorf("devstack: database %q is Temporal's: name Scantron's another", TemporalDatabase)
	}

	var (
		wg                  sync.WaitGroup
		pgErr, s3Err, tmErr error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		st.Postgres, pgErr = StartPostgres(ctx, PostgresOptions{
			Dir:          filepath.Join(st.Dir, "pg"),
			Port:         opt.PostgresPort,
			Database:     opt.Database,
			Durable:      opt.Durable,
			StartTimeout: opt.StartTimeout,
		})
		if pgErr == nil && opt.TemporalPostgres {
			st.Temporal, tmErr = st.startPostgresTemporal(ctx, opt)
		}
	}()
	go func() {
		defer wg.Done()
		st.S3, s3Err = StartS3(ctx, S3Options{
			Dir:          filepath.Join(st.Dir, "s3"),
			Port:         opt.S3Port,
			AccessKey:    opt.S3AccessKey,
			SecretKey:    opt.S3SecretKey,
			Bucket:       opt.Bucket,
			StartTimeout: opt.StartTimeout,
		})
	}()
	if !opt.TemporalPostgres {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.Temporal, tmErr = StartTemporal(ctx, TemporalOptions{
				DBFile:        dbFile,
				Port:          opt.TemporalPort,
				UIPort:        opt.TemporalUIPort,
				Headless:      opt.TemporalHeadless,
				Namespace:     opt.Namespace,
				DynamicConfig: opt.TemporalDynamicConfig,
				LogFile:       filepath.Join(st.Dir, "temporal.log"),
				StartTimeout:  opt.StartTimeout,
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(pgErr, s3Err, tmErr); err != nil {
		_ = st.Stop()
		return nil, err
	}
	return st, nil
}

// TemporalDatabase is the database of a PostgreSQL-backed Temporal
// (Options.TemporalPostgres) in the stack's cluster; its visibility
// database is TemporalDatabase_visibility.
const TemporalDatabase = "temporal"

// startPostgresTemporal starts scantron-temporal on the stack's PostgreSQL
// with a token key of the stack's own.
func (s *Stack) startPostgresTemporal(ctx context.Context, opt Options) (*Temporal, error) {
	ns := opt.Namespace
	if ns == "" {
		ns = "default"
	}
	// One key for the stack's life: the JWKS file is written once.
	signer := temporalauth.NewSigner(&temporalauth.MemoryKeys{}, temporalauth.Policy{KeyLifetime: 10 * 365 * 24 * time.Hour}, nil)
	jwks, err := signer.JWKS(ctx)
	if err != nil {
		return nil, fmt.Errorf("devstack: temporal: %w", err)
	}
	jwksFile := filepath.Join(s.Dir, "temporal-jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o644); err != nil {
		return nil, fmt.Errorf("devstack: temporal: %w", err)
	}
	tokens := temporalauth.NewSource(func(ctx context.Context) (string, time.Time, error) {
		return signer.ServiceToken(ctx, "devstack", ns, temporalauth.RoleAdmin)
	})
	dyn := opt.TemporalDynamicConfig
	if dyn == nil {
		dyn = map[string]any{}
	}
	return StartAuthTemporal(ctx, AuthTemporalOptions{
		JWKSURL:       "file://" + jwksFile,
		PostgresURL:   s.Postgres.DSNFor(TemporalDatabase),
		HistoryShards: opt.TemporalHistoryShards,
		DynamicConfig: dyn,
		Port:          opt.TemporalPort,
		Namespace:     ns,
		Token:         tokens.Token,
		LogFile:       filepath.Join(s.Dir, "temporal.log"),
		StartTimeout:  opt.StartTimeout,
	})
}

// Stop stops all services (in parallel) and removes the directory if Start
// created it. It is safe to call more than once.
func (s *Stack) Stop() error {
	if s == nil {
		return nil
	}
	s.stopOnce.Do(func() {
		var wg sync.WaitGroup
		errs := make([]error, 3)
		stops := []func() error{s.Postgres.Stop, s.S3.Stop, s.Temporal.Stop}
		for i, stop := range stops {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = stop()
			}()
		}
		wg.Wait()
		s.stopErr = errors.Join(append(errs, s.cleanup())...)
	})
	return s.stopErr
}

func (s *Stack) cleanup() error {
	if !s.removeDir {
		return nil
	}
	s.removeDir = false
	return os.RemoveAll(s.Dir)
}

// Env returns the SCANTRON_* environment variables that point Scantron's
// configuration at this stack.
func (s *Stack) Env() []string {
	return []string{
		"SCANTRON_DATABASE_URL=" + s.Postgres.DSN,
		"SCANTRON_TEMPORAL_ADDRESS=" + s.Temporal.HostPort,
		"SCANTRON_TEMPORAL_NAMESPACE=" + s.Temporal.Namespace,
		"SCANTRON_TEMPORAL_UI_URL=" + s.Temporal.UIURL,
		"SCANTRON_S3_ENDPOINT=" + s.S3.Endpoint,
		"SCANTRON_S3_ACCESS_KEY=" + s.S3.AccessKey,
		"SCANTRON_S3_SECRET_KEY=" + s.S3.SecretKey,
		"SCANTRON_S3_BUCKET=" + s.S3.Bucket,
		"SCANTRON_S3_TLS=" + strconv.FormatBool(false),
		"SCANTRON_SIGNING_KEY=" + s.SigningKeyFile,
		"SCANTRON_SERVER_PUBLIC_KEY=" + s.PublicKey,
	}
}

// AgentEnv returns the SCANTRON_* environment variables an agent of this
// stack needs: Temporal and the server's public key. Agents get no database
// or S3 settings; each shard's spec carries presigned URLs for its objects.
func (s *Stack) AgentEnv() []string {
	return []string{
		"SCANTRON_TEMPORAL_ADDRESS=" + s.Temporal.HostPort,
		"SCANTRON_TEMPORAL_NAMESPACE=" + s.Temporal.Namespace,
		"SCANTRON_SERVER_PUBLIC_KEY=" + s.PublicKey,
	}
}

// ensureTraversable adds search (x) permission for group and others to dir
// when running as root, so that PostgreSQL's user can pass through it.
func ensureTraversable(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	if mode := fi.Mode().Perm(); mode&0o011 != 0o011 {
		if err := os.Chmod(dir, mode|0o011); err != nil {
			return fmt.Errorf("devstack: %w", err)
		}
	}
	return nil
}
