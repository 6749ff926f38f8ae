package postgres

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMigrationsAreOrdered(t *testing.T) {
	migs, err := Migrations()
	must(t, err)
	if len(migs) == 0 || migs[0].Version != 1 || migs[0].Name != "init" {
		t.Fatalf("first migration = %+v, want version 1 named init", migs[0])
	}
	for i := 1; i < len(migs); i++ {
		if migs[i].Version <= migs[i-1].Version {
			t.Fatalf("migrations out of order: %d after %d", migs[i].Version, migs[i-1].Version)
		}
	}
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	st := newStore(t) // migrated once
	ctx := context.Background()
	const tables = `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`
	before := count(t, st, tables)
	must(t, st.Migrate(ctx))
	migs, err := Migrations()
	must(t, err)
	if n := count(t, st, `SELECT count(*) FROM schema_migrations`); n != len(migs) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(migs))
	}
	if n := count(t, st, tables); n != before {
		t.Fatalf("public has %d tables after migrating again, want the %d it had", n, before)
	}
	// One table per CREATE TABLE in the migrations, plus schema_migrations.
	want := 1
	for _, m := range migs {
		want += strings.Count(m.SQL, "CREATE TABLE ")
	}
	if before != want {
		t.Fatalf("public has %d tables, want %d", before, want)
	}
	if n := count(t, st, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'pools'`); n != 1 {
		t.Fatal("migration 0006 did not create the pools table")
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := newDB(t)
	const servers = 4
	var wg sync.WaitGroup
	errs := make([]error, servers)
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := pgxpool.New(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			errs[i] = Migrate(ctx, pool)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
	}
	st, err := Open(ctx, dsn)
	must(t, err)
	defer st.Close()
	migs, err := Migrations()
	must(t, err)
	if n := count(t, st, `SELECT count(*) FROM schema_migrations`); n != len(migs) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(migs))
	}
}

func TestMigrateRefusesUnknownVersion(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	_, err := st.Pool().Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')`)
	must(t, err)
	err = st.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "9999") {
		t.Fatalf("Migrate = %v, want an error naming version 9999", err)
	}
}
