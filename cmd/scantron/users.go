package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/storage/postgres"
)

// ensureFirstAdmin creates the admin named by SCANTRON_ADMIN_USER when the
// database has no users at all; with users present it does nothing, so the
// variables can stay set without resetting anyone's password.
func ensureFirstAdmin(ctx context.Context, cfg Config, store *postgres.Store, log *slog.Logger) error {
	users, err := store.ListUsers(ctx)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return nil
	}
	if cfg.AdminUser == "" {
		log.Warn("there are no users yet, so nobody can log in: set SCANTRON_ADMIN_USER and SCANTRON_ADMIN_PASSWORD, or run 'scantron user create --role admin'")
		return nil
	}
	if cfg.AdminPassword == "" {
		return errors.New("SCANTRON_ADMIN_USER is set but SCANTRON_ADMIN_PASSWORD is not")
	}
	hash, err := accounts.HashPassword(cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("SCANTRON_ADMIN_PASSWORD: %w", err)
	}
	made, err := store.CreateFirstUser(ctx, accounts.User{Name: cfg.AdminUser, Role: accounts.Admin, PasswordHash: hash})
	if err != nil {
		return err
	}
	if made {
		log.Info("created the first admin", "user", cfg.AdminUser)
	}
	return nil
}

const userUsage = `Usage: scantron user <verb> [flags]

Verbs:
  create --name NAME --role admin|operator|viewer
                 add a user; the password is read from SCANTRON_USER_PASSWORD
                 or, when that is unset, from standard input (never a flag)
  password --name NAME
                 set a user's password, read the same way; ends their sessions
                 and revokes their API tokens
  list           list users and roles

The database comes from --database-url or SCANTRON_DATABASE_URL.
`

// runUser manages accounts directly in the database: it is how the first
// admin is made without a running server, and how a lost admin password is
// reset.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, userUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	verb, rest := args[0], args[1:]
	var name, role string
	extra := func(fs *flag.FlagSet) {
		if verb == "create" || verb == "password" {
			fs.StringVar(&name, "name", "", "user name")
		}
		if verb == "create" {
			fs.StringVar(&role, "role", "", "admin, operator or viewer")
		}
	}
	if verb != "create" && verb != "password" && verb != "list" {
		fmt.Fprintf(stderr, "scantron user: unknown verb %q\n\n%s", verb, userUsage)
		return 2
	}
	cfg, err := loadConfigFlags("user", rest, getenv, stderr, extra)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := userVerb(ctx, cfg, verb, name, role, getenv, stdin, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "scantron user %s: %v\n", verb, err)
		var usage usageError
		if errors.As(err, &usage) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError is a mistake in the command line rather than a failure.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func userVerb(ctx context.Context, cfg Config, verb, name, role string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var hash string
	if verb != "list" {
		if err := accounts.CheckName(name); err != nil {
			return usageError{"--name: " + err.Error()}
		}
		if verb == "create" {
			if _, err := accounts.ParseRole(role); err != nil {
				return usageError{"--role: " + err.Error()}
			}
		}
		password, err := readNewPassword(getenv, stdin, stderr)
		if err != nil {
			return err
		}
		if hash, err = accounts.HashPassword(password); err != nil {
			return usageError{err.Error()}
		}
	}
	store, err := openStore(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer store.Close()
	switch verb {
	case "create":
		u, err := store.CreateUser(ctx, accounts.User{Name: name, Role: accounts.Role(role), PasswordHash: hash})
		if errors.Is(err, postgres.ErrConflict) {
			return fmt.Errorf("a user named %q already exists; to change the password use 'scantron user password'", name)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s user %s (id %d)\n", u.Role, u.Name, u.ID)
	case "password":
		u, err := store.GetUserByName(ctx, name)
		if errors.Is(err, postgres.ErrNotFound) {
			return fmt.Errorf("no user named %q", name)
		}
		if err != nil {
			return err
		}
		if _, err := store.UpdateUser(ctx, u.ID, u.Role, hash); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s changed; their sessions have ended and their API tokens are revoked\n", u.Name)
	case "list":
		users, err := store.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED")
		for _, u := range users {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", u.ID, u.Name, u.Role, u.CreatedAt.UTC().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	}
	return nil
}

// readNewPassword reads a password from SCANTRON_USER_PASSWORD or the first
// line of stdin, asking (without echo) when stdin is a terminal.
func readNewPassword(getenv func(string) string, stdin io.Reader, stderr io.Writer) (string, error) {
	return readPassword(getenv, "SCANTRON_USER_PASSWORD", stdin, bufio.NewReader(stdin), stderr, "Password: ")
}

// readPassword reads a password from the environment variable env or,
// when that is empty, from stdin: asked for without echo on a terminal,
// otherwise its next line, read through in (which a caller reading several
// lines shares between the calls).
func readPassword(getenv func(string) string, env string, stdin io.Reader, in *bufio.Reader, stderr io.Writer, prompt string) (string, error) {
	if p := getenv(env); p != "" {
		return p, nil
	}
	if p, ok, err := readPasswordFromTerminal(stdin, stderr, prompt); ok || err != nil {
		return p, err
	}
	line, err := in.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{fmt.Sprintf("no password: set %s or write it to standard input", env)}
	}
	return line, nil
}
