package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/workflows"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Routes builds the HTTP handler.
func (s *Server) Routes() http.Handler {
	return s.engine()
}

// engine registers every route the server answers, each with the least
// role that may use it: public, viewer, operator or admin. A route added
// with gin's own methods has no role and fails TestEveryRouteDeclaresARole.
func (s *Server) engine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// Gin's own error rendering is not used: handlers answer for themselves.
	r.Use(s.recovery(), s.logRequests(), securityHeaders(), s.limitBody(MaxBodyBytes))
	if s.metrics != nil {
		r.Use(observeRequests(s.metrics))
	}

	// The client address (in logs and for the login limiter) is the peer's
	// own unless the peer is a configured trusted proxy; then it is the
	// right-most X-Forwarded-For hop that is not a trusted proxy. Gin
	// trusts every proxy and X-Real-IP by default: neither is kept.
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	r.ForwardedByClientIP = len(s.trustedProxies) > 0
	var proxies []string
	for _, p := range s.trustedProxies {
		proxies = append(proxies, p.String())
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		panic(fmt.Sprintf("web: trusted proxies checked in New: %v", err))
	}
	api := s.api
	const (
		viewer   = accounts.Viewer
		operator = accounts.Operator
		admin    = accounts.Admin
	)
	root := s.routes(&r.RouterGroup)
	root.GET("/.well-known/jwks.json", public, api.handle(s.temporalAuth.jwks))
	root.GET("/healthz", public, s.healthz)
	root.GET("/readyz", public, s.readyz)
	if s.metricsHandler != nil {
		// Public to sessions: the handler asks for the metrics token.
		root.GET("/metrics", public, gin.WrapH(s.metricsHandler))
	}

	v1 := s.routes(r.Group("/api/v1"))
	{
		v1.GET("/openapi.json", public, s.openAPI)
		v1.POST("/login", public, api.handle(s.accounts.apiLogin))
		v1.GET("/me", viewer, api.handle(s.accounts.me))
		v1.PUT("/me/password", viewer, api.handle(s.accounts.changeOwnPassword))
		v1.POST("/me/temporal-token", viewer, api.handle(s.temporalAuth.userToken))
		v1.GET("/tokens", viewer, api.handle(s.accounts.listTokens))
		v1.POST("/tokens", viewer, api.handle(s.accounts.createToken))
		v1.DELETE("/tokens/:id", viewer, api.handle(s.accounts.revokeToken))
		v1.GET("/users", admin, api.handle(s.accounts.listUsers))
		v1.POST("/users", admin, api.handle(s.accounts.createUser))
		v1.GET("/users/:id", admin, api.handle(s.accounts.getUser))
		v1.PUT("/users/:id", admin, api.handle(s.accounts.updateUser))
		v1.DELETE("/users/:id", admin, api.handle(s.accounts.deleteUser))
		v1.GET("/users/:id/tokens", admin, api.handle(s.accounts.userTokens))
		v1.DELETE("/users/:id/tokens/:token_id", admin, api.handle(s.accounts.revokeUserToken))

		v1.POST("/sites", operator, api.handle(s.sites.create))
		v1.GET("/sites", viewer, api.handle(s.sites.list))
		v1.GET("/sites/:id", viewer, api.handle(s.sites.get))
		v1.PUT("/sites/:id", operator, api.handle(s.sites.update))
		v1.DELETE("/sites/:id", operator, api.handle(s.sites.delete))

		v1.POST("/exclusions", operator, api.handle(s.exclusions.create))
		v1.GET("/exclusions", viewer, api.handle(s.exclusions.list))
		v1.DELETE("/exclusions/:id", operator, api.handle(s.exclusions.delete))

		v1.POST("/profiles", operator, api.handle(s.profiles.create))
		v1.GET("/profiles", viewer, api.handle(s.profiles.list))
		v1.GET("/profiles/:id", viewer, api.handle(s.profiles.get))
		v1.PUT("/profiles/:id", operator, api.handle(s.profiles.update))
		v1.DELETE("/profiles/:id", operator, api.handle(s.profiles.delete))

		v1.POST("/agents", admin, api.handle(s.agents.create))
		v1.GET("/agents", viewer, api.handle(s.agents.list))
		v1.GET("/agents/:id", viewer, api.handle(s.agents.get))
		v1.DELETE("/agents/:id", admin, api.handle(s.agents.delete))
		v1.GET("/agents/:id/pools", viewer, api.handle(s.temporalAuth.getPools))
		v1.PUT("/agents/:id/pools", admin, api.handle(s.temporalAuth.setPools))
		v1.POST("/agents/temporal-token", public, api.handle(s.temporalAuth.agentToken))
		v1.POST("/join-tokens", admin, api.handle(s.enroll.createJoinToken))
		v1.GET("/join-tokens", admin, api.handle(s.enroll.listJoinTokens))
		v1.DELETE("/join-tokens/:id", admin, api.handle(s.enroll.deleteJoinToken))
		v1.POST("/enroll", public, api.handle(s.enroll.enroll))

		v1.POST("/pools", admin, api.handle(s.pools.create))
		v1.GET("/pools", viewer, api.handle(s.pools.list))
		v1.GET("/pools/:id", viewer, api.handle(s.pools.get))
		v1.DELETE("/pools/:id", admin, api.handle(s.pools.delete))

		v1.POST("/scans", operator, api.handle(s.scans.create))
		v1.GET("/scans", viewer, api.handle(s.scans.list))
		v1.GET("/scans/:id", viewer, api.handle(s.scans.get))
		v1.GET("/scans/:id/plan", viewer, api.handle(s.scans.plan))
		v1.PUT("/scans/:id", operator, api.handle(s.scans.update))
		v1.DELETE("/scans/:id", operator, api.handle(s.scans.delete))
		v1.POST("/scans/:id/runs", operator, api.handle(s.runs.start))
		v1.POST("/scans/:id/pause", operator, api.handle(s.scans.pause))
		v1.POST("/scans/:id/resume", operator, api.handle(s.scans.resume))
		v1.POST("/scans/:id/trigger", operator, api.handle(s.scans.trigger))
		v1.POST("/scans/:id/backfill", operator, api.handle(s.scans.backfill))
		v1.POST("/schedules/preview", viewer, api.handle(s.scans.preview))

		v1.GET("/runs", viewer, api.handle(s.runs.list))
		v1.GET("/runs/:id", viewer, api.handle(s.runs.get))
		v1.POST("/runs/:id/cancel", operator, api.handle(s.runs.cancel))
		v1.POST("/runs/:id/pause", operator, api.handle(s.runs.pause))
		v1.POST("/runs/:id/resume", operator, api.handle(s.runs.resume))
		v1.POST("/runs/:id/retry", operator, api.handle(s.runs.retry))
		v1.POST("/runs/:id/reparse", operator, api.handle(s.runs.reparse))
		v1.GET("/runs/:id/hosts", viewer, api.handle(s.runs.hosts))
		v1.GET("/runs/:id/ports", viewer, api.handle(s.runs.ports))
		v1.GET("/runs/:id/raw", viewer, api.handle(s.runs.raw))
		v1.GET("/runs/:id/csv", viewer, api.handle(s.runs.csv))
		v1.GET("/runs/:id/jsonl", viewer, api.handle(s.runs.jsonl))
		v1.GET("/runs/:id/xml", viewer, api.handle(s.runs.xml))
		v1.GET("/runs/:id/events", viewer, api.handle(s.live.runEvents))
		v1.GET("/events", viewer, api.handle(s.live.dashboardEvents))

		v1.GET("/sites/:id/assets", viewer, api.handle(s.assets.site))
		v1.POST("/sites/:id/imports", operator, api.handle(s.imports.create))
		v1.GET("/assets", viewer, api.handle(s.assets.all))
		v1.GET("/assets/:ip/history", viewer, api.handle(s.assets.history))
		v1.GET("/search", viewer, api.handle(s.search.search))
		v1.GET("/runs/:id/diff", viewer, api.handle(s.diffs.run))
		v1.GET("/scans/:id/diffs", viewer, api.handle(s.diffs.scan))
		v1.GET("/scans/:id/notifications", viewer, api.handle(s.notifications.get))
		v1.PUT("/scans/:id/notifications", operator, api.handle(s.notifications.put))
		v1.DELETE("/scans/:id/notifications", operator, api.handle(s.notifications.delete))
		v1.POST("/scans/:id/notifications/test", operator, api.handle(s.notifications.test))
	}

	ui := s.ui
	root.GET("/login", public, ui.handle(ui.loginPage))
	root.POST("/login", public, ui.handle(ui.loginSubmit))
	root.POST("/logout", viewer, ui.handle(ui.logout))
	root.GET("/tokens", viewer, ui.handle(ui.tokensPage))
	root.POST("/tokens", viewer, ui.handle(ui.tokenCreate))
	root.POST("/tokens/:id/revoke", viewer, ui.handle(ui.tokenRevoke))
	root.POST("/password", viewer, ui.handle(ui.passwordChange))
	root.GET("/users", admin, ui.handle(ui.usersPage))
	root.POST("/users", admin, ui.handle(ui.userCreate))
	root.POST("/users/:id", admin, ui.handle(ui.userUpdate))
	root.POST("/users/:id/delete", admin, ui.handle(ui.userDelete))
	root.GET("/users/:id/tokens", admin, ui.handle(ui.userTokensPage))
	root.POST("/users/:id/tokens/:token_id/revoke", admin, ui.handle(ui.userTokenRevoke))
	root.GET("/", viewer, ui.handle(ui.dashboard))
	root.GET("/sites", viewer, ui.handle(ui.sitesPage))
	root.POST("/sites", operator, ui.handle(ui.siteCreate))
	root.GET("/sites/:id", viewer, ui.handle(ui.sitePage))
	root.POST("/sites/:id", operator, ui.handle(ui.siteUpdate))
	root.POST("/sites/:id/delete", operator, ui.handle(ui.siteDelete))
	root.GET("/sites/:id/assets", viewer, ui.handle(ui.assets))
	root.GET("/assets", viewer, ui.handle(ui.assets))
	root.GET("/assets/:ip", viewer, ui.handle(ui.hostPage))
	root.POST("/sites/:id/import", operator, ui.handle(ui.siteImport))
	root.GET("/search", viewer, ui.handle(ui.searchPage))
	root.GET("/exclusions", viewer, ui.handle(ui.exclusionsPage))
	root.POST("/exclusions", operator, ui.handle(ui.exclusionCreate))
	root.POST("/exclusions/:id/delete", operator, ui.handle(ui.exclusionDelete))
	root.GET("/profiles", viewer, ui.handle(ui.profilesPage))
	root.POST("/profiles", operator, ui.handle(ui.profileCreate))
	root.GET("/profiles/:id", viewer, ui.handle(ui.profilePage))
	root.POST("/profiles/:id", operator, ui.handle(ui.profileUpdate))
	root.POST("/profiles/:id/delete", operator, ui.handle(ui.profileDelete))
	root.GET("/agents", viewer, ui.handle(ui.agentsPage))
	root.POST("/agents", admin, ui.handle(ui.agentCreate))
	root.POST("/agents/:id/delete", admin, ui.handle(ui.agentDelete))
	root.POST("/agents/join-tokens", admin, ui.handle(ui.joinTokenCreate))
	root.POST("/agents/join-tokens/:id/delete", admin, ui.handle(ui.joinTokenDelete))
	root.GET("/pools", viewer, ui.handle(ui.poolsPage))
	root.POST("/pools", admin, ui.handle(ui.poolCreate))
	root.POST("/pools/:id/delete", admin, ui.handle(ui.poolDelete))
	root.GET("/scans", viewer, ui.handle(ui.scansPage))
	root.POST("/scans", operator, ui.handle(ui.scanCreate))
	root.GET("/scans/:id", viewer, ui.handle(ui.scanPage))
	root.GET("/scans/:id/plan", viewer, ui.handle(ui.planPage))
	root.POST("/scans/:id", operator, ui.handle(ui.scanUpdate))
	root.POST("/scans/:id/delete", operator, ui.handle(ui.scanDelete))
	root.POST("/scans/:id/run", operator, ui.handle(ui.scanRun))
	root.POST("/scans/:id/notifications", operator, ui.handle(ui.notificationsUpdate))
	root.POST("/scans/:id/notifications/test", operator, ui.handle(ui.notificationsTest))
	root.POST("/scans/:id/pause", operator, ui.handle(ui.scanPause(true)))
	root.POST("/scans/:id/resume", operator, ui.handle(ui.scanPause(false)))
	root.POST("/scans/:id/trigger", operator, ui.handle(ui.scanTrigger))
	root.GET("/runs", viewer, ui.handle(ui.runsPage))
	root.GET("/runs/:id", viewer, ui.handle(ui.run))
	root.POST("/runs/:id/cancel", operator, ui.handle(ui.runCancel))
	root.POST("/runs/:id/pause", operator, ui.handle(ui.runAction(ui.runSignal(workflows.SignalPause))))
	root.POST("/runs/:id/resume", operator, ui.handle(ui.runAction(ui.runSignal(workflows.SignalResume))))
	root.POST("/runs/:id/retry", operator, ui.handle(ui.runAction(ui.runRetry)))
	root.POST("/runs/:id/reparse", operator, ui.handle(ui.runAction(ui.runReparse)))
	root.GET("/static/:file", public, s.static)

	r.NoRoute(func(c *gin.Context) {
		if isAPI(c) {
			c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "no such endpoint: " + c.Request.Method + " " + c.Request.URL.Path})
			return
		}
		s.ui.errorPage(c, http.StatusNotFound, "There is no page at this address.")
	})
	r.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, gin.H{"error": "method " + c.Request.Method + " is not allowed on " + c.Request.URL.Path})
	})
	return r
}

// routeGroup registers routes together with the role each needs, in
// s.roles, and puts the role check in front of the handler.
type routeGroup struct {
	s *Server
	g *gin.RouterGroup
}

func (s *Server) routes(g *gin.RouterGroup) routeGroup { return routeGroup{s: s, g: g} }

func (rg routeGroup) handle(method, path string, role accounts.Role, h gin.HandlerFunc) {
	full := strings.TrimSuffix(rg.g.BasePath(), "/") + path
	rg.s.roles[method+" "+full] = role
	// Parameters are checked once the caller may use the route, so that
	// who may not learns nothing but 401 or 403.
	rg.g.Handle(method, path, rg.s.auth.require(role, rg.s.ui), rg.s.checkParams(role), h)
}

func (rg routeGroup) GET(path string, role accounts.Role, h gin.HandlerFunc) {
	rg.handle(http.MethodGet, path, role, h)
}

func (rg routeGroup) POST(path string, role accounts.Role, h gin.HandlerFunc) {
	rg.handle(http.MethodPost, path, role, h)
}

func (rg routeGroup) PUT(path string, role accounts.Role, h gin.HandlerFunc) {
	rg.handle(http.MethodPut, path, role, h)
}

func (rg routeGroup) DELETE(path string, role accounts.Role, h gin.HandlerFunc) {
	rg.handle(http.MethodDelete, path, role, h)
}

func isAPI(c *gin.Context) bool {
	return strings.HasPrefix(c.Request.URL.Path, "/api/")
}

// recovery turns a panic into a logged error and a 500, JSON for the API
// and a page elsewhere.
func (s *Server) recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(rec) // the server's own way to drop a connection
			}
			s.log.ErrorContext(c.Request.Context(), "panic while serving a request",
				"method", c.Request.Method, "path", c.Request.URL.Path,
				"panic", rec, "stack", string(debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			if isAPI(c) || isProbe(c) {
				c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal server error"})
				return
			}
			s.ui.errorPage(c, http.StatusInternalServerError, "Something went wrong on our side; the details are in the server log.")
		}()
		c.Next()
	}
}

// logRequests logs one line per request once it has been answered.
func (s *Server) logRequests() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		switch {
		case isProbe(c):
			// Probes come every few seconds, and a 503 from /readyz while
			// the server starts is expected.
			level = slog.LevelDebug
		case status >= 500:
			level = slog.LevelError
		}
		s.log.LogAttrs(c.Request.Context(), level, "http request",
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Int("bytes", c.Writer.Size()),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", c.ClientIP()),
		)
	}
}

// apiCSP is the Content-Security-Policy of every response that is not a UI
// page (those set their own): JSON, CSV and XML load nothing and may not be
// framed.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// securityHeaders keeps browsers from sniffing types, framing pages, leaking
// URLs in referrers, or running anything a response might carry.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", apiCSP)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		c.Next()
	}
}

// limitBody refuses bodies over limit bytes with 413: at once when the
// declared length is too large, and through http.MaxBytesReader (which
// decodeJSON turns into a 413) when the body is streamed. A streamed upload
// (an import) has a limit per file, which its handler checks as it reads,
// and in all that of its most files; it may take as long as it keeps
// moving (DownloadStall), and its answer as long again as recording it.
func (s *Server) limitBody(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if streamedUploads[c.FullPath()] {
			if c.Request.Body != nil {
				rc := http.NewResponseController(c.Writer)
				total := s.imports.maxBytes*maxImportFiles + MaxBodyBytes
				c.Request.Body = stallReader{r: http.MaxBytesReader(c.Writer, c.Request.Body, total), rc: rc, stall: s.timeouts.DownloadStall}
			}
			c.Next()
			return
		}
		if c.Request.ContentLength > limit {
			c.Header("Connection", "close")
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": tooLarge(limit).Error()})
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// static serves the embedded CSS and script; nothing is fetched from
// anywhere else.
func (s *Server) static(c *gin.Context) {
	name := c.Param("file")
	b, ok := s.files[name]
	if !ok {
		s.ui.errorPage(c, http.StatusNotFound, "There is no page at this address.")
		return
	}
	ct := "application/octet-stream"
	switch {
	case strings.HasSuffix(name, ".css"):
		ct = "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	}
	c.Header("Cache-Control", "public, max-age=3600")
	c.Data(http.StatusOK, ct, b)
}
