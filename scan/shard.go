package scan

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// DefaultShardSize is how many addresses one shard covers unless the server
// or the scan says otherwise: a /24.
const DefaultShardSize = 256

// MaxShardSize is the largest shard size a scan may set: all of IPv4.
// Larger shards would never be cut at all, which is what "no sharding"
// already means at this size.
const MaxShardSize = 1 << 32

// Shards splits a resolved target set into the parts that agents scan one at
// a time: first by address family (one scanner run takes one family), then
// into runs of at most size addresses, cutting CIDR blocks where needed, so
// that a /16 becomes 256 shards of a /24 rather than one target. A host name
// counts as one address. Every part keeps its family's exclusions. The split
// depends only on its input, so a retried start makes the same shards.
func (r Resolved) Shards(size uint64) []Resolved {
	if size == 0 {
		size = DefaultShardSize
	}
	var out []Resolved
	for _, fam := range r.ByFamily() {
		cur := Resolved{Excludes: fam.Excludes}
		flush := func() {
			if len(cur.Targets) > 0 {
				out = append(out, cur)
			}
			cur = Resolved{Excludes: fam.Excludes}
		}
		for _, t := range fam.Targets {
			tgt, err := ParseTarget(t)
			if err != nil || tgt.Kind == KindHost {
				if cur.Addresses+1 > size {
					flush()
				}
				cur.Targets = append(cur.Targets, t)
				cur.Addresses++
				continue
			}
			from, to := tgt.From, tgt.To
			for {
				room := size - cur.Addresses
				if room == 0 {
					flush()
					continue
				}
				left := rangeSize(from, to)
				if left <= room {
					cur.Targets = append(cur.Targets, blocks(from, to)...)
					cur.Addresses += left
					break
				}
				end := addN(from, room-1)
				cur.Targets = append(cur.Targets, blocks(from, end)...)
				cur.Addresses += room
				from = end.Next()
			}
		}
		flush()
	}
	return out
}

// addN is a+n, for an n that stays inside a's family.
func addN(a netip.Addr, n uint64) netip.Addr {
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	sum := lo + n
	if sum < lo {
		hi++
	}
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], sum)
	out := netip.AddrFrom16(b)
	if a.Is4() {
		return out.Unmap()
	}
	return out
}

// RunPlan is what a run's shards' specs are built from, stored with the run
// when it starts, so that no one message ever carries every spec: a
// shard's spec is Spec with the shard's targets (stored with the shard) and
// the exclusions of its address family (ShardSpec).
type RunPlan struct {
	// Spec is every shard's spec but for its ids, targets and exclusions:
	// the scanner, its options and its rate (of a two-stage run, the
	// discovery stage's).
	Spec Spec `json:"spec"`
	// Excludes are the run's resolved exclusions, of both families.
	Excludes []string `json:"excludes,omitempty"`
	// Follow, for a two-stage run, is the second stage's scanner, options
	// and rate (no targets: those are the pairs each shard's discovery
	// finds).
	Follow *Spec `json:"follow,omitempty"`
	// Shards counts the run's shards, numbered 0 to Shards-1.
	Shards int `json:"shards"`
}

// ShardSpec is the spec of the shard of run runID with id shardID and
// targets, unsigned: the plan's spec, on the shard's targets, with the
// exclusions of their address family (as Resolved.Shards keeps them).
func (p RunPlan) ShardSpec(runID, shardID int64, targets []string) Spec {
	spec := p.Spec
	spec.RunID, spec.ShardID = runID, shardID
	spec.Options = append([]string(nil), p.Spec.Options...)
	spec.Targets = append([]string(nil), targets...)
	spec.Excludes = FamilyExcludes(p.Excludes, len(targets) > 0 && TargetIsIPv6(targets[0]))
	spec.Expires, spec.Signature, spec.Dispatch, spec.Groups = time.Time{}, nil, nil, nil
	return spec
}
