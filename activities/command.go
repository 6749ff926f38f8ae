package activities

import (
	"path/filepath"
	"strings"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/scanners"
)

// Tokens in a command line as a scan's plan shows it and RunScan reports
// it: the parts that exist only once an attempt runs.
const (
	// ShardDirToken stands for the attempt's private work directory,
	// made anew for every attempt (where the scanner writes its output).
	ShardDirToken = "$SHARD_DIR"
	// SeedToken stands for a value an agent derives from the run and the
	// shard ids (such as the seed of a scanner whose profile gives none),
	// which a plan, made before the run, cannot know.
	SeedToken = "$SEED"
)

// outputPath is where the scanner writes its output in an attempt's work
// directory.
func outputPath(dir string) string { return filepath.Join(dir, "out.xml") }

// CommandLine is the command line, program first, that an agent with a's
// settings runs for the first attempt of spec in the work directory dir
// (scanners.Argv), with the work directory and the values derived from the
// run written as ShardDirToken and SeedToken. privileged adds what a
// scanner with file capabilities, run by an agent that is not root, needs
// (nmap's --privileged). RunScan runs this command (a retry adds what skips
// the part earlier attempts did) and reports it in this form; a scan's plan
// shows it for every shard.
func (a *Agent) CommandLine(spec scan.Spec, dir string, privileged bool) ([]string, error) {
	cmd := a.commandFor(spec, dir)
	cmd.Privileged = privileged
	argv, err := scanners.Argv(cmd)
	if err != nil {
		return nil, err
	}
	return recordedCommand(cmd, argv), nil
}

// recordedCommand writes argv, cmd's command line, with its attempt's
// parts as tokens: paths in the work directory, and the arguments that
// change with the run and shard ids (found by building the line for other
// ids: no scanner is named here).
func recordedCommand(cmd driver.Command, argv []string) []string {
	out := append([]string(nil), argv...)
	other := cmd
	other.Spec.RunID, other.Spec.ShardID = cmd.Spec.RunID+1, cmd.Spec.ShardID+1
	alt, err := scanners.Argv(other)
	if err != nil || len(alt) != len(out) {
		alt = nil
	}
	for i, arg := range out {
		if tok, ok := dirToken(cmd.Dir, arg); ok {
			out[i] = tok
			continue
		}
		if alt != nil && alt[i] != arg {
			out[i] = SeedToken
		}
	}
	return out
}

// dirToken writes arg, a path in dir or an option with one bound to it
// (--output-file=PATH), with dir as ShardDirToken.
func dirToken(dir, arg string) (string, bool) {
	name, path := "", arg
	if i := strings.Index(arg, "="); i >= 0 && strings.HasPrefix(arg, "-") {
		name, path = arg[:i+1], arg[i+1:]
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil || !filepath.IsAbs(path) || !filepath.IsLocal(rel) {
		return "", false
	}
	return name + ShardDirToken + "/" + filepath.ToSlash(rel), true
}
