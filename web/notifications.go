package web

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
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

type notificationHandlers struct {
	base
	store    NotificationStore
	tester   NotificationTester // nil: tests cannot be sent
	webhooks scan.WebhookPolicy
	lookup   scan.Lookup
}

// checkWebhookHost refuses a webhook URL whose host is, or resolves to,
// an address the policy does not allow. Delivery checks again on the
// address it connects to.
func (h *notificationHandlers) checkWebhookHost(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return badRequest("webhook_url: %q is not a URL", clip(raw))
	}
	// A resolver that hangs must not hold the request for ever.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.webhooks.CheckHost(ctx, u.Hostname(), h.lookup); err != nil {
		return badRequest("webhook_url: %v; webhooks may reach only public addresses unless an admin allows the network (SCANTRON_WEBHOOK_ALLOW_NETWORKS)", err)
	}
	return nil
}

// notificationsView shows settings without their secrets: the webhook
// secret, and the password a webhook URL may carry (http://user:pass@…),
// which is shown as "xxxxx". Both are write-only, for every role: what
// signs or authorises a delivery is no one's to read back.
type notificationsView struct {
	scan.Notifications
	WebhookSecretSet bool `json:"webhook_secret_set"`
}

func viewNotifications(n scan.Notifications) notificationsView {
	n.EmailTo = nonNil(n.EmailTo)
	n.WebhookURL = redactURL(n.WebhookURL)
	return notificationsView{Notifications: n, WebhookSecretSet: n.WebhookSecret != ""}
}

// redactURL hides a URL's password.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

// notificationsRequest replaces a scan's settings. An omitted secret keeps
// the stored one; omitted events default to on.
type notificationsRequest struct {
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

func (r notificationsRequest) settings(scanID int64, stored scan.Notifications) (scan.Notifications, error) {
	n := scan.Notifications{ScanID: scanID, OnCompleted: true, OnFailed: true, OnDiff: true}
	for _, f := range []struct {
		v   *bool
		dst *bool
	}{{r.OnCompleted, &n.OnCompleted}, {r.OnFailed, &n.OnFailed}, {r.OnDiff, &n.OnDiff}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	n.WebhookURL = strings.TrimSpace(r.WebhookURL)
	if n.WebhookURL != "" {
		u, err := url.Parse(n.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(n.WebhookURL) > maxURLLen {
			return n, badRequest("webhook_url: %q is not an absolute http(s) URL of at most %d characters", clip(n.WebhookURL), maxURLLen)
		}
		// A client that read the settings and writes them back sends the
		// redacted URL: that keeps the stored password.
		if stored.WebhookURL != "" && n.WebhookURL == redactURL(stored.WebhookURL) {
			n.WebhookURL = stored.WebhookURL
		}
		switch {
		case r.WebhookSecret != nil:
			n.WebhookSecret = *r.WebhookSecret
		default:
			n.WebhookSecret = stored.WebhookSecret
		}
		if n.WebhookSecret == "" {
			return n, badRequest("webhook_secret: required with a webhook_url, to sign deliveries (at least %d characters)", minSecretLen)
		}
		if l := utf8.RuneCountInString(n.WebhookSecret); l < minSecretLen || l > maxSecretLen {
			return n, badRequest("webhook_secret: %d characters long, want %d to %d", l, minSecretLen, maxSecretLen)
		}
		if err := checkPrintable("webhook_secret", n.WebhookSecret); err != nil {
			return n, badRequest("webhook_secret: contains a control character or invalid UTF-8")
		}
		if strings.TrimSpace(n.WebhookSecret) != n.WebhookSecret {
			return n, badRequest("webhook_secret: starts or ends with a space; copy the secret without them")
		}
	} else if r.WebhookSecret != nil && *r.WebhookSecret != "" {
		return n, badRequest("webhook_secret: set without a webhook_url")
	}
	if len(r.EmailTo) > maxEmailAddesses {
		return n, badRequest("email_to: %d addresses, the limit is %d", len(r.EmailTo), maxEmailAddesses)
	}
	seen := map[string]bool{}
	for i, raw := range r.EmailTo {
		v := strings.TrimSpace(raw)
		a, err := mail.ParseAddress(v)
		if err != nil || a.Name != "" || a.Address != v || len(v) > maxEmailLen {
			return n, badRequest("email_to[%d]: %q is not a plain email address (like ops@example.com) of at most %d characters", i, clip(raw), maxEmailLen)
		}
		if !seen[strings.ToLower(v)] {
			seen[strings.ToLower(v)] = true
			n.EmailTo = append(n.EmailTo, v)
		}
	}
	return n, nil
}

// scanID reads :id and answers 404 for a scan that does not exist.
func (h *notificationHandlers) scanID(c *gin.Context) (int64, error) {
	id, err := pathID(c)
	if err != nil {
		return 0, err
	}
	if _, err := h.store.GetScan(c.Request.Context(), id); err != nil {
		return 0, mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", id)
	}
	return id, nil
}

// get answers the scan's settings; a scan without any has nothing set.
func (h *notificationHandlers) get(c *gin.Context) error {
	id, err := h.scanID(c)
	if err != nil {
		return err
	}
	n, err := h.store.GetNotifications(c.Request.Context(), id)
	if errors.Is(err, postgres.ErrNotFound) {
		n, err = scan.Notifications{ScanID: id, OnCompleted: true, OnFailed: true, OnDiff: true}, nil
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, viewNotifications(n))
	return nil
}

func (h *notificationHandlers) put(c *gin.Context) error {
	id, err := h.scanID(c)
	if err != nil {
		return err
	}
	var req notificationsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	stored, err := h.store.GetNotifications(c.Request.Context(), id)
	if err != nil && !errors.Is(err, postgres.ErrNotFound) {
		return err
	}
	n, err := req.settings(id, stored)
	if err != nil {
		return err
	}
	if n.WebhookURL != "" {
		if err := h.checkWebhookHost(c.Request.Context(), n.WebhookURL); err != nil {
			return err
		}
	}
	out, err := h.store.PutNotifications(c.Request.Context(), n)
	if err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", id)
	}
	c.JSON(http.StatusOK, viewNotifications(out))
	return nil
}

func (h *notificationHandlers) delete(c *gin.Context) error {
	id, err := h.scanID(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteNotifications(c.Request.Context(), id); err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d has no notification settings", id)
	}
	c.Status(http.StatusNoContent)
	return nil
}

// test sends a test notification of the scan to its webhook and email
// recipients now, and answers what became of each (200 whatever it was:
// the outcome is the answer).
func (h *notificationHandlers) test(c *gin.Context) error {
	id, err := h.scanID(c)
	if err != nil {
		return err
	}
	if h.tester == nil {
		return errorf(http.StatusServiceUnavailable, "this server cannot send notifications")
	}
	out, err := h.tester.SendTest(c.Request.Context(), id)
	if err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "scan %d not found", id)
	}
	c.JSON(http.StatusOK, out)
	return nil
}
