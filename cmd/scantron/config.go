package main

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/scanners"
	"github.com/scantron/scantron/scan/signing"
	"github.com/scantron/scantron/workers"
	"github.com/scantron/scantron/workflows"
)

// Config is every setting of every subcommand, read from flags and the
// environment in one place and checked before anything starts.
type Config struct {
	ConfigFile  string
	DatabaseURL string

	TemporalAddress   string
	TemporalNamespace string
	TemporalUIURL     string
	TemporalWait      time.Duration
	TemporalTLS       bool
	TemporalTLSCert   string
	TemporalTLSKey    string
	TemporalTLSCA     string
	TemporalTLSServer string
	TemporalAPIKey    string
	// TemporalAuth: Temporal checks tokens (the scantron Temporal build).
	TemporalAuth        bool
	TemporalTokenTTL    time.Duration
	TemporalKeyLifetime time.Duration

	S3Endpoint  string
	S3AccessKey string
	S3SecretKey string
	S3Bucket    string
	S3Region    string
	S3TLS       bool
	// S3AgentEndpoint is S3 as agents reach it ("" = S3Endpoint).
	S3AgentEndpoint string

	Listen       string
	PublicURL    string
	MaxAddresses uint64
	// ImportMaxBytes bounds one imported file.
	ImportMaxBytes int64
	// MaxRate is the server's packet-rate ceiling (packets/s).
	MaxRate float64
	// SigningKey signs the specs the server dispatches; agents verify them
	// with ServerPublicKey.
	SigningKey      ed25519.PrivateKey
	ServerPublicKey ed25519.PublicKey

	ShardSize uint64
	// RunBatch and RunFanout shape how a run fans out to child workflows
	// (0: the workflows' defaults).
	RunBatch, RunFanout int
	// MaxEventStreams is how many live event streams one user may hold.
	MaxEventStreams   int
	AgentOfflineAfter time.Duration
	ScanTimeout       time.Duration
	HeartbeatTimeout  time.Duration

	ExportDir             string
	ExportS3Prefix        string
	Retention             time.Duration // 0: keep runs forever
	ScheduleCatchupWindow time.Duration

	// ServerURL is the scantron server's base URL as agents reach it.
	ServerURL string
	// AgentTemporalAddress is Temporal's frontend as agents reach it, told
	// to agents that enroll (default TemporalAddress).
	AgentTemporalAddress string

	AgentName     string
	AgentCapacity int
	// AgentMaxRate caps every scanner the agent runs (packets/s; 0 = none).
	AgentMaxRate  float64
	AgentPools    []string
	AgentCred     string
	ScanInterface string
	WorkDir       string
	// ScannerPaths are the scanners' binaries (--nmap, --masscan, ...:
	// one setting per registered scanner driver).
	ScannerPaths map[scan.Scanner]string

	MasscanAdapter   string
	MasscanAdapterIP string
	MasscanRouterMAC string

	DataDir string

	SMTPAddr      string
	SMTPFrom      string
	SMTPUsername  string
	SMTPPassword  string
	AdminUser     string
	AdminPassword string
	SecureCookies bool
	// TrustedProxies may name the client in X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// WebhookAllow are internal networks webhooks may reach.
	WebhookAllow []netip.Prefix

	LogLevel  string
	LogFormat string

	// MetricsListen serves /metrics on its own listener ("" = none);
	// MetricsToken, when set, is required to read it, and puts /metrics
	// on the server's main listener too.
	MetricsListen string
	MetricsToken  string
}

// setting describes one configuration value: its flag, its environment
// variable, its default and the subcommands that use it.
type setting struct {
	// flag is empty for a secret read only from the environment, so that
	// it never shows in the process list.
	flag     string
	env      string
	def      string
	usage    string
	commands string // space-separated
	required bool
	bind     func(c *Config, v string) error
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func boolean(p func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		*p(c) = b
		return nil
	}
}

// rate reads a packet rate: packets per second from 0 (none) to 10^8,
// the most masscan takes.
func rate(p func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 1e8 || r != r {
			return errors.New("want packets per second from 0 (no ceiling) to 100000000")
		}
		*p(c) = r
		return nil
	}
}

func dur(p func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 90s or 10m, got %q", v)
		}
		*p(c) = d
		return nil
	}
}

// cmdsRemote are the commands that talk to Temporal. Only the server talks
// to S3 with credentials; agents get presigned URLs.
const cmdsRemote = "server agent"

var settings = append([]setting{
	{flag: "config", env: "SCANTRON_CONFIG", usage: "file of SCANTRON_NAME=value lines, read after flags and the environment", commands: "server agent migrate dev user",
		bind: str(func(c *Config) *string { return &c.ConfigFile })},
	{flag: "database-url", env: "SCANTRON_DATABASE_URL", usage: "PostgreSQL connection URL", commands: "server migrate user", required: true,
		bind: func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
				return errors.New("want a postgres:// URL")
			}
			c.DatabaseURL = v
			return nil
		}},
	{flag: "temporal-address", env: "SCANTRON_TEMPORAL_ADDRESS", def: "127.0.0.1:7233", usage: "Temporal frontend host:port", commands: cmdsRemote,
		bind: hostPort(func(c *Config) *string { return &c.TemporalAddress })},
	{flag: "temporal-namespace", env: "SCANTRON_TEMPORAL_NAMESPACE", def: "default", usage: "Temporal namespace", commands: cmdsRemote,
		bind: str(func(c *Config) *string { return &c.TemporalNamespace })},
	{flag: "temporal-ui-url", env: "SCANTRON_TEMPORAL_UI_URL", def: "http://127.0.0.1:8233", usage: "Temporal Web base URL, for links to run histories", commands: "server",
		bind: httpURL(func(c *Config) *string { return &c.TemporalUIURL })},
	{flag: "temporal-wait", env: "SCANTRON_TEMPORAL_WAIT", def: "60s", usage: "how long to keep retrying while Temporal is not reachable at start", commands: cmdsRemote,
		bind: dur(func(c *Config) *time.Duration { return &c.TemporalWait })},
	{flag: "temporal-tls", env: "SCANTRON_TEMPORAL_TLS", def: "false", usage: "use TLS to reach Temporal (implied by a client certificate or an API key)", commands: cmdsRemote,
		bind: boolean(func(c *Config) *bool { return &c.TemporalTLS })},
	{flag: "temporal-tls-cert", env: "SCANTRON_TEMPORAL_TLS_CERT", usage: "client certificate (PEM file) for mutual TLS with Temporal", commands: cmdsRemote,
		bind: str(func(c *Config) *string { return &c.TemporalTLSCert })},
	{flag: "temporal-tls-key", env: "SCANTRON_TEMPORAL_TLS_KEY", usage: "private key (PEM file) of the client certificate", commands: cmdsRemote,
		bind: str(func(c *Config) *string { return &c.TemporalTLSKey })},
	{flag: "temporal-tls-ca", env: "SCANTRON_TEMPORAL_TLS_CA", usage: "CA certificates (PEM file) to trust for Temporal instead of the system's", commands: cmdsRemote,
		bind: str(func(c *Config) *string { return &c.TemporalTLSCA })},
	{flag: "temporal-tls-server-name", env: "SCANTRON_TEMPORAL_TLS_SERVER_NAME", usage: "name to verify Temporal's certificate against (default: the address's host)", commands: cmdsRemote,
		bind: str(func(c *Config) *string { return &c.TemporalTLSServer })},
	{flag: "temporal-api-key", env: "SCANTRON_TEMPORAL_API_KEY", usage: "API key for Temporal Cloud; implies TLS", commands: cmdsRemote,
		bind: str(func(c *Config) *string { return &c.TemporalAPIKey })},
	{flag: "temporal-auth", env: "SCANTRON_TEMPORAL_AUTH", def: "false", usage: "Temporal checks tokens (the scantron-temporal build): the server issues agents' tokens, serves its JWKS at /.well-known/jwks.json and uses a token itself; agents fetch theirs from --server-url", commands: cmdsRemote,
		bind: boolean(func(c *Config) *bool { return &c.TemporalAuth })},
	{flag: "temporal-token-ttl", env: "SCANTRON_TEMPORAL_TOKEN_TTL", def: "10m", usage: "how long a Temporal token the server issues is valid (agents renew theirs after two thirds of it)", commands: "server",
		bind: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Minute || d > 24*time.Hour {
				return fmt.Errorf("want a duration from 1m to 24h, got %q", v)
			}
			c.TemporalTokenTTL = d
			return nil
		}},
	{flag: "temporal-key-lifetime", env: "SCANTRON_TEMPORAL_KEY_LIFETIME", def: "24h", usage: "how long one key signs Temporal tokens before the next takes over (each is published 2m before use and kept until its last token expires)", commands: "server",
		bind: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 10*time.Minute {
				return fmt.Errorf("want a duration of at least 10m, got %q", v)
			}
			c.TemporalKeyLifetime = d
			return nil
		}},
	{flag: "s3-endpoint", env: "SCANTRON_S3_ENDPOINT", usage: "S3-compatible endpoint host:port", commands: "server", required: true,
		bind: hostPort(func(c *Config) *string { return &c.S3Endpoint })},
	{flag: "s3-access-key", env: "SCANTRON_S3_ACCESS_KEY", usage: "S3 access key", commands: "server", required: true,
		bind: str(func(c *Config) *string { return &c.S3AccessKey })},
	{flag: "s3-secret-key", env: "SCANTRON_S3_SECRET_KEY", usage: "S3 secret key", commands: "server", required: true,
		bind: str(func(c *Config) *string { return &c.S3SecretKey })},
	{flag: "s3-bucket", env: "SCANTRON_S3_BUCKET", def: "scantron", usage: "bucket for scanner output and exports", commands: "server",
		bind: func(c *Config, v string) error {
			if !bucketName.MatchString(v) {
				return errors.New("want 3-63 lower-case letters, digits, dots or hyphens")
			}
			c.S3Bucket = v
			return nil
		}},
	{flag: "s3-region", env: "SCANTRON_S3_REGION", def: "us-east-1", usage: "S3 region", commands: "server",
		bind: str(func(c *Config) *string { return &c.S3Region })},
	{flag: "s3-tls", env: "SCANTRON_S3_TLS", def: "false", usage: "use HTTPS to reach S3", commands: "server",
		bind: boolean(func(c *Config) *bool { return &c.S3TLS })},
	{flag: "s3-agent-endpoint", env: "SCANTRON_S3_AGENT_ENDPOINT", usage: "S3 endpoint host:port as agents reach it, for the presigned URLs each dispatched shard carries (default: --s3-endpoint)", commands: "server",
		bind: hostPort(func(c *Config) *string { return &c.S3AgentEndpoint })},
	{flag: "listen", env: "SCANTRON_LISTEN", def: "127.0.0.1:8080", usage: "address for the web UI and API", commands: "server dev",
		bind: hostPort(func(c *Config) *string { return &c.Listen })},
	{flag: "public-url", env: "SCANTRON_PUBLIC_URL", usage: "the server's base URL as people reach it (https://scantron.example.com), for the links to runs and scans in notifications; empty: notifications carry no links", commands: "server",
		bind: httpURL(func(c *Config) *string { return &c.PublicURL })},
	{flag: "max-addresses", env: "SCANTRON_MAX_ADDRESSES", def: "65536", usage: "largest number of addresses one scan may cover", commands: "server",
		bind: func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n == 0 {
				return errors.New("want a positive whole number")
			}
			c.MaxAddresses = n
			return nil
		}},
	{flag: "import-max-bytes", env: "SCANTRON_IMPORT_MAX_BYTES", def: "268435456", usage: "largest file of scanner output one import may upload (bytes); larger ones are refused with 413", commands: "server",
		bind: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return errors.New("want a positive whole number of bytes")
			}
			c.ImportMaxBytes = n
			return nil
		}},
	{flag: "max-rate", env: "SCANTRON_MAX_RATE", def: "100000", usage: "packet-rate ceiling (packets/s) for profiles' rate options and sites' max_rate, checked when they are saved and applied when a run starts (0 = none)", commands: "server",
		bind: rate(func(c *Config) *float64 { return &c.MaxRate })},
	{flag: "signing-key", env: "SCANTRON_SIGNING_KEY", usage: "file holding the ed25519 private key (PEM) that signs every scan spec sent to agents (scantron keygen makes one)", commands: "server", required: true,
		bind: func(c *Config, v string) error {
			key, err := signing.ReadPrivateKeyFile(v)
			if err != nil {
				return err
			}
			c.SigningKey = key
			return nil
		}},
	{flag: "shard-size", env: "SCANTRON_SHARD_SIZE", def: "256", usage: "most addresses one shard covers, unless the scan sets shard_size", commands: "server",
		bind: func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n == 0 {
				return errors.New("want a positive whole number")
			}
			c.ShardSize = n
			return nil
		}},
	{flag: "run-batch", env: "SCANTRON_RUN_BATCH", def: strconv.Itoa(workflows.DefaultShardBatch), usage: "shards one child workflow of a run holds; each costs its history up to about 105 events (a two-stage shard tried three times per stage), Temporal warns from 10,000", commands: "server",
		bind: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 500 {
				return errors.New("want a whole number from 1 to 500")
			}
			c.RunBatch = n
			return nil
		}},
	{flag: "run-fanout", env: "SCANTRON_RUN_FANOUT", def: strconv.Itoa(workflows.DefaultFanout), usage: "child workflows one workflow of a run starts at most; a larger run fans out over more levels", commands: "server",
		bind: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 2 || n > 1000 {
				return errors.New("want a whole number from 2 to 1000")
			}
			c.RunFanout = n
			return nil
		}},
	{flag: "max-event-streams", env: "SCANTRON_MAX_EVENT_STREAMS", def: "8", usage: "live event streams (run pages, dashboards, runs watch) one user may hold open at once; more are refused with 429", commands: "server",
		bind: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 10000 {
				return errors.New("want a whole number from 1 to 10000")
			}
			c.MaxEventStreams = n
			return nil
		}},
	{flag: "agent-offline-after", env: "SCANTRON_AGENT_OFFLINE_AFTER", def: "10m", usage: "how long a scan waits for its agent before the run fails as agent offline", commands: "server",
		bind: dur(func(c *Config) *time.Duration { return &c.AgentOfflineAfter })},
	{flag: "scan-timeout", env: "SCANTRON_SCAN_TIMEOUT", def: "24h", usage: "longest one scanner attempt may run", commands: "server",
		bind: dur(func(c *Config) *time.Duration { return &c.ScanTimeout })},
	{flag: "heartbeat-timeout", env: "SCANTRON_HEARTBEAT_TIMEOUT", def: "30s", usage: "agent silence after which a scan is retried elsewhere or again", commands: "server",
		bind: dur(func(c *Config) *time.Duration { return &c.HeartbeatTimeout })},
	{flag: "export-dir", env: "SCANTRON_EXPORT_DIR", usage: "directory that also receives each run's CSV, JSON Lines and XML exports, for log forwarders", commands: "server",
		bind: func(c *Config, v string) error {
			st, err := os.Stat(v)
			if err != nil || !st.IsDir() {
				return fmt.Errorf("want an existing directory, got %q", v)
			}
			c.ExportDir = v
			return nil
		}},
	{flag: "export-s3-prefix", env: "SCANTRON_EXPORT_S3_PREFIX", usage: "key prefix in the bucket that also receives each run's exports, for log forwarders", commands: "server",
		bind: func(c *Config, v string) error {
			if strings.HasPrefix(v, "/") || strings.HasPrefix(v, "runs/") || v == "runs" {
				return errors.New("want a key prefix such as exports/ (not starting with / or runs/)")
			}
			c.ExportS3Prefix = v
			return nil
		}},
	{flag: "retention", env: "SCANTRON_RETENTION", def: "0", usage: "delete finished runs (rows and stored objects) older than this, e.g. 365d or 720h; 0 keeps them", commands: "server",
		bind: func(c *Config, v string) error {
			d, err := parseAge(v)
			if err != nil {
				return err
			}
			c.Retention = d
			return nil
		}},
	{flag: "schedule-catchup-window", env: "SCANTRON_SCHEDULE_CATCHUP_WINDOW", def: "5m", usage: "how late a scheduled scan missed during an outage may still start (scans may set their own)", commands: "server",
		bind: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 10*time.Second {
				return fmt.Errorf("want a duration of at least 10s (Temporal's minimum), got %q", v)
			}
			c.ScheduleCatchupWindow = d
			return nil
		}},
	{flag: "server-url", env: "SCANTRON_SERVER_URL", usage: "base URL of the scantron server, for enrollment and Temporal token refresh", commands: "agent",
		bind: httpURL(func(c *Config) *string { return &c.ServerURL })},
	{flag: "agent-temporal-address", env: "SCANTRON_AGENT_TEMPORAL_ADDRESS", usage: "Temporal frontend host:port as agents reach it, told to agents that enroll (default: --temporal-address)", commands: "server",
		bind: hostPort(func(c *Config) *string { return &c.AgentTemporalAddress })},
	{flag: "name", env: "SCANTRON_AGENT_NAME", usage: "this agent's name, as registered on the server", commands: "agent", required: true,
		bind: func(c *Config, v string) error {
			if !agentName.MatchString(v) {
				return errors.New("want lower-case letters, digits, '-', '_' or '.', starting with a letter or digit, at most 63")
			}
			c.AgentName = v
			return nil
		}},
	{flag: "capacity", env: "SCANTRON_AGENT_CAPACITY", def: "2", usage: "scans this agent runs at once", commands: "agent",
		bind: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 256 {
				return errors.New("want a whole number from 1 to 256")
			}
			c.AgentCapacity = n
			return nil
		}},
	{flag: "max-rate", env: "SCANTRON_AGENT_MAX_RATE", def: "0", usage: "packets/s this agent lets any scanner send: it adds or lowers nmap's --max-rate and masscan's --rate on every scan, and announces it to the server (0 = no cap of the agent's)", commands: "agent",
		bind: rate(func(c *Config) *float64 { return &c.AgentMaxRate })},
	{flag: "server-public-key", env: "SCANTRON_SERVER_PUBLIC_KEY", usage: "the server's public key: its base64 (printed by scantron keygen) or a file holding it; specs it did not sign are refused", commands: "agent", required: true,
		bind: func(c *Config, v string) error {
			pub, err := signing.ParsePublicKey(v)
			if err != nil && strings.Contains(v, string(os.PathSeparator)) {
				if data, rerr := os.ReadFile(v); rerr == nil {
					pub, err = signing.ParsePublicKey(string(data))
				} else if !strings.HasSuffix(v, "=") {
					err = rerr
				}
			}
			if err != nil {
				return err
			}
			c.ServerPublicKey = pub
			return nil
		}},
	{flag: "credential", env: "SCANTRON_AGENT_CREDENTIAL", usage: "the credential shown when the agent was registered; it signs the agent's results", commands: "agent",
		bind: func(c *Config, v string) error {
			if err := scan.CheckCredential(v); err != nil {
				return errors.New("want the credential POST /api/v1/agents returned (sct1_...)")
			}
			c.AgentCred = v
			return nil
		}},
	{flag: "pools", env: "SCANTRON_AGENT_POOLS", usage: "comma-separated pools this agent takes shards from, besides its own scans", commands: "agent",
		bind: func(c *Config, v string) error {
			c.AgentPools = nil
			for _, p := range strings.Split(v, ",") {
				p = strings.TrimSpace(p)
				if !agentName.MatchString(p) {
					return fmt.Errorf("pool %q: want lower-case letters, digits, '-', '_' or '.', starting with a letter or digit, at most 63", p)
				}
				if !slices.Contains(c.AgentPools, p) {
					c.AgentPools = append(c.AgentPools, p)
				}
			}
			return nil
		}},
	{flag: "scan-interface", env: "SCANTRON_SCAN_INTERFACE", usage: "network interface the scanners send through (nmap -e); profiles cannot choose one (default: the route's)", commands: "agent",
		bind: func(c *Config, v string) error {
			if !ifaceName.MatchString(v) {
				return errors.New("want an interface name such as eth1")
			}
			c.ScanInterface = v
			return nil
		}},
	{flag: "masscan-adapter", env: "SCANTRON_MASSCAN_ADAPTER", usage: "network interface masscan and zmap send from (default: the scanner's choice)", commands: "agent",
		bind: str(func(c *Config) *string { return &c.MasscanAdapter })},
	{flag: "masscan-adapter-ip", env: "SCANTRON_MASSCAN_ADAPTER_IP", usage: "source address of masscan's and zmap's packets (default: the adapter's)", commands: "agent",
		bind: func(c *Config, v string) error {
			if _, err := netip.ParseAddr(v); err != nil {
				return fmt.Errorf("want an IP address, got %q", v)
			}
			c.MasscanAdapterIP = v
			return nil
		}},
	{flag: "masscan-router-mac", env: "SCANTRON_MASSCAN_ROUTER_MAC", usage: "MAC address masscan and zmap send to: the gateway's, or an on-link target's (default: found by ARP, or the route's gateway)", commands: "agent",
		bind: func(c *Config, v string) error {
			if _, err := net.ParseMAC(v); err != nil {
				return fmt.Errorf("want a MAC address such as 02:00:5e:10:00:01, got %q", v)
			}
			c.MasscanRouterMAC = v
			return nil
		}},
	{flag: "work-dir", env: "SCANTRON_WORK_DIR", usage: "where scanner output waits for upload (default: the system temp dir)", commands: "agent",
		bind: str(func(c *Config) *string { return &c.WorkDir })},
	{flag: "data-dir", env: "SCANTRON_DATA_DIR", def: ".data", usage: "state of the local development stack", commands: "dev",
		bind: str(func(c *Config) *string { return &c.DataDir })},
	{flag: "admin-user", env: "SCANTRON_ADMIN_USER", usage: "name of the first admin, created at start when there are no users yet (password from SCANTRON_ADMIN_PASSWORD)", commands: "server",
		bind: func(c *Config, v string) error {
			if err := accounts.CheckName(v); err != nil {
				return err
			}
			c.AdminUser = v
			return nil
		}},
	{env: "SCANTRON_ADMIN_PASSWORD", usage: "password of the first admin; environment only", commands: "server",
		bind: str(func(c *Config) *string { return &c.AdminPassword })},
	{flag: "secure-cookies", env: "SCANTRON_SECURE_COOKIES", def: "false", usage: "mark session cookies Secure although requests arrive over plain HTTP (behind a TLS proxy)", commands: "server",
		bind: boolean(func(c *Config) *bool { return &c.SecureCookies })},
	{flag: "trusted-proxies", env: "SCANTRON_TRUSTED_PROXIES", usage: "comma-separated addresses or CIDR networks of reverse proxies whose X-Forwarded-For names the client (for the login limiter and logs); empty: the client is always the connection's peer", commands: "server",
		bind: func(c *Config, v string) error {
			nets, err := parseNetworks(v)
			c.TrustedProxies = nets
			return err
		}},
	{flag: "webhook-allow-networks", env: "SCANTRON_WEBHOOK_ALLOW_NETWORKS", usage: "comma-separated addresses or CIDR networks that webhooks may reach although they are loopback, private, link-local or otherwise internal; empty: public addresses only", commands: "server",
		bind: func(c *Config, v string) error {
			nets, err := parseNetworks(v)
			c.WebhookAllow = nets
			return err
		}},
	{flag: "log-level", env: "SCANTRON_LOG_LEVEL", def: "info", usage: "debug, info, warn or error", commands: "server agent migrate dev user",
		bind: func(c *Config, v string) error {
			var l slog.Level
			if err := l.UnmarshalText([]byte(v)); err != nil {
				return errors.New("want debug, info, warn or error")
			}
			c.LogLevel = v
			return nil
		}},
	{flag: "smtp-addr", env: "SCANTRON_SMTP_ADDR", usage: "SMTP server host:port for email notifications (empty: no email)", commands: "server",
		bind: hostPort(func(c *Config) *string { return &c.SMTPAddr })},
	{flag: "smtp-from", env: "SCANTRON_SMTP_FROM", def: "scantron@localhost", usage: "sender address of email notifications", commands: "server",
		bind: func(c *Config, v string) error {
			a, err := mail.ParseAddress(v)
			if err != nil {
				return fmt.Errorf("want an email address, got %q", v)
			}
			c.SMTPFrom = a.Address
			return nil
		}},
	{flag: "smtp-username", env: "SCANTRON_SMTP_USERNAME", usage: "SMTP user name (empty: no authentication)", commands: "server",
		bind: str(func(c *Config) *string { return &c.SMTPUsername })},
	{flag: "smtp-password", env: "SCANTRON_SMTP_PASSWORD", usage: "SMTP password", commands: "server",
		bind: str(func(c *Config) *string { return &c.SMTPPassword })},
	{flag: "log-format", env: "SCANTRON_LOG_FORMAT", def: "text", usage: "text or json", commands: "server agent migrate dev user",
		bind: func(c *Config, v string) error {
			if v != "text" && v != "json" {
				return errors.New("want text or json")
			}
			c.LogFormat = v
			return nil
		}},
	{flag: "metrics-listen", env: "SCANTRON_METRICS_LISTEN", usage: "address for a listener serving only /metrics (Prometheus format); empty: none", commands: "server agent",
		bind: hostPort(func(c *Config) *string { return &c.MetricsListen })},
	{env: "SCANTRON_METRICS_TOKEN", usage: "bearer token that /metrics requires; the server also serves /metrics on --listen when it is set; environment only", commands: "server agent",
		bind: func(c *Config, v string) error {
			if len(v) < 16 || strings.ContainsAny(v, " \t\r\n") {
				return errors.New("want at least 16 characters without spaces")
			}
			c.MetricsToken = v
			return nil
		}},
}, scannerSettings()...)

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	agentName  = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	ifaceName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,14}$`)
)

// parseAge reads an age as a Go duration or a whole number of days ("365d");
// "0" is none.
func parseAge(v string) (time.Duration, error) {
	if v == "0" {
		return 0, nil
	}
	bad := fmt.Errorf("want 0, a number of days such as 365d, or a duration such as 720h, got %q", v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Hour {
		return 0, bad
	}
	return d, nil
}

func hostPort(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		_, port, err := net.SplitHostPort(v)
		if err != nil {
			return fmt.Errorf("want host:port, got %q", v)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("bad port in %q", v)
		}
		*p(c) = v
		return nil
	}
}

func httpURL(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("want an http(s) URL, got %q", v)
		}
		*p(c) = strings.TrimRight(v, "/")
		return nil
	}
}

func usedBy(s setting, command string) bool {
	for _, c := range strings.Fields(s.commands) {
		if c == command {
			return true
		}
	}
	return false
}

// loadConfig reads the settings of one subcommand: a flag beats the
// environment, which beats the default. Every problem is reported at once,
// each naming the flag and the variable.
func loadConfig(command string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	return loadConfigFlags(command, args, getenv, stderr, nil)
}

// loadConfigFlags is loadConfig for a command with flags of its own, which
// extra adds to the flag set.
func loadConfigFlags(command string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (Config, error) {
	fs := flag.NewFlagSet("scantron "+command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if extra != nil {
		extra(fs)
	}
	values := map[string]*string{}
	for _, s := range settings {
		if !usedBy(s, command) || s.flag == "" {
			continue
		}
		v := new(string)
		values[s.flag] = v
		fs.StringVar(v, s.flag, "", fmt.Sprintf("%s (env %s", s.usage, s.env)+defaultNote(s)+")")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: scantron %s [flags]\n\nEvery flag can also be set by the environment variable named beside it.\n\n", command)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("scantron %s: unexpected argument %q", command, fs.Arg(0))
	}
	// A config file fills in what neither a flag nor the environment set.
	path := *values["config"]
	if path == "" {
		path = getenv("SCANTRON_CONFIG")
	}
	if path != "" {
		file, err := readConfigFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("scantron %s: --config (SCANTRON_CONFIG): %w", command, err)
		}
		envOnly := getenv
		getenv = func(name string) string {
			if v := envOnly(name); v != "" {
				return v
			}
			return file[name]
		}
	}
	var cfg Config
	var problems []string
	for _, s := range settings {
		if !usedBy(s, command) {
			continue
		}
		val := ""
		if v, ok := values[s.flag]; ok {
			val = *v
		}
		if val == "" {
			val = getenv(s.env)
		}
		if val == "" {
			val = s.def
		}
		if val == "" {
			if s.required {
				problems = append(problems, fmt.Sprintf("%s is required: %s", s.name(), s.usage))
			}
			continue
		}
		if err := s.bind(&cfg, val); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", s.name(), err))
		}
	}
	if len(problems) == 0 && usedBy(setting{commands: cmdsRemote}, command) {
		if _, err := cfg.temporalTLS(); err != nil {
			problems = append(problems, err.Error())
		}
		if cfg.TemporalAuth && cfg.TemporalAPIKey != "" {
			problems = append(problems, "--temporal-auth (SCANTRON_TEMPORAL_AUTH) and --temporal-api-key (SCANTRON_TEMPORAL_API_KEY) both say how to authenticate to Temporal: set one")
		}
		if command == "agent" && cfg.TemporalAuth && (cfg.ServerURL == "" || cfg.AgentCred == "") {
			problems = append(problems, "--temporal-auth (SCANTRON_TEMPORAL_AUTH) needs --server-url (SCANTRON_SERVER_URL) and --credential (SCANTRON_AGENT_CREDENTIAL): the agent fetches its Temporal token from the server with its credential")
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return Config{}, fmt.Errorf("scantron %s: bad configuration:\n  %s", command, strings.Join(problems, "\n  "))
	}
	return cfg, nil
}

// name is how problems refer to a setting: "--flag (ENV)", or the
// variable alone for one without a flag.
func (s setting) name() string {
	if s.flag == "" {
		return s.env
	}
	return fmt.Sprintf("--%s (%s)", s.flag, s.env)
}

// readConfigFile reads NAME=value lines (the settings' environment names;
// blank lines and # comments are skipped, a value may be quoted). An
// unknown name is an error, so a typo does not silently do nothing.
func readConfigFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.env] = true
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !known[name] {
			return nil, fmt.Errorf("%s line %d: want SCANTRON_NAME=value with a known setting, got %q", path, i+1, clipLine(line))
		}
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		out[name] = value
	}
	return out, nil
}

// clipLine keeps an error about a config line short, and never shows more
// of a line that may hold a secret than its start.
func clipLine(s string) string {
	if name, _, ok := strings.Cut(s, "="); ok {
		return name + "=..."
	}
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func defaultNote(s setting) string {
	if s.def == "" {
		return ""
	}
	return ", default " + s.def
}

// logger builds the one slog.Logger of the process.
func (c Config) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// temporalTLS builds the TLS configuration for Temporal from the settings,
// or nil for a plain connection. Files are read here, at start, so a missing
// or broken certificate is reported before anything runs.
func (c Config) temporalTLS() (*tls.Config, error) {
	if (c.TemporalTLSCert == "") != (c.TemporalTLSKey == "") {
		return nil, errors.New("--temporal-tls-cert (SCANTRON_TEMPORAL_TLS_CERT) and --temporal-tls-key (SCANTRON_TEMPORAL_TLS_KEY) go together")
	}
	if !c.TemporalTLS && c.TemporalTLSCert == "" && c.TemporalTLSCA == "" && c.TemporalAPIKey == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TemporalTLSServer}
	if c.TemporalTLSCert != "" {
		pair, err := tls.LoadX509KeyPair(c.TemporalTLSCert, c.TemporalTLSKey)
		if err != nil {
			return nil, fmt.Errorf("--temporal-tls-cert/--temporal-tls-key (SCANTRON_TEMPORAL_TLS_CERT/_KEY): %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if c.TemporalTLSCA != "" {
		_, pool, err := readCAFile(c.TemporalTLSCA)
		if err != nil {
			return nil, fmt.Errorf("--temporal-tls-ca (SCANTRON_TEMPORAL_TLS_CA): %v", err)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// readCAFile reads a PEM file of CA certificates: its text and the pool of
// the certificates in it, of which there must be at least one.
func readCAFile(path string) (string, *x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return "", nil, fmt.Errorf("no PEM certificate in %s", path)
	}
	return string(pem), pool, nil
}

// parseNetworks reads a comma-separated list of addresses (taken as
// single-address networks) and CIDR networks.
func parseNetworks(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil && a.Zone() == "" {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("want addresses or CIDR networks such as 10.0.0.0/8, got %q", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// scannerSettings are the agent's settings of each registered scanner's
// binary: --nmap (SCANTRON_NMAP_PATH), --masscan, ... defaulting to the
// scanner's name in PATH.
func scannerSettings() []setting {
	var out []setting
	for _, d := range scanners.All() {
		name := d.Scanner()
		out = append(out, setting{flag: workers.ScannerPathFlag(name), env: workers.ScannerPathEnv(name), def: string(name),
			usage: string(name) + " binary", commands: "agent",
			bind: func(c *Config, v string) error {
				if c.ScannerPaths == nil {
					c.ScannerPaths = map[scan.Scanner]string{}
				}
				c.ScannerPaths[name] = v
				return nil
			}})
	}
	return out
}
