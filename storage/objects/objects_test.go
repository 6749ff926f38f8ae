package objects

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
)

// The test binary starts one versitygw server; tests use distinct keys.
var testS3 *devstack.S3

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "scantron-storage-objects-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	testS3, err = devstack.StartS3(ctx, devstack.S3Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start s3:", err)
		return 1
	}
	defer testS3.Stop()
	return m.Run()
}

func newStore(t *testing.T, bucket string) *Store {
	t.Helper()
	if bucket == "" {
		bucket = testS3.Bucket
	}
	st, err := New(Config{
		Endpoint: testS3.Endpoint, AccessKey: testS3.AccessKey, SecretKey: testS3.SecretKey,
		Bucket: bucket, Region: testS3.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	st := newStore(t, "")
	ctx := context.Background()
	tests := []struct {
		name    string
		size    int   // bytes of content
		declare int64 // size given to Put; -2 means the real size
	}{
		{"empty", 0, -2},
		{"small", 1000, -2},
		{"small unknown size", 1000, -1},
		{"multipart unknown size", 20 << 20, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := randomBytes(t, tt.size)
			size := tt.declare
			if size == -2 {
				size = int64(len(data))
			}
			key := "test/roundtrip/" + strings.ReplaceAll(tt.name, " ", "-")
			ref, err := st.Put(ctx, key, bytes.NewReader(data), size, "application/octet-stream")
			must(t, err)
			want := scan.BlobRef{Bucket: st.Bucket(), Key: key, Size: int64(len(data)), SHA256: sum(data)}
			if ref != want {
				t.Fatalf("ref = %+v, want %+v", ref, want)
			}
			must(t, ref.Validate())

			rc, err := st.Get(ctx, ref)
			must(t, err)
			got, err := io.ReadAll(rc)
			must(t, err)
			must(t, rc.Close())
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, not what was written", len(got))
			}

			rc, n, err := st.Open(ctx, key)
			must(t, err)
			got, err = io.ReadAll(rc)
			must(t, err)
			must(t, rc.Close())
			if n != int64(len(data)) || !bytes.Equal(got, data) {
				t.Fatalf("Open: size %d, %d bytes", n, len(got))
			}
		})
	}
}

func TestPutShortReader(t *testing.T) {
	t.Parallel()
	st := newStore(t, "")
	_, err := st.Put(context.Background(), "test/short", strings.NewReader("abc"), 10, "")
	if err == nil {
		t.Fatal("Put of 3 bytes declared as 10 succeeded")
	}
}

func TestPutFile(t *testing.T) {
	t.Parallel()
	st := newStore(t, "")
	ctx := context.Background()
	data := []byte(`<?xml version="1.0"?><nmaprun></nmaprun>`)
	path := filepath.Join(t.TempDir(), "nmap.xml")
	must(t, os.WriteFile(path, data, 0o600))
	key := scan.RawKey(7, 8, 1, scan.Nmap)
	ref, err := st.PutFile(ctx, key, path, "application/xml")
	must(t, err)
	if ref.Size != int64(len(data)) || ref.SHA256 != sum(data) || ref.Key != key {
		t.Fatalf("ref = %+v", ref)
	}
	_, err = st.PutFile(ctx, key, filepath.Join(t.TempDir(), "missing"), "application/xml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("PutFile of a missing file = %v", err)
	}
}

func TestChecksumMismatch(t *testing.T) {
	t.Parallel()
	st := newStore(t, "")
	ctx := context.Background()
	data := randomBytes(t, 64<<10)
	ref, err := st.Put(ctx, "test/checksum", bytes.NewReader(data), int64(len(data)), "")
	must(t, err)

	bad := ref
	bad.SHA256 = sum([]byte("something else"))
	rc, err := st.Get(ctx, bad)
	must(t, err)
	got, err := io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("ReadAll with a wrong sha256 = %v, want ErrChecksum", err)
	}
	if len(got) != len(data) {
		t.Fatalf("read %d bytes before the check, want %d", len(got), len(data))
	}

	// Streaming with io.Copy ends with the error too, not a clean end.
	rc, err = st.Get(ctx, bad)
	must(t, err)
	_, err = io.Copy(io.Discard, io.LimitReader(rc, 1<<30))
	rc.Close()
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("io.Copy with a wrong sha256 = %v, want ErrChecksum", err)
	}

	short := ref
	short.Size--
	_, err = st.Get(ctx, short)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("Get with a wrong size = %v, want ErrChecksum", err)
	}

	malformed := ref
	malformed.SHA256 = "xyz"
	if _, err := st.Get(ctx, malformed); err == nil {
		t.Fatal("Get with a malformed sha256 succeeded")
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	st := newStore(t, "")
	ctx := context.Background()
	ref := scan.BlobRef{Bucket: st.Bucket(), Key: "test/missing", Size: 1, SHA256: sum([]byte("x"))}
	if _, err := st.Get(ctx, ref); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key = %v, want ErrNotFound", err)
	}
	if _, _, err := st.Open(ctx, "test/missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of a missing key = %v, want ErrNotFound", err)
	}

	ref2, err := st.Put(ctx, "test/deleted", strings.NewReader("x"), 1, "text/plain")
	must(t, err)
	must(t, st.Delete(ctx, "test/deleted"))
	if _, err := st.Get(ctx, ref2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a deleted key = %v, want ErrNotFound", err)
	}
	must(t, st.Delete(ctx, "test/deleted")) // deleting again is fine

	other := newStore(t, "no-such-bucket")
	if _, _, err := other.Open(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open in a missing bucket = %v, want ErrNotFound", err)
	}
}

func TestEnsureBucket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStore(t, "ensure-bucket-test")
	must(t, st.EnsureBucket(ctx))
	must(t, st.EnsureBucket(ctx)) // exists now
	ref, err := st.Put(ctx, scan.ExportKey(1, "results.csv"), strings.NewReader("a,b\n"), -1, "text/csv")
	must(t, err)
	if ref.Bucket != "ensure-bucket-test" {
		t.Fatalf("ref = %+v", ref)
	}
	must(t, newStore(t, "").EnsureBucket(ctx)) // made by devstack
}

func TestNewRequiresEndpointAndBucket(t *testing.T) {
	if _, err := New(Config{Bucket: "b"}); err == nil {
		t.Error("New without an endpoint succeeded")
	}
	if _, err := New(Config{Endpoint: "127.0.0.1:1"}); err == nil {
		t.Error("New without a bucket succeeded")
	}
}

func TestDeletePrefix(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, "delete-prefix")
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"runs/7/1/1/nmap.xml", "runs/7/export/results.csv", "runs/70/1/1/nmap.xml", "runs/8/x"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), 1, "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeletePrefix(ctx, "runs/7/")
	if err != nil || n != 2 {
		t.Fatalf("DeletePrefix = %d, %v; want 2", n, err)
	}
	for key, exists := range map[string]bool{"runs/7/1/1/nmap.xml": false, "runs/7/export/results.csv": false, "runs/70/1/1/nmap.xml": true, "runs/8/x": true} {
		_, _, err := s.Open(ctx, key)
		if (err == nil) != exists {
			t.Errorf("%s: exists %v, want %v (%v)", key, err == nil, exists, err)
		}
	}
	if n, err := s.DeletePrefix(ctx, "runs/7/"); err != nil || n != 0 {
		t.Errorf("again: %d, %v", n, err)
	}
	if _, err := s.DeletePrefix(ctx, ""); err == nil {
		t.Error("an empty prefix was accepted")
	}
}
