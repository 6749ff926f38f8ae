package web

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Config is what the server needs to know besides its dependencies.
type Config struct {
	// TemporalUIURL is the base address of Temporal Web, e.g.
	// "http://127.0.0.1:8233". Empty leaves run pages without a link.
	TemporalUIURL string
	// TemporalNamespace is the namespace runs execute in; default "default".
	TemporalNamespace string
	// Logger receives request logs, recovered panics and the real cause of
	// every 500. Default slog.Default().
	Logger *slog.Logger
}

// Store is everything the web package asks of the database. The handlers
// for each resource use only their own part of it; *postgres.Store
// satisfies the whole.
type Store interface {
	SiteStore
	ExclusionStore
	ProfileStore
	AgentStore
	PoolStore
	ScanStore
	RunStore
}

// Deps are the server's collaborators.
type Deps struct {
	Store    Store
	Objects  Objects
	Temporal WorkflowClient
	// Now is the clock used to name manually started runs; default time.Now.
	Now func() time.Time
}

// Server holds the handlers and the parsed UI. Build it with New and mount
// Routes.
type Server struct {
	log *slog.Logger
	api base
	css []byte

	sites      *siteHandlers
	exclusions *exclusionHandlers
	profiles   *profileHandlers
	agents     *agentHandlers
	pools      *poolHandlers
	scans      *scanHandlers
	runs       *runHandlers
	ui         *uiHandlers
}

// New checks the configuration and dependencies, parses the embedded
// templates (failing on any that is missing or broken) and wires the
// handlers.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Store == nil || deps.Objects == nil || deps.Temporal == nil {
		return nil, errors.New("web: Store, Objects and Temporal are all required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TemporalNamespace == "" {
		cfg.TemporalNamespace = "default"
	}
	if cfg.TemporalUIURL != "" {
		u, err := url.Parse(cfg.TemporalUIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("web: TemporalUIURL must be an absolute http(s) URL")
		}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	links := temporalLinks{base: strings.TrimRight(cfg.TemporalUIURL, "/"), namespace: cfg.TemporalNamespace}
	pages, err := parsePages(assets, links)
	if err != nil {
		return nil, err
	}
	css, err := fs.ReadFile(assets, "static/style.css")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	b := base{log: cfg.Logger}
	agents := &agentHandlers{base: b, store: deps.Store, presence: deps.Temporal, runs: deps.Temporal, now: deps.Now}
	return &Server{
		log:        cfg.Logger,
		api:        b,
		css:        css,
		sites:      &siteHandlers{base: b, store: deps.Store},
		exclusions: &exclusionHandlers{base: b, store: deps.Store},
		profiles:   &profileHandlers{base: b, store: deps.Store},
		agents:     agents,
		pools:      &poolHandlers{base: b, store: deps.Store, presence: deps.Temporal, agents: agents},
		scans:      &scanHandlers{base: b, store: deps.Store},
		runs: &runHandlers{base: b, store: deps.Store, objects: deps.Objects,
			temporal: deps.Temporal, links: links, now: deps.Now},
		ui: &uiHandlers{base: b, store: deps.Store, pages: pages, links: links, temporal: deps.Temporal,
			agents: agents},
	}, nil
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
	return l.base + "/namespaces/" + url.PathEscape(l.namespace) + "/workflows/" + url.PathEscape(workflowID)
}
