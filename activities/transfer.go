package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/scantron/scantron/scan"
)

// An agent holds no object storage credentials: each dispatched spec
// carries presigned URLs for exactly its attempt's objects (the scanner's
// output and the resume state, and a read of an earlier attempt's resume
// state), and the agent uses them with plain HTTP.

// shardObjects stores and reads the objects of one shard attempt through
// the presigned URLs of its dispatch.
type shardObjects struct {
	client *http.Client
	bucket string
	put    map[string]string // key -> presigned PUT URL
	get    map[string]string // key -> presigned GET URL
}

// objectsFor returns the object access of spec's dispatch.
func (a *Agent) objectsFor(spec scan.Spec) *shardObjects {
	o := &shardObjects{client: a.HTTPClient, put: map[string]string{}, get: map[string]string{}}
	if o.client == nil {
		o.client = defaultHTTPClient
	}
	d := spec.Dispatch
	if d == nil {
		return o
	}
	o.bucket = d.Objects.Bucket
	o.put[scan.RawKey(spec.RunID, spec.ShardID, d.Attempt, spec.Scanner)] = d.Objects.OutputPut
	o.put[scan.PartialKey(spec.RunID, spec.ShardID, d.Attempt)] = d.Objects.ResumePut
	if d.Objects.ResumeKey != "" && d.Objects.ResumeGet != "" {
		o.get[d.Objects.ResumeKey] = d.Objects.ResumeGet
	}
	return o
}

// defaultHTTPClient bounds how long one request may hang on a silent
// server; the transfer is retried by the caller.
var defaultHTTPClient = &http.Client{Timeout: 10 * time.Minute}

// PutFile uploads the file at path to key's presigned URL and returns its
// reference, with the SHA-256 of what was sent.
func (o *shardObjects) PutFile(ctx context.Context, key, path, contentType string) (scan.BlobRef, error) {
	u, ok := o.put[key]
	if !ok || u == "" {
		return scan.BlobRef{}, fmt.Errorf("put %s: the dispatch grants no upload of this key", key)
	}
	f, err := os.Open(path)
	if err != nil {
		return scan.BlobRef{}, fmt.Errorf("put %s: %w", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return scan.BlobRef{}, fmt.Errorf("put %s: %w", key, err)
	}
	h := sha256.New()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, io.TeeReader(f, h))
	if err != nil {
		return scan.BlobRef{}, fmt.Errorf("put %s: %w", key, err)
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", contentType)
	// A retried request must send the file from its start.
	req.GetBody = func() (io.ReadCloser, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		h.Reset()
		return io.NopCloser(io.TeeReader(f, h)), nil
	}
	if st.Size() == 0 {
		// An empty file (masscan's output of a range where nothing
		// answered) is sent with "Content-Length: 0": a zero length with
		// a body would go chunked, which S3 refuses with 411.
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return scan.BlobRef{}, fmt.Errorf("put %s: %w", key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return scan.BlobRef{}, fmt.Errorf("put %s: %w", key, statusError(resp))
	}
	return scan.BlobRef{Bucket: o.bucket, Key: key, Size: st.Size(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Get reads the object ref names through its presigned URL; the reader
// checks size and SHA-256 against ref when it reaches the end.
func (o *shardObjects) Get(ctx context.Context, ref scan.BlobRef) (io.ReadCloser, error) {
	u, ok := o.get[ref.Key]
	if !ok {
		return nil, fmt.Errorf("get %s: the dispatch grants no read of this key", ref.Key)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref.Key, err)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref.Key, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, fmt.Errorf("get %s: %w", ref.Key, statusError(resp))
	}
	checked, err := ref.Checked(resp.Body)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	return checked, nil
}

// statusError describes an S3 error answer: its status and the start of
// its body, which names the S3 error code.
func statusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("object storage answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
}
