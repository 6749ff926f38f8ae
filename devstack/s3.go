package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Default S3 credentials and bucket of the dev stack.
const (
	DefaultS3AccessKey = "scantron"
	DefaultS3SecretKey = "scantron-dev-secret"
	DefaultS3Bucket    = "scantron"
)

// S3Options configures StartS3.
type S3Options struct {
	// Dir holds the buckets (Dir/buckets, one directory per bucket), the
	// object metadata (Dir/meta) and by default the log (Dir/versitygw.log).
	// Required. Existing data is reused.
	Dir string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// AccessKey and SecretKey of the root user; "" means the defaults.
	AccessKey, SecretKey string
	// Bucket is created if missing; "" means DefaultS3Bucket.
	Bucket string
	// LogFile receives the server's output; "" means Dir/versitygw.log.
	LogFile string
	// StartTimeout bounds start-up; 0 means 2 minutes.
	StartTimeout time.Duration
}

// S3 is a running S3 server (versitygw, posix backend). It speaks plain HTTP
// with path-style addressing, region us-east-1.
type S3 struct {
	Endpoint  string // host:port, e.g. 127.0.0.1:9000 (no scheme, no TLS)
	URL       string // http://host:port
	Port      int
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
	Dir       string
	LogFile   string

	opt  S3Options
	proc *proc
}

// Client returns a minio-go client for the server.
func (s *S3) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:       false,
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath,
	})
}

// Pid returns the server's process id.
func (s *S3) Pid() int { return s.proc.pid() }

// Stop stops the server (SIGTERM, then SIGKILL after a while).
func (s *S3) Stop() error {
	if s == nil {
		return nil
	}
	return s.proc.stop(defaultStopTimeout)
}

// Kill SIGKILLs the server at once.
func (s *S3) Kill() error {
	if s == nil {
		return nil
	}
	return s.proc.kill()
}

// Done is closed when the server process has exited.
func (s *S3) Done() <-chan struct{} { return s.proc.done }

// Restart stops the server if it runs and starts it again on the same port
// over the same directory: stored objects survive it. Do not call it
// concurrently with the other methods.
func (s *S3) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	opt := s.opt
	opt.Port = s.Port
	n, err := StartS3(ctx, opt)
	if err != nil {
		return err
	}
	s.proc = n.proc
	return nil
}

// StartS3 starts versitygw over opt.Dir on 127.0.0.1, waits until it answers
// and creates opt.Bucket if missing.
func StartS3(ctx context.Context, opt S3Options) (*S3, error) {
	if opt.Dir == "" {
		return nil, errors.New("devstack: S3Options.Dir is required")
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, err
	}
	if opt.AccessKey == "" {
		opt.AccessKey = DefaultS3AccessKey
	}
	if opt.SecretKey == "" {
		opt.SecretKey = DefaultS3SecretKey
	}
	if opt.Bucket == "" {
		opt.Bucket = DefaultS3Bucket
	}
	if opt.LogFile == "" {
		opt.LogFile = filepath.Join(dir, "versitygw.log")
	}
	bin, err := FindTool("versitygw")
	if err != nil {
		return nil, err
	}
	buckets := filepath.Join(dir, "buckets")
	meta := filepath.Join(dir, "meta")
	for _, d := range []string{buckets, meta} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("devstack: s3: %w", err)
		}
	}
	// Credentials go through the environment, not the command line.
	env := append(os.Environ(),
		"ROOT_ACCESS_KEY_ID="+opt.AccessKey,
		"ROOT_SECRET_ACCESS_KEY="+opt.SecretKey,
	)

	return retryOnPortClash(opt.Port == 0, func() (*S3, *proc, error) {
		port, err := portOr(opt.Port)
		if err != nil {
			return nil, nil, err
		}
		endpoint := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p, err := startProc(procSpec{
			name: "versitygw",
			path: bin,
			args: []string{
				"--port", endpoint,
				"--health", "/health",
				"--quiet",
				"posix",
				"--sidecar", meta,
				buckets,
			},
			env:     env,
			dir:     dir,
			logPath: opt.LogFile,
		})
		if err != nil {
			return nil, nil, err
		}
		s := &S3{
			Endpoint:  endpoint,
			URL:       "http://" + endpoint,
			Port:      port,
			AccessKey: opt.AccessKey,
			SecretKey: opt.SecretKey,
			Bucket:    opt.Bucket,
			Region:    "us-east-1",
			Dir:       dir,
			LogFile:   opt.LogFile,
			opt:       opt,
			proc:      p,
		}
		client, err := s.Client()
		if err != nil {
			_ = p.kill()
			return nil, p, err
		}
		err = p.waitReady(ctx, opt.StartTimeout, func(ctx context.Context) error {
			if err := httpOK(ctx, s.URL+"/health"); err != nil {
				return err
			}
			ok, err := client.BucketExists(ctx, opt.Bucket)
			if err != nil || ok {
				return err
			}
			return client.MakeBucket(ctx, opt.Bucket, minio.MakeBucketOptions{Region: s.Region})
		})
		if err != nil {
			_ = p.kill()
			return nil, p, err
		}
		return s, p, nil
	})
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
