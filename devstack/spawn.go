package devstack

import (
	"os/exec"
	"runtime"
)

// StartCommand starts cmd and returns a channel that yields cmd.Wait's
// result. Linux delivers a child's parent-death signal (Pdeathsig) when the
// thread that forked it ends, not the process; Go ends a thread whenever a
// goroutine locked to it returns, which network-namespace code does. So the
// child is forked from a thread kept locked until the child has exited, and a
// child meant to die with this process does not die with some other thread.
func StartCommand(cmd *exec.Cmd) (<-chan error, error) {
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends after the child
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return done, nil
}
