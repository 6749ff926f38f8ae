package workers

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/storage/objects"
	"github.com/scantron/scantron/storage/postgres"
)

// startStack starts the dev stack (PostgreSQL, S3, Temporal) with a
// migrated store, the bucket made and a Temporal client dialled; all of it
// stops at cleanup.
func startStack(tb testing.TB, ctx context.Context) (*devstack.Stack, *postgres.Store, *objects.Store, client.Client) {
	tb.Helper()
	return startStackWith(tb, ctx, devstack.Options{})
}

// startStackWith is startStack with the stack's options.
func startStackWith(tb testing.TB, ctx context.Context, opt devstack.Options) (*devstack.Stack, *postgres.Store, *objects.Store, client.Client) {
	tb.Helper()
	st, err := devstack.Start(ctx, opt)
	if errors.Is(err, devstack.ErrNoAuthTemporal) {
		tb.Skip(err.Error())
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Stop() })
	store, err := postgres.Open(ctx, st.Postgres.DSN)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(store.Close)
	if err := store.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	objs, err := objects.New(objects.Config{Endpoint: st.S3.Endpoint, AccessKey: st.S3.AccessKey, SecretKey: st.S3.SecretKey, Bucket: st.S3.Bucket})
	if err != nil {
		tb.Fatal(err)
	}
	if err := objs.EnsureBucket(ctx); err != nil {
		tb.Fatal(err)
	}
	tc, err := st.Temporal.Dial(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(tc.Close)
	return st, store, objs, tc
}
