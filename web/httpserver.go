package web

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// Timeouts bound how long one client may hold the server's attention, so
// that slow or stalled clients (slowloris) cannot pile up connections.
type Timeouts struct {
	// ReadHeader is the time to read a request's headers.
	ReadHeader time.Duration
	// Read is the time to read a whole request, body included. Bodies are
	// at most MaxBodyBytes.
	Read time.Duration
	// Write is the time from the end of the request headers to the end of
	// the answer. Downloads are exempt: see DownloadStall.
	Write time.Duration
	// Idle is how long a kept-alive connection may wait for its next
	// request.
	Idle time.Duration
	// DownloadStall is how long a download (scanner output, exports) may
	// go without the client taking any of it. A download that keeps moving
	// may run past Write, however large it is. An upload (an import) may
	// likewise go this long without sending anything, and run past Read
	// while it keeps moving.
	DownloadStall time.Duration
	// Stream is the longest an event stream stays open; its client then
	// reconnects (EventSource and `run watch` do so on their own). A
	// stream that stalls is cut off after DownloadStall, as a download is.
	Stream time.Duration
}

// DefaultTimeouts are the server's timeouts unless Config sets others.
var DefaultTimeouts = Timeouts{
	ReadHeader:    10 * time.Second,
	Read:          time.Minute,
	Write:         2 * time.Minute,
	Idle:          2 * time.Minute,
	DownloadStall: time.Minute,
	Stream:        10 * time.Minute,
}

// MaxHeaderBytes bounds the request line and headers.
const MaxHeaderBytes = 64 << 10

// orDefault fills the zero fields from DefaultTimeouts.
func (t Timeouts) orDefault() Timeouts {
	pick := func(v, d time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return d
	}
	d := DefaultTimeouts
	return Timeouts{
		ReadHeader: pick(t.ReadHeader, d.ReadHeader), Read: pick(t.Read, d.Read), Write: pick(t.Write, d.Write),
		Idle: pick(t.Idle, d.Idle), DownloadStall: pick(t.DownloadStall, d.DownloadStall), Stream: pick(t.Stream, d.Stream),
	}
}

// HTTPServer is the http.Server to serve Routes with: every timeout set.
func (s *Server) HTTPServer() *http.Server {
	return NewHTTPServer(s.Routes(), s.timeouts)
}

// NewHTTPServer is an http.Server for h with the timeouts t (zero fields
// take DefaultTimeouts). The scantron server starts serving with it before
// its routes exist, to publish the Temporal JWKS, and hands over later.
func NewHTTPServer(h http.Handler, t Timeouts) *http.Server {
	t = t.orDefault()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// copyDownload copies body to w, pushing the connection's write deadline
// stall into the future before every write: a client that keeps reading
// gets all of it, one that stops is cut off after stall.
func copyDownload(w http.ResponseWriter, body io.Reader, stall time.Duration) error {
	rc := http.NewResponseController(w)
	_, err := io.Copy(stallWriter{w: w, rc: rc, stall: stall}, body)
	return err
}

type stallWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	stall time.Duration
}

func (s stallWriter) Write(p []byte) (int, error) {
	// A writer without deadlines (a test recorder) simply has none.
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.stall)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return s.w.Write(p)
}

// stallReader reads an upload, pushing the connection's read deadline
// stall into the future before every read: a client that keeps sending
// may take as long as its upload needs, one that stops is cut off after
// stall.
type stallReader struct {
	r     io.ReadCloser
	rc    *http.ResponseController
	stall time.Duration
}

func (s stallReader) Read(p []byte) (int, error) {
	// A writer without deadlines (a test recorder) simply has none.
	if err := s.rc.SetReadDeadline(time.Now().Add(s.stall)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return s.r.Read(p)
}

func (s stallReader) Close() error { return s.r.Close() }
