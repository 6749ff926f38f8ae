// Package objects stores blobs — raw scanner output and CSV exports — in
// S3-compatible object storage through minio-go, and hands back
// scan.BlobRef values that carry each object's size and SHA-256 so that a
// reader can tell when an object is not what was written.
package objects

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/scantron/scantron/scan"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrNotFound marks a key (or bucket) that does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrChecksum marks an object whose size or SHA-256 differs from its
	// reference (scan.ErrChecksum).
	ErrChecksum = scan.ErrChecksum
)

// unknownSizePart is the part size used when the size of an upload is not
// known in advance. minio-go buffers one part in memory; its default for an
// unknown size is over 500 MiB. 16 MiB parts allow objects up to ~156 GiB.
const unknownSizePart = 16 << 20

// Config locates a bucket.
type Config struct {
	Endpoint  string // host:port, no scheme
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string // "" is us-east-1, which most S3-compatible servers use
	UseTLS    bool
}

// Store reads and writes objects of one bucket. It is safe for concurrent
// use.
type Store struct {
	client *minio.Client
	bucket string
	region string
}

// New makes a client for cfg. It does not contact the server; see
// EnsureBucket. Addressing is path-style, which every S3-compatible server
// supports and which needs no DNS per bucket.
func New(cfg Config) (*Store, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("objects: endpoint and bucket are required")
	}
	if cfg.Region == "" {
		// Presigning needs the region; without one minio-go would ask the
		// server, which the agents' name for it may not reach from here.
		cfg.Region = "us-east-1"
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.UseTLS,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("objects: %w", err)
	}
	return &Store{client: client, bucket: cfg.Bucket, region: cfg.Region}, nil
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string {
	return s.bucket
}

// EnsureBucket creates the bucket if it does not exist.
func (s *Store) EnsureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("objects: check bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	if err != nil {
		// Another server may have made it in the meantime.
		switch minio.ToErrorResponse(err).Code {
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			return nil
		}
		return fmt.Errorf("objects: create bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put uploads r under key and returns its reference, with the SHA-256
// computed while streaming. size may be -1 when unknown; the upload is then
// multipart with parts of bounded size.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (scan.BlobRef, error) {
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(r, h)}
	opts := minio.PutObjectOptions{ContentType: contentType}
	if size < 0 {
		size = -1
		opts.PartSize = unknownSizePart
	}
	info, err := s.client.PutObject(ctx, s.bucket, key, cr, size, opts)
	if err != nil {
		return scan.BlobRef{}, fmt.Errorf("objects: put %s: %w", key, mapErr(err))
	}
	// The hash covers exactly the bytes read; they must be the bytes stored.
	if info.Size != cr.n || (size >= 0 && size != cr.n) {
		return scan.BlobRef{}, fmt.Errorf("objects: put %s: stored %d bytes but read %d (declared %d)", key, info.Size, cr.n, size)
	}
	return scan.BlobRef{Bucket: s.bucket, Key: key, Size: cr.n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// PutFile uploads the file at path under key.
func (s *Store) PutFile(ctx context.Context, key, path, contentType string) (scan.BlobRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return scan.BlobRef{}, fmt.Errorf("objects: put %s: %w", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return scan.BlobRef{}, fmt.Errorf("objects: put %s: %w", key, err)
	}
	return s.Put(ctx, key, f, st.Size(), contentType)
}

// Get opens the object ref points at (ref.Bucket, or this store's bucket if
// empty). The reader checks what it delivers: when a Read reaches the end,
// it returns an error wrapping ErrChecksum instead of io.EOF if the size or
// SHA-256 differs from ref. Only a reader read to the end has been checked.
// A size that already differs when the object is opened fails at once.
func (s *Store) Get(ctx context.Context, ref scan.BlobRef) (io.ReadCloser, error) {
	if ref.Key == "" || ref.Size < 0 {
		return nil, fmt.Errorf("objects: get: incomplete blob reference %+v", ref)
	}
	bucket := ref.Bucket
	if bucket == "" {
		bucket = s.bucket
	}
	if !sha256Hex.MatchString(ref.SHA256) {
		return nil, fmt.Errorf("objects: get %s: bad sha256 %q in reference", ref.Key, ref.SHA256)
	}
	obj, size, err := s.open(ctx, bucket, ref.Key)
	if err != nil {
		return nil, err
	}
	if size != ref.Size {
		obj.Close()
		return nil, fmt.Errorf("objects: get %s: %w: size is %d, reference says %d", ref.Key, ErrChecksum, size, ref.Size)
	}
	checked, err := ref.Checked(obj)
	if err != nil {
		obj.Close()
		return nil, fmt.Errorf("objects: %w", err)
	}
	return checked, nil
}

// MaxPresignTTL is the longest a presigned URL can be valid (SigV4 allows
// no more than a week).
const MaxPresignTTL = 7 * 24 * time.Hour

// PresignPut returns a URL that stores an object at key, and nowhere else,
// with a plain HTTP PUT for ttl. The signature covers the method, the
// bucket and the key, so the URL cannot read, list or write anything else.
func (s *Store) PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := checkPresign(key, ttl); err != nil {
		return "", err
	}
	u, err := s.client.PresignedPutObject(ctx, s.bucket, key, ttl)
	if err != nil {
		return "", fmt.Errorf("objects: presign put %s: %w", key, err)
	}
	return u.String(), nil
}

// PresignGet returns a URL that reads the object at key, and nothing else,
// with a plain HTTP GET for ttl.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := checkPresign(key, ttl); err != nil {
		return "", err
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, ttl, nil)
	if err != nil {
		return "", fmt.Errorf("objects: presign get %s: %w", key, err)
	}
	return u.String(), nil
}

func checkPresign(key string, ttl time.Duration) error {
	if key == "" {
		return errors.New("objects: presign: empty key")
	}
	if ttl < time.Second || ttl > MaxPresignTTL {
		return fmt.Errorf("objects: presign %s: validity %s is not between 1s and %s", key, ttl, MaxPresignTTL)
	}
	return nil
}

// Open opens the object at key for download and returns its size. The
// content is not checked.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	obj, size, err := s.open(ctx, s.bucket, key)
	if err != nil {
		return nil, 0, err
	}
	return obj, size, nil
}

func (s *Store) open(ctx context.Context, bucket, key string) (*minio.Object, int64, error) {
	obj, err := s.client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("objects: get %s: %w", key, mapErr(err))
	}
	// Stat sends the GET, so a missing key fails here rather than at the
	// first Read.
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, 0, fmt.Errorf("objects: get %s: %w", key, mapErr(err))
	}
	return obj, info.Size, nil
}

// Delete removes the object at key. Deleting a missing key succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("objects: delete %s: %w", key, mapErr(err))
	}
	return nil
}

// DeletePrefix removes every object whose key starts with prefix, which
// must not be empty, and returns how many it removed.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, errors.New("objects: delete prefix: empty prefix")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	keys := make(chan minio.ObjectInfo)
	n := 0
	listErr := make(chan error, 1)
	go func() {
		defer close(keys)
		for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if obj.Err != nil {
				listErr <- obj.Err
				return
			}
			select {
			case keys <- obj:
				n++ // read only after keys is closed
			case <-ctx.Done():
				return
			}
		}
	}()
	var firstErr error
	for rerr := range s.client.RemoveObjectsWithResult(ctx, s.bucket, keys, minio.RemoveObjectsOptions{}) {
		if rerr.Err != nil && firstErr == nil {
			firstErr = fmt.Errorf("objects: delete %s: %w", rerr.ObjectName, rerr.Err)
		}
	}
	select {
	case err := <-listErr:
		return n, fmt.Errorf("objects: list %s: %w", prefix, mapErr(err))
	default:
	}
	if firstErr != nil {
		return n, firstErr
	}
	return n, nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// mapErr wraps ErrNotFound around S3's "no such key/bucket" answers.
func mapErr(err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchKey", resp.Code == "NoSuchBucket", resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
