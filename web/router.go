package web

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Routes builds the HTTP handler. Every route the server answers is
// registered here.
func (s *Server) Routes() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// Gin's own error rendering is not used: handlers answer for themselves.
	r.Use(s.recovery(), s.logRequests(), securityHeaders(), limitBody(MaxBodyBytes))

	// Client addresses in the log are the peer's own: no proxy is trusted
	// to rewrite them until one is configured.
	_ = r.SetTrustedProxies(nil)
	api := s.api
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })

	v1 := r.Group("/api/v1")
	{
		v1.POST("/sites", api.handle(s.sites.create))
		v1.GET("/sites", api.handle(s.sites.list))
		v1.GET("/sites/:id", api.handle(s.sites.get))
		v1.PUT("/sites/:id", api.handle(s.sites.update))
		v1.DELETE("/sites/:id", api.handle(s.sites.delete))

		v1.POST("/exclusions", api.handle(s.exclusions.create))
		v1.GET("/exclusions", api.handle(s.exclusions.list))
		v1.DELETE("/exclusions/:id", api.handle(s.exclusions.delete))

		v1.POST("/profiles", api.handle(s.profiles.create))
		v1.GET("/profiles", api.handle(s.profiles.list))
		v1.GET("/profiles/:id", api.handle(s.profiles.get))
		v1.PUT("/profiles/:id", api.handle(s.profiles.update))
		v1.DELETE("/profiles/:id", api.handle(s.profiles.delete))

		v1.POST("/agents", api.handle(s.agents.create))
		v1.GET("/agents", api.handle(s.agents.list))
		v1.GET("/agents/:id", api.handle(s.agents.get))
		v1.DELETE("/agents/:id", api.handle(s.agents.delete))

		v1.POST("/pools", api.handle(s.pools.create))
		v1.GET("/pools", api.handle(s.pools.list))
		v1.GET("/pools/:id", api.handle(s.pools.get))
		v1.DELETE("/pools/:id", api.handle(s.pools.delete))

		v1.POST("/scans", api.handle(s.scans.create))
		v1.GET("/scans", api.handle(s.scans.list))
		v1.GET("/scans/:id", api.handle(s.scans.get))
		v1.PUT("/scans/:id", api.handle(s.scans.update))
		v1.DELETE("/scans/:id", api.handle(s.scans.delete))
		v1.POST("/scans/:id/runs", api.handle(s.runs.start))

		v1.GET("/runs", api.handle(s.runs.list))
		v1.GET("/runs/:id", api.handle(s.runs.get))
		v1.POST("/runs/:id/cancel", api.handle(s.runs.cancel))
		v1.POST("/runs/:id/pause", api.handle(s.runs.pause))
		v1.POST("/runs/:id/resume", api.handle(s.runs.resume))
		v1.GET("/runs/:id/hosts", api.handle(s.runs.hosts))
		v1.GET("/runs/:id/ports", api.handle(s.runs.ports))
		v1.GET("/runs/:id/raw", api.handle(s.runs.raw))
		v1.GET("/runs/:id/csv", api.handle(s.runs.csv))
	}

	r.GET("/", s.ui.handle(s.ui.dashboard))
	r.GET("/runs/:id", s.ui.handle(s.ui.run))
	r.GET("/static/style.css", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, "text/css; charset=utf-8", s.css)
	})

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
			if isAPI(c) || c.Request.URL.Path == "/healthz" {
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
		case status >= 500:
			level = slog.LevelError
		case c.Request.URL.Path == "/healthz":
			level = slog.LevelDebug
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

// securityHeaders keeps browsers from sniffing types or framing pages.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		c.Next()
	}
}

// limitBody refuses bodies over limit bytes with 413: at once when the
// declared length is too large, and through http.MaxBytesReader (which
// decodeJSON turns into a 413) when the body is streamed.
func limitBody(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
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
