package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"time"
)

// DefaultGrace is how long Run waits after SIGTERM before SIGKILL.
const DefaultGrace = 5 * time.Second

// stderrTail is how much of the end of standard error a failure reports.
const stderrTail = 4096

// pipeGrace is how long Run waits, once the scanner has exited, for anything it
// left behind to close its output pipes.
const pipeGrace = 2 * time.Second

// RunOptions says what Run runs and where its output goes.
type RunOptions struct {
	// Binary is the program, a path or a name looked up in PATH.
	Binary string
	// Args are its arguments, without the program name.
	Args []string
	// Env is its environment; nil means Run's own.
	Env []string
	// Dir is its working directory; "" means Run's own. The agent gives a
	// private empty directory.
	Dir string
	// Stdout, if set, gets standard output, from one goroutine; if it has
	// a Flush method, that is called once the scanner has exited. It must
	// not block for long: the scanner waits while its output is not read.
	Stdout io.Writer
	// Stderr, if set, gets a copy of standard error, from one goroutine.
	// It must not fail (masscan's status lines are read this way).
	Stderr io.Writer
	// Grace is the time between SIGTERM and SIGKILL when ctx ends;
	// DefaultGrace if zero.
	Grace time.Duration
}

// Run runs the scanner and waits for it. The scanner gets /dev/null as
// standard input and its own process group (on Linux it is also killed if
// the calling thread dies: Pdeathsig). The last 4 KiB of its standard error
// are kept.
//
// It returns nil if the scanner exits with status 0, an error wrapping
// ErrScannerNotFound if it cannot be started, and one wrapping
// ErrScannerFailed, with the exit status and the end of standard error, if
// it exits otherwise. When ctx ends first, Run sends SIGTERM to the whole
// process group, then SIGKILL after the grace period, waits for the scanner
// to exit, and returns an error wrapping ctx.Err(). Whatever the outcome, the
// process group is sent SIGKILL before Run returns, so nothing the scanner
// started outlives it.
func Run(ctx context.Context, opt RunOptions) error {
	bin := opt.Binary
	path, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrScannerNotFound, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s not started: %w", bin, err)
	}
	grace := opt.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}

	stderr := &tailWriter{max: stderrTail}

	cmd := exec.Command(path, opt.Args...)
	cmd.Env = opt.Env
	cmd.Dir = opt.Dir
	cmd.Stdout, cmd.Stderr = opt.Stdout, io.Writer(stderr) // Stdin stays nil: /dev/null
	if opt.Stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, opt.Stderr)
	}
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = pipeGrace
	if err := cmd.Start(); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("%w: %s: %v", ErrScannerNotFound, bin, err)
		}
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	proc := cmd.Process

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr, stopped error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		stopped = ctx.Err()
		terminateGroup(proc)
		timer := time.NewTimer(grace)
		select {
		case waitErr = <-done:
		case <-timer.C:
			killGroup(proc)
			waitErr = <-done
		}
		timer.Stop()
	}
	// The leader has been reaped, but while any member of its group lives,
	// the group's ID cannot be reused, so this reaches only leftovers (or
	// nothing: ESRCH).
	killGroup(proc)
	if f, ok := opt.Stdout.(interface{ Flush() }); ok {
		f.Flush()
	}

	if stopped != nil {
		return fmt.Errorf("%s stopped: %w", bin, stopped)
	}
	var exitErr *exec.ExitError
	switch {
	case waitErr == nil, errors.Is(waitErr, exec.ErrWaitDelay):
		// ErrWaitDelay: it exited 0 but something it started held its
		// output open; that has been killed.
		return nil
	case errors.As(waitErr, &exitErr):
		status := exitErr.ProcessState.String() // "signal: killed"
		if code := exitErr.ExitCode(); code >= 0 {
			status = fmt.Sprintf("exited with status %d", code)
		}
		tail := stderr.String()
		if tail == "" {
			tail = "(nothing on standard error)"
		}
		return fmt.Errorf("%w: %s %s: %s", ErrScannerFailed, bin, status, tail)
	default:
		return fmt.Errorf("running %s: %w", bin, waitErr)
	}
}
