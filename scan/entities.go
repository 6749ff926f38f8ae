package scan

import "time"

// Site is a named set of targets with its own exclusions.
type Site struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Targets     []string `json:"targets"`
	Exclusions  []string `json:"exclusions"`
	// MaxRate caps the packets per second of masscan scans of the site,
	// whatever the profile asks (0 = no cap of the site's).
	MaxRate   int       `json:"max_rate,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Exclusion is a global exclusion: never scanned by any scan.
type Exclusion struct {
	ID        int64     `json:"id"`
	Target    string    `json:"target"`
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
}

// Profile is a named scanner configuration.
type Profile struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Scanner     Scanner `json:"scanner"`
	Options     string  `json:"options"`
	// Intrusive marks a profile whose scripts may harm or break into the
	// targets (OptionSet.Scripts); only admins may set it, and a profile
	// that runs such scripts must have it.
	Intrusive bool `json:"intrusive"`
	// DiscoveryScanner, when set, runs first on every shard with
	// DiscoveryOptions to find open host:port pairs; Scanner then runs
	// with Options on those pairs alone (two-stage discovery).
	DiscoveryScanner Scanner   `json:"discovery_scanner,omitempty"`
	DiscoveryOptions string    `json:"discovery_options,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

// Agent is a registered scanning agent. It polls its own task queue.
type Agent struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	TaskQueue   string     `json:"task_queue"`
	CreatedAt   time.Time  `json:"created_at"`
	LastSeenAt  *time.Time `json:"last_seen_at,omitempty"`
	// PublicKey checks the signatures of the agent's results (see
	// NewCredential); nil for an agent registered before credentials.
	PublicKey []byte `json:"-"`
}

// Pool is a named group of agents that share a scan's shards. Agents join a
// pool by polling its task queue (their --pools setting); whichever member
// has a free slot pulls the next shard.
type Pool struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	TaskQueue   string    `json:"task_queue"`
	CreatedAt   time.Time `json:"created_at"`
}

// Scan ties a site, a profile and either one agent or a pool of agents to a
// start time and an optional recurrence rule.
type Scan struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	SiteID    int64  `json:"site_id"`
	ProfileID int64  `json:"profile_id"`
	AgentID   int64  `json:"agent_id,omitempty"` // exactly one of AgentID and PoolID is set
	PoolID    int64  `json:"pool_id,omitempty"`
	// ShardSize is the most addresses one shard covers; 0 uses the server's
	// setting.
	ShardSize uint64     `json:"shard_size,omitempty"`
	StartAt   *time.Time `json:"start_at,omitempty"`
	TimeZone  string     `json:"time_zone"`
	RRule     string     `json:"rrule"`
	Enabled   bool       `json:"enabled"`
	CreatedAt time.Time  `json:"created_at"`
	// Overlap is what a fire does while a run of the scan is still going:
	// skip (default), buffer_one, buffer_all, allow_all, cancel_other,
	// terminate_other.
	Overlap string `json:"overlap"`
	// CatchupWindowSeconds is how late a missed fire may still start after
	// an outage; 0 means the server's default.
	CatchupWindowSeconds int64 `json:"catchup_window_seconds"`
	// PauseNote says who paused or resumed the schedule last, and why.
	PauseNote string `json:"pause_note"`
	// Imports, when set, makes this the scan that holds its site's runs
	// imported from files of this scanner's output: it has no profile,
	// agent or pool, and never runs.
	Imports Scanner `json:"imports,omitempty"`
	// Windows are when the scan's shards may run, in TimeZone; none: any
	// time. A run outside them waits, and one they close on pauses until
	// they open again.
	Windows Windows `json:"windows"`
}

// Overlap policies of a scan's schedule.
var OverlapPolicies = []string{"skip", "buffer_one", "buffer_all", "allow_all", "cancel_other", "terminate_other"}

// RunStatus is where a run is in its life.
type RunStatus string

// Run states. Completed, failed and cancelled are final.
const (
	RunPending   RunStatus = "pending"
	RunRunning   RunStatus = "running"
	RunParsing   RunStatus = "parsing"
	RunPaused    RunStatus = "paused"
	RunCompleted RunStatus = "completed"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
)

// Final reports whether no further change of status is expected.
func (s RunStatus) Final() bool {
	return s == RunCompleted || s == RunFailed || s == RunCancelled
}

// Run is one execution of a scan, backed by one workflow.
type Run struct {
	ID         int64     `json:"id"`
	ScanID     int64     `json:"scan_id"`
	WorkflowID string    `json:"workflow_id"`
	Status     RunStatus `json:"status"`
	Error      string    `json:"error,omitempty"`
	Targets    []string  `json:"targets"`
	Excludes   []string  `json:"excludes"`
	Addresses  int64     `json:"addresses"`
	HostsUp    int       `json:"hosts_up"`
	OpenPorts  int       `json:"open_ports"`
	CSV        *BlobRef  `json:"csv,omitempty"`
	// Partial: the run was cancelled or failed, and kept the results its
	// shards had stored.
	Partial    bool       `json:"partial,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// WindowOpensAt is set while the run is paused outside its scan's
	// windows: when they next open.
	WindowOpensAt *time.Time `json:"window_opens_at,omitempty"`
}

// ShardStatus is where one shard of a run is.
type ShardStatus string

// Shard states.
const (
	ShardPending   ShardStatus = "pending"
	ShardRunning   ShardStatus = "running"
	ShardScanned   ShardStatus = "scanned"
	ShardCompleted ShardStatus = "completed"
	ShardFailed    ShardStatus = "failed"
	ShardCancelled ShardStatus = "cancelled"
)

// Shard is the part of a run's targets given to one agent at once.
type Shard struct {
	ID      int64 `json:"id"`
	RunID   int64 `json:"run_id"`
	Index   int   `json:"index"`
	AgentID int64 `json:"agent_id"`
	// RanBy names the agent whose output was stored for the shard.
	RanBy      string      `json:"ran_by,omitempty"`
	Status     ShardStatus `json:"status"`
	Attempt    int         `json:"attempt"`
	Targets    []string    `json:"targets"`
	Raw        *BlobRef    `json:"raw,omitempty"`
	Error      string      `json:"error,omitempty"`
	StartedAt  *time.Time  `json:"started_at,omitempty"`
	FinishedAt *time.Time  `json:"finished_at,omitempty"`
}

// ShardDispatch is the server's record of a shard's current dispatch (see
// Dispatch): the attempt, its nonce, where it was sent, and until when its
// spec is valid. Agent is set for a dispatch to one agent, Pool for one to
// a pool.
type ShardDispatch struct {
	Attempt   int       `json:"attempt"`
	Nonce     string    `json:"nonce"`
	TaskQueue string    `json:"task_queue"`
	Agent     string    `json:"agent,omitempty"`
	Pool      string    `json:"pool,omitempty"`
	Expires   time.Time `json:"expires"`
}

// Plan is everything the orchestrator needs to run a scan once.
type Plan struct {
	Scan             Scan     `json:"scan"`
	Site             Site     `json:"site"`
	Profile          Profile  `json:"profile"`
	Agent            Agent    `json:"agent"` // zero when the scan uses a pool
	Pool             Pool     `json:"pool"`  // zero when the scan is pinned to an agent
	GlobalExclusions []string `json:"global_exclusions"`
}

// TaskQueue is the queue the plan's shards go to: its pool's, or its
// agent's for a scan pinned to one.
func (p Plan) TaskQueue() string {
	if p.Scan.PoolID != 0 {
		return p.Pool.TaskQueue
	}
	return p.Agent.TaskQueue
}

// HostRow and PortRow are stored results, as the API lists them.
type HostRow struct {
	ID        int64      `json:"id"`
	RunID     int64      `json:"run_id"`
	ShardID   int64      `json:"shard_id"`
	Address   string     `json:"address"`
	MAC       string     `json:"mac,omitempty"`
	Vendor    string     `json:"vendor,omitempty"`
	Hostnames []string   `json:"hostnames"`
	Status    string     `json:"status"`
	Reason    string     `json:"reason"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	OS        []OSMatch  `json:"os"`      // best first
	Scripts   []Script   `json:"scripts"` // host scripts
	// nmap's round-trip times, in microseconds (0: not reported).
	SRTT       int       `json:"srtt_us,omitempty"`
	RTTVar     int       `json:"rttvar_us,omitempty"`
	RTTTimeout int       `json:"rtt_timeout_us,omitempty"`
	Ports      []PortRow `json:"ports,omitempty"`
}

// OSMatch is one guess of OS detection.
type OSMatch struct {
	Name     string `json:"name"`
	Accuracy int    `json:"accuracy"`
}

// Script is the text output of one NSE script.
type Script struct {
	ID     string `json:"id"`
	Output string `json:"output"`
}

// PortRow is one port of a stored host.
type PortRow struct {
	HostID    int64    `json:"host_id"`
	Address   string   `json:"address"`
	Protocol  string   `json:"protocol"`
	Port      int      `json:"port"`
	State     string   `json:"state"`
	Reason    string   `json:"reason"`
	Service   string   `json:"service"`
	Product   string   `json:"product"`
	Version   string   `json:"version"`
	ExtraInfo string   `json:"extra_info"`
	CPE       []string `json:"cpe"`
	Tunnel    string   `json:"tunnel,omitempty"`
	Method    string   `json:"method,omitempty"`
	Conf      int      `json:"conf,omitempty"`
	Banner    string   `json:"banner,omitempty"`
	Scripts   []Script `json:"scripts"`
}

// ExportRow is one line of a run's CSV export: the old Scantron columns and a
// few more.
type ExportRow struct {
	ScanStart time.Time
	ScanEnd   time.Time
	Site      string
	Scan      string
	Host      string
	Hostname  string
	Port      int
	Protocol  string
	State     string
	Service   string
	Product   string
	Version   string
	ExtraInfo string
	Reason    string
	Banner    string // masscan --banners
	Agent     string // the scan's agent
	Scanner   Scanner
}

// ShardUpdate is the new state of a shard.
type ShardUpdate struct {
	ID      int64
	Status  ShardStatus
	Attempt int      // never decreases: a lower value keeps the stored one
	Raw     *BlobRef // nil keeps the stored reference
	Error   string   // replaces the stored error; empty clears it
	RanBy   string   // agent that produced Raw; empty keeps the stored name
}

// IngestStats counts what storing one shard's results wrote.
type IngestStats struct {
	Hosts   int // hosts stored
	Ports   int // ports stored
	Skipped int // hosts dropped because they had no valid IP address
	// Stale: the shard already holds rows of a later attempt, so nothing
	// was written.
	Stale bool
}

// Progress is how far one shard's scan is, as its agent reports it in
// heartbeats. The API shows it for running runs.
type Progress struct {
	ShardID int64     `json:"shard_id"`
	Phase   string    `json:"phase"` // scanning, uploading
	Percent float64   `json:"percent"`
	Task    string    `json:"task,omitempty"` // what nmap is doing, e.g. "SYN Stealth Scan"
	ETC     time.Time `json:"etc,omitzero"`   // nmap's estimated completion
	Agent   string    `json:"agent"`
	// Partial is the last saved output of the hosts this shard's scans
	// have finished (earlier attempts' included), HostsDone their number.
	// The workflow hands the failed attempt's last progress to the retry,
	// which scans only the other hosts.
	Partial   *BlobRef `json:"partial,omitempty"`
	HostsDone int      `json:"hosts_done,omitempty"`
	// MasscanSeed and MasscanIndex go with Partial for a masscan shard:
	// the --seed every attempt uses and the probe a retry resumes at
	// (--resume-index); Partial holds the open ports found before it.
	MasscanSeed  uint64 `json:"masscan_seed,omitempty"`
	MasscanIndex uint64 `json:"masscan_index,omitempty"`
	// ShardAttempt is the attempt of the shard this progress is of (each
	// attempt is dispatched as its own activity, so Temporal counts one).
	ShardAttempt int `json:"shard_attempt,omitempty"`
}
