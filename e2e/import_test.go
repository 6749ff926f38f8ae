package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/report"
)

// importedFile is one file of an import's answer.
type importedFile struct {
	FileName  string         `json:"file_name"`
	SHA256    string         `json:"sha256"`
	Scanner   string         `json:"scanner"`
	Start     time.Time      `json:"start"`
	RunID     int64          `json:"run_id"`
	Status    scan.RunStatus `json:"status"`
	Error     string         `json:"error"`
	HostsUp   int            `json:"hosts_up"`
	OpenPorts int            `json:"open_ports"`
}

// upload posts files (name -> content) to the site's import endpoint and
// returns the status and body.
func (a api) upload(siteID int64, files ...[2]string) (int, []byte) {
	a.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range files {
		w, err := mw.CreateFormFile("file", f[0])
		if err != nil {
			a.t.Fatal(err)
		}
		io.WriteString(w, f[1])
	}
	mw.Close()
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/sites/%d/imports", a.base, siteID), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("import: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// mustImport imports files and waits for every run to complete.
func (a api) mustImport(siteID int64, files ...[2]string) []importedFile {
	a.t.Helper()
	status, data := a.upload(siteID, files...)
	if status != http.StatusCreated && status != http.StatusAccepted {
		a.t.Fatalf("import = %d %s", status, data)
	}
	var out struct {
		Runs []importedFile `json:"runs"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		a.t.Fatalf("import answer %s: %v", data, err)
	}
	for _, r := range out.Runs {
		if v := a.waitRun(r.RunID, 2*time.Minute, nil); v.Status != scan.RunCompleted {
			a.t.Fatalf("imported run %d (%s) is %s: %s", r.RunID, r.FileName, v.Status, v.Error)
		}
	}
	return out.Runs
}

// loopbackScan runs the real nmap against 127.0.0.1, on the ports given,
// and returns its XML. nmap's start time counts in seconds, so each scan
// waits for the next second first: later scans start later.
func loopbackScan(t *testing.T, ports ...int) string {
	t.Helper()
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	var list []string
	for _, p := range ports {
		list = append(list, strconv.Itoa(p))
	}
	return nmapXML(t, "-n", "-Pn", "-sT", "-p", strings.Join(list, ","), "127.0.0.1")
}

// nmapXML runs the real nmap with args (which say -n and the targets) and
// returns its XML.
func nmapXML(t *testing.T, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "scan.xml")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nmap", append(args, "-oX", out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nmap %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// listen opens a TCP port on the loopback until the test ends (or close).
func listen(t *testing.T) (port int, close func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port, func() { ln.Close() }
}

func startTime(t *testing.T, xml string) time.Time {
	t.Helper()
	info, err := report.Parse(strings.NewReader(xml), func(report.Host) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return info.Start
}

// importObjects lists the keys of stored uploads.
func importObjects(t *testing.T) []string {
	t.Helper()
	c, err := minio.New(stack.S3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(stack.S3.AccessKey, stack.S3.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for o := range c.ListObjects(context.Background(), stack.S3.Bucket, minio.ListObjectsOptions{Prefix: "imports/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// TestImportOutOfOrder imports two real nmap scans of the loopback, the
// newer first: the runs take their places by the scans' times, and the
// assets' first and last seen and the diffs come out as if the files had
// been imported oldest first. Refused files (outside the site, bad
// content) keep nothing.
func TestImportOutOfOrder(t *testing.T) {
	_, admin, _ := startServer(t)
	var site scan.Site
	admin.do("POST", "/sites", map[string]any{"name": "import-loopback", "targets": []string{"127.0.0.1"}}, http.StatusCreated, &site)

	p1, close1 := listen(t)
	p2, _ := listen(t)
	old := loopbackScan(t, p1, p2) // both open
	close1()
	newer := loopbackScan(t, p1, p2) // p1 closed since
	tOld, tNew := startTime(t, old), startTime(t, newer)
	if !tOld.Before(tNew) {
		t.Fatalf("scan times %v, %v", tOld, tNew)
	}
	before := len(importObjects(t))

	second := admin.mustImport(site.ID, [2]string{"newer.xml", newer})
	first := admin.mustImport(site.ID, [2]string{"older.xml", old})
	if len(first) != 1 || len(second) != 1 || first[0].Scanner != "nmap" || !first[0].Start.Equal(tOld) || !second[0].Start.Equal(tNew) {
		t.Fatalf("imports: %+v %+v", first, second)
	}
	runOld, runNew := first[0].RunID, second[0].RunID

	// Each run is marked imported, and times as its file says.
	var detail struct {
		runView
		Import *scan.RunImport `json:"import"`
	}
	admin.do("GET", fmt.Sprintf("/runs/%d", runOld), nil, http.StatusOK, &detail)
	if detail.Import == nil || detail.Import.FileName != "older.xml" || detail.Import.ImportedBy != adminUser || detail.Import.SHA256 != first[0].SHA256 ||
		!detail.CreatedAt.Equal(tOld) || detail.HostsUp != 1 || detail.OpenPorts != 2 {
		t.Fatalf("older run: %+v import %+v", detail.Run, detail.Import)
	}
	// The original file is kept and served as the run's raw output.
	if raw := admin.download(fmt.Sprintf("/runs/%d/raw", runOld)); string(raw) != old {
		t.Fatalf("raw output of the older run differs from its file (%d bytes)", len(raw))
	}

	// Diffs: the older run is the first; the newer one is diffed against it.
	var dOld, dNew scan.Diff
	admin.do("GET", fmt.Sprintf("/runs/%d/diff", runOld), nil, http.StatusOK, &dOld)
	admin.do("GET", fmt.Sprintf("/runs/%d/diff", runNew), nil, http.StatusOK, &dNew)
	if dOld.PreviousRunID != nil || len(dOld.Changes) != 0 {
		t.Fatalf("diff of the older run: %+v", dOld)
	}
	if dNew.PreviousRunID == nil || *dNew.PreviousRunID != runOld || dNew.Counts.ClosedPorts != 1 || dNew.Counts.OpenedPorts != 0 ||
		len(dNew.Changes) != 1 || dNew.Changes[0].Port != p1 {
		t.Fatalf("diff of the newer run: %+v", dNew)
	}

	// Assets: first seen by the older file, last seen by the newer; p1
	// closed by the newer scan, p2 still open.
	var page struct {
		Assets []scan.AssetHost `json:"assets"`
	}
	admin.do("GET", fmt.Sprintf("/sites/%d/assets", site.ID), nil, http.StatusOK, &page)
	assets := page.Assets
	if len(assets) != 1 || assets[0].Address != "127.0.0.1" || assets[0].State != "up" ||
		!assets[0].FirstSeen.Equal(tOld) || !assets[0].LastSeen.Equal(tNew) {
		t.Fatalf("asset hosts: %+v", assets)
	}
	ports := map[int]scan.AssetPort{}
	for _, p := range assets[0].Ports {
		ports[p.Port] = p
	}
	if p := ports[p1]; p.State != "closed" || !p.FirstSeen.Equal(tOld) || !p.LastSeen.Equal(tOld) {
		t.Fatalf("port %d: %+v", p1, p)
	}
	if p := ports[p2]; p.State != "open" || !p.FirstSeen.Equal(tOld) || !p.LastSeen.Equal(tNew) {
		t.Fatalf("port %d: %+v", p2, p)
	}

	// The import scan holds both, and never runs.
	var sc scan.Scan
	admin.do("GET", fmt.Sprintf("/scans/%d", detail.ScanID), nil, http.StatusOK, &sc)
	if sc.Imports != scan.Nmap || sc.SiteID != site.ID {
		t.Fatalf("import scan: %+v", sc)
	}
	admin.do("POST", fmt.Sprintf("/scans/%d/runs", sc.ID), nil, http.StatusConflict, nil)

	// Refused: a host outside the site, named; a cut-off file; not XML.
	var outside scan.Site
	admin.do("POST", "/sites", map[string]any{"name": "import-elsewhere", "targets": []string{"127.0.0.2"}}, http.StatusCreated, &outside)
	for _, c := range []struct {
		site   int64
		file   string
		status int
		says   string
	}{
		{outside.ID, old, http.StatusUnprocessableEntity, "127.0.0.1"},
		{site.ID, old[:len(old)/2], http.StatusUnprocessableEntity, "cut off"},
		{site.ID, "not a scan", http.StatusUnprocessableEntity, "not nmap XML"},
		{site.ID, "", http.StatusBadRequest, "empty"},
	} {
		status, body := admin.upload(c.site, [2]string{"bad.xml", c.file})
		if status != c.status || !strings.Contains(string(body), c.says) {
			t.Errorf("upload of %.20q to site %d = %d %s, want %d saying %q", c.file, c.site, status, body, c.status, c.says)
		}
	}
	var runs []scan.Run
	admin.do("GET", fmt.Sprintf("/runs?scan_id=%d", sc.ID), nil, http.StatusOK, &runs)
	if len(runs) != 2 {
		t.Errorf("import scan has %d runs after refused imports, want 2", len(runs))
	}
	if after := len(importObjects(t)); after != before+2 {
		t.Errorf("%d stored uploads after two imports and four refusals, want %d", after, before+2)
	}
}

// TestImportMasscanAndLimit imports masscan's XML and JSON output as
// several runs in one request, through the CLI, and refuses a file over
// the server's import limit with 413, keeping nothing.
func TestImportMasscanAndLimit(t *testing.T) {
	base, admin, _ := startServer(t, "SCANTRON_IMPORT_MAX_BYTES=4096")
	var site scan.Site
	admin.do("POST", "/sites", map[string]any{"name": "import-masscan", "targets": []string{"198.18.0.0/24", "2001:db8::/120"}}, http.StatusCreated, &site)

	dir := t.TempDir()
	var files []string
	for _, name := range []string{"masscan.json", "masscan.xml"} {
		b, err := os.ReadFile(filepath.Join("..", "scan", "report", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 4096 {
			t.Fatalf("fixture %s is %d bytes, over the test's limit", name, len(b))
		}
		files = append(files, filepath.Join(dir, name))
		if err := os.WriteFile(files[len(files)-1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := cli{t: t, config: t.TempDir(), env: []string{"SCANTRON_URL=" + base, "SCANTRON_TOKEN=" + admin.token}}
	out := c.must("", append([]string{"import", "--site", site.Name}, files...)...)
	if !strings.Contains(out, "masscan.json") || !strings.Contains(out, "masscan.xml") || strings.Count(out, "completed") != 2 {
		t.Fatalf("scantron import:\n%s", out)
	}
	var runs []scan.Run
	admin.do("GET", "/runs", nil, http.StatusOK, &runs)
	var mine []scan.Run
	for _, r := range runs {
		var detail struct {
			Import *scan.RunImport `json:"import"`
		}
		admin.do("GET", fmt.Sprintf("/runs/%d", r.ID), nil, http.StatusOK, &detail)
		if detail.Import != nil && strings.HasPrefix(detail.Import.FileName, "masscan.") {
			mine = append(mine, r)
		}
	}
	if len(mine) != 2 {
		t.Fatalf("%d masscan imports listed", len(mine))
	}
	for _, r := range mine {
		if r.Status != scan.RunCompleted || r.HostsUp == 0 {
			t.Errorf("masscan import run %d: %+v", r.ID, r)
		}
	}

	// Over the limit: 413, and neither a run nor an object stays.
	before := len(importObjects(t))
	big := strings.Repeat(" ", 5000) + `<?xml version="1.0"?><nmaprun scanner="nmap" start="1700000000"></nmaprun>`
	status, body := admin.upload(site.ID, [2]string{"big.xml", big})
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "big.xml") {
		t.Fatalf("upload over the limit = %d %s", status, body)
	}
	if after := len(importObjects(t)); after != before {
		t.Fatalf("%d stored uploads after a refused one, had %d", after, before)
	}
	if code, _, errOut := c.run("", "import", "--site", site.Name, filepath.Join(dir, "missing.xml")); code == 0 || !strings.Contains(errOut, "missing.xml") {
		t.Fatalf("import of a missing file: exit %d %s", code, errOut)
	}
}
