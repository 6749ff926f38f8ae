package web

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
	"github.com/scantron/scantron/scan/scanners"
	"github.com/scantron/scantron/workflows"
)

// DefaultImportMaxBytes bounds one imported file unless Config says
// otherwise.
const DefaultImportMaxBytes = 256 << 20

// maxImportFiles bounds the files of one import request.
const maxImportFiles = 50

// importWait is how long an import request waits for its runs to be
// recorded before it answers 202 and leaves them to finish.
const importWait = 90 * time.Second

// shownOutsideHosts is how many hosts outside the site a refusal names.
const shownOutsideHosts = 5

// ImportStore is the part of the database imports use.
type ImportStore interface {
	GetSite(ctx context.Context, id int64) (scan.Site, error)
	ListExclusions(ctx context.Context) ([]scan.Exclusion, error)
	ImportScan(ctx context.Context, siteID int64, scanner scan.Scanner) (scan.Scan, error)
	CreateImportedRun(ctx context.Context, in scan.ImportedRun) (scan.Run, error)
	LookupRunImport(ctx context.Context, runID int64) (scan.RunImport, bool, error)
	ImportsInProgress(ctx context.Context, siteID int64) (int, error)
	GetRun(ctx context.Context, id int64) (scan.Run, error)
	DeleteRun(ctx context.Context, id int64) error
}

// ImportObjects stores uploaded files; *objects.Store satisfies it.
type ImportObjects interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (scan.BlobRef, error)
	Open(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Delete(ctx context.Context, key string) error
}

type importHandlers struct {
	base
	store        ImportStore
	objects      ImportObjects // nil: the object store cannot take uploads
	temporal     WorkflowClient
	links        temporalLinks
	maxBytes     int64
	maxAddresses uint64
}

// streamedUploads are the routes whose multipart bodies are read as a
// stream, part by part, rather than parsed whole: the body limit of other
// requests does not apply to them (each file has its own), and a form's
// CSRF token must come first.
var streamedUploads = map[string]bool{
	"/api/v1/sites/:id/imports": true,
	"/sites/:id/import":         true,
}

// multipartKey holds a streamed upload's multipart reader once the CSRF
// check has read the token from its first part.
const multipartKey = "scantron.multipart"

// uploadParts returns the multipart reader of a streamed upload.
func uploadParts(c *gin.Context) (*multipart.Reader, error) {
	if v, ok := c.Get(multipartKey); ok {
		return v.(*multipart.Reader), nil
	}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, badRequest("file: send the files as multipart/form-data, each in a part named \"file\"")
	}
	c.Set(multipartKey, mr)
	return mr, nil
}

// streamedCSRF reads a streamed upload's CSRF token from its first part,
// which a form puts first (the token's field comes before the file's).
func streamedCSRF(c *gin.Context) string {
	mr, err := uploadParts(c)
	if err != nil {
		return ""
	}
	p, err := mr.NextPart()
	if err != nil || p.FormName() != csrfField {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(p, 256))
	return string(b)
}

// ImportedFile is one file of an import and the run it became.
type ImportedFile struct {
	FileName string       `json:"file_name"`
	SHA256   string       `json:"sha256"`
	Size     int64        `json:"size"`
	Scanner  scan.Scanner `json:"scanner"`
	// Start is when the file's scan started, which orders the run among
	// the others.
	Start       time.Time      `json:"start"`
	RunID       int64          `json:"run_id"`
	WorkflowID  string         `json:"workflow_id"`
	Status      scan.RunStatus `json:"status"`
	Error       string         `json:"error,omitempty"`
	HostsUp     int            `json:"hosts_up"`
	OpenPorts   int            `json:"open_ports"`
	TemporalURL string         `json:"temporal_url,omitempty"`
}

// staged is an uploaded file, stored and checked, not yet a run.
type staged struct {
	ImportedFile
	raw scan.BlobRef
	end time.Time
}

// create imports the files of a multipart upload as runs of the site
// (POST /api/v1/sites/:id/imports).
func (h *importHandlers) create(c *gin.Context) error {
	files, status, err := h.importFiles(c)
	if err != nil {
		return err
	}
	c.JSON(status, gin.H{"runs": files})
	return nil
}

// importFiles is the one import operation of the API and the UI: every
// file is streamed to object storage (none above the size limit), then
// read back through the parser scanned runs' output goes through and
// checked; only when all pass does each become a run, in the order of the
// scan times inside them, recorded as a parse again records a run. A
// refused request keeps nothing.
func (h *importHandlers) importFiles(c *gin.Context) ([]ImportedFile, int, error) {
	ctx := c.Request.Context()
	site, err := h.site(c)
	if err != nil {
		return nil, 0, err
	}
	if h.objects == nil {
		return nil, 0, errorf(http.StatusServiceUnavailable, "the server's object storage cannot take uploads")
	}
	mr, err := uploadParts(c)
	if err != nil {
		return nil, 0, err
	}
	var files []*staged
	defer func() {
		// Whatever did not become a run goes.
		for _, f := range files {
			if f.RunID == 0 {
				if derr := h.objects.Delete(context.WithoutCancel(ctx), f.raw.Key); derr != nil {
					h.log.WarnContext(ctx, "deleting a refused upload failed", "key", f.raw.Key, "err", derr)
				}
			}
		}
	}()
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, uploadErr(err)
		}
		if p.FormName() != "file" {
			continue // the form's CSRF token, if it came again
		}
		if len(files) == maxImportFiles {
			return nil, 0, badRequest("file: at most %d files per import", maxImportFiles)
		}
		f, err := h.upload(ctx, p)
		if f != nil {
			files = append(files, f)
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if len(files) == 0 {
		return nil, 0, badRequest("file: no file uploaded (send each in a multipart part named \"file\")")
	}
	excl, err := h.store.ListExclusions(ctx)
	if err != nil {
		return nil, 0, err
	}
	global := make([]string, 0, len(excl))
	for _, e := range excl {
		global = append(global, e.Target)
	}
	resolved, err := scan.ResolveSite(site, global, h.maxAddresses)
	if err != nil {
		return nil, 0, errorf(http.StatusConflict, "site %q cannot take imports: %v", site.Name, err)
	}
	for _, f := range files {
		if err := h.check(ctx, f, site, resolved); err != nil {
			return nil, 0, err
		}
	}
	// One import of a site at a time: each works out its runs' diffs and
	// the site's assets against the runs around them, which another
	// import recording at once would move.
	if n, err := h.store.ImportsInProgress(ctx, site.ID); err != nil {
		return nil, 0, err
	} else if n > 0 {
		return nil, 0, errorf(http.StatusConflict, "site %q has %d imported runs still being recorded; send the files again once they have ended", site.Name, n)
	}
	// Oldest first: each run is diffed against the one before it, and the
	// one after it again, so any order ends the same, but this one does
	// the least work again.
	slices.SortStableFunc(files, func(a, b *staged) int { return a.Start.Compare(b.Start) })
	return h.record(c, site, resolved, files)
}

func (h *importHandlers) site(c *gin.Context) (scan.Site, error) {
	id, err := pathID(c)
	if err != nil {
		return scan.Site{}, err
	}
	site, err := h.store.GetSite(c.Request.Context(), id)
	if err != nil {
		return scan.Site{}, mapErr(err, scan.ErrNotFound, http.StatusNotFound, "site %d does not exist", id)
	}
	return site, nil
}

// upload streams one part to object storage under a key of its own.
func (h *importHandlers) upload(ctx context.Context, p *multipart.Part) (*staged, error) {
	name := cleanFileName(p.FileName())
	key := "imports/" + nonce()
	lr := &fileLimit{r: p, left: h.maxBytes}
	ref, err := h.objects.Put(ctx, key, lr, -1, "application/octet-stream")
	if err != nil {
		// The object may exist in part (a multipart upload aborted).
		_ = h.objects.Delete(context.WithoutCancel(ctx), key)
		switch {
		case lr.over:
			return nil, errorf(http.StatusRequestEntityTooLarge, "file %q is larger than the import limit of %d bytes (SCANTRON_IMPORT_MAX_BYTES)", name, h.maxBytes)
		case lr.err != nil:
			return nil, uploadErr(lr.err)
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		h.log.ErrorContext(ctx, "storing an upload failed", "key", key, "err", err)
		return nil, errorf(http.StatusServiceUnavailable, "file %q could not be stored (is object storage reachable?); nothing was imported", name)
	}
	return &staged{ImportedFile: ImportedFile{FileName: name, SHA256: ref.SHA256, Size: ref.Size}, raw: ref}, nil
}

// nonce is 16 random hex digits.
func nonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// uploadErr says what went wrong reading an upload: a body over the
// request's bound, a client gone, or a body that is not well-formed
// multipart.
func uploadErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(mbe.Limit)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return badRequest("file: the multipart body cannot be read: %v", err)
}

// fileLimit reads at most left bytes and fails, marking over, if there are
// more; err keeps what reading the upload itself failed with.
type fileLimit struct {
	r    io.Reader
	left int64
	over bool
	err  error
}

var errFileTooLarge = errors.New("file is larger than the import limit")

func (l *fileLimit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.over = true
			return 0, errFileTooLarge
		}
		return 0, l.keep(err)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, l.keep(err)
}

func (l *fileLimit) keep(err error) error {
	if err != nil && !errors.Is(err, io.EOF) {
		l.err = err
	}
	return err
}

// cleanFileName keeps a file name fit to show and store: its base name,
// printable, at most 200 characters.
func cleanFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	if name == "" {
		name = "upload"
	}
	return name
}

// check reads a stored upload through the parser and limits that scanned
// runs' output goes through, and refuses it unless it is whole nmap or
// masscan output that says when its scan started and has no host outside
// the site.
func (h *importHandlers) check(ctx context.Context, f *staged, site scan.Site, resolved scan.Resolved) error {
	if f.Size == 0 {
		return badRequest("file %q is empty", f.FileName)
	}
	body, _, err := h.objects.Open(ctx, f.raw.Key)
	if err != nil {
		return err
	}
	defer body.Close()
	br := bufio.NewReaderSize(body, 4096)
	sniffed := report.SniffScanner(br)
	inSite := scan.CoverageOf([][]string{resolved.Targets}, nil)
	excluded := scan.CoverageOf([][]string{resolved.Excludes}, nil)
	var outside []string
	outsideCount := 0
	info, err := report.ParseAny(br, func(host report.Host) error {
		addr := host.IP()
		if addr == "" {
			return nil // stored as skipped, as a scanned run's
		}
		var names []string
		for _, n := range host.Hostnames {
			names = append(names, n.Name)
		}
		if inSite.CoversHost(addr, names) && !excluded.CoversHost(addr, names) {
			return nil
		}
		outsideCount++
		if len(outside) < shownOutsideHosts && !slices.Contains(outside, addr) {
			outside = append(outside, addr)
		}
		return nil
	})
	switch {
	case errors.Is(err, report.ErrTruncated):
		return errorf(http.StatusUnprocessableEntity, "file %q is cut off before the end of its scanner output: %v", f.FileName, err)
	case errors.Is(err, report.ErrMalformed):
		return errorf(http.StatusUnprocessableEntity, "file %q is not nmap XML or masscan XML/JSON output: %v", f.FileName, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("file %q is empty", f.FileName)
	case err != nil:
		return err
	}
	scanner := scan.Scanner(info.Scanner)
	if scanner == "" {
		scanner = scan.Scanner(sniffed)
	}
	// Any scanner Scantron drives: its output reads as the stored output
	// of one of its runs does (for zmap, the XML its agent stores).
	if _, err := scanners.Lookup(scanner); err != nil {
		return errorf(http.StatusUnprocessableEntity, "file %q was written by %q; only output of %s can be imported", f.FileName, info.Scanner, scan.ScannerList())
	}
	if sniffed != string(scanner) {
		// A parse again reads the scanner from the file's first bytes.
		return errorf(http.StatusUnprocessableEntity, "file %q does not name its scanner in its first 4 KiB", f.FileName)
	}
	if info.Start.IsZero() {
		return errorf(http.StatusUnprocessableEntity, "file %q does not say when its scan started (nmaprun start, or masscan timestamps)", f.FileName)
	}
	if outsideCount > 0 {
		more := ""
		if outsideCount > len(outside) {
			more = fmt.Sprintf(" (%d hosts in all)", outsideCount)
		}
		return errorf(http.StatusUnprocessableEntity, "file %q has hosts outside site %q's targets and exclusions: %s%s; nothing was imported",
			f.FileName, site.Name, strings.Join(outside, ", "), more)
	}
	f.Scanner, f.Start, f.end = scanner, info.Start.UTC(), info.End.UTC()
	if info.End.IsZero() || info.End.Before(info.Start) {
		f.end = f.Start
	}
	return nil
}

// record makes each checked file a run of the site's import scan, then
// records them all, in order, in one workflow, and waits a while for it.
// If Temporal cannot be reached, the runs and files go again.
func (h *importHandlers) record(c *gin.Context, site scan.Site, resolved scan.Resolved, files []*staged) ([]ImportedFile, int, error) {
	ctx := c.Request.Context()
	by := ""
	if p := who(c); p != nil {
		by = p.user.Name
	}
	wid := workflows.ImportWorkflowID(nonce())
	var in workflows.ImportInput
	undo := func() {
		for _, f := range files {
			if f.RunID == 0 {
				continue
			}
			if err := h.store.DeleteRun(context.WithoutCancel(ctx), f.RunID); err != nil {
				h.log.ErrorContext(ctx, "deleting the run of a failed import failed", "run_id", f.RunID, "err", err)
			}
			f.RunID = 0 // and its file goes with the others
		}
	}
	for i, f := range files {
		sc, err := h.store.ImportScan(ctx, site.ID, f.Scanner)
		if err == nil && sc.Imports == "" {
			err = fmt.Errorf("scan %d of site %d is not an import scan", sc.ID, site.ID)
		}
		if err != nil {
			undo()
			return nil, 0, err
		}
		f.WorkflowID = workflows.ImportRunWorkflowID(wid, i)
		run, err := h.store.CreateImportedRun(ctx, scan.ImportedRun{
			ScanID: sc.ID, WorkflowID: f.WorkflowID, Start: f.Start, End: f.end, Targets: resolved,
			Raw: f.raw, FileName: f.FileName, ImportedBy: by,
		})
		if err != nil {
			undo()
			return nil, 0, err
		}
		f.RunID, f.Status, f.TemporalURL = run.ID, run.Status, h.links.Workflow(wid)
		in.Runs = append(in.Runs, workflows.ImportedRun{RunID: run.ID, WorkflowID: f.WorkflowID})
	}
	opts := client.StartWorkflowOptions{
		ID:                    wid,
		TaskQueue:             workflows.ServerTaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}
	wf, err := h.temporal.ExecuteWorkflow(ctx, opts, workflows.ImportWorkflow, in)
	if err != nil {
		h.log.ErrorContext(ctx, "starting the import workflow failed", "workflow_id", wid, "err", err)
		undo()
		return nil, 0, errorf(http.StatusServiceUnavailable, "could not start recording the import (is Temporal reachable?); nothing was imported")
	}
	// The answer may come after the server's write timeout: give it the
	// wait and some.
	if err := http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(importWait + time.Minute)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		h.log.WarnContext(ctx, "cannot extend the write deadline of an import", "err", err)
	}
	status := http.StatusCreated
	wctx, cancel := context.WithTimeout(ctx, importWait)
	err = wf.Get(wctx, nil)
	cancel()
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		status = http.StatusAccepted // still recording; the runs show how far
	} else if err != nil {
		h.log.WarnContext(ctx, "the import workflow failed", "workflow_id", wid, "err", err)
	}
	out := make([]ImportedFile, 0, len(files))
	for _, f := range files {
		if r, err := h.store.GetRun(ctx, f.RunID); err == nil {
			f.Status, f.HostsUp, f.OpenPorts, f.Error = r.Status, r.HostsUp, r.OpenPorts, r.Error
		}
		out = append(out, f.ImportedFile)
	}
	return out, status, nil
}
