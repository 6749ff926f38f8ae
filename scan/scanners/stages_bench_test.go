package scanners

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/scantron/scantron/internal/targethost"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// benchPorts are the ports both ways scan: the listeners' and some closed.
var benchPorts = []string{"-p", "7,9,21,22,80,443,2121,2222,3306,8080"}

// BenchmarkTwoStageDiscovery compares, on a namespace /24 with a few
// listening hosts, a two-stage scan (masscan over the ports, then nmap -sV
// on the pairs found) with nmap -sV over the same ports, each run as the
// agent runs it (the drivers' command lines). It reports each way's
// seconds per scan and their ratio (nmap-only / two-stage: above 1, the
// two stages are faster).
func BenchmarkTwoStageDiscovery(b *testing.B) {
	// Local: nmap's ARP ping drops the silent addresses at once. No ping
	// (-Pn): as across a router that filters pings, where nmap probes
	// every address's ports.
	for _, c := range []struct {
		name   string
		follow []string
	}{
		{"local", []string{"-n", "-sV", "--version-light"}},
		{"no-ping", []string{"-n", "-Pn", "-sV", "--version-light"}},
	} {
		b.Run(c.name, func(b *testing.B) { benchTwoStage(b, c.follow) })
	}
}

func benchTwoStage(b *testing.B, follow []string) {
	for _, bin := range []string{"masscan", "nmap"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("%s is not installed", bin)
		}
	}
	net := targethost.NewSubnet(b, targethost.Options{Name: "bench", Net: 19}, 4)
	machine := driver.Machine{Adapter: net.HostIf, AdapterIP: net.HostIP, RouterMAC: net.MAC}
	run := func(spec scan.Spec) string {
		b.Helper()
		dir := b.TempDir()
		c := driver.Command{Spec: spec, Dir: dir, Output: filepath.Join(dir, "out.xml"), Machine: machine, StatsEvery: time.Minute, PartialEvery: -1}
		argv, err := Argv(c)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.CommandContext(context.Background(), argv[0], argv[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%q: %v: %s", argv, err, out)
		}
		return c.Output
	}
	targets, _ := scan.ParseTargets([]string{net.Prefix})
	var two, one, disc time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		first := scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Masscan, Options: append(benchPorts, "--wait", "1"), Targets: []string{net.Prefix}, Rate: 20000}
		out := run(first)
		f, err := os.Open(out)
		if err != nil {
			b.Fatal(err)
		}
		md, _ := Lookup(scan.Masscan)
		pairs, err := driver.OpenPairs(md, f, targets)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if want := len(net.Hosts) * len(targethost.Services); len(pairs) != want {
			b.Fatalf("masscan found %d pairs, want %d", len(pairs), want)
		}
		disc += time.Since(start)
		nd, _ := Lookup(scan.Nmap)
		second, _, err := driver.SecondStage(first, nd.(driver.PairScanner), follow, 0, pairs)
		if err != nil {
			b.Fatal(err)
		}
		run(second)
		two += time.Since(start)

		start = time.Now()
		run(scan.Spec{RunID: 1, ShardID: 1, Scanner: scan.Nmap, Options: append(append([]string(nil), follow...), benchPorts...), Targets: []string{net.Prefix}})
		one += time.Since(start)
		n++
	}
	b.ReportMetric(disc.Seconds()/float64(n), "discovery-s/scan")
	b.ReportMetric(two.Seconds()/float64(n), "twostage-s/scan")
	b.ReportMetric(one.Seconds()/float64(n), "nmap-s/scan")
	b.ReportMetric(one.Seconds()/two.Seconds(), "nmap/twostage")
}
