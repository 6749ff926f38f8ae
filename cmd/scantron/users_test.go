package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/devstack"
	"github.com/scantron/scantron/storage/postgres"
)

func startPostgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	return pg.DSN
}

func TestUserCommand(t *testing.T) {
	dsn := startPostgres(t)
	ctx := context.Background()
	user := func(stdin string, vars map[string]string, args ...string) (int, string) {
		var out bytes.Buffer
		code := run(ctx, append([]string{"user"}, args...), env(vars), strings.NewReader(stdin), &out, &out)
		return code, out.String()
	}
	db := []string{"--database-url", dsn}

	code, out := user("a long enough password\n", nil, append([]string{"create", "--name", "alice", "--role", "admin"}, db...)...)
	if code != 0 || !strings.Contains(out, "created admin user alice") {
		t.Fatalf("create: %d %s", code, out)
	}
	code, out = user("", map[string]string{"SCANTRON_USER_PASSWORD": "another long password", "SCANTRON_DATABASE_URL": dsn},
		"create", "--name", "bob", "--role", "viewer")
	if code != 0 {
		t.Fatalf("create from the environment: %d %s", code, out)
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"a long enough password\n", []string{"create", "--name", "alice", "--role", "admin"}, 1, `a user named "alice" already exists`},
		{"short\n", []string{"create", "--name", "carol", "--role", "admin"}, 2, "at least 12"},
		{"", []string{"create", "--name", "carol", "--role", "admin"}, 2, "no password"},
		{"a long enough password\n", []string{"create", "--name", "carol", "--role", "root"}, 2, "--role: role \"root\""},
		{"a long enough password\n", []string{"create", "--name", "Carol", "--role", "admin"}, 2, "--name: user name"},
		{"", []string{"frob"}, 2, `unknown verb "frob"`},
	} {
		code, out := user(tc.stdin, nil, append(tc.args, db...)...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d %q; want %d containing %q", tc.args, code, out, tc.code, tc.want)
		}
	}
	code, out = user("", nil, append([]string{"list"}, db...)...)
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "viewer") || strings.Contains(out, "carol") {
		t.Fatalf("list: %d %s", code, out)
	}

	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	code, out = user("the new password!!\n", nil, append([]string{"password", "--name", "alice"}, db...)...)
	if code != 0 {
		t.Fatalf("password: %d %s", code, out)
	}
	alice, err := st.GetUserByName(ctx, "alice")
	if err != nil || accounts.CheckPassword(alice.PasswordHash, "the new password!!") != nil {
		t.Fatalf("password not changed: %v", err)
	}

	// With users present the first-admin settings change nothing.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{AdminUser: "root", AdminPassword: "a long enough password"}
	if err := ensureFirstAdmin(ctx, cfg, st, log); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetUserByName(ctx, "root"); err == nil {
		t.Fatal("ensureFirstAdmin added an admin although users exist")
	}
}

func TestFirstAdminFromEnvironment(t *testing.T) {
	dsn := startPostgres(t)
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := ensureFirstAdmin(ctx, Config{}, st, log); err != nil || !strings.Contains(logs.String(), "nobody can log in") {
		t.Fatalf("no settings: %v, log %s", err, logs.String())
	}
	if err := ensureFirstAdmin(ctx, Config{AdminUser: "root"}, st, log); err == nil || !strings.Contains(err.Error(), "SCANTRON_ADMIN_PASSWORD is not") {
		t.Fatalf("user without password: %v", err)
	}
	if err := ensureFirstAdmin(ctx, Config{AdminUser: "root", AdminPassword: "short"}, st, log); err == nil || !strings.Contains(err.Error(), "SCANTRON_ADMIN_PASSWORD") {
		t.Fatalf("short password: %v", err)
	}
	if err := ensureFirstAdmin(ctx, Config{AdminUser: "root", AdminPassword: "a long enough password"}, st, log); err != nil {
		t.Fatal(err)
	}
	root, err := st.GetUserByName(ctx, "root")
	if err != nil || root.Role != accounts.Admin || accounts.CheckPassword(root.PasswordHash, "a long enough password") != nil {
		t.Fatalf("first admin: %+v %v", root, err)
	}
	// The password lives in the environment only: there is no flag for it.
	var stderr bytes.Buffer
	if _, err := loadConfig("server", []string{"-h"}, env(nil), &stderr); err == nil || strings.Contains(stderr.String(), "admin-password") {
		t.Errorf("server -h offers a password flag: %s", stderr.String())
	}
}

func TestDevAdmin(t *testing.T) {
	dsn := startPostgres(t)
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	note, err := devAdmin(ctx, st, dir)
	if err != nil || !strings.Contains(note, "user admin, password in") {
		t.Fatalf("devAdmin: %q %v", note, err)
	}
	file := dir + "/admin-password"
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(file)
	admin, err := st.GetUserByName(ctx, "admin")
	if err != nil || admin.Role != accounts.Admin || accounts.CheckPassword(admin.PasswordHash, strings.TrimSpace(string(b))) != nil {
		t.Fatalf("admin %+v %v: the file's password does not log in", admin, err)
	}
	// A second start keeps the admin and the file as they are.
	if _, err := devAdmin(ctx, st, dir); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(file); string(again) != string(b) {
		t.Error("the password file changed on a second start")
	}
}
