package activities_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// The /16 benchmark: a deterministic scan of 198.18.0.0/16 in which every
// host is up with 8 open ports (65,536 hosts, 524,288 port rows), in the
// default shard size (256 shards of a /24). In one run of the benchmark it
// stores the /16 as masscan writes it (then drops it), as nmap -sV writes
// it (the previous run), and again with two ports moved in every shard (the
// run measured), and it measures, over the rows of the run measured:
//
//   - floor: a bare COPY of the rows, built beforehand, into tables of the
//     same columns without indexes, constraints or triggers;
//   - batched INSERT: one INSERT per row, 256 hosts (and their ports) per
//     round trip, one transaction per shard, into the real tables;
//   - ours: ParseResults of every shard (read, parse, store);
//
// each with two shards (or for the floor, halves) written at once, as the
// server's worker parses shards that finish together;
//
// then the rest of the run's pipeline, each stage as the activities do it:
// counting (CompleteRun), the CSV, JSON Lines and merged XML exports, the
// diff against the previous run and the merge into the site's assets.
// Object storage is in memory, so that what is measured is ours, not the
// S3 server's. The goal of the whole pipeline is 10 s; the figures are
// printed, never asserted.
const (
	benchShards   = 256
	benchPerShard = 256
	benchPorts    = 8
)

var benchPortList = [benchPorts]int{22, 25, 80, 110, 143, 443, 3306, 8080}

// benchWorkers is how many shards are written at once, by every method
// measured: the machine's two cores, one for the parser, one for
// PostgreSQL.
const benchWorkers = 2

// eachShard calls fn for every shard index, on benchWorkers goroutines (w
// is the goroutine's number), and fails b on the first error.
func eachShard(fn func(w, shard int) error, b *testing.B) {
	next := make(chan int)
	errs := make(chan error, benchWorkers)
	for w := range benchWorkers {
		go func() {
			var first error
			for i := range next {
				if first == nil {
					first = fn(w, i)
				}
			}
			errs <- first
		}()
	}
	for i := range benchShards {
		next <- i
	}
	close(next)
	for range benchWorkers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSlash16Pipeline(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	blobs := &memBlobs{objs: map[string][]byte{}, done: map[string]time.Time{}}
	results := &activities.Results{Store: st, Objects: blobs}
	changes := &activities.Changes{Store: st}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(results)
	env.RegisterActivity(changes)

	ports := make([]string, benchPorts)
	for i, p := range benchPortList {
		ports[i] = fmt.Sprint(p)
	}
	options := "-n -sS -sV -p " + strings.Join(ports, ",")
	site, err := st.CreateSite(ctx, scan.Site{Name: "slash16", Targets: []string{"198.18.0.0/16"}})
	must(b, err)
	prof, err := st.CreateProfile(ctx, scan.Profile{Name: "slash16", Scanner: scan.Nmap, Options: options})
	must(b, err)
	ag, err := st.CreateAgent(ctx, scan.Agent{Name: "a1", TaskQueue: workflows.AgentTaskQueue("a1")})
	must(b, err)
	sc, err := st.CreateScan(ctx, scan.Scan{Name: "slash16", SiteID: site.ID, ProfileID: prof.ID, AgentID: ag.ID})
	must(b, err)
	opts := strings.Fields(options)

	// newRun creates a run with its shards, each shard's output stored.
	newRun := func(name string, scanner scan.Scanner, write func(w io.Writer, shard int) error) (scan.Run, []activities.ParseResultsInput, int64) {
		run, err := st.CreateRun(ctx, sc.ID, name)
		must(b, err)
		must(b, st.SetRunStatus(ctx, run.ID, scan.RunRunning, ""))
		var ins []activities.ParseResultsInput
		var size int64
		for i := range benchShards {
			sh, err := st.CreateShard(ctx, run.ID, i, ag.ID, []string{fmt.Sprintf("198.18.%d.0/24", i)})
			must(b, err)
			var buf bytes.Buffer
			must(b, write(&buf, i))
			size += int64(buf.Len())
			raw, err := blobs.Put(ctx, scan.RawKey(run.ID, sh.ID, 1, scanner), &buf, int64(buf.Len()), "application/xml")
			must(b, err)
			ins = append(ins, activities.ParseResultsInput{RunID: run.ID, ShardID: sh.ID, Attempt: 1, Raw: raw, Agent: "a1", Scanner: scanner})
		}
		return run, ins, size
	}
	// parseAll runs ParseResults of every shard, benchWorkers at a time, as
	// the server's worker does for shards that finish together.
	envs := make([]*testsuite.TestActivityEnvironment, benchWorkers)
	for i := range envs {
		envs[i] = suite.NewTestActivityEnvironment()
		envs[i].RegisterActivity(results)
	}
	parseAll := func(ins []activities.ParseResultsInput) (hosts, ports int) {
		var mu sync.Mutex
		eachShard(func(w, i int) error {
			var res activities.ParseResultsResult
			val, err := envs[w].ExecuteActivity(results.ParseResults, ins[i])
			if err == nil {
				err = val.Get(&res)
			}
			if err != nil {
				return fmt.Errorf("ParseResults of shard %d: %w", ins[i].ShardID, err)
			}
			mu.Lock()
			hosts, ports = hosts+res.Hosts, ports+res.Ports
			mu.Unlock()
			return nil
		}, b)
		return hosts, ports
	}
	complete := func(run scan.Run) {
		_, err := st.CompleteRun(ctx, run.ID, scan.BlobRef{Bucket: "bench", Key: "k", Size: 1, SHA256: strings.Repeat("0", 64)})
		must(b, err)
	}
	record := func(run scan.Run) {
		val, err := env.ExecuteActivity(changes.RecordChanges, activities.RecordChangesInput{RunID: run.ID, Options: opts})
		if err == nil {
			err = val.Get(new(activities.RecordChangesResult))
		}
		if err != nil {
			b.Fatalf("RecordChanges of run %d: %v", run.ID, err)
		}
	}
	wantPorts := benchShards * benchPerShard * benchPorts

	for b.Loop() {
		var t table
		// The previous run, the first of the site's assets.
		prev, prevIns, _ := newRun(fmt.Sprintf("prev-%d", time.Now().UnixNano()), scan.Nmap, writeNmapShard(false))
		parseAll(prevIns)
		complete(prev)
		start := time.Now()
		record(prev)
		t.add("first run into the assets (no diff)", time.Since(start), wantPorts)

		// masscan's output of the /16, stored and dropped.
		mass, massIns, massSize := newRun(fmt.Sprintf("masscan-%d", time.Now().UnixNano()), scan.Masscan, writeMasscanShard)
		start = time.Now()
		hosts, nports := parseAll(massIns)
		t.add("parse+store masscan-style ("+mib(massSize)+")", time.Since(start), nports)
		if hosts != benchShards*benchPerShard || nports != wantPorts {
			b.Fatalf("masscan run stored %d hosts, %d ports", hosts, nports)
		}
		must(b, st.DeleteRun(ctx, mass.ID))

		// The floor and batched INSERT, over the rows of the nmap run.
		rows := benchRows()
		floor := bareCopy(b, st, rows)
		t.add("floor: bare COPY of the rows", floor, wantPorts)
		insertTime := batchedInsert(b, st, sc.ID, ag.ID, rows)
		t.add("batched INSERT", insertTime, wantPorts)

		// The run measured, as nmap -sV writes it.
		run, ins, size := newRun(fmt.Sprintf("run-%d", time.Now().UnixNano()), scan.Nmap, writeNmapShard(true))
		pipeStart := time.Now()
		start = pipeStart
		hosts, nports = parseAll(ins)
		ours := time.Since(start)
		t.add("parse+store nmap-style ("+mib(size)+")", ours, nports)
		if hosts != benchShards*benchPerShard || nports != wantPorts {
			b.Fatalf("nmap run stored %d hosts, %d ports", hosts, nports)
		}
		t.stage(1)
		start = time.Now()
		complete(run)
		t.add("complete run (count hosts and ports)", time.Since(start), nports)

		start = time.Now()
		var exported activities.ExportResultsResult
		val, err := env.ExecuteActivity(results.ExportResults, activities.ExportResultsInput{RunID: run.ID})
		if err == nil {
			err = val.Get(&exported)
		}
		if err != nil {
			b.Fatal(err)
		}
		csvDone := blobs.doneAt(scan.ExportKey(run.ID, scan.CSVExport))
		jsonlDone := blobs.doneAt(scan.ExportKey(run.ID, scan.JSONLExport))
		xmlDone := blobs.doneAt(scan.ExportKey(run.ID, scan.XMLExport))
		t.add("export CSV ("+mib(exported.CSV.Size)+")", csvDone.Sub(start), exported.Rows)
		t.add("export JSON Lines ("+mib(exported.JSONL.Size)+")", jsonlDone.Sub(csvDone), nports)
		t.add("export merged XML ("+mib(exported.XML.Size)+")", xmlDone.Sub(jsonlDone), nports)
		if exported.Rows != wantPorts {
			b.Fatalf("CSV has %d rows", exported.Rows)
		}

		timed := &timedChanges{ChangeStore: st}
		env2 := suite.NewTestActivityEnvironment()
		env2.RegisterActivity(&activities.Changes{Store: timed})
		start = time.Now()
		var rec activities.RecordChangesResult
		val, err = env2.ExecuteActivity((&activities.Changes{Store: timed}).RecordChanges, activities.RecordChangesInput{RunID: run.ID, Options: opts})
		if err == nil {
			err = val.Get(&rec)
		}
		if err != nil {
			b.Fatal(err)
		}
		total := time.Since(start)
		t.add(fmt.Sprintf("diff vs previous run (%d changes)", rec.Counts.OpenedPorts+rec.Counts.ClosedPorts+rec.Counts.ChangedServices+rec.Counts.NewHosts+rec.Counts.GoneHosts), total-timed.assets, nports)
		t.add("merge into assets", timed.assets, nports)
		pipeline := time.Since(pipeStart)
		if want := benchShards * 2; rec.Counts.ClosedPorts != want || rec.Counts.OpenedPorts != want {
			b.Fatalf("diff counts %+v, want %d opened and %d closed", rec.Counts, want, want)
		}

		insert := insertTime
		fmt.Printf("\n%s"+
			"/16 pipeline total          %8.2f s   (goal 10 s)\n"+
			"ours vs floor: %.2f× the floor's time; ours vs batched INSERT: %.1f× as fast\n",
			t.String(), pipeline.Seconds(), ours.Seconds()/floor.Seconds(), insert.Seconds()/ours.Seconds())
		b.ReportMetric(float64(wantPorts)/ours.Seconds(), "port-rows/s")
		b.ReportMetric(insert.Seconds()/ours.Seconds(), "x-insert")
		b.ReportMetric(pipeline.Seconds(), "pipeline-s")

		// Leave the database as it was for the next round.
		for _, r := range []scan.Run{prev, run} {
			must(b, st.DeleteRun(ctx, r.ID))
		}
	}
}

// table is the benchmark's report: one line per stage.
type table struct {
	rows  []tableRow
	split int
}

type tableRow struct {
	name string
	d    time.Duration
	n    int
}

func (t *table) add(name string, d time.Duration, n int) {
	t.rows = append(t.rows, tableRow{name, d, n})
}

// stage marks where the pipeline's stages begin.
func (t *table) stage(n int) { t.split = len(t.rows) - n }

func (t *table) String() string {
	var s strings.Builder
	for i, r := range t.rows {
		if i == t.split {
			s.WriteString("-- the /16 pipeline --\n")
		}
		fmt.Fprintf(&s, "%-44s %8.2f s %10.0f port rows/s\n", r.name, r.d.Seconds(), float64(r.n)/r.d.Seconds())
	}
	return s.String()
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// timedChanges times the merge into the assets within RecordChanges.
type timedChanges struct {
	activities.ChangeStore
	assets time.Duration
}

func (c *timedChanges) ApplyRunToAssets(ctx context.Context, siteID int64, run scan.Run, hosts []scan.HostRow, cov scan.Coverage) error {
	start := time.Now()
	defer func() { c.assets += time.Since(start) }()
	return c.ChangeStore.ApplyRunToAssets(ctx, siteID, run, hosts, cov)
}

// memBlobs is object storage in memory; it notes when each Put finished.
type memBlobs struct {
	mu   sync.Mutex
	objs map[string][]byte
	done map[string]time.Time
}

func (m *memBlobs) Get(_ context.Context, ref scan.BlobRef) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.objs[ref.Key]
	if !ok {
		return nil, fmt.Errorf("no object %q", ref.Key)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (m *memBlobs) Put(_ context.Context, key string, r io.Reader, _ int64, _ string) (scan.BlobRef, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return scan.BlobRef{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = data
	m.done[key] = time.Now()
	sum := sha256.Sum256(data)
	return scan.BlobRef{Bucket: "bench", Key: key, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, nil
}

func (m *memBlobs) doneAt(key string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done[key]
}

// benchAddr is the address of host h of shard s.
func benchAddr(s, h int) string { return fmt.Sprintf("198.18.%d.%d", s, h) }

// benchPort is the j-th open port of host h; in the run measured the first
// two hosts of every shard moved one port, so that the diff against the
// previous run has an opened and a closed port for each.
func benchPort(h, j int, moved bool) int {
	p := benchPortList[j]
	if moved && h < 2 && j == benchPorts-1 {
		return 8443
	}
	return p
}

func writeMasscanShard(w io.Writer, s int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`<?xml version="1.0"?>` + "\n<!-- masscan v1.3.2 scan -->\n" +
		`<nmaprun scanner="masscan" start="1795554198" version="1.0-BETA"  xmloutputversion="1.03">` + "\n" +
		`<scaninfo type="syn" protocol="tcp" />` + "\n")
	for h := range benchPerShard {
		for j := range benchPorts {
			fmt.Fprintf(bw, `<host endtime="1795554199"><address addr="%s" addrtype="ipv4"/><ports><port protocol="tcp" portid="%d"><state state="open" reason="syn-ack" reason_ttl="64"/></port></ports></host>`+"\n",
				benchAddr(s, h), benchPort(h, j, false))
		}
	}
	fmt.Fprintf(bw, "<runstats>\n"+`<finished time="1795554260" timestr="2026-11-24 10:24:20" elapsed="62" />`+"\n"+
		`<hosts up="%d" down="0" total="%d" />`+"\n</runstats>\n</nmaprun>\n", benchPerShard*benchPorts, benchPerShard*benchPorts)
	return bw.Flush()
}

var benchServices = [benchPorts][3]string{
	{"ssh", "OpenSSH", "9.6p1 Ubuntu 3ubuntu13.5"}, {"smtp", "Postfix smtpd", ""}, {"http", "nginx", "1.24.0"},
	{"pop3", "Dovecot pop3d", ""}, {"imap", "Dovecot imapd", ""}, {"https", "nginx", "1.24.0"},
	{"mysql", "MySQL", "8.0.36"}, {"http-proxy", "Apache Tomcat", "10.1"},
}

// writeNmapShard writes shard s as nmap -sV does; moved moves a port of
// two hosts (see benchPort).
func writeNmapShard(moved bool) func(w io.Writer, s int) error {
	return func(w io.Writer, s int) error { return writeNmap(w, s, moved) }
}

func writeNmap(w io.Writer, s int, moved bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<!DOCTYPE nmaprun>\n" +
		`<nmaprun scanner="nmap" args="nmap -n -sS -sV -p 22,25,80,110,143,443,3306,8080 198.18.0.0/16" start="1795554198" version="7.93" xmloutputversion="1.05">` + "\n")
	for h := range benchPerShard {
		fmt.Fprintf(bw, `<host starttime="1795554198" endtime="1795554205"><status state="up" reason="syn-ack" reason_ttl="64"/>`+"\n"+
			`<address addr="%s" addrtype="ipv4"/>`+"\n<hostnames>\n</hostnames>\n<ports>", benchAddr(s, h))
		for j := range benchPorts {
			sv := benchServices[j]
			fmt.Fprintf(bw, `<port protocol="tcp" portid="%d"><state state="open" reason="syn-ack" reason_ttl="64"/>`+
				`<service name="%s" product="%s" version="%s" method="probed" conf="10"></service></port>`+"\n",
				benchPort(h, j, moved), sv[0], sv[1], sv[2])
		}
		bw.WriteString("</ports>\n" + `<times srtt="816" rttvar="2325" to="100000"/>` + "\n</host>\n")
	}
	fmt.Fprintf(bw, `<runstats><finished time="1795554298" summary="done" elapsed="100" exit="success"/><hosts up="%d" down="0" total="%d"/>`+
		"\n</runstats>\n</nmaprun>\n", benchPerShard, benchPerShard)
	return bw.Flush()
}

// benchRow is one host of the nmap run with its ports, as columns.
type benchRow struct {
	addr  netip.Addr
	ports [benchPorts]int
}

func benchRows() []benchRow {
	rows := make([]benchRow, 0, benchShards*benchPerShard)
	for s := range benchShards {
		for h := range benchPerShard {
			r := benchRow{addr: netip.MustParseAddr(benchAddr(s, h))}
			for j := range benchPorts {
				r.ports[j] = benchPort(h, j, true)
			}
			rows = append(rows, r)
		}
	}
	return rows
}

var (
	floorHostCols = []string{"id", "run_id", "shard_id", "address", "status", "reason"}
	floorPortCols = []string{"host_id", "run_id", "protocol", "port", "state", "reason", "service", "product", "version", "method", "conf"}
)

// bareCopy copies the rows, built beforehand, into tables with the columns
// of hosts and ports and nothing else, and returns how long the COPYs took.
func bareCopy(b *testing.B, st *postgres.Store, rows []benchRow) time.Duration {
	ctx := context.Background()
	pool := st.Pool()
	for _, q := range []string{
		`DROP TABLE IF EXISTS floor_hosts, floor_ports`,
		`CREATE TABLE floor_hosts (LIKE hosts INCLUDING DEFAULTS INCLUDING IDENTITY)`,
		`CREATE TABLE floor_ports (LIKE ports INCLUDING DEFAULTS INCLUDING IDENTITY)`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	hostRows := make([][]any, len(rows))
	portRows := make([][]any, 0, len(rows)*benchPorts)
	for i, r := range rows {
		id := int64(i + 1)
		hostRows[i] = []any{id, int64(1), int64(1), r.addr, "up", "syn-ack"}
		for j, p := range r.ports {
			sv := benchServices[j]
			portRows = append(portRows, []any{id, int64(1), "tcp", int32(p), "open", "syn-ack", sv[0], sv[1], sv[2], "probed", int32(10)})
		}
	}
	// Each worker copies its share of the shards, hosts then ports.
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2*benchWorkers)
	for w := range benchWorkers {
		lo, hi := w*len(rows)/benchWorkers, (w+1)*len(rows)/benchWorkers
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := pool.CopyFrom(ctx, pgx.Identifier{"floor_hosts"}, floorHostCols, pgx.CopyFromRows(hostRows[lo:hi])); err != nil {
				errs <- err
			}
			if _, err := pool.CopyFrom(ctx, pgx.Identifier{"floor_ports"}, floorPortCols, pgx.CopyFromRows(portRows[lo*benchPorts:hi*benchPorts])); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	d := time.Since(start)
	if _, err := pool.Exec(ctx, `DROP TABLE floor_hosts, floor_ports`); err != nil {
		b.Fatal(err)
	}
	return d
}

// batchedInsert stores the rows in a run of their own with one INSERT per
// row, a shard's hosts (then their ports) per round trip, one transaction
// per shard, and returns how long that took; the run is deleted after.
func batchedInsert(b *testing.B, st *postgres.Store, scanID, agentID int64, rows []benchRow) time.Duration {
	ctx := context.Background()
	run, err := st.CreateRun(ctx, scanID, fmt.Sprintf("insert-%d", time.Now().UnixNano()))
	must(b, err)
	shardIDs := make([]int64, benchShards)
	for i := range shardIDs {
		sh, err := st.CreateShard(ctx, run.ID, i, agentID, []string{fmt.Sprintf("198.18.%d.0/24", i)})
		must(b, err)
		shardIDs[i] = sh.ID
	}
	pool := st.Pool()
	start := time.Now()
	eachShard(func(_, s int) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		shard := rows[s*benchPerShard : (s+1)*benchPerShard]
		batch := &pgx.Batch{}
		for _, r := range shard {
			batch.Queue(`INSERT INTO hosts (run_id, shard_id, address, status, reason) VALUES ($1, $2, $3, 'up', 'syn-ack') RETURNING id`,
				run.ID, shardIDs[s], r.addr)
		}
		res := tx.SendBatch(ctx, batch)
		ids := make([]int64, len(shard))
		for i := range ids {
			if err := res.QueryRow().Scan(&ids[i]); err != nil {
				res.Close()
				return err
			}
		}
		if err := res.Close(); err != nil {
			return err
		}
		batch = &pgx.Batch{}
		for i, r := range shard {
			for j, p := range r.ports {
				sv := benchServices[j]
				batch.Queue(`INSERT INTO ports (host_id, run_id, protocol, port, state, reason, service, product, version, method, conf)
VALUES ($1, $2, 'tcp', $3, 'open', 'syn-ack', $4, $5, $6, 'probed', 10)`, ids[i], run.ID, p, sv[0], sv[1], sv[2])
			}
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}, b)
	d := time.Since(start)
	must(b, st.DeleteRun(ctx, run.ID))
	return d
}
