package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// ReadyCheck is one condition the server must meet before it takes work:
// a load balancer, an orchestrator's rollout or a test waits on /readyz,
// which passes only when every check does. /healthz says only that the
// process serves HTTP.
type ReadyCheck struct {
	// Name says what is checked ("database", "temporal", "schedules").
	Name string
	// NotReady is what /readyz answers while the check fails. It is
	// public, so it says what is wrong without the error's details, which
	// go to the log.
	NotReady string
	// Check returns nil when the condition holds.
	Check func(context.Context) error
}

// readyTimeout bounds one /readyz answer: a dependency that does not answer
// in time counts as not ready.
const readyTimeout = 3 * time.Second

// healthz is liveness: the process is up and serves HTTP.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz is readiness: 200 once every check passes, else 503 with the
// first failing check and why.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	for _, rc := range s.ready {
		if err := rc.Check(ctx); err != nil {
			s.log.DebugContext(ctx, "not ready", "check", rc.Name, "error", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not ready", "check": rc.Name, "reason": rc.NotReady})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// isProbe reports whether the request is a liveness or readiness probe:
// answered in JSON and logged only at debug level, as they come every few
// seconds.
func isProbe(c *gin.Context) bool {
	p := c.Request.URL.Path
	return p == "/healthz" || p == "/readyz"
}
