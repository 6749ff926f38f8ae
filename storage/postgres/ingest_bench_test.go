package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/scan/report"
)

// The ingest benchmarks store the same shard (2,000 hosts with 10 ports
// each, 22,000 rows) into real PostgreSQL, once the way ReplaceShardResults
// does (COPY) and once with batched INSERTs, and report rows per second.
const benchHosts, benchPortsPer = 2000, 10

func benchShard() []report.Host {
	hosts := make([]report.Host, benchHosts)
	for i := range hosts {
		h := host(fmt.Sprintf("198.18.%d.%d", i/256, i%256), "up")
		for p := range benchPortsPer {
			pt := port("tcp", 1000+p, "open")
			pt.Scripts = []report.Script{{ID: "banner", Output: "SSH-2.0-OpenSSH_9.6"}}
			h.Ports = append(h.Ports, pt)
		}
		hosts[i] = h
	}
	return hosts
}

func BenchmarkIngestCopy(b *testing.B) {
	st := newStore(b)
	ctx := context.Background()
	_, r, s0, _ := resultsFixture(b, st)
	hosts := benchShard()
	for b.Loop() {
		stats, err := st.ReplaceShardResults(ctx, r.ID, s0.ID, 0, feed(hosts...))
		if err != nil || stats.Hosts != benchHosts {
			b.Fatal(stats, err)
		}
	}
	b.ReportMetric(float64(b.N*benchHosts*(1+benchPortsPer))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkIngestInsert stores the same rows with one INSERT per row, sent
// in batches of 500 hosts (and their ports) per round trip, in one
// transaction, after the same delete.
func BenchmarkIngestInsert(b *testing.B) {
	st := newStore(b)
	ctx := context.Background()
	_, r, s0, _ := resultsFixture(b, st)
	hosts := benchShard()
	for b.Loop() {
		err := st.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM ports WHERE host_id IN (SELECT id FROM hosts WHERE shard_id = $1)`, s0.ID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM hosts WHERE shard_id = $1`, s0.ID); err != nil {
				return err
			}
			for start := 0; start < len(hosts); start += ingestBatchHosts {
				batch := &pgx.Batch{}
				end := min(start+ingestBatchHosts, len(hosts))
				for _, h := range hosts[start:end] {
					addr := netip.MustParseAddr(h.IP())
					batch.Queue(`INSERT INTO hosts (run_id, shard_id, address, hostnames, status, reason, os, scripts)
VALUES ($1, $2, $3, '{}', $4, $5, '[]', '[]') RETURNING id`, r.ID, s0.ID, addr, h.Status, h.Reason)
				}
				res := tx.SendBatch(ctx, batch)
				ids := make([]int64, 0, end-start)
				for range end - start {
					var id int64
					if err := res.QueryRow().Scan(&id); err != nil {
						res.Close()
						return err
					}
					ids = append(ids, id)
				}
				if err := res.Close(); err != nil {
					return err
				}
				batch = &pgx.Batch{}
				for i, h := range hosts[start:end] {
					for _, p := range h.Ports {
						sv := p.Service
						batch.Queue(`INSERT INTO ports (host_id, run_id, protocol, port, state, reason, service, product, version, extra_info, cpe, scripts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, ids[i], r.ID, p.Protocol, p.Number, p.State, p.Reason,
							sv.Name, sv.Product, sv.Version, sv.ExtraInfo, sv.CPE, scripts(p.Scripts))
					}
				}
				if err := tx.SendBatch(ctx, batch).Close(); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n := count(b, st, `SELECT count(*) FROM ports WHERE run_id = $1`, r.ID); n != benchHosts*benchPortsPer {
		b.Fatalf("%d ports stored", n)
	}
	b.ReportMetric(float64(b.N*benchHosts*(1+benchPortsPer))/b.Elapsed().Seconds(), "rows/s")
}
