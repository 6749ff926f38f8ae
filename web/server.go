package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/schedules"
	"github.com/scantron/scantron/workflows"
)

// Config is what the server needs to know besides its dependencies.
type Config struct {
	// TemporalUIURL is the base address of Temporal Web, e.g.
	// "http://127.0.0.1:8233". Empty leaves run pages without a link.
	TemporalUIURL string
	// TemporalNamespace is the namespace runs execute in; default "default".
	TemporalNamespace string
	// Schedule holds the server-wide schedule settings (catch-up window).
	Schedule schedules.Defaults
	// SecureCookies marks session cookies Secure even on plain HTTP
	// requests, for a server behind a TLS-terminating proxy. Requests that
	// arrive over TLS get Secure cookies regardless.
	SecureCookies bool
	// MaxRate is the server's packet-rate ceiling (packets/s; 0 = none):
	// profiles and sites that ask for more are refused when saved.
	MaxRate float64
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For header names the client. Empty: the client is
	// always the peer, and the header is ignored.
	TrustedProxies []netip.Prefix
	// MaxAddresses is the most addresses one run may cover (the
	// orchestrator's setting, checked again when a run starts); sites
	// larger are refused when saved. 0 means scan.DefaultMaxAddresses.
	MaxAddresses uint64
	// ShardSize is the orchestrator's shard size for scans that set none
	// (0: scan.DefaultShardSize), which scans' plans show.
	ShardSize uint64
	// ImportMaxBytes bounds one file uploaded for import; 0 means
	// DefaultImportMaxBytes.
	ImportMaxBytes int64
	// Webhooks says which addresses webhook URLs may point at; the
	// orchestrator's Notifier checks the same policy on delivery.
	Webhooks scan.WebhookPolicy
	// WebhookLookup resolves webhook host names when settings are saved;
	// default the system resolver.
	WebhookLookup scan.Lookup
	// Timeouts bound slow clients; zero fields take DefaultTimeouts.
	Timeouts Timeouts
	// Metrics, when set, records every request's latency.
	Metrics RequestMetrics
	// MetricsHandler, when set, is served at /metrics (it checks its own
	// token: the route takes no session).
	MetricsHandler http.Handler
	// Enrollment is what agents enrolling with a join token are told;
	// without a ServerPublicKey, POST /api/v1/enroll answers 503.
	Enrollment Enrollment
	// Logger receives request logs, recovered panics and the real cause of
	// every 500. Default slog.Default().
	Logger *slog.Logger
	// MaxStreams is how many event streams (live run pages, dashboards,
	// `runs watch`) one user may hold open at once; 0 means
	// DefaultMaxStreams.
	MaxStreams int
}

// Store is everything the web package and the operations it calls ask of
// the database. The handlers for each resource use only their own part of
// it; *postgres.Store satisfies the whole.
type Store interface {
	manage.AgentStore
	manage.ScanStore
	manage.RunStore
	manage.UserStore
	manage.JoinTokenStore
	SiteStore
	ExclusionStore
	ProfileStore
	AgentStore
	PoolStore
	ScanStore
	RunStore
	AssetStore
	SearchStore
	DiffStore
	NotificationStore
	AccountStore
	JoinTokenStore
	UIStore
	AgentPoolStore
	PlanStore
	ImportStore
	LiveStore
}

// Deps are the server's collaborators.
type Deps struct {
	Store    Store
	Objects  Objects
	Temporal WorkflowClient
	// Schedules reaches scans' Temporal Schedules; default Temporal, when
	// it has a ScheduleClient (client.Client does).
	Schedules Schedules
	// Now is the clock used to name manually started runs; default time.Now.
	Now func() time.Time
	// Presence tells who polls agents' and pools' task queues; default
	// Temporal (which sees one partition of each queue only).
	Presence AgentPresence
	// TemporalTokens, when set, lets agents trade their credential for a
	// Temporal token and serves the JWKS Temporal checks tokens with.
	TemporalTokens TemporalTokens
	// Ready are the conditions /readyz checks, in order; none means the
	// server is ready as soon as it serves.
	Ready []ReadyCheck
	// Notifier sends scans' test notifications; nil: none can be sent.
	Notifier NotificationTester
	// Events feeds the live event streams; default Store, when it has
	// them (*postgres.Store does). Without it the streams answer 503.
	Events RunEvents
}

// Server holds the handlers and the parsed UI. Build it with New and mount
// Routes.
type Server struct {
	log            *slog.Logger
	metrics        RequestMetrics
	metricsHandler http.Handler
	timeouts       Timeouts
	trustedProxies []netip.Prefix
	api            base
	files          map[string][]byte
	auth           *authn
	// roles holds the least role of every route, by "METHOD /path".
	roles map[string]accounts.Role
	// ready are the checks of /readyz.
	ready []ReadyCheck

	accounts *accountHandlers

	sites      *siteHandlers
	exclusions *exclusionHandlers
	profiles   *profileHandlers
	agents     *agentHandlers
	pools      *poolHandlers
	enroll     *enrollHandlers
	scans      *scanHandlers
	runs       *runHandlers
	live       *liveHandlers
	imports    *importHandlers
	ui         *uiHandlers

	assets        *assetHandlers
	search        *searchHandlers
	diffs         *diffHandlers
	notifications *notificationHandlers
	temporalAuth  *temporalTokenHandlers
}

// New checks the configuration and dependencies, parses the embedded
// templates (failing on any that is missing or broken) and wires the
// handlers.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Store == nil || deps.Objects == nil || deps.Temporal == nil {
		return nil, errors.New("web: Store, Objects and Temporal are all required")
	}
	if deps.Schedules == nil {
		sch, ok := deps.Temporal.(Schedules)
		if !ok {
			return nil, errors.New("web: Schedules is required when Temporal has no ScheduleClient")
		}
		deps.Schedules = sch
	}
	for _, rc := range deps.Ready {
		if rc.Name == "" || rc.NotReady == "" || rc.Check == nil {
			return nil, errors.New("web: every ReadyCheck needs a Name, a NotReady reason and a Check")
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = slog.New(boundLogs(cfg.Logger.Handler()))
	if cfg.TemporalNamespace == "" {
		cfg.TemporalNamespace = "default"
	}
	if cfg.TemporalUIURL != "" {
		u, err := url.Parse(cfg.TemporalUIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("web: TemporalUIURL must be an absolute http(s) URL")
		}
	}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, errors.New("web: a trusted proxy network is not valid")
		}
	}
	if cfg.WebhookLookup == nil {
		cfg.WebhookLookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Presence == nil {
		deps.Presence = deps.Temporal
	}
	if deps.Events == nil {
		deps.Events, _ = deps.Store.(RunEvents)
	}
	links := temporalLinks{base: strings.TrimRight(cfg.TemporalUIURL, "/"), namespace: cfg.TemporalNamespace}
	pages, err := parsePages(assets, links)
	if err != nil {
		return nil, err
	}
	static, err := readStatic(assets)
	if err != nil {
		return nil, err
	}
	b := base{log: cfg.Logger}
	timeouts := cfg.Timeouts.orDefault()
	auth := &authn{base: b, store: deps.Store, now: deps.Now, secureCookies: cfg.SecureCookies,
		limiter: newLoginLimiter(deps.Now)}
	// The checks of a save: the same rules a run's start applies.
	check := &manage.Checker{Store: deps.Store, MaxAddresses: cfg.MaxAddresses, MaxRate: cfg.MaxRate,
		Online: liveAgents{base: b, presence: deps.Presence, now: deps.Now}.online}
	// The API handlers and the UI's forms call the same operations.
	ops := operations{
		sites:      &manage.Sites{Store: deps.Store, MaxRate: cfg.MaxRate, MaxAddresses: cfg.MaxAddresses, Check: check},
		exclusions: &manage.Exclusions{Store: deps.Store, Check: check},
		profiles:   &manage.Profiles{Store: deps.Store, MaxRate: cfg.MaxRate, Check: check},
		pools:      &manage.Pools{Store: deps.Store},
		agents:     &manage.Agents{Store: deps.Store},
		runs:       &manage.Runs{Store: deps.Store, Temporal: deps.Temporal, Now: deps.Now, Log: cfg.Logger},
		users:      &manage.Users{Store: deps.Store},
		joinTokens: &manage.JoinTokens{Store: deps.Store, Log: cfg.Logger},
		notifications: &manage.Notifications{Store: deps.Store, Tester: deps.Notifier, Webhooks: cfg.Webhooks,
			Lookup: cfg.WebhookLookup},
		scans: &manage.Scans{Store: deps.Store, Schedules: deps.Schedules, Defaults: cfg.Schedule,
			Now: deps.Now, Log: cfg.Logger, Check: check},
	}
	agents := &agentHandlers{base: b, store: deps.Store, agents: ops.agents, presence: deps.Presence, runs: deps.Temporal, now: deps.Now}
	s := &Server{
		log:            cfg.Logger,
		metrics:        cfg.Metrics,
		metricsHandler: cfg.MetricsHandler,
		timeouts:       timeouts,
		trustedProxies: cfg.TrustedProxies,
		api:            b,
		files:          static,
		auth:           auth,
		roles:          map[string]accounts.Role{},
		ready:          deps.Ready,
		accounts:       &accountHandlers{authn: auth, users: ops.users},
		sites:          &siteHandlers{base: b, sites: ops.sites},
		exclusions:     &exclusionHandlers{base: b, exclusions: ops.exclusions},
		profiles:       &profileHandlers{base: b, profiles: ops.profiles},
		agents:         agents,
		pools:          &poolHandlers{base: b, pools: ops.pools, presence: deps.Presence, agents: agents},
		enroll: &enrollHandlers{base: b, store: deps.Store, tokens: ops.joinTokens, cfg: cfg.Enrollment, limiter: newEnrollLimiter(deps.Now),
			https: cfg.SecureCookies},
		scans: &scanHandlers{base: b, store: deps.Store, scans: ops.scans, schedules: deps.Schedules, defaults: cfg.Schedule,
			links: links, now: deps.Now,
			planner: &planner{base: b, store: deps.Store, check: check, now: deps.Now,
				limits: activities.RunLimits{MaxAddresses: cfg.MaxAddresses, MaxRate: cfg.MaxRate, ShardSize: cfg.ShardSize}}},
		runs: &runHandlers{base: b, store: deps.Store, runs: ops.runs, objects: deps.Objects,
			temporal: deps.Temporal, links: links, now: deps.Now, downloadStall: timeouts.DownloadStall},
		live: &liveHandlers{base: b, store: deps.Store, events: deps.Events, hub: newEventHub(deps.Events, cfg.Logger),
			temporal: deps.Temporal, limit: newStreamLimit(cfg.MaxStreams), lifetime: timeouts.Stream,
			stall: timeouts.DownloadStall, heartbeat: streamHeartbeat, progressEvery: runProgressEvery,
			dashboardEvery: dashboardProgressEach, closing: make(chan struct{})},
		ui: &uiHandlers{base: b, ops: ops, store: deps.Store, pages: pages, links: links, temporal: deps.Temporal, auth: auth, now: deps.Now,
			agents: agents, diffs: deps.Store, assetDB: deps.Store},
		assets:        &assetHandlers{base: b, store: deps.Store, now: deps.Now},
		search:        &searchHandlers{base: b, store: deps.Store, now: deps.Now},
		diffs:         &diffHandlers{base: b, store: deps.Store},
		notifications: &notificationHandlers{base: b, notifications: ops.notifications},
		temporalAuth: &temporalTokenHandlers{base: b, store: deps.Store, tokens: deps.TemporalTokens,
			namespace: cfg.TemporalNamespace, now: deps.Now},
	}
	importObjects, _ := deps.Objects.(ImportObjects)
	if cfg.ImportMaxBytes <= 0 {
		cfg.ImportMaxBytes = DefaultImportMaxBytes
	}
	s.imports = &importHandlers{base: b, store: deps.Store, objects: importObjects, temporal: deps.Temporal, links: links,
		maxBytes: cfg.ImportMaxBytes, maxAddresses: cfg.MaxAddresses}
	s.ui.srv = s
	return s, nil
}

// CloseStreams ends the open event streams, which would otherwise hold a
// shutting-down http.Server for their whole lifetime: register it with
// http.Server.RegisterOnShutdown.
func (s *Server) CloseStreams() {
	s.live.closeStreams()
}

// operations are the changes both the API and the UI's forms make.
type operations struct {
	sites      SiteService
	exclusions ExclusionService
	profiles   ProfileService
	pools      PoolService
	scans      ScanService

	runs          RunService
	users         UserService
	agents        AgentService
	joinTokens    JoinTokenService
	notifications NotificationService
}

// temporalLinks builds links into Temporal Web.
type temporalLinks struct {
	base      string
	namespace string
}

// Workflow is the Temporal Web page of a workflow, or "" when no UI address
// is configured.
func (l temporalLinks) Workflow(workflowID string) string {
	if l.base == "" || workflowID == "" {
		return ""
	}
	workflowID = workflows.RunWorkflow(workflowID)
	return l.base + "/namespaces/" + url.PathEscape(l.namespace) + "/workflows/" + url.PathEscape(workflowID)
}

// readStatic loads the embedded static files, served under /static/.
func readStatic(fsys fs.FS) (map[string][]byte, error) {
	entries, err := fs.ReadDir(fsys, "static")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := fs.ReadFile(fsys, "static/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		out[e.Name()] = b
	}
	for _, need := range []string{"style.css", "app.js"} {
		if _, ok := out[need]; !ok {
			return nil, fmt.Errorf("web: static/%s is missing", need)
		}
	}
	return out, nil
}
