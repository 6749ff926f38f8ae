// Command scantron-temporal is the Temporal server build Scantron runs in
// production and in its authorization tests: stock Temporal services with
// Scantron's claim mapper and authorizer (auth.go), so that an agent's token
// reaches only its own activity task queues.
//
// It lives in its own Go module so that the Temporal server's dependencies
// stay out of the scantron module.
//
// Two ways to run it:
//
//	scantron-temporal --config-file temporal.yaml --jwks-url URL
//	    a stock Temporal server config (any persistence); its
//	    global.authorization block is ignored in favour of the flags.
//	scantron-temporal --db-filename F --port 7233 --jwks-url URL
//	    a single-process server on SQLite (F, or in memory when ""), for
//	    tests and small installations.
//	scantron-temporal --postgres-url postgres://USER@HOST/DB --jwks-url URL
//	    a single-process server on PostgreSQL: DB and DB_visibility are
//	    created if missing and their schemas set up or upgraded at every
//	    start; --history-shards sets how many history shards a new cluster
//	    gets. The password comes from --postgres-password-file or
//	    $SCANTRON_TEMPORAL_POSTGRES_PASSWORD.
//
// In both, the system workers use an internal frontend (--internal-port),
// which trusts every caller: bind it where agents cannot reach it.
// --search-attribute NAME=Type registers a search attribute in each
// --namespace through it at start, for clients without admin rights (the
// scantron server's schedule key).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type options struct {
	configFile   string
	ip           string
	port         int
	internalPort int
	dbFile       string
	namespaces   listFlag
	jwksURLs     listFlag
	jwksRefresh  time.Duration
	issuer       string
	audience     string
	logLevel     string
	dynConfig    string
	searchAttrs  listFlag

	postgresURL          string
	postgresVisibilityDB string
	postgresPasswordFile string
	historyShards        int
}

// defaultPostgresShards is the history shard count of a new cluster on
// PostgreSQL. A shard serializes the writes of the workflows it owns, so one
// shard (SQLite's) makes a burst of schedule fires wait in line; 16 lets a
// burst's writes proceed side by side while an idle server's per-shard
// background work stays small. The count cannot change once a cluster
// exists (Temporal keeps the first one), so bigger installations set more.
const defaultPostgresShards = 16

func main() {
	var o options
	fs := flag.NewFlagSet("scantron-temporal", flag.ContinueOnError)
	fs.StringVar(&o.configFile, "config-file", "", "stock Temporal server config file; without it, a single-process SQLite server")
	fs.StringVar(&o.ip, "ip", "127.0.0.1", "address the frontend binds (single-process mode)")
	fs.IntVar(&o.port, "port", 7233, "frontend gRPC port (single-process mode)")
	fs.IntVar(&o.internalPort, "internal-port", 0, "internal frontend gRPC port on 127.0.0.1, used by the system workers; 0 picks a free one (single-process mode)")
	fs.StringVar(&o.dbFile, "db-filename", "", "SQLite file; \"\" keeps state in memory (single-process mode)")
	fs.StringVar(&o.postgresURL, "postgres-url", "", "postgres://USER@HOST:PORT/DATABASE?sslmode=...: keep state in PostgreSQL instead of SQLite, creating the database and its schema if missing (single-process mode)")
	fs.StringVar(&o.postgresVisibilityDB, "postgres-visibility-database", "", "visibility database on the same server; \"\" means DATABASE_visibility")
	fs.StringVar(&o.postgresPasswordFile, "postgres-password-file", "", "file holding the PostgreSQL password (else $"+postgresPasswordEnv+", else the URL's)")
	fs.IntVar(&o.historyShards, "history-shards", 0, fmt.Sprintf("history shards of a new cluster; 0 means 1 on SQLite, %d on PostgreSQL (an existing cluster keeps its count)", defaultPostgresShards))
	fs.Var(&o.namespaces, "namespace", "namespace to create at start (repeatable; default \"default\"; single-process mode)")
	fs.Var(&o.jwksURLs, "jwks-url", "URL of the token issuer's JWKS (http(s):// or file://; repeatable; required)")
	fs.DurationVar(&o.jwksRefresh, "jwks-refresh", time.Minute, "how often to re-read the JWKS (also re-read when a token names an unknown key)")
	fs.StringVar(&o.issuer, "issuer", "scantron", "required iss claim of tokens (\"\" accepts any)")
	fs.StringVar(&o.audience, "audience", "temporal", "required aud claim of tokens (\"\" accepts any)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "debug, info, warn or error")
	fs.StringVar(&o.dynConfig, "dynamic-config-file", "", "Temporal dynamic config file (optional)")
	fs.Var(&o.searchAttrs, "search-attribute", "NAME=Type search attribute to register in each --namespace at start, e.g. ScantronScheduleKey=Keyword (repeatable)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "scantron-temporal:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if len(o.jwksURLs) == 0 {
		return errors.New("--jwks-url is required: this build refuses to run without token checks")
	}
	if o.jwksRefresh <= 0 {
		return errors.New("--jwks-refresh must be positive")
	}
	if len(o.namespaces) == 0 {
		o.namespaces = listFlag{"default"}
	}
	if o.historyShards < 0 {
		return errors.New("--history-shards must not be negative")
	}
	if o.configFile != "" && (o.postgresURL != "" || o.historyShards != 0) {
		return errors.New("--postgres-url and --history-shards are for the single-process mode: with --config-file, set persistence in the file")
	}
	if o.postgresURL != "" && o.dbFile != "" {
		return errors.New("--postgres-url and --db-filename exclude each other")
	}
	logConf := log.Config{Stdout: true, Level: o.logLevel, Format: "json"}
	logger := log.NewZapLogger(log.BuildZapLogger(logConf))
	var (
		cfg  *config.Config
		opts []temporal.ServerOption
		err  error
	)
	if o.configFile != "" {
		cfg, err = config.Load(config.WithConfigFile(o.configFile))
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if _, ok := cfg.Services[string(primitives.InternalFrontendService)]; !ok {
			return errors.New("config: services.internal-frontend is required, for the system workers")
		}
		opts = append(opts, temporal.ForServices(temporal.DefaultServices))
	} else {
		cfg, opts, err = singleProcess(o, logger)
		if err != nil {
			return err
		}
	}
	cfg.Log = logConf
	if o.dynConfig != "" {
		cfg.DynamicConfigClient = &dynamicconfig.FileBasedClientConfig{Filepath: o.dynConfig, PollInterval: 10 * time.Second}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	keys := newKeySet(o.jwksURLs, o.jwksRefresh)
	go keys.run(ctx, func(msg string, err error) { logger.Warn(msg, tag.Error(err)) })
	mapper := &claimMapper{keys: keys, issuer: o.issuer, audience: o.audience}

	interrupt := make(chan any)
	go func() { <-ctx.Done(); close(interrupt) }()
	opts = append(opts,
		temporal.WithConfig(cfg),
		temporal.WithLogger(logger),
		temporal.InterruptOn(interrupt),
		temporal.WithAuthorizer(&authorizer{standard: authorization.NewDefaultAuthorizer()}),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return mapper }),
	)
	attrs, err := parseSearchAttributes(o.searchAttrs)
	if err != nil {
		return err
	}
	s, err := temporal.NewServer(opts...)
	if err != nil {
		return fmt.Errorf("create server: %w", err)
	}
	// SQLite namespaces are written into the database before start; on
	// PostgreSQL they are registered through the server once it answers.
	registerNS := o.configFile == "" && o.postgresURL != ""
	if len(attrs) > 0 || registerNS {
		internal := cfg.Services[string(primitives.InternalFrontendService)].RPC
		ip := internal.BindOnIP
		if ip == "" || ip == "0.0.0.0" {
			ip = "127.0.0.1"
		}
		addr := net.JoinHostPort(ip, strconv.Itoa(internal.GRPCPort))
		go func() {
			if registerNS {
				registerNamespaces(ctx, addr, o.namespaces, func(err error) {
					logger.Warn("registering namespaces", tag.Error(err))
				})
			}
			if len(attrs) > 0 {
				registerSearchAttributes(ctx, addr, o.namespaces, attrs, func(err error) {
					logger.Warn("registering search attributes", tag.Error(err))
				})
			}
		}()
	}
	// Start blocks until interrupted.
	return s.Start()
}

// singleProcess builds the config of an all-in-one server on SQLite or
// PostgreSQL, every service on o.ip except the internal frontend
// (127.0.0.1).
func singleProcess(o options, logger log.Logger) (*config.Config, []temporal.ServerOption, error) {
	const clusterName = "active"
	var cfg config.Config
	if o.postgresURL != "" {
		main, vis, err := postgresConfigs(o.postgresURL, o.postgresVisibilityDB, o.postgresPasswordFile)
		if err != nil {
			return nil, nil, err
		}
		if err := setupPostgres(main, postgresSchema, logger); err != nil {
			return nil, nil, err
		}
		if err := setupPostgres(vis, postgresVisibilitySchema, logger); err != nil {
			return nil, nil, err
		}
		cfg.Persistence.DefaultStore = "postgres"
		cfg.Persistence.VisibilityStore = "postgres-visibility"
		cfg.Persistence.NumHistoryShards = int32(cmp.Or(o.historyShards, defaultPostgresShards))
		cfg.Persistence.DataStores = map[string]config.DataStore{"postgres": {SQL: main}, "postgres-visibility": {SQL: vis}}
	} else {
		sqlConf, err := sqliteStore(o, clusterName)
		if err != nil {
			return nil, nil, err
		}
		cfg.Persistence.DefaultStore = "sqlite"
		cfg.Persistence.VisibilityStore = "sqlite"
		// SQLite has one writer however many shards there are.
		cfg.Persistence.NumHistoryShards = int32(cmp.Or(o.historyShards, 1))
		cfg.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: sqlConf}}
	}

	ports := map[primitives.ServiceName]int{
		primitives.FrontendService:         o.port,
		primitives.InternalFrontendService: o.internalPort,
	}
	for _, s := range []primitives.ServiceName{primitives.HistoryService, primitives.MatchingService, primitives.WorkerService, primitives.InternalFrontendService} {
		if ports[s] != 0 {
			continue
		}
		p, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		ports[s] = p
	}

	cfg.Global.Membership.MaxJoinDuration = 30 * time.Second
	cfg.Global.Membership.BroadcastAddress = "127.0.0.1"
	frontendAddr := net.JoinHostPort(o.ip, strconv.Itoa(o.port))
	cfg.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontendAddr},
		},
	}
	cfg.DCRedirectionPolicy.Policy = "noop"
	cfg.Services = map[string]config.Service{}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for s, p := range ports {
		ip := "127.0.0.1"
		if s == primitives.FrontendService {
			ip = o.ip
		}
		cfg.Services[string(s)] = config.Service{RPC: config.RPC{GRPCPort: p, BindOnIP: ip}}
		hosts[s] = static.SingleLocalHost(net.JoinHostPort(ip, strconv.Itoa(p)))
	}
	cfg.Archival.History.State = "disabled"
	cfg.Archival.Visibility.State = "disabled"
	cfg.NamespaceDefaults.Archival.History.State = "disabled"
	cfg.NamespaceDefaults.Archival.Visibility.State = "disabled"

	services := append([]string{}, temporal.DefaultServices...)
	services = append(services, string(primitives.InternalFrontendService))
	return &cfg, []temporal.ServerOption{temporal.ForServices(services), temporal.WithStaticHosts(hosts)}, nil
}

// sqliteStore sets up the SQLite database (in memory unless o.dbFile) with
// the namespaces in it.
func sqliteStore(o options, clusterName string) (*config.SQL, error) {
	sqlConf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.dbFile == "" {
		sqlConf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		sqlConf.DatabaseName = "scantron-" + strconv.Itoa(os.Getpid())
	} else {
		sqlConf.ConnectAttributes = map[string]string{"mode": "rwc"}
		sqlConf.DatabaseName = o.dbFile
		if _, err := os.Stat(o.dbFile); errors.Is(err, os.ErrNotExist) {
			if err := sqliteschema.SetupSchema(sqlConf); err != nil {
				return nil, fmt.Errorf("sqlite schema: %w", err)
			}
		}
	}
	var nss []*sqliteschema.NamespaceConfig
	for _, ns := range o.namespaces {
		c, err := sqliteschema.NewNamespaceConfig(clusterName, ns, false, nil)
		if err != nil {
			return nil, err
		}
		nss = append(nss, c)
	}
	if err := sqliteschema.CreateNamespaces(sqlConf, nss...); err != nil {
		return nil, fmt.Errorf("namespaces: %w", err)
	}
	return sqlConf, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func openFile(path string) (*os.File, error) { return os.Open(path) }
