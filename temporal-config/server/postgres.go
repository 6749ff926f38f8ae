package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	schematool "go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

// The embedded schemas (go.temporal.io/server/schema) of the two databases.
const (
	postgresSchema           = "postgresql/v12/temporal"
	postgresVisibilitySchema = "postgresql/v12/visibility"
)

// postgresPasswordEnv holds the password when neither the URL nor
// --postgres-password-file gives one, so that it is not on a command line.
const postgresPasswordEnv = "SCANTRON_TEMPORAL_POSTGRES_PASSWORD"

// postgresConfigs turns --postgres-url (postgres://USER@HOST:PORT/DB?...)
// into the SQL configs of Temporal's database and of its visibility
// database (visibilityDB, or DB_visibility). The URL's query parameters
// (sslmode, sslrootcert, ...) become connection attributes. The password
// comes from passwordFile, else the environment, else the URL.
func postgresConfigs(rawURL, visibilityDB, passwordFile string) (main, visibility *config.SQL, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("--postgres-url: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, nil, fmt.Errorf("--postgres-url: want postgres://USER@HOST:PORT/DATABASE, got scheme %q", u.Scheme)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, nil, errors.New("--postgres-url: name Temporal's database in the path, e.g. postgres://temporal@db:5432/temporal")
	}
	if u.User == nil || u.User.Username() == "" {
		return nil, nil, errors.New("--postgres-url: name the user, e.g. postgres://temporal@db:5432/temporal")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, nil, errors.New("--postgres-url: no host")
	}
	if port == "" {
		port = "5432"
	}
	if visibilityDB == "" {
		visibilityDB = db + "_visibility"
	}
	if visibilityDB == db {
		return nil, nil, errors.New("--postgres-visibility-database: must differ from the database of --postgres-url (the two schemas share table names)")
	}
	password, _ := u.User.Password()
	if env := os.Getenv(postgresPasswordEnv); env != "" {
		password = env
	}
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--postgres-password-file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	attrs := map[string]string{}
	for k, v := range u.Query() {
		attrs[k] = v[len(v)-1]
	}
	base := config.SQL{
		PluginName:        postgresql.PluginNamePGX,
		User:              u.User.Username(),
		Password:          password,
		ConnectAddr:       net.JoinHostPort(host, port),
		ConnectProtocol:   "tcp",
		ConnectAttributes: attrs,
		// Unset, a burst opens connections without bound (PostgreSQL
		// refuses past max_connections, which Scantron shares) and keeps
		// only two idle, so every burst reconnects.
		MaxConns:     20,
		MaxIdleConns: 20,
	}
	m, v := base, base
	m.DatabaseName, v.DatabaseName = db, visibilityDB
	return &m, &v, nil
}

// setupPostgres creates the database if it is missing, then its schema
// version tables, then applies every versioned schema step newer than the
// one it records. Each step is recorded, so running it again (every start
// does) changes nothing, and a newer server build upgrades the schema.
func setupPostgres(cfg *config.SQL, schemaName string, logger log.Logger) error {
	if err := ensureDatabase(cfg, logger); err != nil {
		return fmt.Errorf("database %s: %w", cfg.DatabaseName, err)
	}
	conn, err := sqltool.NewConnection(cfg, logger)
	if err != nil {
		return fmt.Errorf("database %s: %w", cfg.DatabaseName, err)
	}
	defer conn.Close()
	// Version "0.0" only creates the version tables the first time; the
	// update below brings the schema from what it records to the newest.
	if err := schematool.NewSetupSchemaTask(conn, &schematool.SetupConfig{InitialVersion: "0.0"}, logger).Run(); err != nil {
		return fmt.Errorf("database %s: schema version tables: %w", cfg.DatabaseName, err)
	}
	if err := schematool.NewUpdateSchemaTask(conn, &schematool.UpdateConfig{DBName: cfg.DatabaseName, SchemaName: schemaName}, logger).Run(); err != nil {
		return fmt.Errorf("database %s: schema update: %w", cfg.DatabaseName, err)
	}
	return nil
}

// ensureDatabase creates cfg's database, through the "postgres" database,
// unless it can already be reached: an operator may have created it for a
// user that may not create databases.
func ensureDatabase(cfg *config.SQL, logger log.Logger) error {
	conn, err := sqltool.NewConnection(cfg, logger)
	if err == nil {
		err = conn.Exec("SELECT 1")
		conn.Close()
		if err == nil {
			return nil
		}
	}
	admin := *cfg
	admin.DatabaseName = "postgres"
	aconn, aerr := sqltool.NewConnection(&admin, logger)
	if aerr != nil {
		return errors.Join(err, aerr)
	}
	defer aconn.Close()
	if cerr := aconn.CreateDatabase(cfg.DatabaseName); cerr != nil {
		return fmt.Errorf("cannot reach it (%v) nor create it: %w", err, cerr)
	}
	return nil
}
