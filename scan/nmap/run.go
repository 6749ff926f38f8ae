package nmap

import (
	"context"
	"io"
	"time"

	"github.com/scantron/scantron/scan/driver"
)

// RunOptions says what Run runs and where its output goes.
type RunOptions struct {
	// Binary is the program, a path or a name looked up in PATH; "nmap" if
	// empty.
	Binary string
	// Args are its arguments, without the program name (see SpecArgs).
	Args []string
	// Env is its environment; nil means Run's own.
	Env []string
	// Dir is its working directory; "" means Run's own. The agent gives a
	// private empty directory: nmap also looks for --script names there.
	Dir string
	// OnProgress, if set, is called for each progress line nmap prints
	// (see WithStatsEvery). Calls come from one goroutine, in order, and
	// never after Run has returned. It must not block for long: nmap
	// waits while its output is not read.
	OnProgress func(Progress)
	// Stdout, if set, gets a copy of standard output, from one goroutine.
	// If it fails, copying stops and the scan goes on.
	Stdout io.Writer
	// Stderr, if set, gets a copy of standard error, from one goroutine.
	Stderr io.Writer
	// Grace is the time between SIGTERM and SIGKILL when ctx ends;
	// driver.DefaultGrace if zero.
	Grace time.Duration
}

// Run runs nmap with the scanner runner (driver.Run: own process group,
// killed with ctx, errors wrapping driver.ErrScannerNotFound and
// driver.ErrScannerFailed), reading its standard output for progress.
func Run(ctx context.Context, opt RunOptions) error {
	bin := opt.Binary
	if bin == "" {
		bin = "nmap"
	}
	pp := progressParser{now: time.Now}
	stdout := &lineWriter{tee: opt.Stdout, onLine: func(line string) {
		if pr, ok := pp.line(line); ok && opt.OnProgress != nil {
			opt.OnProgress(pr)
		}
	}}
	return driver.Run(ctx, driver.RunOptions{Binary: bin, Args: opt.Args, Env: opt.Env, Dir: opt.Dir,
		Stdout: stdout, Stderr: opt.Stderr, Grace: opt.Grace})
}
