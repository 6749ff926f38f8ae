package workers

import (
	"context"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan/signing"
)

// simKeys makes a server key pair for a harness: the server's signer and
// its simulated agents' verifier.
func simKeys(tb testing.TB) (*signing.Signer, *signing.Verifier) {
	tb.Helper()
	key, err := signing.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := signing.NewSigner(key)
	if err != nil {
		tb.Fatal(err)
	}
	verifier, err := signing.NewVerifier(signer.PublicKey())
	if err != nil {
		tb.Fatal(err)
	}
	return signer, verifier
}

// simWorkers runs a harness's server worker and simulated agents in this
// process until the benchmark ends, then stops and waits for them.
type simWorkers struct {
	tb   testing.TB
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

func newSimWorkers(tb testing.TB) *simWorkers {
	w := &simWorkers{tb: tb}
	w.ctx, w.stop = context.WithCancel(context.Background())
	tb.Cleanup(func() {
		w.stop()
		w.wg.Wait()
	})
	return w
}

// server runs the orchestrator worker with results.
func (w *simWorkers) server(tc client.Client, results *activities.Results, changes *activities.Changes, notifier *activities.Notifier) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := RunServer(w.ctx, tc, results, changes, notifier); err != nil && w.ctx.Err() == nil {
			w.tb.Error(err)
		}
	}()
}

// agent runs a simulated agent.
func (w *simWorkers) agent(tc client.Client, agent *activities.Agent, opt AgentOptions) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := RunAgent(w.ctx, tc, agent, opt); err != nil && w.ctx.Err() == nil {
			w.tb.Error(err)
		}
	}()
}
