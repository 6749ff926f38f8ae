package workers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// The sweep simulation's size: agents of a pool, each running this many
// shards at once.
const (
	sweepAgents   = 24
	sweepCapacity = 8
)

// sweepStandIn is the SIMULATED scanner of the sweep harness: a shell
// script in place of nmap that sends no packet and writes, for the /24
// shard it is given, a deterministic nmap XML report: the shard's .1 up
// with port 80 open.
const sweepStandIn = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "Nmap version 7.94 (simulated stand-in)"; exit 0; fi
out=""; target=""
while [ $# -gt 0 ]; do
	case "$1" in
	-oX) out="$2"; shift ;;
	--) target="$2" ;;
	esac
	shift
done
host=$(echo "$target" | sed 's#\.0/24$#.1#')
cat > "$out" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" args="nmap (simulated)" start="1800000000" version="7.94" xmloutputversion="1.05">
<host starttime="1800000000" endtime="1800000001"><status state="up" reason="syn-ack"/>
<address addr="$host" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="80"><state state="open" reason="syn-ack"/><service name="http" method="table" conf="3"/></port></ports>
</host>
<runstats><finished time="1800000001" elapsed="1.00" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
XML
`

// BenchmarkSweepSimulation is the sweep harness, a SIMULATION: one run of
// a scan of 127.0.0.0/N (SCANTRON_BENCH_SWEEP=N; 8 for a /8, 16.7 million
// addresses, 65,536 shards of a /24) planned, dispatched and finished
// through PostgreSQL, S3 and a Temporal dev server, fanning out to child
// workflows, with 24 in-process agents of a pool whose scanner is a
// stand-in (sweepStandIn: no packet, a deterministic report a shard). It
// prints the wall time, the events of the run's history and of its
// largest child, and the CPU and RSS of the processes. Without
// SCANTRON_BENCH_SWEEP it is skipped (`make bench-sweep` runs the /8).
func BenchmarkSweepSimulation(b *testing.B) {
	bits := os.Getenv("SCANTRON_BENCH_SWEEP")
	if bits == "" {
		b.Skip("the sweep simulation runs with SCANTRON_BENCH_SWEEP=8 (a /8) or a longer prefix: make bench-sweep")
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 8 || n > 24 {
		b.Fatalf("SCANTRON_BENCH_SWEEP=%q: want a prefix length from 8 to 24", bits)
	}
	prefix := fmt.Sprintf("127.0.0.0/%d", n)
	shards := 1 << (24 - n)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Hour)
	defer cancel()
	st, store, objs, tc := startStack(b, ctx)
	procs := []*procUsage{
		{name: "server (this process: server worker, 24 simulated agents)", pid: os.Getpid()},
		{name: "temporal", pid: st.Temporal.Pid()},
		{name: "postgres", pid: st.Postgres.Pid()},
		{name: "s3 (versitygw)", pid: st.S3.Pid()},
	}
	dir := b.TempDir()
	scanner := filepath.Join(dir, "nmap-stand-in")
	if err := os.WriteFile(scanner, []byte(sweepStandIn), 0o755); err != nil {
		b.Fatal(err)
	}
	signer, verifier := simKeys(b)
	sim := newSimWorkers(b)
	capacity := QueueCapacity(tc)
	results := &activities.Results{Store: store, Objects: objs, AgentObjects: objs, Signer: signer, MaxAddresses: 1 << 32, Capacity: capacity,
		Timeouts: activities.Timeouts{ScheduleToStart: 30 * time.Minute, StartToClose: 10 * time.Minute, Heartbeat: 2 * time.Minute}}
	sim.server(tc, results, &activities.Changes{Store: store}, &activities.Notifier{Store: store})
	pool, err := store.CreatePool(ctx, scan.Pool{Name: "sweep", TaskQueue: workflows.PoolTaskQueue("sweep")})
	if err != nil {
		b.Fatal(err)
	}
	for i := range sweepAgents {
		name := fmt.Sprintf("sim-sweep-%02d", i)
		if _, err := store.CreateAgent(ctx, scan.Agent{Name: name, TaskQueue: workflows.AgentTaskQueue(name)}); err != nil {
			b.Fatal(err)
		}
		agent := &activities.Agent{Name: name, Binaries: map[scan.Scanner]string{scan.Nmap: scanner}, WorkDir: dir, Verifier: verifier}
		sim.agent(tc, agent, AgentOptions{Capacity: sweepCapacity, Pools: []string{pool.Name},
			Identity: workflows.AgentIdentity(name, "sim", "simulated", sweepCapacity)})
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if c, _ := capacity(ctx, pool.TaskQueue); c >= sweepAgents*sweepCapacity {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the pool's agents do not all poll after two minutes")
		}
		time.Sleep(time.Second)
	}
	site, err := store.CreateSite(ctx, scan.Site{Name: "sweep", Targets: []string{prefix}})
	if err != nil {
		b.Fatal(err)
	}
	prof, err := store.CreateProfile(ctx, scan.Profile{Name: "connect", Scanner: scan.Nmap, Options: "-n -Pn -sT -p 80"})
	if err != nil {
		b.Fatal(err)
	}
	sc, err := store.CreateScan(ctx, scan.Scan{Name: "sweep", SiteID: site.ID, ProfileID: prof.ID, PoolID: pool.ID, ShardSize: 256})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range procs {
		p.start()
	}
	b.ResetTimer()
	began := time.Now()
	id := workflows.ScanRunWorkflowID(sc.ID, began)
	fmt.Printf("SIMULATION: a run of %s, %d shards, %d stand-in agents of %d slots; no packet is sent\n", prefix, shards, sweepAgents, sweepCapacity)
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.ServerTaskQueue}, workflows.ScanWorkflow, workflows.ScanInput{ScanID: sc.ID})
	if err != nil {
		b.Fatal(err)
	}
	var res workflows.ScanResult
	if err := run.Get(ctx, &res); err != nil {
		b.Fatalf("the run failed: %v", err)
	}
	wall := time.Since(began)
	b.StopTimer()
	if res.Status != scan.RunCompleted || res.HostsUp != shards || res.CSV.Key == "" {
		b.Errorf("run %d: %+v; want completed with %d hosts up and a CSV", res.RunID, res, shards)
	}
	fmt.Printf("run %d of %d shards: %s in %v, %.1f shards/s; %d hosts up, %d open ports\n", res.RunID, shards, res.Status,
		wall.Round(time.Second), float64(shards)/wall.Seconds(), res.HostsUp, res.OpenPorts)
	b.ReportMetric(wall.Seconds(), "run-s")
	b.ReportMetric(float64(shards)/wall.Seconds(), "shards/s")

	rootEvents := sweepHistoryEvents(b, ctx, tc, id)
	var leaves, inner int
	var maxLeaf, maxInner int
	var next []byte
	for {
		page, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: next, PageSize: 1000,
			Query: fmt.Sprintf("WorkflowType = 'ScanShardsWorkflow' AND WorkflowId STARTS_WITH '%s-shards-'", id)})
		if err != nil {
			b.Fatalf("list the run's children: %v", err)
		}
		for _, ex := range page.GetExecutions() {
			cid := ex.GetExecution().GetWorkflowId()
			events := sweepHistoryEvents(b, ctx, tc, cid)
			from, to, _ := strings.Cut(strings.TrimPrefix(cid, id+"-shards-"), "-")
			f, _ := strconv.Atoi(from)
			t, _ := strconv.Atoi(to)
			if t-f+1 <= workflows.DefaultShardBatch {
				leaves++
				maxLeaf = max(maxLeaf, events)
			} else {
				inner++
				maxInner = max(maxInner, events)
			}
		}
		if next = page.GetNextPageToken(); len(next) == 0 {
			break
		}
	}
	fmt.Printf("histories: the run's %d events; %d inner children, the largest %d events; %d leaf children, the largest %d events (Temporal warns from 10,000)\n",
		rootEvents, inner, maxInner, leaves, maxLeaf)
	b.ReportMetric(float64(rootEvents), "run-events")
	b.ReportMetric(float64(maxLeaf), "largest-child-events")
	fmt.Printf("processes over %v (CPU seconds used, share of one core; RSS now):\n", wall.Round(time.Second))
	for _, p := range procs {
		cpu, rss := p.since()
		fmt.Printf("  %-60s cpu %8.1f s (%5.1f%%)  rss %6d MiB\n", p.name, cpu.Seconds(), 100*cpu.Seconds()/wall.Seconds(), rss>>20)
	}
	fmt.Println("SIMULATION: the agents are in-process workers and the scanner is a stand-in script; no packet was sent.")
}

// sweepHistoryEvents counts the events in a workflow's history.
func sweepHistoryEvents(b *testing.B, ctx context.Context, tc client.Client, id string) int {
	b.Helper()
	it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			b.Fatalf("history of %s: %v", id, err)
		}
		n++
	}
	return n
}
