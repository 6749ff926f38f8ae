package main

import (
	"strings"
	"testing"
)

// A stream as `go test -json` writes it: a passing test, a failing
// subtest (its parent fails with it), a skipped test, then the package.
const stream = `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestGood"}
{"Action":"output","Package":"p","Test":"TestGood","Output":"=== RUN   TestGood\n"}
{"Action":"pass","Package":"p","Test":"TestGood"}
{"Action":"run","Package":"p","Test":"TestParent"}
{"Action":"run","Package":"p","Test":"TestParent/child"}
{"Action":"output","Package":"p","Test":"TestParent/child","Output":"    x_test.go:9: schedule not found\n"}
{"Action":"fail","Package":"p","Test":"TestParent/child"}
{"Action":"output","Package":"p","Test":"TestParent","Output":"--- FAIL: TestParent (0.01s)\n"}
{"Action":"fail","Package":"p","Test":"TestParent"}
{"Action":"skip","Package":"p","Test":"TestSkipped"}
{"Action":"output","Package":"p","Output":"FAIL\n"}
{"Action":"fail","Package":"p"}
`

func TestReportFailures(t *testing.T) {
	var out strings.Builder
	failed, err := report(strings.NewReader(stream), &out, "round 1")
	if err != nil || !failed {
		t.Fatalf("report = %v, %v; want failed", failed, err)
	}
	got := out.String()
	for _, want := range []string{
		"FAIL round 1: p TestParent/child\n        x_test.go:9: schedule not found\n",
		"FAIL round 1: p (package)\n",
		"tests=4 passed=1 failed=2 skipped=1\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "FAIL round 1: p TestParent\n") || strings.Contains(got, "TestGood") {
		t.Errorf("report names a parent of a failed subtest or a passing test:\n%s", got)
	}
}

func TestReportBuildFailure(t *testing.T) {
	var out strings.Builder
	failed, _ := report(strings.NewReader("# p\n./x.go:3:1: syntax error\n"), &out, "")
	if !failed || !strings.Contains(out.String(), "syntax error") {
		t.Errorf("a build failure is not reported: %v\n%s", failed, out.String())
	}
}

func TestReportAllGreen(t *testing.T) {
	var out strings.Builder
	failed, _ := report(strings.NewReader(`{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p"}
`), &out, "")
	if failed || out.String() != "tests=1 passed=1 failed=0 skipped=0\n" {
		t.Errorf("green run reported %v: %q", failed, out.String())
	}
}

// TestReportRepeatedRuns: with go test -count=N a test runs N times under
// one name; a failure in any run is reported, and every run is counted.
func TestReportRepeatedRuns(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: port 2222 missing\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestA"}`,
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"fail","Package":"p"}`,
	}, "\n")
	var out strings.Builder
	failed, err := report(strings.NewReader(in), &out, "")
	if err != nil {
		t.Fatal(err)
	}
	if !failed || !strings.Contains(out.String(), "FAIL p TestA\n") || !strings.Contains(out.String(), "a_test.go:9: port 2222 missing") ||
		!strings.HasSuffix(out.String(), "tests=3 passed=2 failed=1 skipped=0\n") {
		t.Errorf("failed=%v, report:\n%s", failed, out.String())
	}
}
