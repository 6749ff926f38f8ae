// Command benchparse compares report.Parse with github.com/Ullaakut/nmap/v3's
// Parse on generated nmap XML files of several sizes (10 MB, 100 MB and 1 GB
// by default): throughput, and peak memory as the maximum resident set size
// of a child process that runs one parser on one file. Files are generated
// into a temporary directory and removed afterwards.
//
// Ullaakut's parser needs the whole document in memory and builds a tree
// many times its size; where that would not fit in the memory available
// (estimated from the smaller files), it is skipped with the reason.
//
//	go run ./scan/report/internal/benchparse [-sizes 10MB,100MB,1GB]
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	nmap "github.com/Ullaakut/nmap/v3"

	"github.com/scantron/scantron/scan/report"
	"github.com/scantron/scantron/scan/report/internal/gendoc"
)

type childResult struct {
	Hosts   int     `json:"hosts"`
	Seconds float64 `json:"seconds"`
}

func main() {
	child := flag.String("child", "", "internal: parse -file with this parser (scantron or ullaakut) and print the result")
	file := flag.String("file", "", "internal: the file to parse")
	sizes := flag.String("sizes", "10MB,100MB,1GB", "comma-separated sizes of the generated files")
	memShare := flag.Float64("mem-share", 0.6, "largest share of available memory Ullaakut's parser may be expected to take")
	flag.Parse()
	if *child != "" {
		if err := runChild(*child, *file); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(*sizes, *memShare); err != nil {
		fmt.Fprintln(os.Stderr, "benchparse:", err)
		os.Exit(1)
	}
}

func runChild(parser, file string) error {
	start := time.Now()
	var hosts int
	switch parser {
	case "scantron":
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := report.Parse(f, func(report.Host) error { hosts++; return nil }); err != nil {
			return err
		}
	case "ullaakut":
		// Its API takes the whole document as one []byte.
		doc, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var r nmap.Run
		if err := nmap.Parse(doc, &r); err != nil {
			return err
		}
		hosts = len(r.Hosts)
	default:
		return fmt.Errorf("unknown parser %q", parser)
	}
	return json.NewEncoder(os.Stdout).Encode(childResult{Hosts: hosts, Seconds: time.Since(start).Seconds()})
}

type measurement struct {
	childResult
	maxRSS int64 // bytes
}

func measure(parser, file string) (measurement, error) {
	exe, err := os.Executable()
	if err != nil {
		return measurement{}, err
	}
	cmd := exec.Command(exe, "-child", parser, "-file", file)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return measurement{}, fmt.Errorf("%s on %s: %w", parser, filepath.Base(file), err)
	}
	var m measurement
	if err := json.Unmarshal(out, &m.childResult); err != nil {
		return measurement{}, fmt.Errorf("%s: %w", parser, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return m, nil
}

func run(sizeList string, memShare float64) error {
	var sizes []int64
	for _, s := range strings.Split(sizeList, ",") {
		n, err := parseSize(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		sizes = append(sizes, n)
	}
	dir, err := os.MkdirTemp("", "scantron-benchparse-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "file\tparser\thosts\tMB/s\tpeak RSS\tspeed vs Ullaakut\tmemory vs Ullaakut\t")
	// Ullaakut's peak RSS per input byte: measured on the largest file it
	// parsed so far, and until then about what it is on this shape of
	// document (5.6 at 100 MB), rounded up.
	rssPerByte := 7.0
	for _, size := range sizes {
		path := filepath.Join(dir, fmt.Sprintf("nmap-%d.xml", size))
		actual, err := generate(path, size)
		if err != nil {
			return err
		}
		ours, err := measure("scantron", path)
		if err != nil {
			return err
		}
		mbps := func(m measurement) float64 { return float64(actual) / 1e6 / m.Seconds }
		var theirs *measurement
		skip := ""
		if avail := memAvailable(); avail > 0 && rssPerByte*float64(actual) > memShare*float64(avail) {
			skip = fmt.Sprintf("skipped: would need about %s of memory, %s is available", formatSize(int64(rssPerByte*float64(actual))), formatSize(avail))
		} else {
			m, err := measure("ullaakut", path)
			if err != nil {
				skip = "failed: " + err.Error()
			} else {
				theirs = &m
				rssPerByte = float64(m.maxRSS) / float64(actual)
			}
		}
		name := formatSize(actual)
		if theirs != nil {
			fmt.Fprintf(tw, "%s\tscantron\t%d\t%.1f\t%s\t%.2f×\t%.3f×\t\n", name, ours.Hosts, mbps(ours), formatSize(ours.maxRSS),
				mbps(ours)/mbps(*theirs), float64(ours.maxRSS)/float64(theirs.maxRSS))
			fmt.Fprintf(tw, "%s\tUllaakut/nmap v3\t%d\t%.1f\t%s\t\t\t\n", name, theirs.Hosts, mbps(*theirs), formatSize(theirs.maxRSS))
		} else {
			fmt.Fprintf(tw, "%s\tscantron\t%d\t%.1f\t%s\t\t\t\n", name, ours.Hosts, mbps(ours), formatSize(ours.maxRSS))
			fmt.Fprintf(tw, "%s\tUllaakut/nmap v3\t\t\t\t%s\t\t\n", name, skip)
		}
		fmt.Fprintf(os.Stderr, "benchparse: %s done\n", name)
		os.Remove(path)
	}
	return tw.Flush()
}

// generate writes a document of about size bytes and returns its size.
func generate(path string, size int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	hosts := max(1, int(size/gendoc.HostBytes))
	if err := gendoc.Write(f, hosts); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// memAvailable reads MemAvailable from /proc/meminfo, 0 if unknown.
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(strings.ToUpper(s), u.suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil || n <= 0 {
				break
			}
			return int64(n * float64(u.mult)), nil
		}
	}
	return 0, errors.New("bad size " + strconv.Quote(s) + " (want e.g. 10MB or 1GB)")
}

func formatSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
}
