package workers

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/schedules"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// The load harness's size and the goals it prints its figures against.
const (
	loadScans      = 1000
	loadAgents     = 50
	loadBurst      = 200 // scans whose schedules fire on the same minute
	loadIdleFires  = 20
	loadChanges    = 10
	goalBurstP99   = 5 * time.Second
	goalIdleExec50 = 100 * time.Millisecond
	goalIdleExec99 = 250 * time.Millisecond
)

// loadTemporalEnv chooses the harness's Temporal: "postgres" (the default,
// Scantron's build on PostgreSQL, as deployed) or "dev" (the CLI's dev
// server on SQLite), to compare the two.
const loadTemporalEnv = "SCANTRON_LOAD_TEMPORAL"

// standInScanner is the SIMULATED scanner of the load harness: a shell
// script in place of nmap that notes when it was exec'd and writes the same
// small nmap XML report (127.0.0.1, port 80 open) for every shard, sending
// no packet at all.
const standInScanner = `#!/bin/sh
echo "$(date +%%s%%N) $*" >> %s
if [ "$1" = "--version" ]; then echo "Nmap version 7.94 (simulated stand-in)"; exit 0; fi
out=""
while [ $# -gt 0 ]; do
	if [ "$1" = "-oX" ]; then out="$2"; fi
	shift
done
cat > "$out" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" args="nmap (simulated)" start="1800000000" version="7.94" xmloutputversion="1.05">
<host starttime="1800000000" endtime="1800000001"><status state="up" reason="syn-ack"/>
<address addr="127.0.0.1" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="80"><state state="open" reason="syn-ack"/><service name="http" method="table" conf="3"/></port></ports>
</host>
<runstats><finished time="1800000001" elapsed="1.00" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
XML
`

// BenchmarkScheduleLoad is the load harness: PostgreSQL, S3 and Temporal
// (Scantron's build on that PostgreSQL, or with SCANTRON_LOAD_TEMPORAL=dev
// the CLI's dev server on SQLite); the server worker and 50 agents as in-process workers
// running a SIMULATED scanner (standInScanner: deterministic output, no
// traffic); 1,000 scheduled scans whose schedules the reconciler creates,
// 200 of them firing on the same minute (their calendar specs name that
// minute: real fires, not Trigger). It prints the reconcile passes (all
// created, no change, 10 changes), fire -> workflow start -> scanner exec
// -> run finished for the burst and for fires of an otherwise idle system,
// and the CPU and RSS of each process, each beside its goal. One
// iteration is the whole measurement; it takes a few minutes.
func BenchmarkScheduleLoad(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	backend := cmp.Or(os.Getenv(loadTemporalEnv), "postgres")
	var opt devstack.Options
	switch backend {
	case "postgres":
		opt.TemporalPostgres = true
	case "dev":
	default:
		b.Fatalf("%s=%q: want postgres or dev", loadTemporalEnv, backend)
	}
	st, store, objs, tc := startStackWith(b, ctx, opt)
	fmt.Printf("temporal: %s (%s=postgres|dev)\n", map[string]string{
		"postgres": "scantron-temporal on the stack's PostgreSQL, default history shards",
		"dev":      "temporal server start-dev (SQLite in memory, one history shard)",
	}[backend], loadTemporalEnv)
	procs := []*procUsage{
		{name: "server (this process: server worker, 50 simulated agents, reconciler)", pid: os.Getpid()},
		{name: "temporal (" + backend + ")", pid: st.Temporal.Pid()},
		{name: "postgres", pid: st.Postgres.Pid()},
		{name: "s3 (versitygw)", pid: st.S3.Pid()},
	}
	for _, p := range procs {
		p.start()
	}
	began := time.Now()

	dir := b.TempDir()
	execs := filepath.Join(dir, "execs.log")
	scanner := filepath.Join(dir, "nmap-stand-in")
	if err := os.WriteFile(scanner, []byte(fmt.Sprintf(standInScanner, execs)), 0o755); err != nil {
		b.Fatal(err)
	}
	signer, verifier := simKeys(b)
	sim := newSimWorkers(b)
	results := &activities.Results{Store: store, Objects: objs, AgentObjects: objs, Signer: signer,
		Capacity: QueueCapacity(tc), Timeouts: activities.Timeouts{ScheduleToStart: 5 * time.Minute, StartToClose: time.Minute, Heartbeat: 30 * time.Second}}
	sim.server(tc, results, &activities.Changes{Store: store}, &activities.Notifier{Store: store})
	site, err := store.CreateSite(ctx, scan.Site{Name: "loopback", Targets: []string{"127.0.0.1"}})
	if err != nil {
		b.Fatal(err)
	}
	prof, err := store.CreateProfile(ctx, scan.Profile{Name: "connect", Scanner: scan.Nmap, Options: "-n -Pn -sT -p 80"})
	if err != nil {
		b.Fatal(err)
	}
	agents := make([]scan.Agent, loadAgents)
	for i := range agents {
		name := fmt.Sprintf("sim-agent-%02d", i)
		if agents[i], err = store.CreateAgent(ctx, scan.Agent{Name: name, TaskQueue: workflows.AgentTaskQueue(name)}); err != nil {
			b.Fatal(err)
		}
		agent := &activities.Agent{Name: name, Binaries: map[scan.Scanner]string{scan.Nmap: scanner}, WorkDir: dir, Verifier: verifier}
		// Four at once each, so that the burst's 200 runs wait for no
		// agent and the figures are the pipeline's.
		sim.agent(tc, agent, AgentOptions{Capacity: 4})
	}

	defaults := schedules.Defaults{CatchupWindow: 5 * time.Minute, Keyed: true}
	if err := schedules.EnsureKeyAttribute(ctx, tc, st.Temporal.Namespace); err != nil {
		b.Fatal(err)
	}
	counting := &countingSchedules{ScheduleClient: tc.ScheduleClient()}
	rec := &ScheduleReconciler{Store: store, Schedules: counting, Defaults: defaults,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	pass := func(what string) (ScheduleReport, time.Duration, int32) {
		b.Helper()
		t0 := time.Now()
		rep, err := rec.Once(ctx)
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		c, desc, u, del := counting.reset()
		if what != "" {
			fmt.Printf("reconcile %-28s %8v  (%d scans; created %d, updated %d, deleted %d, full %v; calls: %d create, %d describe, %d update, %d delete)\n",
				what+":", d.Round(time.Millisecond), rep.Scans, rep.Created, rep.Updated, rep.Deleted, rep.Full, c, desc, u, del)
		}
		return rep, d, c + desc + u + del
	}

	// 800 scans that do not fire during the harness: daily calendars twelve
	// hours away, and every eighth in Europe/Berlin (an enumerated spec).
	far := time.Now().UTC().Add(12 * time.Hour)
	var quiet []scan.Scan
	for i := range loadScans - loadBurst {
		zone := "UTC"
		if i%8 == 0 {
			zone = "Europe/Berlin"
		}
		start := time.Now().UTC().Truncate(time.Minute)
		s, err := store.CreateScan(ctx, scan.Scan{Name: fmt.Sprintf("quiet-%03d", i), SiteID: site.ID, ProfileID: prof.ID,
			AgentID: agents[i%loadAgents].ID, StartAt: &start, TimeZone: zone, Enabled: true,
			RRule: fmt.Sprintf("FREQ=DAILY;BYHOUR=%d;BYMINUTE=%d", far.Hour(), i%60)})
		if err != nil {
			b.Fatal(err)
		}
		quiet = append(quiet, s)
	}
	// The burst: 200 scans whose schedules fire at second 0 of one minute,
	// far enough ahead for every schedule to be created and the reconcile
	// passes measured first.
	burstAt := time.Now().UTC().Truncate(time.Minute).Add(3 * time.Minute)
	if time.Until(burstAt) < 150*time.Second {
		burstAt = burstAt.Add(time.Minute)
	}
	burstStart := time.Now().UTC().Truncate(time.Minute)
	var burst []scan.Scan
	for i := range loadBurst {
		s, err := store.CreateScan(ctx, scan.Scan{Name: fmt.Sprintf("burst-%03d", i), SiteID: site.ID, ProfileID: prof.ID,
			AgentID: agents[i%loadAgents].ID, StartAt: &burstStart, TimeZone: "UTC", Enabled: true,
			RRule: fmt.Sprintf("FREQ=HOURLY;BYMINUTE=%d;BYSECOND=0", burstAt.Minute())})
		if err != nil {
			b.Fatal(err)
		}
		burst = append(burst, s)
	}
	b.ResetTimer()
	pass(fmt.Sprintf("first pass, creates %d", loadScans))
	// Listing is eventually consistent: wait for a pass that makes no call.
	for deadline := time.Now().Add(time.Minute); ; {
		rep, d, calls := pass("")
		if rep.Changed() {
			b.Fatalf("a pass over unchanged scans changed schedules: %+v", rep)
		}
		if calls == 0 {
			fmt.Printf("reconcile %-28s %8v  (%d scans; no call beyond the listing)\n", "pass with no change:", d.Round(time.Millisecond), rep.Scans)
			b.ReportMetric(float64(d.Milliseconds()), "reconcile-idle-ms")
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("passes over unchanged scans still make %d calls after a minute", calls)
		}
		time.Sleep(time.Second)
	}
	for i := range loadChanges {
		s := quiet[i*7]
		s.PauseNote = "changed by the load harness"
		if _, err := store.UpdateScan(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	if rep, d, _ := pass(fmt.Sprintf("pass with %d changes", loadChanges)); rep.Updated != loadChanges {
		b.Errorf("the pass after %d changes updated %d schedules", loadChanges, rep.Updated)
	} else {
		b.ReportMetric(float64(d.Milliseconds()), "reconcile-10-changes-ms")
	}
	if time.Until(burstAt) < 5*time.Second {
		b.Fatalf("creating the schedules ran too close to the burst's minute (%v): the machine is too slow for this harness", burstAt)
	}
	fmt.Printf("%d scans, %d simulated agents; %d schedules fire at %v (in %v)\n", loadScans, loadAgents, loadBurst,
		burstAt.Format(time.TimeOnly), time.Until(burstAt).Round(time.Second))
	burstLat := waitRuns(b, ctx, store, tc, execs, burst, 1, burstAt.Add(10*time.Minute))
	printLatencies(fmt.Sprintf("burst of %d fires on one minute", loadBurst), burstLat, map[string]time.Duration{"start": goalBurstP99, "exec": goalBurstP99})
	b.ReportMetric(float64(percentile(sortedOf(burstLat.exec), 99).Milliseconds()), "burst-exec-p99-ms")
	printSteps(b, ctx, tc, burstLat.workflowIDs)

	// Idle: one scan firing every three seconds on the same system.
	idleStart := time.Now().UTC().Truncate(time.Minute)
	var secs []string
	for s := 0; s < 60; s += 3 {
		secs = append(secs, strconv.Itoa(s))
	}
	idle, err := store.CreateScan(ctx, scan.Scan{Name: "idle", SiteID: site.ID, ProfileID: prof.ID, AgentID: agents[0].ID,
		StartAt: &idleStart, TimeZone: "UTC", Enabled: true, RRule: "FREQ=MINUTELY;BYSECOND=" + strings.Join(secs, ",")})
	if err != nil {
		b.Fatal(err)
	}
	pass("pass that creates the idle one")
	idleLat := waitRuns(b, ctx, store, tc, execs, []scan.Scan{idle}, loadIdleFires, time.Now().Add(5*time.Minute))
	printLatencies(fmt.Sprintf("idle, %d fires 3 s apart", loadIdleFires), idleLat, nil)
	e50, e99 := percentile(sortedOf(idleLat.exec), 50), percentile(sortedOf(idleLat.exec), 99)
	fmt.Printf("  idle fire -> exec: p50 %v (goal < %v), p99 %v (goal < %v)\n", e50.Round(time.Millisecond), goalIdleExec50,
		e99.Round(time.Millisecond), goalIdleExec99)
	b.ReportMetric(float64(e50.Milliseconds()), "idle-exec-p50-ms")
	b.StopTimer()

	wall := time.Since(began)
	fmt.Printf("processes over %v (CPU seconds used, share of one core; RSS now):\n", wall.Round(time.Second))
	for _, p := range procs {
		cpu, rss := p.since()
		fmt.Printf("  %-72s cpu %7.1f s (%5.1f%%)  rss %6d MiB\n", p.name, cpu.Seconds(), 100*cpu.Seconds()/wall.Seconds(), rss>>20)
	}
	fmt.Println("SIMULATION: the agents are in-process workers and the scanner is a stand-in script; no packet was sent.")
}

// loadLatencies are, per run, the times from the schedule's fire.
type loadLatencies struct {
	start, exec, finish []time.Duration
	missing             int
	workflowIDs         []string
}

// waitRuns waits until each scan has `per` finished runs started by its
// schedule (or until deadline) and measures them: fire time from the
// workflow ID, workflow start from Temporal, scanner exec from the
// stand-in's log, the end from the run row.
func waitRuns(b *testing.B, ctx context.Context, store *postgres.Store, tc client.Client, execs string, scans []scan.Scan, per int, deadline time.Time) loadLatencies {
	b.Helper()
	ours := map[int64]bool{}
	for _, s := range scans {
		ours[s.ID] = true
	}
	var runs []scan.Run
	for {
		runs = runs[:0]
		all, err := store.ListRuns(ctx, postgres.RunFilter{})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range all {
			if ours[r.ScanID] && r.Status.Final() {
				runs = append(runs, r)
			}
		}
		if len(runs) >= len(scans)*per || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	execAt := map[int64]time.Time{}
	if f, err := os.Open(execs); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			ns, args, _ := strings.Cut(sc.Text(), " ")
			m := runDirRE.FindStringSubmatch(args)
			t, err := strconv.ParseInt(ns, 10, 64)
			if m == nil || err != nil {
				continue
			}
			id, _ := strconv.ParseInt(m[1], 10, 64)
			if _, seen := execAt[id]; !seen {
				execAt[id] = time.Unix(0, t)
			}
		}
		f.Close()
	}
	var out loadLatencies
	out.missing = max(0, len(scans)*per-len(runs))
	for _, r := range runs {
		i := strings.LastIndex(r.WorkflowID, "-20")
		if i < 0 {
			continue
		}
		fired, err := time.Parse(time.RFC3339, r.WorkflowID[i+1:])
		if err != nil {
			continue
		}
		desc, err := tc.DescribeWorkflowExecution(ctx, r.WorkflowID, "")
		if err != nil {
			b.Fatal(err)
		}
		out.start = append(out.start, desc.GetWorkflowExecutionInfo().GetStartTime().AsTime().Sub(fired))
		out.workflowIDs = append(out.workflowIDs, r.WorkflowID)
		if t, ok := execAt[r.ID]; ok {
			out.exec = append(out.exec, t.Sub(fired))
		}
		if r.FinishedAt != nil {
			out.finish = append(out.finish, r.FinishedAt.Sub(fired))
		}
	}
	return out
}

// printSteps splits the runs' way from workflow start to scanner exec by
// their histories: how long each workflow task and activity waited to be
// picked up (schedule -> start) and took (start -> close), so that a burst
// shows where it queues.
func printSteps(b *testing.B, ctx context.Context, tc client.Client, ids []string) {
	b.Helper()
	steps := map[string][]time.Duration{}
	var order []string
	add := func(name string, d time.Duration) {
		if _, ok := steps[name]; !ok {
			order = append(order, name)
		}
		steps[name] = append(steps[name], d)
	}
	for _, id := range ids {
		scheduled := map[int64]time.Time{}
		activity := map[int64]string{}
		started := map[int64]time.Time{}
		it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			at := ev.GetEventTime().AsTime()
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
				scheduled[ev.GetEventId()] = at
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
				sched := ev.GetWorkflowTaskStartedEventAttributes().GetScheduledEventId()
				name := "workflow task: wait"
				if sched <= 2 {
					name = "first workflow task: wait"
				}
				add(name, at.Sub(scheduled[sched]))
				started[ev.GetEventId()] = at
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
				// A sticky task nobody took within 5 s moves to the normal queue.
				add("workflow task timed out: "+ev.GetWorkflowTaskTimedOutEventAttributes().GetTimeoutType().String(), 0)
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				add("workflow task: run", at.Sub(started[ev.GetWorkflowTaskCompletedEventAttributes().GetStartedEventId()]))
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				scheduled[ev.GetEventId()] = at
				activity[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				sched := ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()
				add(activity[sched]+": wait", at.Sub(scheduled[sched]))
				started[ev.GetEventId()] = at
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
				a := ev.GetActivityTaskCompletedEventAttributes()
				add(activity[a.GetScheduledEventId()]+": run", at.Sub(started[a.GetStartedEventId()]))
			}
		}
	}
	fmt.Printf("  steps of the %d runs (every occurrence):\n", len(ids))
	for _, name := range order {
		d := sortedOf(steps[name])
		fmt.Printf("    %-28s n %4d  p50 %8v  p99 %8v  max %8v\n", name, len(d), percentile(d, 50).Round(time.Millisecond),
			percentile(d, 99).Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
	}
}

func sortedOf(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}

// printLatencies prints p50/p99/max of each step; goals, keyed by step,
// are printed as p99 goals beside them.
func printLatencies(what string, l loadLatencies, goals map[string]time.Duration) {
	fmt.Printf("%s (%d runs measured, %d missing):\n", what, len(l.start), l.missing)
	for _, step := range []struct {
		name, key string
		d         []time.Duration
	}{{"fire -> workflow start", "start", l.start}, {"fire -> scanner exec", "exec", l.exec}, {"fire -> run finished", "finish", l.finish}} {
		if len(step.d) == 0 {
			fmt.Printf("  %-24s no samples\n", step.name)
			continue
		}
		s := sortedOf(step.d)
		line := fmt.Sprintf("  %-24s p50 %8v  p99 %8v  max %8v", step.name, percentile(s, 50).Round(time.Millisecond),
			percentile(s, 99).Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
		if g, ok := goals[step.key]; ok {
			line += fmt.Sprintf("  (goal p99 <= %v)", g)
		}
		fmt.Println(line)
	}
}

// procUsage reads a process tree's CPU time and RSS from /proc.
type procUsage struct {
	name string
	pid  int
	cpu0 time.Duration
}

func (p *procUsage) start() { p.cpu0, _ = treeUsage(p.pid) }

func (p *procUsage) since() (time.Duration, int64) {
	cpu, rss := treeUsage(p.pid)
	return cpu - p.cpu0, rss
}

// treeUsage sums user+system CPU and RSS over pid and its descendants
// (PostgreSQL is a postmaster and its backends). Clock ticks are taken as
// 100 a second, the Linux default.
func treeUsage(root int) (cpu time.Duration, rss int64) {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	stat := map[int][]string{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces.
		i := strings.LastIndexByte(string(raw), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(raw[i+1:]))
		if len(f) < 22 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parent[pid], stat[pid] = ppid, f
	}
	in := func(pid int) bool {
		for ; pid > 1; pid = parent[pid] {
			if pid == root {
				return true
			}
		}
		return false
	}
	const pageSize = 4096
	for pid, f := range stat {
		if !in(pid) {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		pages, _ := strconv.ParseInt(f[21], 10, 64)
		cpu += time.Duration(ut+st) * 10 * time.Millisecond
		rss += pages * pageSize
	}
	return cpu, rss
}
