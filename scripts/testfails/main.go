// Command testfails reads `go test -json` output on stdin and reports every
// test that failed with the output it wrote (its messages), then one
// summary line: "tests=N passed=N failed=N skipped=N". It exits 1 when any
// test or package failed, so that scripts/flaky.sh can tell a red run from
// a green one without parsing free text.
//
// A failure outside any test (a build error, a TestMain that gave up, a
// panic or the -timeout killing the binary) is reported under the
// package's name.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// maxLines bounds how much of a failing test's output is printed: the end
// is where the failure is.
const maxLines = 60

func main() {
	label := flag.String("label", "", "prefix for each reported failure (the round and pass)")
	flag.Parse()
	failed, err := report(os.Stdin, os.Stdout, *label)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testfails:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// report reads the event stream from r and writes the failures and the
// summary to w. It reports whether anything failed.
func report(r io.Reader, w io.Writer, label string) (bool, error) {
	type key struct{ pkg, test string }
	output := map[key][]string{}
	var order []key
	results := map[key]string{}      // "fail" once any run failed (go test -count=N runs a test N times)
	runs := map[key]map[string]int{} // how many runs ended each way
	var stray []string               // lines that are not JSON: build errors and the like
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			stray = append(stray, string(line))
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			if _, seen := output[k]; !seen {
				order = append(order, k)
			}
			output[k] = append(output[k], strings.TrimRight(e.Output, "\n"))
		case "pass", "fail", "skip":
			if _, seen := output[k]; !seen {
				order = append(order, k)
				output[k] = nil
			}
			if results[k] != "fail" {
				results[k] = e.Action
			}
			if runs[k] == nil {
				runs[k] = map[string]int{}
			}
			runs[k][e.Action]++
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}

	var tests, passed, failed, skipped int
	anyFailed := false
	prefix := ""
	if label != "" {
		prefix = label + ": "
	}
	for _, k := range order {
		res := results[k]
		if k.test != "" {
			tests += runs[k]["pass"] + runs[k]["skip"] + runs[k]["fail"]
			passed += runs[k]["pass"]
			skipped += runs[k]["skip"]
		}
		// A test with no result was running when the binary died; the
		// package's own failure says why.
		if res != "fail" {
			continue
		}
		anyFailed = true
		if k.test != "" {
			failed += runs[k]["fail"]
			// A parent fails with its subtests; report only the subtest.
			if slices.ContainsFunc(order, func(o key) bool {
				return o.pkg == k.pkg && strings.HasPrefix(o.test, k.test+"/") && results[o] == "fail"
			}) {
				continue
			}
		}
		name := k.test
		if name == "" {
			name = "(package)"
		}
		lines := output[k]
		if k.test == "" {
			lines = append(stray, lines...)
		}
		if len(lines) > maxLines {
			lines = append([]string{fmt.Sprintf("... %d lines before", len(lines)-maxLines)}, lines[len(lines)-maxLines:]...)
		}
		fmt.Fprintf(w, "FAIL %s%s %s\n", prefix, k.pkg, name)
		for _, l := range lines {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	if len(order) == 0 && len(stray) > 0 {
		// No test ran at all: whatever go test said is the failure.
		anyFailed = true
		fmt.Fprintf(w, "FAIL %s(no test output)\n", prefix)
		for _, l := range stray {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	fmt.Fprintf(w, "tests=%d passed=%d failed=%d skipped=%d\n", tests, passed, failed, skipped)
	return anyFailed, nil
}
