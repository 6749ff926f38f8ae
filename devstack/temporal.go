package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// TemporalOptions configures StartTemporal.
type TemporalOptions struct {
	// DBFile is the SQLite file holding Temporal's state; "" keeps it in
	// memory (lost when the server stops).
	DBFile string
	// Port of the frontend gRPC service and UIPort of the web UI, on
	// 127.0.0.1; 0 picks free ones.
	Port, UIPort int
	// Headless disables the web UI.
	Headless bool
	// Namespace is created at start-up; "" means "default".
	Namespace string
	// DynamicConfig sets dynamic config values (--dynamic-config-value);
	// each value is encoded as JSON.
	DynamicConfig map[string]any
	// LogFile receives the server's output. "" means DBFile+".log", or a
	// new file in the temporary directory when DBFile is "".
	LogFile string
	// StartTimeout bounds start-up; 0 means 2 minutes.
	StartTimeout time.Duration
}

// Temporal is a running Temporal dev server (`temporal server start-dev`).
type Temporal struct {
	HostPort  string // frontend gRPC address, e.g. 127.0.0.1:7233
	Port      int
	UIURL     string // e.g. http://127.0.0.1:8233; "" when headless
	UIPort    int
	Namespace string
	DBFile    string
	LogFile   string

	opt     TemporalOptions
	authOpt *AuthTemporalOptions // set for the authorizing build
	proc    *proc
}

// Dial returns a client for the server's namespace, carrying the token of
// AuthTemporalOptions.Token when the server checks tokens. Close it when
// done.
func (t *Temporal) Dial(ctx context.Context) (client.Client, error) {
	opts := client.Options{
		HostPort:  t.HostPort,
		Namespace: t.Namespace,
		Logger:    quietLogger(),
	}
	if t.authOpt != nil && t.authOpt.Token != nil {
		opts.Credentials = client.NewAPIKeyDynamicCredentials(t.authOpt.Token)
		opts.ConnectionOptions.TLSDisabled = true
	}
	return client.DialContext(ctx, opts)
}

// Pid returns the server's process id.
func (t *Temporal) Pid() int { return t.proc.pid() }

// Stop stops the server (SIGTERM, then SIGKILL after a while).
func (t *Temporal) Stop() error {
	if t == nil {
		return nil
	}
	return t.proc.stop(defaultStopTimeout)
}

// Kill SIGKILLs the server at once.
func (t *Temporal) Kill() error {
	if t == nil {
		return nil
	}
	return t.proc.kill()
}

// Done is closed when the server process has exited.
func (t *Temporal) Done() <-chan struct{} { return t.proc.done }

// Restart stops the server if it runs and starts it again on the same ports
// with the same state, as an operator's restart would. Only a server with a
// DBFile keeps its workflows across it. Do not call it concurrently with the
// other methods.
func (t *Temporal) Restart(ctx context.Context) error {
	if err := t.Stop(); err != nil {
		return err
	}
	var n *Temporal
	var err error
	if t.authOpt != nil {
		opt := *t.authOpt
		opt.Port = t.Port
		n, err = StartAuthTemporal(ctx, opt)
	} else {
		opt := t.opt
		opt.Port, opt.UIPort = t.Port, t.UIPort
		n, err = StartTemporal(ctx, opt)
	}
	if err != nil {
		return err
	}
	t.proc = n.proc
	return nil
}

func quietLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
}

// BurstDynamicConfig is the dynamic config every dev server gets unless
// TemporalOptions.DynamicConfig overrides a key, the same values as
// temporal-config/development.yaml: when many schedules fire on one minute,
// the round trips per run and the pollers of the server's scheduler worker
// decide how late the last run starts.
var BurstDynamicConfig = map[string]any{
	// A workflow task that schedules an activity on its own task queue
	// gets the activity back in the reply (StartRun, DispatchShard...):
	// one poll round trip less per server activity.
	"system.enableActivityEagerExecution": true,
	// The per-namespace worker runs the Schedules' scheduler workflows; two
	// pollers each (the SDK default) start about three workflows a second
	// on a loaded machine.
	"worker.perNamespaceWorkerOptions": map[string]any{
		"MaxConcurrentWorkflowTaskPollers": 8, "MaxConcurrentActivityTaskPollers": 8,
	},
	// Schedules start at most this many workflows a second in a namespace,
	// with a burst of as many (default 30): 200 fires on one minute would
	// take 7 s at the default.
	"worker.schedulerNamespaceStartWorkflowRPS": 200.0,
}

// withBurst returns BurstDynamicConfig with values set over it.
func withBurst(values map[string]any) map[string]any {
	out := maps.Clone(BurstDynamicConfig)
	maps.Copy(out, values)
	return out
}

// StartTemporal starts `temporal server start-dev` on 127.0.0.1 and waits
// until its frontend is healthy and the namespace can be described.
func StartTemporal(ctx context.Context, opt TemporalOptions) (*Temporal, error) {
	if opt.Namespace == "" {
		opt.Namespace = "default"
	}
	if opt.DBFile != "" {
		abs, err := filepath.Abs(opt.DBFile)
		if err != nil {
			return nil, err
		}
		opt.DBFile = abs
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return nil, fmt.Errorf("devstack: temporal: %w", err)
		}
	}
	if opt.LogFile == "" {
		if opt.DBFile != "" {
			opt.LogFile = opt.DBFile + ".log"
		} else {
			f, err := os.CreateTemp("", "scantron-temporal-*.log")
			if err != nil {
				return nil, fmt.Errorf("devstack: temporal: %w", err)
			}
			opt.LogFile = f.Name()
			f.Close()
		}
	}
	bin, err := FindTool("temporal")
	if err != nil {
		return nil, err
	}
	opt.DynamicConfig = withBurst(opt.DynamicConfig)
	keys := make([]string, 0, len(opt.DynamicConfig))
	for k := range opt.DynamicConfig {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var dyn []string
	for _, k := range keys {
		v, err := json.Marshal(opt.DynamicConfig[k])
		if err != nil {
			return nil, fmt.Errorf("devstack: temporal: dynamic config %s: %w", k, err)
		}
		dyn = append(dyn, "--dynamic-config-value", k+"="+string(v))
	}

	return retryOnPortClash(opt.Port == 0 || (opt.UIPort == 0 && !opt.Headless), func() (*Temporal, *proc, error) {
		port, err := portOr(opt.Port)
		if err != nil {
			return nil, nil, err
		}
		args := []string{
			"server", "start-dev",
			"--ip", "127.0.0.1",
			"--port", strconv.Itoa(port),
			"--namespace", opt.Namespace,
			"--log-level", "warn",
			"--color", "never",
			// The schedule reconciler's key (schedules.KeyAttribute), so
			// that it is there before any scantron server starts.
			"--search-attribute", "ScantronScheduleKey=Keyword",
		}
		t := &Temporal{
			HostPort:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Port:      port,
			Namespace: opt.Namespace,
			DBFile:    opt.DBFile,
			LogFile:   opt.LogFile,
			opt:       opt,
		}
		if opt.Headless {
			args = append(args, "--headless")
		} else {
			ui, err := portOr(opt.UIPort)
			if err != nil {
				return nil, nil, err
			}
			args = append(args, "--ui-port", strconv.Itoa(ui))
			t.UIPort = ui
			t.UIURL = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ui))
		}
		if opt.DBFile != "" {
			args = append(args, "--db-filename", opt.DBFile)
		}
		args = append(args, dyn...)
		p, err := startProc(procSpec{
			name:    "temporal",
			path:    bin,
			args:    args,
			logPath: opt.LogFile,
		})
		if err != nil {
			return nil, nil, err
		}
		t.proc = p
		err = p.waitReady(ctx, opt.StartTimeout, func(ctx context.Context) error {
			copts := client.Options{HostPort: t.HostPort, Namespace: t.Namespace, Logger: quietLogger()}
			c, err := client.DialContext(ctx, copts)
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
				return err
			}
			nc, err := client.NewNamespaceClient(copts)
			if err != nil {
				return err
			}
			defer nc.Close()
			_, err = nc.Describe(ctx, t.Namespace)
			if err != nil || t.UIURL == "" {
				return err
			}
			return httpOK(ctx, t.UIURL)
		})
		if err != nil {
			_ = p.kill()
			return nil, p, err
		}
		return t, p, nil
	})
}
