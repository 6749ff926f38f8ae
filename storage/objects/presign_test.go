package objects

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// send makes one plain HTTP request, as an agent does with a presigned URL,
// and returns the status and body.
func send(t *testing.T, method, u string, body []byte) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// withPath is u (a presigned URL) with its path changed to another key's,
// or the bucket's: the signature and its query are kept.
func withPath(t *testing.T, u, path string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.Path, p.RawPath = path, ""
	return p.String()
}

// TestPresignedURLsReachOnlyTheirKey checks on the real S3 server that a
// shard attempt's presigned URLs do exactly one thing: the PUT stores its
// key, the GET reads its key, and neither reads, writes, deletes or lists
// anything else (another shard's or run's output, an export, the bucket),
// nor works past its expiry.
func TestPresignedURLsReachOnlyTheirKey(t *testing.T) {
	st := newStore(t, "")
	ctx := context.Background()
	run := time.Now().UnixNano() % 1_000_000_000
	own := scan.RawKey(run, 2, 1, scan.Nmap)
	resume := scan.PartialKey(run, 2, 1)
	others := map[string]string{
		"another shard's output": scan.RawKey(run, 3, 1, scan.Nmap),
		"another run's output":   scan.RawKey(run+1, 2, 1, scan.Nmap),
		"an export":              scan.ExportKey(run, "results.csv"),
		"the next attempt":       scan.RawKey(run, 2, 2, scan.Nmap),
	}
	for _, k := range append([]string{resume}, slices.Collect(maps.Values(others))...) {
		if _, err := st.Put(ctx, k, strings.NewReader("original "+k), -1, "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	content := func(k string) string {
		t.Helper()
		rc, _, err := st.Open(ctx, k)
		if err != nil {
			return "error: " + err.Error()
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return string(b)
	}
	bucketPath := "/" + st.Bucket()

	put, err := st.PresignPut(ctx, own, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := send(t, http.MethodPut, put, []byte("scanner output")); code != http.StatusOK {
		t.Fatalf("PUT to its own URL: %d %s", code, body)
	}
	if got := content(own); got != "scanner output" {
		t.Fatalf("stored %q", got)
	}
	if code, _ := send(t, http.MethodGet, put, nil); code/100 == 2 {
		t.Errorf("the PUT URL reads its key back: %d", code)
	}
	if code, _ := send(t, http.MethodDelete, put, nil); code/100 == 2 {
		t.Errorf("the PUT URL deletes its key: %d", code)
	}
	for what, k := range others {
		if code, _ := send(t, http.MethodPut, withPath(t, put, bucketPath+"/"+k), []byte("forged")); code/100 == 2 {
			t.Errorf("the PUT URL overwrote %s: %d", what, code)
		}
		if code, body := send(t, http.MethodGet, withPath(t, put, bucketPath+"/"+k), nil); code/100 == 2 {
			t.Errorf("the PUT URL read %s: %d %.80s", what, code, body)
		}
		if got := content(k); got != "original "+k {
			t.Errorf("%s is now %q", what, got)
		}
	}
	if code, body := send(t, http.MethodGet, withPath(t, put, bucketPath), nil); code/100 == 2 || strings.Contains(body, "<Key>") {
		t.Errorf("the PUT URL lists the bucket: %d %.200s", code, body)
	}

	get, err := st.PresignGet(ctx, resume, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := send(t, http.MethodGet, get, nil); code != http.StatusOK || body != "original "+resume {
		t.Fatalf("GET of its own URL: %d %q", code, body)
	}
	if code, _ := send(t, http.MethodPut, get, []byte("forged")); code/100 == 2 || content(resume) != "original "+resume {
		t.Errorf("the GET URL writes its key: %d", code)
	}
	for what, k := range others {
		if code, body := send(t, http.MethodGet, withPath(t, get, bucketPath+"/"+k), nil); code/100 == 2 {
			t.Errorf("the GET URL read %s: %d %.80s", what, code, body)
		}
	}
	if code, body := send(t, http.MethodGet, withPath(t, get, bucketPath), nil); code/100 == 2 || strings.Contains(body, "<Key>") {
		t.Errorf("the GET URL lists the bucket: %d %.200s", code, body)
	}

	// Past their expiry they do nothing.
	short, err := st.PresignPut(ctx, own, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	shortGet, err := st.PresignGet(ctx, resume, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if code, _ := send(t, http.MethodPut, short, []byte("late")); code/100 == 2 || content(own) != "scanner output" {
		t.Errorf("an expired PUT URL still stores: %d", code)
	}
	if code, _ := send(t, http.MethodGet, shortGet, nil); code/100 == 2 {
		t.Errorf("an expired GET URL still reads: %d", code)
	}

	for _, ttl := range []time.Duration{0, MaxPresignTTL + time.Second} {
		if _, err := st.PresignPut(ctx, own, ttl); err == nil {
			t.Errorf("presigned for %s", ttl)
		}
	}
	if _, err := st.PresignGet(ctx, "", time.Minute); err == nil {
		t.Error("presigned an empty key")
	}
}
