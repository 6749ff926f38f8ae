package masscan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/report"
)

// A retried masscan shard resumes by masscan's own index: every attempt of
// the shard sends its probes in the same order (the same --seed), so how
// far an attempt got is one number. While masscan runs, the agent reads its
// status line (how many of the probes it has sent) and the open ports it
// prints as it finds them (--interactive; its -oX file is written buffered,
// often only at exit). Every PartialEvery it saves the ports found so far
// and carries, with their reference, the seed and a resume index in the
// heartbeat: the probes sent, less those whose answers may still be on
// their way (rate × --wait). A retry, on any agent, starts masscan at that
// index with the same seed and adds the saved ports to its output, each
// port once. A shard whose probes cannot be counted exactly (see
// ResumePlan) starts over, as does one whose saved state is
// unusable.

// masscanPort is one open port found: its address, protocol and number,
// and when.
type masscanPort struct {
	addr  netip.Addr
	proto string
	port  int
	at    time.Time
}

type portKey struct {
	addr  netip.Addr
	proto string
	port  int
}

func (p masscanPort) key() portKey { return portKey{p.addr, p.proto, p.port} }

// masscanTrack follows one masscan attempt: the ports found (earlier
// attempts' first) and how far it got.
type masscanTrack struct {
	plan  Plan
	seed  uint64
	rate  float64 // the spec's rate cap, 0 if none
	start uint64  // the index this attempt began at

	mu      sync.Mutex
	ports   []masscanPort
	seen    map[portKey]bool
	index   uint64 // conservative resume index so far
	percent float64
	wrong   string // why the index cannot be trusted, once known
	onPct   func(float64)
}

func newMasscanTrack(plan Plan, seed uint64, rate float64, start uint64, earlier []masscanPort) *masscanTrack {
	t := &masscanTrack{plan: plan, seed: seed, rate: rate, start: start, index: start, seen: map[portKey]bool{}}
	for _, p := range earlier {
		t.add(p)
	}
	return t
}

func (t *masscanTrack) add(p masscanPort) {
	if !t.seen[p.key()] {
		t.seen[p.key()] = true
		t.ports = append(t.ports, p)
	}
}

// stdoutLine reads one line of masscan's standard output.
func (t *masscanTrack) stdoutLine(line string) {
	f, ok := ParseDiscovered(line)
	if !ok {
		return
	}
	t.mu.Lock()
	t.add(masscanPort{addr: f.Addr, proto: f.Protocol, port: f.Port, at: time.Now()})
	t.mu.Unlock()
}

// stderrLine reads one line of masscan's standard error.
func (t *masscanTrack) stderrLine(line string) {
	if n, ok := ParseScanning(line); ok {
		if n != t.plan.Probes {
			t.mu.Lock()
			t.wrong = fmt.Sprintf("masscan counts %d probes, Scantron %d", n, t.plan.Probes)
			t.mu.Unlock()
		}
		return
	}
	st, ok := ParseStatus(line)
	if !ok {
		return
	}
	t.mu.Lock()
	t.percent = st.Percent
	if i := t.plan.ResumeIndex(st.Percent, max(st.Rate, t.rate)); i > t.index {
		t.index = i
	}
	on := t.onPct
	t.mu.Unlock()
	if on != nil {
		on(st.Percent)
	}
}

// snapshot is the resume index so far and the ports found by then; ports
// found later are included, which only adds ports a retry finds again.
func (t *masscanTrack) snapshot() (index uint64, ports []masscanPort, wrong string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.index, append([]masscanPort(nil), t.ports...), t.wrong
}

// writeMasscanXML writes ports as masscan's XML output would have them:
// one <host> per open port.
func writeMasscanXML(path string, ports []masscanPort, start time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "<?xml version=\"1.0\"?>\n<nmaprun scanner=\"masscan\" start=\"%d\" version=\"1.0-BETA\" xmloutputversion=\"1.03\">\n<scaninfo type=\"syn\" protocol=\"tcp\" />\n", start.Unix())
	for _, p := range ports {
		writeMasscanPort(w, p)
	}
	now := time.Now()
	fmt.Fprintf(w, "<runstats>\n<finished time=\"%d\" timestr=\"%s\" elapsed=\"%d\" />\n<hosts up=\"%d\" down=\"0\" total=\"%d\" />\n</runstats>\n</nmaprun>\n",
		now.Unix(), now.UTC().Format("2006-01-02 15:04:05"), int64(now.Sub(start).Seconds()), len(ports), len(ports))
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeMasscanPort(w *bufio.Writer, p masscanPort) {
	typ := "ipv4"
	if p.addr.Is6() {
		typ = "ipv6"
	}
	reason := "syn-ack"
	if p.proto != "tcp" {
		reason = "response"
	}
	fmt.Fprintf(w, "<host endtime=\"%d\"><address addr=\"%s\" addrtype=\"%s\"/><ports><port protocol=\"%s\" portid=\"%d\"><state state=\"open\" reason=\"%s\" reason_ttl=\"0\"/></port></ports></host>\n",
		p.at.Unix(), html.EscapeString(p.addr.String()), typ, html.EscapeString(p.proto), p.port, reason)
}

// masscanResumed is what earlier attempts of a masscan shard left.
type masscanResumed struct {
	ref   scan.BlobRef
	index uint64
	ports []masscanPort
}

// resumeMasscan reads the previous attempt's last heartbeat and returns
// where to resume and the ports found before, if usable; otherwise nil,
// and the shard is scanned from its start.
func resumeMasscan(ctx context.Context, c driver.Command, plan Plan, seed uint64, h driver.Host) *masscanResumed {
	prev := c.Prev
	if prev == nil || prev.MasscanIndex == 0 || prev.Partial == nil {
		return nil
	}
	log := h.Logger()
	r, err := loadMasscanPartial(ctx, c.Spec, plan, seed, h, *prev)
	if err != nil {
		log.Warn("cannot resume masscan where the earlier attempt got; scanning the whole shard", "shard", c.Spec.ShardID, "key", prev.Partial.Key, "error", err)
		return nil
	}
	log.Info("resuming masscan shard", "shard", c.Spec.ShardID, "index", r.index, "of", plan.Probes, "ports_found", len(r.ports), "key", r.ref.Key)
	return r
}

func loadMasscanPartial(ctx context.Context, spec scan.Spec, plan Plan, seed uint64, h driver.Host, p scan.Progress) (*masscanResumed, error) {
	if p.MasscanSeed != seed {
		return nil, fmt.Errorf("the earlier attempt used seed %d, this shard's is %d", p.MasscanSeed, seed)
	}
	if p.MasscanIndex >= plan.Probes {
		return nil, fmt.Errorf("resume index %d is past the shard's %d probes", p.MasscanIndex, plan.Probes)
	}
	ref := *p.Partial
	if err := driver.ShardKey(spec, ref); err != nil {
		return nil, err
	}
	body, err := h.LoadResume(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	targets, err := scan.ParseTargets(spec.Targets)
	if err != nil {
		return nil, err
	}
	r := &masscanResumed{ref: ref, index: p.MasscanIndex}
	_, err = report.Parse(body, func(h report.Host) error {
		ip, err := netip.ParseAddr(h.IP())
		if err != nil {
			return fmt.Errorf("a host has no IP address (%q)", h.IP())
		}
		if !driver.InTargets(targets, ip, nil) {
			return fmt.Errorf("host %s is not a target of the shard", ip)
		}
		for _, port := range h.Ports {
			r.ports = append(r.ports, masscanPort{addr: ip, proto: port.Protocol, port: port.Number, at: h.End})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// masscanSaver saves, every PartialEvery while masscan runs, the ports
// found so far with the resume index, and names them in the heartbeat.
type masscanSaver struct {
	h     driver.Host
	tmp   string
	track *masscanTrack
	start time.Time
	index uint64 // last saved
	ports int
}

func (s *masscanSaver) save(ctx context.Context) error {
	index, ports, wrong := s.track.snapshot()
	if wrong != "" {
		return errors.New(wrong + "; not resumable")
	}
	if index <= s.index && len(ports) <= s.ports {
		return nil
	}
	if err := writeMasscanXML(s.tmp, ports, s.start); err != nil {
		return err
	}
	ref, err := s.h.SaveResume(ctx, s.tmp)
	if err != nil {
		return err // tried again at the next tick
	}
	s.index, s.ports = index, len(ports)
	s.h.Resumed(driver.Resume{Ref: ref, Hosts: countAddrs(ports), Seed: s.track.seed, Index: index})
	return nil
}

func countAddrs(ports []masscanPort) int {
	seen := map[netip.Addr]bool{}
	for _, p := range ports {
		seen[p.addr] = true
	}
	return len(seen)
}

// withMasscanDone writes to out one masscan document: the ports earlier
// attempts found, then the records of this attempt's output at xmlPath
// except ports already written, so each port is stored once.
func withMasscanDone(done []masscanPort, xmlPath, out string, start time.Time) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	in, err := os.Open(xmlPath)
	if err != nil {
		return err
	}
	defer in.Close()
	seen := map[portKey]bool{}
	n := 0
	header := func(info report.RunInfo) error {
		if !info.Start.IsZero() && info.Start.Before(start) {
			start = info.Start
		}
		fmt.Fprintf(w, "<?xml version=\"1.0\"?>\n<nmaprun scanner=\"masscan\" start=\"%d\" version=\"1.0-BETA\" xmloutputversion=\"1.03\">\n<scaninfo type=\"syn\" protocol=\"tcp\" />\n", start.Unix())
		for _, p := range done {
			if !seen[p.key()] {
				seen[p.key()] = true
				writeMasscanPort(w, p)
				n++
			}
		}
		return nil
	}
	_, err = report.ParseRaw(in, header, func(h report.Host, raw []byte) error {
		ip, _ := netip.ParseAddr(h.IP())
		fresh := len(h.Ports) == 0
		for _, p := range h.Ports {
			k := portKey{ip, p.Protocol, p.Number}
			if !seen[k] || p.Service.Banner != "" {
				fresh = true
			}
			seen[k] = true
		}
		if !fresh {
			return nil
		}
		n++
		_, err := w.Write(append(raw, '\n'))
		return err
	})
	if err != nil {
		return err
	}
	now := time.Now()
	fmt.Fprintf(w, "<runstats>\n<finished time=\"%d\" timestr=\"%s\" elapsed=\"%d\" />\n<hosts up=\"%d\" down=\"0\" total=\"%d\" />\n</runstats>\n</nmaprun>\n",
		now.Unix(), now.UTC().Format("2006-01-02 15:04:05"), int64(now.Sub(start).Seconds()), n, n)
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// masscanPartialPath is where a stopped masscan attempt's ports are written.
func masscanPartialPath(dir string) string { return filepath.Join(dir, "found.xml") }

// attemptOptions are the options every attempt of a masscan shard runs
// with: the seed (the same on every attempt, so probes go in the same
// order) and, when the shard can be resumed by index, --interactive, for
// the open ports as found.
func attemptOptions(c driver.Command) []Option {
	var opts []Option
	if seed, fromProfile := ShardSeed(c.Spec); !fromProfile {
		opts = append(opts, WithSeed(seed))
	}
	if c.PartialEvery >= 0 {
		if _, why := ResumePlan(c.Spec); why == "" {
			opts = append(opts, WithInteractive())
		}
	}
	return opts
}

// masscanStart sets up the tracking of a masscan attempt and, on a retry
// whose earlier attempt left a usable index, where to resume (the options
// to add). The track is nil when the shard cannot be resumed by index.
func masscanStart(ctx context.Context, c driver.Command, h driver.Host) (*masscanTrack, *masscanResumed, []Option) {
	spec := c.Spec
	if c.PartialEvery < 0 {
		return nil, nil, nil
	}
	seed, _ := ShardSeed(spec)
	plan, why := ResumePlan(spec)
	if why != "" {
		h.Logger().Info("masscan shard cannot be resumed by index; a retry scans it all", "shard", spec.ShardID, "why", why)
		return nil, nil, nil
	}
	r := resumeMasscan(ctx, c, plan, seed, h)
	if r == nil {
		return newMasscanTrack(plan, seed, spec.Rate, 0, nil), nil, nil
	}
	h.Resumed(driver.Resume{Ref: r.ref, Hosts: countAddrs(r.ports), Seed: seed, Index: r.index})
	return newMasscanTrack(plan, seed, spec.Rate, r.index, r.ports), r, []Option{WithResumeIndex(r.index)}
}
