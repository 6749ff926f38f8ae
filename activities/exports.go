package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/scantron/scantron/scan"
)

// ExportTarget is a place outside Scantron's own storage that receives a copy
// of each run's exports, for Splunk or Elastic forwarders to pick up. A file
// must appear there whole or not at all.
type ExportTarget interface {
	Write(ctx context.Context, name string, r io.Reader) error
	// Remove deletes the file called name; a missing one is no error.
	Remove(ctx context.Context, name string) error
	String() string
}

func (r *Results) copyToTarget(ctx context.Context, t ExportTarget, name string, ref scan.BlobRef) error {
	body, err := r.Objects.Get(ctx, ref)
	if err != nil {
		return err
	}
	defer body.Close()
	return t.Write(ctx, name, body)
}

// DirTarget writes exports into a directory: each file is written under a
// hidden temporary name in the same directory, synced, then renamed, so a
// watcher sees only complete files (and should ignore names starting with
// a dot). Writing a name again replaces the file.
type DirTarget struct {
	Dir string
}

func (d DirTarget) String() string { return "directory " + d.Dir }

func (d DirTarget) Write(_ context.Context, name string, r io.Reader) error {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("bad export file name %q", name)
	}
	tmp, err := os.CreateTemp(d.Dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a rename, there is nothing left to remove
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(d.Dir, name)); err != nil {
		return err
	}
	if dir, err := os.Open(d.Dir); err == nil { // make the rename durable
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}

func (d DirTarget) Remove(_ context.Context, name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("bad export file name %q", name)
	}
	if err := os.Remove(filepath.Join(d.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// PrefixTarget writes exports as objects under a key prefix of the object
// store (an S3 upload appears whole or not at all).
type PrefixTarget struct {
	Objects interface {
		Blobs
		Delete(ctx context.Context, key string) error
	}
	Prefix string // e.g. "exports/"; a missing trailing slash is added
}

func (p PrefixTarget) key(name string) string {
	if p.Prefix != "" && !strings.HasSuffix(p.Prefix, "/") {
		return p.Prefix + "/" + name
	}
	return p.Prefix + name
}

func (p PrefixTarget) Remove(ctx context.Context, name string) error {
	return p.Objects.Delete(ctx, p.key(name))
}

func (p PrefixTarget) String() string { return "object prefix " + p.Prefix }

func (p PrefixTarget) Write(ctx context.Context, name string, r io.Reader) error {
	contentType := "application/octet-stream"
	switch path.Ext(name) {
	case ".csv":
		contentType = "text/csv"
	case ".jsonl":
		contentType = "application/jsonl"
	case ".xml":
		contentType = "application/xml"
	}
	_, err := p.Objects.Put(ctx, p.key(name), r, -1, contentType)
	return err
}
