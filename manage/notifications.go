package manage

import (
	"context"
	"errors"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scantron/scantron/scan"
)

// NotificationStore keeps who hears about a scan's runs.
type NotificationStore interface {
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
	GetNotifications(ctx context.Context, scanID int64) (scan.Notifications, error)
	PutNotifications(ctx context.Context, n scan.Notifications) (scan.Notifications, error)
	DeleteNotifications(ctx context.Context, scanID int64) error
}

// NotificationTester sends a scan's test notification the way its runs'
// notifications go, and says what became of it on each channel.
type NotificationTester interface {
	SendTest(ctx context.Context, scanID int64) (scan.NotificationTest, error)
}

// Notifications keeps scans' notification settings and sends their tests.
type Notifications struct {
	Store NotificationStore
	// Tester, when nil, means tests cannot be sent.
	Tester NotificationTester
	// Webhooks says which addresses webhook URLs may point at; Lookup
	// resolves their host names (nil: the system resolver).
	Webhooks scan.WebhookPolicy
	Lookup   scan.Lookup
}

// NotificationsInput replaces a scan's settings. An omitted secret keeps
// the stored one; omitted events default to on.
type NotificationsInput struct {
	WebhookURL    string   `json:"webhook_url"`
	WebhookSecret *string  `json:"webhook_secret"`
	EmailTo       []string `json:"email_to"`
	OnCompleted   *bool    `json:"on_completed"`
	OnFailed      *bool    `json:"on_failed"`
	OnDiff        *bool    `json:"on_diff"`
}

const (
	maxURLLen        = 2000
	minSecretLen     = 16
	maxSecretLen     = 256
	maxEmailAddesses = 50
	maxEmailLen      = 254 // RFC 5321's limit on a path
)

// RedactURL hides a URL's password.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

func (in NotificationsInput) settings(scanID int64, stored scan.Notifications) (scan.Notifications, error) {
	n := scan.Notifications{ScanID: scanID, OnCompleted: true, OnFailed: true, OnDiff: true}
	for _, f := range []struct {
		v   *bool
		dst *bool
	}{{in.OnCompleted, &n.OnCompleted}, {in.OnFailed, &n.OnFailed}, {in.OnDiff, &n.OnDiff}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	n.WebhookURL = strings.TrimSpace(in.WebhookURL)
	if n.WebhookURL != "" {
		u, err := url.Parse(n.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(n.WebhookURL) > maxURLLen {
			return n, invalid("webhook_url", "%q is not an absolute http(s) URL of at most %d characters", Clip(n.WebhookURL), maxURLLen)
		}
		// A client that read the settings and writes them back sends the
		// redacted URL: that keeps the stored password.
		if stored.WebhookURL != "" && n.WebhookURL == RedactURL(stored.WebhookURL) {
			n.WebhookURL = stored.WebhookURL
		}
		switch {
		case in.WebhookSecret != nil:
			n.WebhookSecret = *in.WebhookSecret
		default:
			n.WebhookSecret = stored.WebhookSecret
		}
		if n.WebhookSecret == "" {
			return n, invalid("webhook_secret", "required with a webhook_url, to sign deliveries (at least %d characters)", minSecretLen)
		}
		if l := utf8.RuneCountInString(n.WebhookSecret); l < minSecretLen || l > maxSecretLen {
			return n, invalid("webhook_secret", "%d characters long, want %d to %d", l, minSecretLen, maxSecretLen)
		}
		if err := CheckPrintable("webhook_secret", n.WebhookSecret); err != nil {
			return n, invalid("webhook_secret", "contains a control character or invalid UTF-8")
		}
		if strings.TrimSpace(n.WebhookSecret) != n.WebhookSecret {
			return n, invalid("webhook_secret", "starts or ends with a space; copy the secret without them")
		}
	} else if in.WebhookSecret != nil && *in.WebhookSecret != "" {
		return n, invalid("webhook_secret", "set without a webhook_url")
	}
	if len(in.EmailTo) > maxEmailAddesses {
		return n, invalid("email_to", "%d addresses, the limit is %d", len(in.EmailTo), maxEmailAddesses)
	}
	seen := map[string]bool{}
	for i, raw := range in.EmailTo {
		v := strings.TrimSpace(raw)
		a, err := mail.ParseAddress(v)
		if err != nil || a.Name != "" || a.Address != v || len(v) > maxEmailLen {
			return n, refuse(Invalid, "email_to", "email_to[%d]: %q is not a plain email address (like ops@example.com) of at most %d characters", i, Clip(raw), maxEmailLen)
		}
		if !seen[strings.ToLower(v)] {
			seen[strings.ToLower(v)] = true
			n.EmailTo = append(n.EmailTo, v)
		}
	}
	return n, nil
}

// checkWebhookHost refuses a webhook URL whose host is, or resolves to,
// an address the policy does not allow. Delivery checks again on the
// address it connects to.
func (x *Notifications) checkWebhookHost(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("webhook_url", "%q is not a URL", Clip(raw))
	}
	// A resolver that hangs must not hold the request for ever.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := x.Webhooks.CheckHost(ctx, u.Hostname(), x.Lookup); err != nil {
		return invalid("webhook_url", "%v; webhooks may reach only public addresses unless an admin allows the network (SCANTRON_WEBHOOK_ALLOW_NETWORKS)", err)
	}
	return nil
}

// checkScan refuses a scan that does not exist.
func (x *Notifications) checkScan(ctx context.Context, id int64) error {
	_, err := x.Store.GetScan(ctx, id)
	return notFound(err, "scan", id)
}

// Get returns the scan's settings; a scan without any has nothing set.
// The result holds the secrets: show it redacted.
func (x *Notifications) Get(ctx context.Context, scanID int64) (scan.Notifications, error) {
	if err := x.checkScan(ctx, scanID); err != nil {
		return scan.Notifications{}, err
	}
	n, err := x.Store.GetNotifications(ctx, scanID)
	if errors.Is(err, scan.ErrNotFound) {
		return scan.Notifications{ScanID: scanID, OnCompleted: true, OnFailed: true, OnDiff: true}, nil
	}
	return n, err
}

// Put checks and stores the scan's settings.
func (x *Notifications) Put(ctx context.Context, scanID int64, in NotificationsInput) (scan.Notifications, error) {
	if err := x.checkScan(ctx, scanID); err != nil {
		return scan.Notifications{}, err
	}
	stored, err := x.Store.GetNotifications(ctx, scanID)
	if err != nil && !errors.Is(err, scan.ErrNotFound) {
		return scan.Notifications{}, err
	}
	n, err := in.settings(scanID, stored)
	if err != nil {
		return scan.Notifications{}, err
	}
	if n.WebhookURL != "" {
		if err := x.checkWebhookHost(ctx, n.WebhookURL); err != nil {
			return scan.Notifications{}, err
		}
	}
	out, err := x.Store.PutNotifications(ctx, n)
	if err != nil {
		return scan.Notifications{}, notFound(err, "scan", scanID)
	}
	return out, nil
}

// Delete forgets the scan's settings.
func (x *Notifications) Delete(ctx context.Context, scanID int64) error {
	if err := x.checkScan(ctx, scanID); err != nil {
		return err
	}
	err := x.Store.DeleteNotifications(ctx, scanID)
	return storeErr(err, scan.ErrNotFound, NotFound, "", "scan %d has no notification settings", scanID)
}

// Test sends a test notification of the scan to its webhook and email
// recipients now, and says what became of each.
func (x *Notifications) Test(ctx context.Context, scanID int64) (scan.NotificationTest, error) {
	if err := x.checkScan(ctx, scanID); err != nil {
		return scan.NotificationTest{}, err
	}
	if x.Tester == nil {
		return scan.NotificationTest{}, refuse(Unavailable, "", "this server cannot send notifications")
	}
	out, err := x.Tester.SendTest(ctx, scanID)
	if err != nil {
		return scan.NotificationTest{}, notFound(err, "scan", scanID)
	}
	return out, nil
}
