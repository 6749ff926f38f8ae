package activities_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// notifyFixture is a completed run with a diff, and its scan's settings.
type notifyFixture struct {
	store *postgres.Store
	scan  scan.Scan
	run   scan.Run
}

func newNotifyFixture(t *testing.T, settings scan.Notifications) notifyFixture {
	t.Helper()
	ctx := context.Background()
	st := newStore(t)
	site, err := st.CreateSite(ctx, scan.Site{Name: "lab", Targets: []string{"198.18.0.0/24"}})
	must(t, err)
	prof, err := st.CreateProfile(ctx, scan.Profile{Name: "p", Scanner: scan.Nmap, Options: "-sT"})
	must(t, err)
	ag, err := st.CreateAgent(ctx, scan.Agent{Name: "a1", TaskQueue: workflows.AgentTaskQueue("a1")})
	must(t, err)
	sc, err := st.CreateScan(ctx, scan.Scan{Name: "weekly lab", SiteID: site.ID, ProfileID: prof.ID, AgentID: ag.ID})
	must(t, err)
	prev, err := st.CreateRun(ctx, sc.ID, "wf-prev")
	must(t, err)
	run, err := st.CreateRun(ctx, sc.ID, "wf-now")
	must(t, err)
	must(t, st.SetRunStatus(ctx, run.ID, scan.RunRunning, ""))
	run, err = st.CompleteRun(ctx, run.ID, scan.BlobRef{Bucket: "b", Key: "k", SHA256: strings.Repeat("d", 64)})
	must(t, err)
	_, err = st.SaveDiff(ctx, scan.Diff{DiffSummary: scan.DiffSummary{RunID: run.ID, ScanID: sc.ID, PreviousRunID: &prev.ID},
		Changes: []scan.Change{
			{Kind: scan.ClosedPort, Address: "198.18.0.7", Protocol: "tcp", Port: 22, Before: scan.ServiceInfo{Service: "ssh", Product: "OpenSSH"}},
			{Kind: scan.NewHost, Address: "198.18.0.9"},
		}})
	must(t, err)
	settings.ScanID = sc.ID
	_, err = st.PutNotifications(ctx, settings)
	must(t, err)
	return notifyFixture{store: st, scan: sc, run: run}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sendWebhookWorkflow delivers one webhook under the retry policy the scan
// workflow uses, so that the test environment retries as Temporal would.
func sendWebhookWorkflow(ctx workflow.Context, in activities.NotifyInput) (activities.NotifyResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflows.NotifyActivityOptions)
	var n *activities.Notifier
	var res activities.NotifyResult
	err := workflow.ExecuteActivity(ctx, n.SendWebhook, in).Get(ctx, &res)
	return res, err
}

type delivery struct {
	header http.Header
	body   []byte
}

// webhookReceiver records every delivery and answers with statuses in
// turn, the last one from then on.
func webhookReceiver(t *testing.T, statuses ...int) (*httptest.Server, func() []delivery) {
	var mu sync.Mutex
	var got []delivery
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		n := len(got)
		got = append(got, delivery{header: r.Header.Clone(), body: body})
		mu.Unlock()
		w.WriteHeader(statuses[min(n, len(statuses)-1)])
	}))
	t.Cleanup(srv.Close)
	return srv, func() []delivery {
		mu.Lock()
		defer mu.Unlock()
		return append([]delivery(nil), got...)
	}
}

// verify checks a delivery's signature as a receiver would: HMAC-SHA256 of
// "<timestamp>.<body>" with the shared secret, and a fresh timestamp.
func verify(t *testing.T, secret string, d delivery) {
	t.Helper()
	ts, err := strconv.ParseInt(d.header.Get("X-Scantron-Timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		t.Fatalf("timestamp %q is not a current Unix time", d.header.Get("X-Scantron-Timestamp"))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(d.body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := d.header.Get("X-Scantron-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
		t.Fatalf("signature %q, want %q", got, want)
	}
}

func runWebhook(t *testing.T, n *activities.Notifier, runID int64) (activities.NotifyResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(sendWebhookWorkflow)
	env.RegisterActivity(n)
	env.ExecuteWorkflow(sendWebhookWorkflow, activities.NotifyInput{RunID: runID})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res activities.NotifyResult
	err := env.GetWorkflowError()
	if err == nil {
		err = env.GetWorkflowResult(&res)
	}
	return res, err
}

func TestSendWebhookSignsAndRetries(t *testing.T) {
	srv, deliveries := webhookReceiver(t, 500, 500, 204)
	const secret = "hunter2-but-longer"
	f := newNotifyFixture(t, scan.Notifications{WebhookURL: srv.URL + "/hook", WebhookSecret: secret,
		OnCompleted: true, OnFailed: true, OnDiff: true})
	n := &activities.Notifier{Store: f.store, Webhooks: loopbackAllowed, PublicURL: "http://scantron.test/"}

	res, err := runWebhook(t, n, f.run.ID)
	if err != nil {
		t.Fatalf("webhook not delivered: %v", err)
	}
	if strings.Join(res.Events, ",") != "run.completed,run.diff" {
		t.Errorf("events = %v", res.Events)
	}
	got := deliveries()
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3 (two answered 500, then 204)", len(got))
	}
	for _, d := range got {
		verify(t, secret, d)
		if d.header.Get("Content-Type") != "application/json" || d.header.Get("X-Scantron-Delivery") != got[0].header.Get("X-Scantron-Delivery") ||
			d.header.Get("X-Scantron-Event") != "run.completed,run.diff" {
			t.Errorf("headers %v", d.header)
		}
	}
	var p activities.WebhookPayload
	if err := json.Unmarshal(got[2].body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Run.ID != f.run.ID || p.Run.Status != scan.RunCompleted || p.Scan.Name != "weekly lab" ||
		p.Run.URL != "http://scantron.test/runs/"+strconv.FormatInt(f.run.ID, 10) || p.Delivery != got[2].header.Get("X-Scantron-Delivery") {
		t.Errorf("payload = %+v", p)
	}
	if p.Diff == nil || p.Diff.Counts != (scan.DiffCounts{ClosedPorts: 1, NewHosts: 1}) || len(p.Diff.Changes) != 2 ||
		p.Diff.Changes[0].Port != 22 || p.Diff.Changes[0].Before.Product != "OpenSSH" {
		t.Errorf("payload diff = %+v", p.Diff)
	}
	// A body changed in transit no longer matches its signature.
	tampered := got[2]
	tampered.body = append([]byte(nil), tampered.body...)
	tampered.body[len(tampered.body)-2] ^= 1
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(tampered.header.Get("X-Scantron-Timestamp") + "."))
	mac.Write(tampered.body)
	if "sha256="+hex.EncodeToString(mac.Sum(nil)) == tampered.header.Get("X-Scantron-Signature") {
		t.Error("a tampered body verifies")
	}
}

func TestSendWebhookRefusedOrNotDue(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		srv, deliveries := webhookReceiver(t, 403)
		f := newNotifyFixture(t, scan.Notifications{WebhookURL: srv.URL, WebhookSecret: "s", OnCompleted: true})
		_, err := runWebhook(t, &activities.Notifier{Store: f.store, Webhooks: loopbackAllowed}, f.run.ID)
		if !isNonRetryable(err, activities.ErrTypeNotificationRefused) || !strings.Contains(err.Error(), "403") {
			t.Errorf("error = %v, want a refused delivery naming the 403", err)
		}
		if n := len(deliveries()); n != 1 {
			t.Errorf("%d deliveries, want 1: a 403 is not retried", n)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		srv, deliveries := webhookReceiver(t, http.StatusFound)
		f := newNotifyFixture(t, scan.Notifications{WebhookURL: srv.URL, WebhookSecret: "s", OnCompleted: true})
		_, err := runWebhook(t, &activities.Notifier{Store: f.store, Webhooks: loopbackAllowed}, f.run.ID)
		if !isNonRetryable(err, activities.ErrTypeNotificationRefused) || !strings.Contains(err.Error(), "redirects") {
			t.Errorf("error = %v, want a refused delivery naming the redirect", err)
		}
		if n := len(deliveries()); n != 1 {
			t.Errorf("%d deliveries, want 1: a redirect is neither followed nor retried", n)
		}
	})
	t.Run("no event wanted", func(t *testing.T) {
		srv, deliveries := webhookReceiver(t, 200)
		f := newNotifyFixture(t, scan.Notifications{WebhookURL: srv.URL, WebhookSecret: "s", OnFailed: true})
		res, err := runWebhook(t, &activities.Notifier{Store: f.store, Webhooks: loopbackAllowed}, f.run.ID)
		if err != nil || len(res.Events) != 0 || res.Reason == "" {
			t.Errorf("result %+v, %v; want nothing sent, with the reason", res, err)
		}
		if n := len(deliveries()); n != 0 {
			t.Errorf("%d deliveries, want none", n)
		}
	})
}

// smtpSink is a minimal SMTP server on the loopback: EHLO, STARTTLS, AUTH
// PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT. It keeps what it receives.
type smtpSink struct {
	addr       string
	tls        *tls.Config
	rejectRcpt atomic.Bool
	mu         sync.Mutex
	mails      []sunkMail
}

type sunkMail struct {
	from string
	to   []string
	data string
	tls  bool
	auth string
}

func startSMTPSink(t *testing.T, cert tls.Certificate) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &smtpSink{addr: ln.Addr().String(), tls: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpSink) serve(c net.Conn) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	tp := textproto.NewConn(c)
	_ = tp.PrintfLine("220 sink ESMTP")
	var m sunkMail
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			_ = tp.PrintfLine("250-sink")
			if !m.tls {
				_ = tp.PrintfLine("250-STARTTLS")
			} else {
				_ = tp.PrintfLine("250-AUTH PLAIN")
			}
			_ = tp.PrintfLine("250 8BITMIME")
		case "STARTTLS":
			_ = tp.PrintfLine("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, tp, m = tc, textproto.NewConn(tc), sunkMail{tls: true}
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(resp)
			if mech != "PLAIN" || err != nil {
				_ = tp.PrintfLine("504 unsupported")
				continue
			}
			m.auth = string(raw)
			_ = tp.PrintfLine("235 ok")
		case "MAIL":
			m.from = angle(arg)
			_ = tp.PrintfLine("250 ok")
		case "RCPT":
			if s.rejectRcpt.Load() {
				_ = tp.PrintfLine("550 no such user")
				continue
			}
			m.to = append(m.to, angle(arg))
			_ = tp.PrintfLine("250 ok")
		case "DATA":
			_ = tp.PrintfLine("354 go on")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m.data = string(data)
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			m = sunkMail{tls: m.tls, auth: m.auth}
			_ = tp.PrintfLine("250 queued")
		case "RSET", "NOOP":
			_ = tp.PrintfLine("250 ok")
		case "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("502 unknown command")
		}
	}
}

// angle returns the address between < and > of a MAIL or RCPT argument.
func angle(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	addr, _, _ := strings.Cut(rest, ">")
	return addr
}

func (s *smtpSink) received() []sunkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunkMail(nil), s.mails...)
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	leaf, err := x509.ParseCertificate(der)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestSendEmailOverSTARTTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	sink := startSMTPSink(t, cert)
	f := newNotifyFixture(t, scan.Notifications{EmailTo: []string{"ops@example.test", "sec@example.test"}, OnCompleted: true, OnDiff: true})
	n := &activities.Notifier{Store: f.store, PublicURL: "http://scantron.test",
		SMTP: activities.SMTPConfig{Addr: sink.addr, From: "scantron@example.test", Username: "mailer", Password: "pw",
			TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(n)

	res, err := execute[activities.NotifyResult](t, env, n.SendEmail, activities.NotifyInput{RunID: f.run.ID})
	if err != nil {
		t.Fatalf("SendEmail: %v", err)
	}
	if strings.Join(res.Events, ",") != "run.completed,run.diff" {
		t.Errorf("events = %v", res.Events)
	}
	mails := sink.received()
	if len(mails) != 1 {
		t.Fatalf("%d mails received, want 1", len(mails))
	}
	m := mails[0]
	if !m.tls || m.auth != "\x00mailer\x00pw" || m.from != "scantron@example.test" || strings.Join(m.to, ",") != "ops@example.test,sec@example.test" {
		t.Errorf("envelope: tls %v, auth %q, from %q, to %v", m.tls, m.auth, m.from, m.to)
	}
	for _, want := range []string{
		"Subject: [Scantron] weekly lab: run #" + strconv.FormatInt(f.run.ID, 10) + " completed, 2 changes",
		"To: ops@example.test, sec@example.test",
		"- closed  198.18.0.7 tcp/22 ssh OpenSSH",
		"+ new host  198.18.0.9",
		"http://scantron.test/runs/" + strconv.FormatInt(f.run.ID, 10),
	} {
		if !strings.Contains(m.data, want) {
			t.Errorf("mail lacks %q:\n%s", want, m.data)
		}
	}

	// A recipient the server refuses for good is not retried.
	sink.rejectRcpt.Store(true)
	_, err = execute[activities.NotifyResult](t, env, n.SendEmail, activities.NotifyInput{RunID: f.run.ID})
	if !isNonRetryable(err, activities.ErrTypeNotificationRefused) {
		t.Errorf("error = %v, want a non-retryable refusal", err)
	}
}

// loopbackAllowed lets webhooks reach the test's receivers on 127.0.0.1,
// as an admin's SCANTRON_WEBHOOK_ALLOW_NETWORKS would.
var loopbackAllowed = scan.WebhookPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

// TestSendWebhookRefusesInternalAddresses: a webhook URL pointing at an
// internal address (stored before the check at save, or a name that
// resolves there by the time of delivery) is refused when the connection
// is made, without a byte reaching the receiver, and is not retried.
func TestSendWebhookRefusesInternalAddresses(t *testing.T) {
	srv, deliveries := webhookReceiver(t, 204)
	f := newNotifyFixture(t, scan.Notifications{WebhookURL: srv.URL + "/hook", WebhookSecret: "hunter2-but-longer", OnCompleted: true})
	for _, policy := range []scan.WebhookPolicy{{}, {Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}} {
		_, err := runWebhook(t, &activities.Notifier{Store: f.store, Webhooks: policy}, f.run.ID)
		if !isNonRetryable(err, activities.ErrTypeNotificationRefused) || !strings.Contains(err.Error(), "127.0.0.1 is in 127.0.0.0/8") {
			t.Errorf("allow %v: error = %v, want a refused delivery naming the loopback", policy.Allow, err)
		}
	}
	if n := len(deliveries()); n != 0 {
		t.Errorf("%d deliveries reached the loopback receiver", n)
	}
	// Allowed explicitly, the same URL is delivered to.
	if _, err := runWebhook(t, &activities.Notifier{Store: f.store, Webhooks: loopbackAllowed}, f.run.ID); err != nil || len(deliveries()) != 1 {
		t.Errorf("allowed loopback: %v, %d deliveries", err, len(deliveries()))
	}
}

// TestSendTestNotification: a test goes to the scan's webhook, signed as a
// run's delivery with the scan's link, and to its recipients by SMTP, and
// says what became of each; a webhook on an address the policy does not
// allow is refused on the connection, and a receiver's refusal is told
// with its status.
func TestSendTestNotification(t *testing.T) {
	srv, deliveries := webhookReceiver(t, 204, 410)
	cert, pool := selfSigned(t)
	sink := startSMTPSink(t, cert)
	const secret = "hunter2-but-longer"
	f := newNotifyFixture(t, scan.Notifications{WebhookURL: srv.URL + "/hook", WebhookSecret: secret,
		EmailTo: []string{"ops@example.test"}, OnCompleted: true})
	n := &activities.Notifier{Store: f.store, Webhooks: loopbackAllowed, PublicURL: "http://scantron.test/",
		SMTP: activities.SMTPConfig{Addr: sink.addr, From: "scantron@example.test",
			TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	ctx := context.Background()

	got, err := n.SendTest(ctx, f.scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != (scan.NotificationTest{Webhook: scan.ChannelOutcome{Sent: true, Status: 204}, Email: scan.ChannelOutcome{Sent: true}}) {
		t.Errorf("outcome %+v", got)
	}
	d := deliveries()
	if len(d) != 1 {
		t.Fatalf("%d deliveries", len(d))
	}
	verify(t, secret, d[0])
	var p activities.WebhookPayload
	must(t, json.Unmarshal(d[0].body, &p))
	scanURL := "http://scantron.test/scans/" + strconv.FormatInt(f.scan.ID, 10)
	if strings.Join(p.Events, ",") != "test" || d[0].header.Get("X-Scantron-Event") != "test" || p.Run != nil ||
		p.Scan.ID != f.scan.ID || p.Scan.Name != "weekly lab" || p.Scan.URL != scanURL ||
		!strings.HasPrefix(p.Delivery, "test-") || d[0].header.Get("X-Scantron-Delivery") != p.Delivery {
		t.Errorf("payload %s, headers %v", d[0].body, d[0].header)
	}
	mails := sink.received()
	if len(mails) != 1 || !strings.Contains(mails[0].data, "Subject: [Scantron] weekly lab: test notification") ||
		!strings.Contains(mails[0].data, scanURL) || strings.Join(mails[0].to, ",") != "ops@example.test" {
		t.Fatalf("mails %+v", mails)
	}

	// The receiver refuses: its status is told, and nothing is retried.
	got, err = n.SendTest(ctx, f.scan.ID)
	if err != nil || got.Webhook.Sent || got.Webhook.Status != 410 || !strings.Contains(got.Webhook.Error, "refused the delivery: 410") {
		t.Errorf("refused: %+v, %v", got.Webhook, err)
	}
	// The loopback is not allowed: refused before a byte is sent.
	n.Webhooks = scan.WebhookPolicy{}
	got, err = n.SendTest(ctx, f.scan.ID)
	if err != nil || got.Webhook.Sent || got.Webhook.Status != 0 || !strings.Contains(got.Webhook.Error, "127.0.0.1 is in 127.0.0.0/8") {
		t.Errorf("loopback not allowed: %+v, %v", got.Webhook, err)
	}
	if n := len(deliveries()); n != 2 {
		t.Errorf("%d deliveries, want 2", n)
	}

	// Without settings, or without SMTP, nothing is attempted, and the
	// outcome says why.
	n.SMTP.Addr = ""
	got, err = n.SendTest(ctx, f.scan.ID)
	if err != nil || got.Email != (scan.ChannelOutcome{Skipped: "no SMTP server configured (SCANTRON_SMTP_ADDR)"}) {
		t.Errorf("no SMTP: %+v, %v", got.Email, err)
	}
	must(t, f.store.DeleteNotifications(ctx, f.scan.ID))
	got, err = n.SendTest(ctx, f.scan.ID)
	if err != nil || got.Webhook.Skipped == "" || got.Email.Skipped == "" || got.Webhook.Sent || got.Email.Sent {
		t.Errorf("no settings: %+v, %v", got, err)
	}
	if _, err := n.SendTest(ctx, 999999); err == nil {
		t.Error("a test of a missing scan succeeded")
	}
}
