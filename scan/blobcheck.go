package scan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// ErrChecksum marks an object whose size or SHA-256 differs from its
// reference.
var ErrChecksum = errors.New("object checksum mismatch")

// Checked wraps r, the content of the object b refers to, so that the Read
// that reaches its end returns an error wrapping ErrChecksum instead of
// io.EOF if what was read is not b's size and SHA-256. Only a reader read to
// the end has been checked. A reference without a valid SHA-256 is an
// error.
func (b BlobRef) Checked(r io.ReadCloser) (io.ReadCloser, error) {
	want, err := hex.DecodeString(b.SHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("get %s: bad sha256 %q in reference", b.Key, b.SHA256)
	}
	return &checkedReader{r: r, h: sha256.New(), key: b.Key, want: want, size: b.Size}, nil
}

type checkedReader struct {
	r    io.ReadCloser
	h    hash.Hash
	n    int64
	key  string
	want []byte
	size int64
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if err == io.EOF {
		if c.n != c.size {
			return n, fmt.Errorf("get %s: %w: read %d bytes, reference says %d", c.key, ErrChecksum, c.n, c.size)
		}
		if got := c.h.Sum(nil); !bytes.Equal(got, c.want) {
			return n, fmt.Errorf("get %s: %w: sha256 is %x, reference says %x", c.key, ErrChecksum, got, c.want)
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.r.Close() }
