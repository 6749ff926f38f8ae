// Package devstack starts the real services Scantron needs — PostgreSQL, an
// S3 server (versitygw) and a Temporal dev server — as child processes on
// loopback, for development (`scantron dev`, i.e. `make run`) and for
// integration tests (a package's TestMain).
//
// # Tools
//
// The binaries come from `make tools` (scripts/install-tools.sh): temporal and
// versitygw are built into ./bin of the repository and found by [FindTool];
// PostgreSQL comes from the Debian postgresql package and is found by
// [PostgresBinDir].
//
// # Usage
//
// Tests, with a private temporary directory and free ports, removed on Stop:
//
//	st, err := devstack.Start(ctx, devstack.Options{})
//	if err != nil { ... }
//	defer st.Stop()
//	// st.Postgres.DSN, st.S3.Endpoint, st.Temporal.HostPort, st.Env() ...
//
// Development, with state kept under a directory and fixed ports:
//
//	st, err := devstack.Start(ctx, devstack.DevOptions(".data"))
//
// Each service can also be started on its own with [StartPostgres],
// [StartS3] and [StartTemporal].
//
// # Directories
//
// [Start] lays its root directory out as
//
//	<Dir>/pg/data          PostgreSQL cluster (initdb'ed once, then reused)
//	<Dir>/pg/postgres.log  PostgreSQL output
//	<Dir>/s3/buckets       S3 buckets, one directory each (versitygw posix)
//	<Dir>/s3/meta          S3 object metadata (versitygw sidecar)
//	<Dir>/s3/versitygw.log versitygw output
//	<Dir>/temporal.db      Temporal state (SQLite); only when Options.Durable
//	<Dir>/temporal.log     Temporal dev server output
//
// With Options.TemporalPostgres, Temporal is Scantron's build
// (scantron-temporal) instead, keeping its state in the cluster's databases
// temporal and temporal_visibility, and the directory also holds
//
//	<Dir>/temporal-jwks.json               the stack's token key (public half)
//	<Dir>/temporal.dynamicconfig.yaml      its dynamic config
//
// Existing state is reused, so restarting the dev stack keeps its data. When
// a service fails to start, the error names its log file and quotes its tail.
//
// # Ports
//
// A port of 0 means "pick a free one": devstack listens on 127.0.0.1:0,
// closes the listener and hands the port to the child. Another process could
// take the port in the meantime, so when a child with a picked port fails
// because its address is in use, devstack picks again and retries (a few
// times). Separate test binaries therefore do not collide as long as each
// uses its own directory (the default) and port 0 (the default).
//
// # Processes
//
// Every child runs in its own process group with a parent-death signal of
// SIGKILL, so nothing outlives a crashed parent. Stop sends a polite signal
// (SIGINT for PostgreSQL's fast shutdown, SIGTERM otherwise), waits a bounded
// time, then SIGKILLs the process group and every descendant (PostgreSQL's
// backends call setsid, so the group alone is not enough). Kill does that at
// once, as a crash would (for fault-injection tests); Done reports the exit.
//
// # Root
//
// PostgreSQL refuses to run as root. When the caller is root, PostgreSQL runs
// as the `scantron` system user (created by `make tools`); its directory is
// chowned to that user, and every parent directory must be traversable by it.
// Parents inside the system temporary directory (os.MkdirTemp, t.TempDir) are
// made traversable (o+x) automatically; for others the error says which
// directory to fix.
package devstack
