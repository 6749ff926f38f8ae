package web

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveForTest serves handler on a loopback port with the production
// http.Server settings but the given timeouts, and returns the address.
func serveForTest(t *testing.T, timeouts Timeouts, handler http.Handler) string {
	t.Helper()
	srv, err := New(Config{Timeouts: timeouts, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Deps{Store: testStore, Objects: &fakeObjects{}, Temporal: &fakeTemporal{}})
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer()
	if handler != nil {
		hs.Handler = handler
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return ln.Addr().String()
}

// dribble writes chunks to conn one by one, pausing between them, until
// the server closes the connection (true) or the chunks run out (false).
func dribble(t *testing.T, conn net.Conn, head string, chunk string, n int) bool {
	t.Helper()
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server hangs up
		close(closed)
	}()
	if _, err := io.WriteString(conn, head); err != nil {
		return true
	}
	for range n {
		select {
		case <-closed:
			return true
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := io.WriteString(conn, chunk); err != nil {
			return true
		}
	}
	return false
}

// TestSlowClientsAreCutOff plays slowloris: headers that never end, then
// a body that never ends. The server must hang up on both long before the
// client would have finished (each dribble lasts at least 30s; the
// timeouts are a fraction of a second).
func TestSlowClientsAreCutOff(t *testing.T) {
	addr := serveForTest(t, Timeouts{ReadHeader: 300 * time.Millisecond, Read: 600 * time.Millisecond}, nil)
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	if !dribble(t, dial(), "GET /healthz HTTP/1.1\r\nHost: scantron\r\n", "X-Slow: 1\r\n", 600) {
		t.Error("a client sending one header line every 50ms was never cut off")
	}
	body := strings.Repeat("x", 600)
	head := fmt.Sprintf("POST /api/v1/login HTTP/1.1\r\nHost: scantron\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if !dribble(t, dial(), head, "x", len(body)) {
		t.Error("a client sending its body one byte every 50ms was never cut off")
	}

	// Headers larger than MaxHeaderBytes are refused.
	conn := dial()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: scantron\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 2*MaxHeaderBytes))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized headers: %v %v", resp, err)
	}
}

// slowReader gives its data a chunk at a time with a pause before each,
// like object storage over a slow link.
type slowReader struct {
	data  []byte
	chunk int
	pause time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestDownloadOutlivesWriteTimeout checks that a download that keeps
// moving is not cut off by the server-wide write timeout, while a plain
// handler that takes as long is.
func TestDownloadOutlivesWriteTimeout(t *testing.T) {
	data := bytes.Repeat([]byte("scantron "), 8<<10)
	const write = 300 * time.Millisecond
	mux := http.NewServeMux()
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		// Five times the write timeout in all, never more than a third of
		// it between writes.
		_ = copyDownload(w, &slowReader{data: data, chunk: len(data) / 15, pause: write / 3}, 10*time.Second)
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, &slowReader{data: data, chunk: len(data) / 15, pause: write / 3})
	})
	addr := serveForTest(t, Timeouts{Write: write}, mux)

	resp, err := http.Get("http://" + addr + "/download")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %d of %d bytes, %v", len(got), len(data), err)
	}

	resp, err = http.Get("http://" + addr + "/plain")
	if err == nil {
		got, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil && bytes.Equal(got, data) {
		t.Fatal("a handler without deadline pushes outlived the write timeout: the timeout is not set")
	}
}
