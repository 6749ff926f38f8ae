package activities

import (
	"path/filepath"
	"strconv"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/masscan"
	"github.com/scantron/scantron/scan/nmap"
)

// Tokens in a command line as a scan's plan shows it and RunScan reports
// it: the parts that exist only once an attempt runs.
const (
	// ShardDirToken stands for the attempt's private work directory,
	// made anew for every attempt (where the scanner writes its output).
	ShardDirToken = "$SHARD_DIR"
	// SeedToken stands for the --seed an agent derives from the run and
	// the shard for a masscan profile that gives none (masscan.ShardSeed).
	SeedToken = "$SEED"
)

// outputPath is where the scanner writes its output in an attempt's work
// directory.
func outputPath(dir string) string { return filepath.Join(dir, "out.xml") }

// CommandLine is the command line, program first, that an agent with a's
// settings runs for the first attempt of spec in the work directory dir,
// with the shard's work directory and derived masscan seed written as
// ShardDirToken and SeedToken. privileged adds nmap's --privileged, as an
// agent whose nmap has file capabilities and is not root does. RunScan runs
// this command (a retry adds what skips the part earlier attempts did) and
// reports it in this form; a scan's plan shows it for every shard.
func (a *Agent) CommandLine(spec scan.Spec, dir string, privileged bool) ([]string, error) {
	var access nmap.RawAccess
	if privileged {
		access = nmap.RawAccess{FileCaps: true}
	}
	var mopts []masscan.Option
	if spec.Scanner == scan.Masscan {
		mopts, _ = a.masscanFirstOptions(spec)
	}
	bin, args, err := a.command(spec, outputPath(dir), access, mopts)
	if err != nil {
		return nil, err
	}
	return recordedCommand(spec, bin, args, dir), nil
}

// masscanFirstOptions are the options every attempt of a masscan shard
// starts with: the shard's seed unless the profile gives one, and
// --interactive when the agent saves resume state for it.
func (a *Agent) masscanFirstOptions(spec scan.Spec) ([]masscan.Option, bool) {
	seed, fromProfile := masscan.ShardSeed(spec)
	var opts []masscan.Option
	if !fromProfile {
		opts = append(opts, masscan.WithSeed(seed))
	}
	if a.PartialEvery < 0 {
		return opts, false
	}
	if _, why := masscan.ResumePlan(spec); why != "" {
		return opts, false
	}
	return append(opts, masscan.WithInteractive()), true
}

// recordedCommand writes a command line with its attempt-specific parts as
// tokens: the work directory dir and masscan's derived seed.
func recordedCommand(spec scan.Spec, bin string, args []string, dir string) []string {
	out := append([]string{bin}, args...)
	seed, fromProfile := masscan.ShardSeed(spec)
	for i, arg := range out {
		if rel, err := filepath.Rel(dir, arg); err == nil && filepath.IsAbs(arg) && filepath.IsLocal(rel) {
			out[i] = ShardDirToken + "/" + filepath.ToSlash(rel)
		}
		if spec.Scanner == scan.Masscan && !fromProfile && i > 0 && out[i-1] == "--seed" && arg == strconv.FormatUint(seed, 10) {
			out[i] = SeedToken
		}
	}
	return out
}
