package masscan

import (
	"github.com/scantron/scantron/scan/driver"

	"net/netip"
	"strings"
	"testing"

	"github.com/scantron/scantron/scan"
)

func TestArgsResume(t *testing.T) {
	check(t, []argsCase{
		{"seed, index and interactive after banners, before the adapter", []Option{
			WithProfile(profile(t, "-p 80")), WithTargets([]string{"198.18.0.2"}), WithInteractive(),
			WithResumeIndex(1234), WithSeed(42), WithAdapter("veth0", "", ""), WithBanners(),
		}, []string{"--banners", "--seed", "42", "--resume-index", "1234", "--interactive", "--adapter", "veth0", "--range=198.18.0.2", "-p80"}},
		{"seed 0 is a seed", []Option{WithSeed(0)}, []string{"--seed", "0"}},
		{"index 0 is the start: nothing", []Option{WithResumeIndex(0)}, nil},
		{"largest seed", []Option{WithSeed(1<<62 - 1)}, []string{"--seed", "4611686018427387903"}},
	})
}

func spec(t *testing.T, options string, targets ...string) scan.Spec {
	t.Helper()
	opts, err := scan.ParseOptions(scan.Masscan, options)
	if err != nil {
		t.Fatal(err)
	}
	return scan.Spec{RunID: 7, ShardID: 3, Scanner: scan.Masscan, Options: opts, Targets: targets}
}

func TestShardSeed(t *testing.T) {
	a, prof := ShardSeed(spec(t, "-p 80", "198.18.0.0/30"))
	if prof || a >= 1<<62 {
		t.Errorf("derived seed = %d, %v", a, prof)
	}
	if b, _ := ShardSeed(spec(t, "-p 1-100 --rate 5", "198.18.0.9")); b != a {
		t.Errorf("same run and shard, seed %d then %d: every attempt must use one", a, b)
	}
	other := spec(t, "-p 80", "198.18.0.0/30")
	other.ShardID = 4
	if c, _ := ShardSeed(other); c == a {
		t.Errorf("shards 3 and 4 have the same seed %d", c)
	}
	if s, prof := ShardSeed(spec(t, "-p 80 --seed 5 --seed 99", "198.18.0.1")); s != 99 || !prof {
		t.Errorf("profile seed = %d, %v; want the last, 99", s, prof)
	}
}

func TestResumePlan(t *testing.T) {
	for _, tt := range []struct {
		options string
		targets []string
		probes  uint64
		wait    float64
	}{
		{"-p 80", []string{"198.18.0.2"}, 1, 10},
		{"-p 1000-2000", []string{"198.18.0.2"}, 1001, 10},
		{"-p 80,443 --wait 3", []string{"198.18.0.0/30", "198.18.0.9"}, 10, 3},
		{"-p 1-10,5-20,U:53,T:22", []string{"198.18.0.0/24"}, 256 * 22, 10},
		{"-p 80 --ports 80-81 --retries 0", []string{"198.18.0.1-198.18.0.3"}, 6, 10},
	} {
		p, why := ResumePlan(spec(t, tt.options, tt.targets...))
		if why != "" || p.Probes != tt.probes || p.Wait != tt.wait {
			t.Errorf("ResumePlan(%q, %v) = %+v, %q; want %d probes, wait %v", tt.options, tt.targets, p, why, tt.probes, tt.wait)
		}
	}
	for _, tt := range []struct {
		options string
		target  string
		why     string
	}{
		{"--top-ports 100", "198.18.0.1", "--top-ports"},
		{"-p 80 --ping", "198.18.0.1", "--ping"},
		{"-p 80 --retries 2", "198.18.0.1", "--retries"},
		{"-p 80 --banners", "198.18.0.1", "--banners"},
		{"-p 80 --shard 1/2", "198.18.0.1", "--shard"},
		{"-p http", "198.18.0.1", "http"},
		{"-p 80", "2001:db8::/126", "IPv6"},
		{"--rate 10", "198.18.0.1", "no ports"},
	} {
		_, why := ResumePlan(spec(t, tt.options, tt.target))
		if why == "" || !strings.Contains(strings.ReplaceAll(why, "not IPv4", "IPv6"), tt.why) {
			t.Errorf("ResumePlan(%q, %s) why = %q, want it to mention %q", tt.options, tt.target, why, tt.why)
		}
	}
}

func TestResumeIndex(t *testing.T) {
	p := Plan{Probes: 100000, Wait: 10}
	for _, tt := range []struct {
		pct, rate float64
		want      uint64
	}{
		// 50% of 100000 sent, less 10 s at 100 pps, less the rounding
		// of the percent (5), less 1.
		{50, 100, 50000 - 1000 - 5 - 1},
		{50, 0, 50000 - 5 - 1},
		{0.5, 100, 0}, // the margin is larger than what was sent
		{0, 100, 0},
		{-3, 100, 0},
		{150, 0, 100000 - 5 - 1}, // never past the end
	} {
		if got := p.ResumeIndex(tt.pct, tt.rate); got != tt.want {
			t.Errorf("ResumeIndex(%v%%, %v pps) = %d, want %d", tt.pct, tt.rate, got, tt.want)
		}
	}
	if got := (Plan{Probes: 1001, Wait: 0}).ResumeIndex(45.05, 50); got != 450-0-1-1 {
		t.Errorf("small plan: ResumeIndex = %d", got)
	}
}

func TestParseStatus(t *testing.T) {
	for _, tt := range []struct {
		line string
		want Status
		ok   bool
	}{
		{"rate:  0.05-kpps,  2.20% done,   0:04:39 remaining, found=0", Status{2.2, 50}, true},
		{"rate: 10.00-kpps, 100.00% done, waiting 3-secs, found=12", Status{100, 10000}, true},
		{"rate:  0.00-kpps,  0.10% done,21371:06:29 remaining, found=0", Status{0.1, 0}, true},
		{"Scanning 1 hosts [1001 ports/host]", Status{}, false},
		{"rate: fast", Status{}, false},
		{"", Status{}, false},
	} {
		got, ok := ParseStatus(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseStatus(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseScanning(t *testing.T) {
	if n, ok := ParseScanning("Scanning 256 hosts [21 ports/host]"); !ok || n != 5376 {
		t.Errorf("ParseScanning = %d, %v", n, ok)
	}
	if n, ok := ParseScanning("Scanning 1 hosts [1 port/host]"); !ok || n != 1 {
		t.Errorf("ParseScanning one port = %d, %v", n, ok)
	}
	if _, ok := ParseScanning("Initiating SYN Stealth Scan"); ok {
		t.Error("ParseScanning took another line")
	}
}

func TestParseDiscovered(t *testing.T) {
	got, ok := ParseDiscovered("Discovered open port 1500/tcp on 198.18.219.2")
	if want := (Found{netip.MustParseAddr("198.18.219.2"), "tcp", 1500}); !ok || got != want {
		t.Errorf("ParseDiscovered = %+v, %v; want %+v", got, ok, want)
	}
	if got, ok := ParseDiscovered("Discovered open port 53/udp on 198.18.0.9"); !ok || got.Protocol != "udp" || got.Port != 53 {
		t.Errorf("udp: %+v, %v", got, ok)
	}
	for _, bad := range []string{"Discovered open port 99999/tcp on 198.18.0.1", "Discovered open port 80/tcp on nowhere", "Banner on port 80/tcp on 198.18.0.1: [http] x"} {
		if _, ok := ParseDiscovered(bad); ok {
			t.Errorf("ParseDiscovered(%q) accepted", bad)
		}
	}
}

func TestLines(t *testing.T) {
	var got []string
	w := &driver.Lines{Fn: func(s string) { got = append(got, s) }}
	for _, chunk := range []string{"Starting masscan\nScanning 1 hosts [3 ports/host]\nrate:  0.05-kpps,  2.20% done  ", "     \rrate: 0.05-kpps, 4.", "10% done\r\n", "Discovered open port 80/tcp on 198.18.0.2      \nlast"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	want := []string{"Starting masscan", "Scanning 1 hosts [3 ports/host]", "rate:  0.05-kpps,  2.20% done", "rate: 0.05-kpps, 4.10% done", "Discovered open port 80/tcp on 198.18.0.2", "last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q\nwant    %q", got, want)
	}
}
