package activities_test

import (
	"context"
	"encoding/xml"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// The command line CommandLine gives for a shard (what a scan's plan
// shows) is the one RunScan reports, and the one nmap itself records in its
// XML as having run, once the work directory is written as a token.
func TestCommandLineIsWhatRunScanRuns(t *testing.T) {
	f := newFixture(t, "")
	f.agent.MaxRate = 900
	t.Cleanup(func() { f.agent.MaxRate = 0 })
	env := newEnv(f)
	start := f.startRun(t, env, "wf-command-line")
	for _, spec := range start.Specs {
		planned, err := f.agent.CommandLine(spec, activities.ShardDirToken, driver.RawSocketAccess(driver.Command{Binary: f.agent.Binaries[spec.Scanner]}.BinaryOr(spec.Scanner)).NeedsPrivilegedFlag())
		if err != nil {
			t.Fatal(err)
		}
		d := f.dispatch(t, env, start, spec, 1)
		scanned, err := execute[activities.RunScanResult](t, env, f.agent.RunScan, activities.RunScanInput{Spec: d.Spec})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(scanned.Command, planned) {
			t.Errorf("shard %d ran %q, the plan says %q", spec.ShardID, scanned.Command, planned)
		}
		if !slices.Contains(planned, "--max-rate") || !slices.Contains(planned, activities.ShardDirToken+"/out.xml") {
			t.Errorf("planned command lacks the agent's rate cap or the output path: %q", planned)
		}
		ran := nmapArgs(t, scanned.Raw)
		// nmap writes its program as the path it was found at.
		_, ran, _ = strings.Cut(ran, " ")
		ran = regexp.MustCompile(`/\S*/scantron-run\d+-shard\d+-\d+`).ReplaceAllLiteralString(ran, activities.ShardDirToken)
		if want := strings.Join(planned[1:], " "); ran != want {
			t.Errorf("nmap recorded it ran\n%s\nthe plan says\n%s", ran, want)
		}
	}
}

// nmapArgs reads the command line nmap records in its XML output.
func nmapArgs(t *testing.T, ref scan.BlobRef) string {
	t.Helper()
	body, err := objs.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	dec := xml.NewDecoder(body)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			t.Fatal("no nmaprun element")
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "nmaprun" {
			for _, a := range se.Attr {
				if a.Name.Local == "args" {
					return a.Value
				}
			}
		}
	}
}

// CommandLine writes what differs between attempts as tokens, whatever the
// scanner: the same spec in a plan (no run yet, the work directory as a
// token) and in an agent's run (its own ids, a real directory) gives one
// line; a seed the profile sets stays as it is.
func TestCommandLineTokens(t *testing.T) {
	a := &activities.Agent{}
	for _, tt := range []struct {
		spec     scan.Spec
		wantSeed string
	}{
		{scan.Spec{Scanner: scan.Masscan, Options: []string{"-p80"}, Rate: 100, Targets: []string{"198.18.0.0/30"}}, activities.SeedToken},
		{scan.Spec{Scanner: scan.Masscan, Options: []string{"-p80", "--seed=42"}, Rate: 100, Targets: []string{"198.18.0.0/30"}}, ""},
		{scan.Spec{Scanner: scan.Zmap, Options: []string{"-p80"}, Rate: 100, Targets: []string{"198.18.0.0/30"}}, ""},
		{scan.Spec{Scanner: scan.Nmap, Options: []string{"-sT", "-p", "80"}, Targets: []string{"198.18.0.0/30"}}, ""},
	} {
		t.Run(string(tt.spec.Scanner)+" "+strings.Join(tt.spec.Options, " "), func(t *testing.T) {
			planned := tt.spec
			planned.RunID, planned.ShardID = 1, 1
			plan, err := a.CommandLine(planned, activities.ShardDirToken, false)
			if err != nil {
				t.Fatal(err)
			}
			ran := tt.spec
			ran.RunID, ran.ShardID = 7, 3
			got, err := a.CommandLine(ran, t.TempDir(), false)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(plan, got) || slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, os.TempDir()) }) {
				t.Fatalf("plan %q, agent %q", plan, got)
			}
			if slices.Contains(got, activities.SeedToken) != (tt.wantSeed != "") {
				t.Errorf("seed token in %q: want %v", got, tt.wantSeed != "")
			}
			if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, activities.ShardDirToken+"/") }) {
				t.Errorf("no work-directory path in %q", got)
			}
		})
	}
}
