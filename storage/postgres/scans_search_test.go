package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
)

// TestSearchScans: pages of scans by name, the total of what the search
// selects whatever the page, and a search that takes %, _ and \ literally
// and ignores case.
func TestSearchScans(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	f := newFixture(t, st, "srch")
	names := []string{"alpha", "Beta", "gamma", "50%_off", `back\slash`}
	for _, n := range names {
		_, err := st.CreateScan(ctx, scan.Scan{Name: n, SiteID: f.site.ID, ProfileID: f.profile.ID, AgentID: f.agent.ID, Enabled: true})
		must(t, err)
	}
	// By name: 50%_off, Beta, alpha, back\slash, gamma, srch-scan.
	cases := []struct {
		name  string
		f     ScanFilter
		want  string
		total int
	}{
		{"all", ScanFilter{}, `50%_off,Beta,alpha,back\slash,gamma,srch-scan`, 6},
		{"first page", ScanFilter{Limit: 2}, `50%_off,Beta`, 6},
		{"last page", ScanFilter{Limit: 4, Offset: 4}, `gamma,srch-scan`, 6},
		{"past the end", ScanFilter{Limit: 4, Offset: 6}, ``, 6},
		{"any case", ScanFilter{Name: "BET"}, `Beta`, 1},
		{"several", ScanFilter{Name: "a", Limit: 2, Offset: 1}, `alpha,back\slash`, 5},
		{"% literal", ScanFilter{Name: "0%"}, `50%_off`, 1},
		{"_ literal", ScanFilter{Name: "%_o"}, `50%_off`, 1},
		{"_ is no wildcard", ScanFilter{Name: "alph_"}, ``, 0},
		{"% is no wildcard", ScanFilter{Name: "a%a"}, ``, 0},
		{`\ literal`, ScanFilter{Name: `k\s`}, `back\slash`, 1},
	}
	for _, c := range cases {
		got, total, err := st.SearchScans(ctx, c.f)
		must(t, err)
		var gotNames []string
		for _, s := range got {
			gotNames = append(gotNames, s.Name)
		}
		if strings.Join(gotNames, ",") != c.want || total != c.total {
			t.Errorf("%s: %q total %d, want %q total %d", c.name, gotNames, total, c.want, c.total)
		}
	}
}

// TestScanNamesAndCountRuns: names by id for the ids asked (unknown ones
// left out), and run counts of one scan or all.
func TestScanNamesAndCountRuns(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	a := newFixture(t, st, "cnt-a")
	b := newFixture(t, st, "cnt-b")
	for i := range 3 {
		_, err := st.CreateRun(ctx, a.scan.ID, fmt.Sprintf("wf-a-%d", i))
		must(t, err)
	}
	_, err := st.CreateRun(ctx, b.scan.ID, "wf-b")
	must(t, err)
	names, err := st.ScanNames(ctx, []int64{a.scan.ID, b.scan.ID, a.scan.ID, 999999})
	must(t, err)
	if len(names) != 2 || names[a.scan.ID] != "cnt-a-scan" || names[b.scan.ID] != "cnt-b-scan" {
		t.Errorf("ScanNames = %v", names)
	}
	for _, c := range []struct {
		f    RunFilter
		want int
	}{{RunFilter{}, 4}, {RunFilter{ScanID: a.scan.ID, Limit: 1, Offset: 2}, 3}, {RunFilter{ScanID: 999999}, 0}} {
		n, err := st.CountRuns(ctx, c.f)
		must(t, err)
		if n != c.want {
			t.Errorf("CountRuns(%+v) = %d, want %d", c.f, n, c.want)
		}
	}
}
