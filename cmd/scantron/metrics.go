package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/scantron/scantron/metrics"
)

// metricsListener serves only /metrics on --metrics-listen, behind the
// metrics token when one is set. It returns nil and does nothing when no
// address is configured.
type metricsListener struct {
	ln  net.Listener
	srv *http.Server
}

func listenMetrics(cfg Config, reg *metrics.Registry, log *slog.Logger) (*metricsListener, error) {
	if cfg.MetricsListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (--metrics-listen / SCANTRON_METRICS_LISTEN): %w", cfg.MetricsListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+metrics.Path, reg.Handler(cfg.MetricsToken, log))
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+metrics.Path, "token", cfg.MetricsToken != "")
	return &metricsListener{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// serve runs until ctx is done; a nil listener returns at once.
func (m *metricsListener) serve(ctx context.Context) error {
	if m == nil {
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.srv.Shutdown(sctx)
	})
	defer stop()
	if err := m.srv.Serve(m.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics http: %w", err)
	}
	return nil
}
