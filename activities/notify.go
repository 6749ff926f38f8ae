package activities

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
)

// NotifyStore is the part of the database the notification activities read.
type NotifyStore interface {
	GetRun(ctx context.Context, id int64) (scan.Run, error)
	GetScan(ctx context.Context, id int64) (scan.Scan, error)
	LookupNotifications(ctx context.Context, scanID int64) (scan.Notifications, bool, error)
	LookupDiff(ctx context.Context, runID int64) (scan.Diff, bool, error)
}

// SMTPConfig is the mail server notifications go through.
type SMTPConfig struct {
	Addr     string // host:port; empty disables email
	From     string
	Username string // empty: no authentication
	Password string
	// TLS configures STARTTLS (used whenever the server offers it); nil
	// verifies the server's certificate against the system's roots.
	TLS *tls.Config
}

// Notifier runs on the server and tells people how runs ended.
type Notifier struct {
	Store NotifyStore
	SMTP  SMTPConfig
	// Webhooks says which addresses webhooks may reach: public ones, and
	// the networks it allows. It is checked on the address each delivery
	// actually connects to.
	Webhooks scan.WebhookPolicy
	// PublicURL is the server's address as people reach it, for links.
	PublicURL string
	// Now is the clock for signatures and mail dates; default time.Now.
	Now func() time.Time
}

// Notification events.
const (
	EventRunCompleted = "run.completed"
	EventRunFailed    = "run.failed"
	EventDiff         = "run.diff"
)

// ErrTypeNotificationRefused marks a delivery the receiver refused for
// good (a 4xx answer, a permanent SMTP error): retrying will not help.
const ErrTypeNotificationRefused = "NotificationRefused"

// NotifyInput names the run to tell about.
type NotifyInput struct {
	RunID int64 `json:"run_id"`
}

// NotifyResult says what was sent; Events is empty when nothing was due.
type NotifyResult struct {
	Events []string `json:"events"`
	Reason string   `json:"reason,omitempty"` // why nothing was sent
}

// maxNotifiedChanges bounds the changes a message carries; the API has all.
const maxNotifiedChanges = 500

// notice is everything a message says, gathered once per delivery.
type notice struct {
	settings scan.Notifications
	scan     scan.Scan
	run      scan.Run
	diff     *scan.Diff
	events   []string
}

func (n *Notifier) gather(ctx context.Context, runID int64) (notice, error) {
	run, err := n.Store.GetRun(ctx, runID)
	if err != nil {
		return notice{}, wrap("load run", err)
	}
	sc, err := n.Store.GetScan(ctx, run.ScanID)
	if err != nil {
		return notice{}, wrap("load scan", err)
	}
	settings, found, err := n.Store.LookupNotifications(ctx, run.ScanID)
	if err != nil || !found {
		return notice{run: run, scan: sc}, wrap("load notification settings", err)
	}
	out := notice{settings: settings, scan: sc, run: run}
	switch {
	case run.Status == scan.RunCompleted && settings.OnCompleted:
		out.events = append(out.events, EventRunCompleted)
	case run.Status == scan.RunFailed && settings.OnFailed:
		out.events = append(out.events, EventRunFailed)
	}
	if run.Status == scan.RunCompleted {
		d, found, err := n.Store.LookupDiff(ctx, run.ID)
		if err != nil {
			return notice{}, wrap("load diff", err)
		}
		if found {
			out.diff = &d
			if settings.OnDiff && d.Counts.Total() > 0 {
				out.events = append(out.events, EventDiff)
			}
		}
	}
	return out, nil
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// link is the address of a page of the server, "" without a public URL.
func (n *Notifier) link(kind string, id int64) string {
	if n.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(n.PublicURL, "/") + "/" + kind + "/" + strconv.FormatInt(id, 10)
}

func (n *Notifier) runURL(runID int64) string   { return n.link("runs", runID) }
func (n *Notifier) scanURL(scanID int64) string { return n.link("scans", scanID) }

// WebhookPayload is the JSON body of a webhook delivery.
type WebhookPayload struct {
	Delivery string      `json:"delivery"` // the same on every retry
	Events   []string    `json:"events"`
	Scan     WebhookScan `json:"scan"`
	Run      *WebhookRun `json:"run,omitempty"` // none in a test

	Diff *WebhookDiff `json:"diff,omitempty"`
}

// WebhookScan names the scan.
type WebhookScan struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// WebhookRun is the run as a webhook shows it.
type WebhookRun struct {
	ID         int64          `json:"id"`
	Status     scan.RunStatus `json:"status"`
	Error      string         `json:"error,omitempty"`
	HostsUp    int            `json:"hosts_up"`
	OpenPorts  int            `json:"open_ports"`
	StartedAt  *time.Time     `json:"started_at,omitempty"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	URL        string         `json:"url,omitempty"`
}

// WebhookDiff is the run's diff, its changes cut at a bound.
type WebhookDiff struct {
	PreviousRunID *int64          `json:"previous_run_id"`
	Counts        scan.DiffCounts `json:"counts"`
	Changes       []scan.Change   `json:"changes"`
	Truncated     bool            `json:"truncated"`
}

func (n *Notifier) payload(no notice) WebhookPayload {
	r := no.run
	p := WebhookPayload{
		Delivery: fmt.Sprintf("run-%d", r.ID),
		Events:   no.events,
		Scan:     WebhookScan{ID: no.scan.ID, Name: no.scan.Name, URL: n.scanURL(no.scan.ID)},
		Run: &WebhookRun{ID: r.ID, Status: r.Status, Error: r.Error, HostsUp: r.HostsUp, OpenPorts: r.OpenPorts,
			StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, URL: n.runURL(r.ID)},
	}
	if d := no.diff; d != nil {
		wd := &WebhookDiff{PreviousRunID: d.PreviousRunID, Counts: d.Counts, Changes: d.Changes}
		if len(wd.Changes) > maxNotifiedChanges {
			wd.Changes, wd.Truncated = wd.Changes[:maxNotifiedChanges], true
		}
		p.Diff = wd
	}
	return p
}

// Webhook headers. The signature is HMAC-SHA256, keyed with the scan's
// webhook secret, of the timestamp, a dot and the body; a receiver
// recomputes it and refuses a timestamp too far from its clock, so a
// captured delivery cannot be replayed later.
const (
	HeaderSignature = "X-Scantron-Signature" // sha256=<hex>
	HeaderTimestamp = "X-Scantron-Timestamp" // Unix seconds
	HeaderEvent     = "X-Scantron-Event"     // the events, comma-separated
	HeaderDelivery  = "X-Scantron-Delivery"  // run-<id>, the same on every retry
)

// SignWebhook returns the signature header value of body sent at timestamp.
func SignWebhook(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// SendWebhook posts the run's notification to the scan's webhook, if one is
// set and an event it wants happened. A 2xx answer is success; a redirect
// or a 4xx (except 408 and 429) is final; anything else is retried by
// Temporal.
func (n *Notifier) SendWebhook(ctx context.Context, in NotifyInput) (NotifyResult, error) {
	no, err := n.gather(ctx, in.RunID)
	if err != nil {
		return NotifyResult{}, err
	}
	switch {
	case no.settings.WebhookURL == "":
		return NotifyResult{Reason: "no webhook configured"}, nil
	case len(no.events) == 0:
		return NotifyResult{Reason: "no event the scan's notifications ask for"}, nil
	}
	if _, err := n.deliverWebhook(ctx, no.settings, n.payload(no)); err != nil {
		return NotifyResult{}, err
	}
	return NotifyResult{Events: no.events}, nil
}

// deliverWebhook posts p, signed, to the webhook of settings and returns
// the receiver's HTTP status. A 2xx answer is success; a redirect, a 4xx
// (except 408 and 429) or an address the policy refuses is a
// non-retryable error; anything else is an error Temporal retries.
func (n *Notifier) deliverWebhook(ctx context.Context, settings scan.Notifications, p WebhookPayload) (int, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return 0, fmt.Errorf("encode webhook: %w", err)
	}
	ts := n.now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, settings.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, temporal.NewNonRetryableApplicationError("webhook URL: "+err.Error(), ErrTypeNotificationRefused, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Scantron-Webhook")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, SignWebhook(settings.WebhookSecret, ts, body))
	req.Header.Set(HeaderEvent, strings.Join(p.Events, ","))
	req.Header.Set(HeaderDelivery, p.Delivery)
	resp, err := webhookClient(n.Webhooks).Do(req)
	if errors.Is(err, scan.ErrWebhookAddress) {
		return 0, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("webhook to %s: %v", req.URL.Redacted(), err), ErrTypeNotificationRefused, err)
	}
	if err != nil {
		return 0, fmt.Errorf("webhook to %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return code, nil
	case code >= 300 && code < 400:
		msg := fmt.Sprintf("webhook %s redirects (%s to %q): set the final URL", req.URL.Redacted(), resp.Status, resp.Header.Get("Location"))
		return code, temporal.NewNonRetryableApplicationError(msg, ErrTypeNotificationRefused, nil)
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		msg := fmt.Sprintf("webhook %s refused the delivery: %s %s", req.URL.Redacted(), resp.Status, strings.TrimSpace(string(snippet)))
		return code, temporal.NewNonRetryableApplicationError(msg, ErrTypeNotificationRefused, nil)
	default:
		return code, fmt.Errorf("webhook %s answered %s", req.URL.Redacted(), resp.Status)
	}
}

// webhookClient delivers webhooks. Whether an address may be reached is
// decided when the connection is made, on the address actually dialled,
// so that a name resolving to an internal address at delivery (DNS
// rebinding) is refused as surely as an address literal. No proxy from
// the environment is used (it would dial instead of us), and a redirect
// is not followed: it would turn the POST into a GET elsewhere, so the
// configured URL must be the receiver's own.
func webhookClient(policy scan.WebhookPolicy) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %q", scan.ErrWebhookAddress, address)
		}
		return policy.CheckAddr(ap.Addr())
	}}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableKeepAlives:   true, // one delivery per client
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// SendEmail mails the run's notification to the scan's recipients, if any
// are set, an event they want happened and an SMTP server is configured.
func (n *Notifier) SendEmail(ctx context.Context, in NotifyInput) (NotifyResult, error) {
	no, err := n.gather(ctx, in.RunID)
	if err != nil {
		return NotifyResult{}, err
	}
	switch {
	case len(no.settings.EmailTo) == 0:
		return NotifyResult{Reason: "no email recipients configured"}, nil
	case len(no.events) == 0:
		return NotifyResult{Reason: "no event the scan's notifications ask for"}, nil
	case n.SMTP.Addr == "":
		return NotifyResult{Reason: "no SMTP server configured (SCANTRON_SMTP_ADDR)"}, nil
	}
	msg := n.message(no)
	if err := sendMail(ctx, n.SMTP, no.settings.EmailTo, msg); err != nil {
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNotificationRefused, err)
		}
		return NotifyResult{}, err
	}
	return NotifyResult{Events: no.events}, nil
}

// message renders the notification as a plain-text mail.
func (n *Notifier) message(no notice) []byte {
	r := no.run
	subject := fmt.Sprintf("[Scantron] %s: run #%d %s", no.scan.Name, r.ID, r.Status)
	if no.diff != nil && no.diff.Counts.Total() > 0 {
		subject += fmt.Sprintf(", %d changes", no.diff.Counts.Total())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Scan %q, run #%d: %s\r\n", no.scan.Name, r.ID, r.Status)
	if r.Error != "" {
		fmt.Fprintf(&b, "Error: %s\r\n", r.Error)
	}
	fmt.Fprintf(&b, "Hosts up: %d, open ports: %d\r\n", r.HostsUp, r.OpenPorts)
	if u := n.runURL(r.ID); u != "" {
		fmt.Fprintf(&b, "%s\r\n", u)
	}
	if d := no.diff; d != nil {
		if d.PreviousRunID == nil {
			b.WriteString("\r\nThis is the scan's first completed run: there is nothing to compare it with.\r\n")
		} else {
			c := d.Counts
			fmt.Fprintf(&b, "\r\nChanges since run #%d: %d new hosts, %d gone hosts, %d opened ports, %d closed ports, %d changed services\r\n",
				*d.PreviousRunID, c.NewHosts, c.GoneHosts, c.OpenedPorts, c.ClosedPorts, c.ChangedServices)
			for i, ch := range d.Changes {
				if i == maxNotifiedChanges {
					fmt.Fprintf(&b, "... and %d more\r\n", len(d.Changes)-i)
					break
				}
				b.WriteString(describeChange(ch))
				b.WriteString("\r\n")
			}
		}
	}
	if u := n.scanURL(no.scan.ID); u != "" {
		fmt.Fprintf(&b, "\r\nScan: %s\r\n", u)
	}
	return n.mail(no.settings.EmailTo, subject, fmt.Sprintf("run-%d", r.ID), b.String())
}

// mail renders a plain-text mail of body to the recipients; id makes its
// Message-ID.
func (n *Notifier) mail(to []string, subject, id, body string) []byte {
	var m bytes.Buffer
	fmt.Fprintf(&m, "From: %s\r\n", n.SMTP.From)
	fmt.Fprintf(&m, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&m, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&m, "Date: %s\r\n", n.now().Format(time.RFC1123Z))
	fmt.Fprintf(&m, "Message-ID: <%s.%s@scantron>\r\n", id, rand.Text())
	m.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	m.WriteString(body) // net/smtp's DATA writer escapes leading dots
	return m.Bytes()
}

// EventTest is the event of a test notification.
const EventTest = "test"

// SendTest sends a test notification of a scan, now and once, to its
// webhook and its email recipients, the way run notifications go: the
// same signature, the same address policy on the connection, the same
// SMTP delivery. It says what became of each; only a failure to read the
// scan or its settings is an error.
func (n *Notifier) SendTest(ctx context.Context, scanID int64) (scan.NotificationTest, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sc, err := n.Store.GetScan(ctx, scanID)
	if err != nil {
		return scan.NotificationTest{}, wrap("load scan", err)
	}
	settings, _, err := n.Store.LookupNotifications(ctx, scanID)
	if err != nil {
		return scan.NotificationTest{}, wrap("load notification settings", err)
	}
	out := scan.NotificationTest{
		Webhook: scan.ChannelOutcome{Skipped: "no webhook configured"},
		Email:   scan.ChannelOutcome{Skipped: "no email recipients configured"},
	}
	if settings.WebhookURL != "" {
		p := WebhookPayload{Delivery: "test-" + rand.Text(), Events: []string{EventTest},
			Scan: WebhookScan{ID: sc.ID, Name: sc.Name, URL: n.scanURL(sc.ID)}}
		status, err := n.deliverWebhook(ctx, settings, p)
		out.Webhook = outcome(err)
		out.Webhook.Status = status
	}
	switch {
	case len(settings.EmailTo) == 0:
	case n.SMTP.Addr == "":
		out.Email.Skipped = "no SMTP server configured (SCANTRON_SMTP_ADDR)"
	default:
		var b strings.Builder
		fmt.Fprintf(&b, "This is a test notification of scan %q. Its runs' notifications will come like this one.\r\n", sc.Name)
		if u := n.scanURL(sc.ID); u != "" {
			fmt.Fprintf(&b, "\r\nScan: %s\r\n", u)
		}
		subject := fmt.Sprintf("[Scantron] %s: test notification", sc.Name)
		msg := n.mail(settings.EmailTo, subject, fmt.Sprintf("test-scan-%d", sc.ID), b.String())
		out.Email = outcome(sendMail(ctx, n.SMTP, settings.EmailTo, msg))
	}
	return out, nil
}

// outcome tells a delivery's error as people read it: without the
// Temporal error type a run's delivery carries.
func outcome(err error) scan.ChannelOutcome {
	if err == nil {
		return scan.ChannelOutcome{Sent: true}
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return scan.ChannelOutcome{Error: ae.Message()}
	}
	return scan.ChannelOutcome{Error: err.Error()}
}

func describeChange(c scan.Change) string {
	svc := func(s scan.ServiceInfo) string {
		return strings.TrimSpace(strings.Join([]string{s.Service, s.Product, s.Version}, " "))
	}
	where := c.Address
	if c.Protocol != "" {
		where = fmt.Sprintf("%s %s/%d", c.Address, c.Protocol, c.Port)
	}
	switch c.Kind {
	case scan.OpenedPort:
		return fmt.Sprintf("  + opened  %s %s", where, svc(c.After))
	case scan.ClosedPort:
		return fmt.Sprintf("  - closed  %s %s", where, svc(c.Before))
	case scan.ChangedService:
		return fmt.Sprintf("  ~ changed %s %s -> %s", where, svc(c.Before), svc(c.After))
	case scan.NewHost:
		return "  + new host  " + where
	case scan.GoneHost:
		return "  - gone host " + where
	}
	return string(c.Kind) + " " + where
}

// sendMail delivers msg over SMTP: STARTTLS whenever the server offers it,
// and authentication (PLAIN, which net/smtp allows only over TLS or to
// localhost) when a username is set.
func sendMail(ctx context.Context, cfg SMTPConfig, to []string, msg []byte) error {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("SMTP address: "+err.Error(), ErrTypeNotificationRefused, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", cfg.Addr, err)
	}
	deadline := time.Now().Add(time.Minute)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP greeting from %s: %w", cfg.Addr, err)
	}
	defer c.Close()
	if err := c.Hello("scantron"); err != nil {
		return fmt.Errorf("SMTP EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc := cfg.TLS
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tc = tc.Clone()
		if tc.ServerName == "" {
			tc.ServerName = host
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("SMTP STARTTLS: %w", err)
		}
	}
	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, host)); err != nil {
			return fmt.Errorf("SMTP AUTH: %w", err)
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return fmt.Errorf("SMTP MAIL FROM: %w", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("SMTP RCPT TO %s: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	return c.Quit()
}
