package driver

import (
	"os"
	"syscall"
)

// sysProcAttr puts the scanner in its own process group, so that it and
// anything it starts can be signalled at once, and has the kernel kill it if
// the thread that started it dies (the Go runtime ends a thread only when a
// goroutine locked to it exits, which Run never does).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// terminateGroup sends SIGTERM to the scanner's process group.
func terminateGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGTERM) }

// killGroup sends SIGKILL to the scanner's process group.
func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
