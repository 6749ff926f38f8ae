package temporalauth

import (
	"context"
	"sync"
	"time"

	"github.com/scantron/scantron/scan"
)

// MemoryKeys is a KeyStore in memory, for a Temporal that lives no longer
// than its process (the dev stack's, tests'). Like the database, it lists a
// key while it is published.
type MemoryKeys struct {
	mu   sync.Mutex
	keys []scan.TokenKey
}

// TemporalTokenKeys returns the keys published at now.
func (m *MemoryKeys) TemporalTokenKeys(_ context.Context, now time.Time) ([]scan.TokenKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []scan.TokenKey
	for _, k := range m.keys {
		if k.PublishUntil.After(now) {
			out = append(out, k)
		}
	}
	return out, nil
}

// AddTemporalTokenKey keeps k.
func (m *MemoryKeys) AddTemporalTokenKey(_ context.Context, k scan.TokenKey, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, k)
	return nil
}
