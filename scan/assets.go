package scan

import "time"

// AssetHost is a host of a site as every completed run has seen it.
type AssetHost struct {
	SiteID    int64       `json:"site_id"`
	Address   string      `json:"address"`
	Hostnames []string    `json:"hostnames"`
	State     string      `json:"state"` // up, gone
	FirstSeen time.Time   `json:"first_seen"`
	LastSeen  time.Time   `json:"last_seen"`
	LastRunID *int64      `json:"last_run_id"`
	Ports     []AssetPort `json:"ports"`
}

// AssetPort is a port of a site's host that some run found open.
type AssetPort struct {
	Protocol  string    `json:"protocol"`
	Port      int       `json:"port"`
	State     string    `json:"state"` // open, closed
	Service   string    `json:"service"`
	Product   string    `json:"product"`
	Version   string    `json:"version"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	LastRunID *int64    `json:"last_run_id"`
}

// Notifications say who hears about a scan's runs and when.
type Notifications struct {
	ScanID     int64  `json:"scan_id"`
	WebhookURL string `json:"webhook_url"`
	// WebhookSecret signs webhook deliveries. The API never shows it.
	WebhookSecret string    `json:"-"`
	EmailTo       []string  `json:"email_to"`
	OnCompleted   bool      `json:"on_completed"`
	OnFailed      bool      `json:"on_failed"`
	OnDiff        bool      `json:"on_diff"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// NotificationTest is the outcome of a test notification, per channel.
type NotificationTest struct {
	Webhook ChannelOutcome `json:"webhook"`
	Email   ChannelOutcome `json:"email"`
}

// ChannelOutcome says what became of a test notification on one channel:
// sent (with the receiver's HTTP status, for a webhook), not attempted
// (Skipped says why) or failed (Error says how).
type ChannelOutcome struct {
	Sent    bool   `json:"sent"`
	Status  int    `json:"status,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}
