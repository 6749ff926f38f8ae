package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/metrics"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/signing"
	"github.com/scantron/scantron/schedules"
	"github.com/scantron/scantron/storage/objects"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/temporalauth"
	"github.com/scantron/scantron/web"
	"github.com/scantron/scantron/workers"
)

// runServer serves the web UI and API and runs the orchestrator worker. It
// applies pending migrations first (they take a lock, so several servers may
// start at once).
func runServer(ctx context.Context, cfg Config, _, stderr io.Writer) error {
	log := cfg.logger(stderr)
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := ensureFirstAdmin(ctx, cfg, store, log); err != nil {
		return fmt.Errorf("first admin: %w", err)
	}

	objs, err := openObjects(ctx, cfg, log)
	if err != nil {
		return err
	}
	reg := metrics.New()
	metricsLn, err := listenMetrics(cfg, reg, log)
	if err != nil {
		return err
	}
	var tokens *temporalauth.Signer
	var creds client.Credentials
	if cfg.TemporalAuth {
		tokens = temporalauth.NewSigner(store, temporalauth.Policy{TokenTTL: cfg.TemporalTokenTTL, KeyLifetime: cfg.TemporalKeyLifetime}, nil)
		creds = temporalauth.NewSource(func(ctx context.Context) (string, time.Time, error) {
			return tokens.ServiceToken(ctx, "scantron-server", cfg.TemporalNamespace, temporalauth.RoleWrite)
		}).Credentials()
	}
	// Temporal reads the JWKS from this server; listen before dialling so
	// its first read waits in the backlog instead of failing.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (--listen / SCANTRON_LISTEN): %w", cfg.Listen, err)
	}
	defer ln.Close()
	// Until the web server is built (it needs the Temporal client), only
	// the JWKS is served, and everything else is answered 503.
	var routes atomic.Pointer[http.Handler]
	httpServer := web.NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := routes.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		if tokens != nil && r.Method == http.MethodGet && r.URL.Path == temporalauth.JWKSPath {
			web.ServeJWKS(w, r, tokens)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}), web.Timeouts{})
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = httpServer.Shutdown(sctx)
	}()
	tc, err := dialTemporal(ctx, cfg, log, "scantron-server", creds, reg)
	if err != nil {
		return err
	}
	defer tc.Close()

	// Who polls a queue is read over all its partitions, for presence,
	// run capacity and metrics alike.
	presence := workers.Presence{Client: tc, Namespace: cfg.TemporalNamespace}
	reg.WatchRuns(store.CountRunsByStatus, runStatuses, log)
	reg.WatchQueues(workers.QueueStates(store, presence), log)

	// Agents may reach S3 under another name than the server does; the
	// URLs presigned for them name their endpoint.
	agentObjs := objs
	if cfg.S3AgentEndpoint != "" && cfg.S3AgentEndpoint != cfg.S3Endpoint {
		if agentObjs, err = objects.New(objects.Config{Endpoint: cfg.S3AgentEndpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
			Bucket: cfg.S3Bucket, Region: cfg.S3Region, UseTLS: cfg.S3TLS}); err != nil {
			return fmt.Errorf("object storage as agents reach it (--s3-agent-endpoint): %w", err)
		}
	}
	signer, err := signing.NewSigner(cfg.SigningKey)
	if err != nil {
		return err
	}
	// Agents are configured with this key; logging it saves looking it up.
	log.Info("signing scan specs", "public_key", signing.EncodePublicKey(signer.PublicKey()))
	results := &activities.Results{
		Signer:       signer,
		AgentObjects: agentObjs,
		Store:        store,
		Objects:      objs,
		MaxAddresses: cfg.MaxAddresses,
		MaxRate:      cfg.MaxRate,
		ShardSize:    cfg.ShardSize,
		Batch:        cfg.RunBatch,
		Fanout:       cfg.RunFanout,
		Capacity:     workers.QueueCapacity(presence),
		Online:       workers.QueueAgents(presence),
		Metrics:      reg,
		Timeouts: activities.Timeouts{
			ScheduleToStart: cfg.AgentOfflineAfter,
			StartToClose:    cfg.ScanTimeout,
			Heartbeat:       cfg.HeartbeatTimeout,
		},
	}
	changes := &activities.Changes{Store: store}
	notifier := &activities.Notifier{
		Store:     store,
		PublicURL: cfg.PublicURL,
		Webhooks:  scan.WebhookPolicy{Allow: cfg.WebhookAllow},
		SMTP: activities.SMTPConfig{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom,
			Username: cfg.SMTPUsername, Password: cfg.SMTPPassword},
	}
	if cfg.ExportDir != "" {
		results.ExportTargets = append(results.ExportTargets, activities.DirTarget{Dir: cfg.ExportDir})
	}
	if cfg.ExportS3Prefix != "" {
		results.ExportTargets = append(results.ExportTargets, activities.PrefixTarget{Objects: objs, Prefix: cfg.ExportS3Prefix})
	}
	enrollment, err := cfg.enrollment(signer.PublicKey())
	if err != nil {
		return err
	}
	// Scans' schedules are created or repaired from PostgreSQL at start and
	// every minute after. With the key attribute registered a pass costs
	// O(changed scans) Temporal calls; without it, one per scan.
	scheduleDefaults := schedules.Defaults{CatchupWindow: cfg.ScheduleCatchupWindow, Keyed: true}
	if err := schedules.EnsureKeyAttribute(ctx, tc, cfg.TemporalNamespace); err != nil {
		scheduleDefaults.Keyed = false
		log.Warn("schedules carry no key: every reconcile pass describes every schedule; register the attribute with "+
			"'temporal operator search-attribute create --name "+schedules.KeyAttribute+" --type Keyword'", "error", err)
	}
	scheduleSync := &workers.ScheduleReconciler{Store: store, Schedules: tc.ScheduleClient(),
		Defaults: scheduleDefaults, Logger: log, Metrics: reg}
	handler, err := web.New(web.Config{
		Enrollment:        enrollment,
		TemporalUIURL:     cfg.TemporalUIURL,
		TemporalNamespace: cfg.TemporalNamespace,
		Schedule:          scheduleDefaults,
		SecureCookies:     cfg.SecureCookies,
		MaxRate:           cfg.MaxRate,
		TrustedProxies:    cfg.TrustedProxies,
		MaxAddresses:      cfg.MaxAddresses,
		ShardSize:         cfg.ShardSize,
		MaxStreams:        cfg.MaxEventStreams,
		ImportMaxBytes:    cfg.ImportMaxBytes,
		Webhooks:          scan.WebhookPolicy{Allow: cfg.WebhookAllow},
		Logger:            log,
		Metrics:           reg,
		MetricsHandler:    mainListenerMetrics(cfg, reg, log),
	}, web.Deps{Store: store, Objects: objs, Temporal: tc, Presence: presence, Ready: readyChecks(store, tc, scheduleSync), Notifier: notifier,
		TemporalTokens: temporalTokens(tokens)})
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	h := handler.Routes()
	routes.Store(&h)
	httpServer.RegisterOnShutdown(handler.CloseStreams)
	log.Info("scantron server listening", "ui", "http://"+ln.Addr().String()+"/", "api", "http://"+ln.Addr().String()+"/api/v1",
		"temporal", cfg.TemporalAddress, "temporal_ui", cfg.TemporalUIURL)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return workers.RunServer(gctx, tc, results, changes, notifier) })
	g.Go(func() error { return metricsLn.serve(gctx) })
	reconciler := &workers.Reconciler{Store: store, Temporal: tc, Logger: log, Metrics: reg}
	g.Go(func() error { return reconciler.Run(gctx) })
	retention := &workers.Retention{Store: store, Objects: objs, Targets: results.ExportTargets, Age: cfg.Retention, Logger: log}
	g.Go(func() error { return retention.Run(gctx) })
	g.Go(func() error { return scheduleSync.Run(gctx) })
	g.Go(func() error {
		select {
		case err := <-serveErr:
			if !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		case <-gctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return httpServer.Shutdown(sctx)
	})
	err = g.Wait()
	log.Info("scantron server stopped")
	return err
}

// runStatuses are reported in the runs metric even while no run has them.
var runStatuses = []string{string(scan.RunPending), string(scan.RunRunning), string(scan.RunParsing), string(scan.RunPaused),
	string(scan.RunCompleted), string(scan.RunFailed), string(scan.RunCancelled)}

// mainListenerMetrics is /metrics for the server's main listener: only
// with a token, since that listener faces users.
func mainListenerMetrics(cfg Config, reg *metrics.Registry, log *slog.Logger) http.Handler {
	if cfg.MetricsToken == "" {
		return nil
	}
	return reg.Handler(cfg.MetricsToken, log)
}

// temporalTokens is tokens as web's optional dependency: a nil *Signer
// becomes a nil interface.
func temporalTokens(tokens *temporalauth.Signer) web.TemporalTokens {
	if tokens == nil {
		return nil
	}
	return tokens
}

// enrollment is what the server tells agents that enroll: its public key
// and how to reach Temporal, with the same TLS settings as the server's
// own (the CA's certificates themselves, not the server's file name).
func (c Config) enrollment(pub ed25519.PublicKey) (web.Enrollment, error) {
	e := web.Enrollment{
		ServerPublicKey:       signing.EncodePublicKey(pub),
		TemporalAddress:       c.AgentTemporalAddress,
		TemporalNamespace:     c.TemporalNamespace,
		TemporalTLSServerName: c.TemporalTLSServer,
	}
	if e.TemporalAddress == "" {
		e.TemporalAddress = c.TemporalAddress
	}
	tlsCfg, err := c.temporalTLS()
	if err != nil {
		return web.Enrollment{}, err
	}
	e.TemporalTLS = tlsCfg != nil
	e.TemporalAuth = c.TemporalAuth
	if c.TemporalTLSCA != "" {
		pem, _, err := readCAFile(c.TemporalTLSCA)
		if err != nil {
			return web.Enrollment{}, fmt.Errorf("--temporal-tls-ca (SCANTRON_TEMPORAL_TLS_CA): %w", err)
		}
		e.TemporalTLSCA = pem
	}
	return e, nil
}

// readyChecks are what the server's /readyz waits for: the database (its
// schema was migrated before the server listens) and Temporal answer, and
// the schedules have been brought in step with PostgreSQL since start, so
// that a restarted server that says it is ready runs every scan's schedule.
func readyChecks(store *postgres.Store, tc client.Client, scheduleSync *workers.ScheduleReconciler) []web.ReadyCheck {
	return []web.ReadyCheck{
		{Name: "database", NotReady: "the database does not answer", Check: func(ctx context.Context) error {
			return store.Pool().Ping(ctx)
		}},
		{Name: "temporal", NotReady: "Temporal does not answer", Check: func(ctx context.Context) error {
			_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
		{Name: "schedules", NotReady: "the schedules have not been reconciled since start", Check: func(context.Context) error {
			return scheduleSync.Synced()
		}},
	}
}

// dialTemporal connects to Temporal as name@host, with the TLS settings and
// creds (nil: none, or the API key), reporting the SDK's metrics to reg.
func dialTemporal(ctx context.Context, cfg Config, log *slog.Logger, name string, creds client.Credentials, reg *metrics.Registry) (client.Client, error) {
	temporalTLS, err := cfg.temporalTLS()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return workers.Dial(ctx, workers.DialOptions{
		HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Identity: name + "@" + host,
		TLS: temporalTLS, APIKey: cfg.TemporalAPIKey, Credentials: creds, Logger: log, Wait: cfg.TemporalWait,
		Metrics: reg.TemporalHandler(),
	})
}

// runMigrate applies the embedded migrations and exits.
func runMigrate(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	log := cfg.logger(stderr)
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	store.Close()
	fmt.Fprintln(stdout, "database schema is up to date")
	return nil
}

func openStore(ctx context.Context, cfg Config, log *slog.Logger) (*postgres.Store, error) {
	store, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database (--database-url / SCANTRON_DATABASE_URL): %w", err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	log.Debug("database ready")
	return store, nil
}

// openObjects connects to object storage and makes sure the bucket exists, retrying while S3 comes up alongside it.
func openObjects(ctx context.Context, cfg Config, log *slog.Logger) (*objects.Store, error) {
	objs, err := objects.New(objects.Config{
		Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
		Bucket: cfg.S3Bucket, Region: cfg.S3Region, UseTLS: cfg.S3TLS,
	})
	if err != nil {
		return nil, fmt.Errorf("object storage: %w", err)
	}
	deadline := time.Now().Add(cfg.TemporalWait)
	for {
		err := objs.EnsureBucket(ctx)
		if err == nil {
			return objs, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("object storage at %s, bucket %q: %w", cfg.S3Endpoint, cfg.S3Bucket, err)
		}
		log.Info("waiting for object storage", "endpoint", cfg.S3Endpoint, "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
