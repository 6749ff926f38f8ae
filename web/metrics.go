package web

import (
	"time"

	"github.com/gin-gonic/gin"
)

// RequestMetrics records HTTP requests; *metrics.Registry satisfies it.
type RequestMetrics interface {
	ObserveHTTP(method, route string, code int, d time.Duration)
}

// observeRequests times every request by its route template (gin's
// FullPath: "/api/v1/runs/:id", never the raw path, so that the number of
// series stays bounded by the routes).
func observeRequests(m RequestMetrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		m.ObserveHTTP(c.Request.Method, c.FullPath(), c.Writer.Status(), time.Since(start))
	}
}
