// Command scantron is the whole of Scantron in one binary: the server (web UI,
// REST API and orchestrator worker), the scanning agent, the database
// migrator, and a development mode that runs the full stack on this machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

var version = "dev"

const usage = `Usage: scantron <command> [flags]

Commands:
  server    web UI, REST API and the orchestrator worker
  agent     a scanning agent: a Temporal worker on its own task queue
  agent enroll --server URL --token T [--config FILE]
            trade a join token for this agent's credential and settings,
            written to FILE (0600); then run 'scantron agent --config FILE'
  migrate   apply the database migrations and exit
  dev       run the whole stack on this machine (PostgreSQL, S3, Temporal,
            server and one local agent), state under .data/
  keygen    make the server's spec signing key pair: write the private key
            to -out (0600) and print the public key for the agents
  user      manage accounts in the database: create, password, list

Client verbs, against a server's API with an API token ('scantron login'):
  login, logout, me, tokens, users, sites, exclusions, profiles, agents,
  pools, scans, runs, export, assets, search ('scantron help' lists them all)
  version   print the version

Run 'scantron <command> -h' for the flags of a command. Every flag can also
be set by an environment variable (SCANTRON_...).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	command, rest := args[0], args[1:]
	var commandFunc func(context.Context, Config, io.Writer, io.Writer) error
	switch command {
	case "user":
		return runUser(ctx, rest, getenv, stdin, stdout, stderr)
	case "server":
		commandFunc = runServer
	case "agent":
		if len(rest) > 0 && rest[0] == "enroll" {
			return runEnroll(ctx, rest[1:], getenv, stdout, stderr)
		}
		commandFunc = runAgent
	case "migrate":
		commandFunc = runMigrate
	case "dev":
		commandFunc = runDev
	case "keygen":
		return runKeygen(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "scantron", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage+"\n"+clientUsage())
		return 0
	default:
		if clientNouns()[command] {
			return runClient(ctx, command, rest, getenv, stdin, stdout, stderr)
		}
		fmt.Fprintf(stderr, "scantron: unknown command %q\n\n%s", command, usage)
		return 2
	}
	cfg, err := loadConfig(command, rest, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := commandFunc(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "scantron %s: %v\n", command, err)
		return 1
	}
	return 0
}
