package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// TestEnrollEndToEnd: an admin makes a join token with the CLI, the agent's
// machine enrolls with it into a 0600 config file, and `scantron agent
// --config FILE` then runs a scan from the pool the token named. Spent,
// expired and unknown tokens are refused with their own messages.
func TestEnrollEndToEnd(t *testing.T) {
	host := newTargetHostN(t, 7)
	e := newPoolEnv(t, 0)
	base := strings.TrimSuffix(e.c.base, "/api/v1")
	admin := cli{t: t, config: t.TempDir()}
	admin.must(adminPassword+"\n", "login", "--url", base, "--name", adminUser)
	name := uniqName("enrolled")
	joinToken := func(name string, extra ...string) string {
		t.Helper()
		out := admin.must("", append([]string{"agents", "join-token", "create", "--name", name}, extra...)...)
		m := regexp.MustCompile(`scantron agent enroll --server (\S+) --token (scj_\S+)`).FindStringSubmatch(out)
		if m == nil || m[1] != base {
			t.Fatalf("join-token create printed no enroll command for %s: %s", base, out)
		}
		return m[2]
	}
	if code, _, errOut := admin.run("", "agents", "join-token", "create", "--name", name, "--ttl", "3h"); code != 1 || !strings.Contains(errOut, "ttl:") {
		t.Errorf("a 3h token: exit %d, %s", code, errOut)
	}
	token := joinToken(name, "--pools", e.pool, "--ttl", "10m")

	// The agent's machine has nothing but the binary and the token.
	machine := cli{t: t, config: t.TempDir()}
	dir := t.TempDir()
	conf := filepath.Join(dir, "agent.conf")
	if code, _, errOut := machine.run("", "agent", "enroll", "--server", "http://scantron.invalid:8080", "--token", token, "--config", conf); code != 2 || !strings.Contains(errOut, "unencrypted") {
		t.Errorf("enroll over plain HTTP to a remote name: exit %d, %s", code, errOut)
	}
	out := machine.must("", "agent", "enroll", "--server", base, "--token", token, "--config", conf)
	if !strings.Contains(out, "enrolled agent "+name) || !strings.Contains(out, "scantron agent --config "+conf) {
		t.Errorf("enroll printed %s", out)
	}
	fi, err := os.Stat(conf)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, mode %v", err, fi.Mode())
	}
	b, _ := os.ReadFile(conf)
	for _, want := range []string{"SCANTRON_AGENT_NAME=" + name + "\n", "SCANTRON_AGENT_CREDENTIAL=sct1_", "SCANTRON_SERVER_PUBLIC_KEY=" + stack.PublicKey + "\n",
		"SCANTRON_SERVER_URL=" + base + "\n", "SCANTRON_TEMPORAL_ADDRESS=" + stack.Temporal.HostPort + "\n",
		"SCANTRON_TEMPORAL_NAMESPACE=" + stack.Temporal.Namespace + "\n", "SCANTRON_AGENT_POOLS=" + e.pool + "\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config file lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "S3") {
		t.Errorf("config file holds object storage settings:\n%s", b)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".scantron-enroll-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// Refusals, each with its reason.
	if code, _, errOut := machine.run("", "agent", "enroll", "--server", base, "--token", token, "--config", filepath.Join(dir, "again.conf")); code != 1 || !strings.Contains(errOut, "join token already used at") {
		t.Errorf("spent token: exit %d, %s", code, errOut)
	}
	other := joinToken(uniqName("other"))
	if code, _, errOut := machine.run("", "agent", "enroll", "--server", base, "--token", other, "--config", conf); code != 2 || !strings.Contains(errOut, "already exists; pass --force") {
		t.Errorf("existing config file: exit %d, %s", code, errOut)
	}
	expireJoinToken(t, other) // the refusal above did not spend it: expiry is what stops it now
	if code, _, errOut := machine.run("", "agent", "enroll", "--server", base, "--token", other, "--config", filepath.Join(dir, "late.conf")); code != 1 || !strings.Contains(errOut, "join token expired at") {
		t.Errorf("expired token: exit %d, %s", code, errOut)
	}
	if code, _, errOut := machine.run("", "agent", "enroll", "--server", base, "--token", accounts.NewJoinToken(), "--config", filepath.Join(dir, "x.conf")); code != 1 || !strings.Contains(errOut, "join token not recognised") {
		t.Errorf("unknown token: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "again.conf")); !os.IsNotExist(err) {
		t.Errorf("a refused enrollment wrote a file: %v", err)
	}

	// The agent runs from the file alone: it joins the pool and its signed
	// results are accepted.
	e.agents[name] = startScantron(t, nil, "agent", "--config", conf)
	e.waitPool(1)
	v := e.waitFinal(e.startRun(e.makeScan([]*targetHost{host}, "-n -Pn -sT -p 2121,2222")), 2*time.Minute)
	if v.Status != scan.RunCompleted {
		t.Fatalf("run on the enrolled agent ended %s: %s", v.Status, v.Error)
	}
	if len(v.Shards) != 1 || v.Shards[0].RanBy != name {
		t.Errorf("shards %+v, want one run by %s", v.Shards, name)
	}
}

// expireJoinToken moves a token's life into the past, as an hour's wait
// would.
func expireJoinToken(t *testing.T, token string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, stack.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `UPDATE join_tokens SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE secret_hash = $1`,
		accounts.HashSecret(token))
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("expire join token: %v, %d rows", err, tag.RowsAffected())
	}
}
