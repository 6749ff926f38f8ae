//go:build !linux

package driver

import (
	"os"
	"syscall"
)

// Agents run on Linux. Elsewhere Run still works, but signals only the
// scanner itself, and kills it at once.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func terminateGroup(p *os.Process) { _ = p.Kill() }

func killGroup(p *os.Process) { _ = p.Kill() }
