package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults for starting and stopping children.
const (
	defaultStartTimeout = 2 * time.Minute
	defaultStopTimeout  = 20 * time.Second
	// portRetries is how many times a child whose picked port was taken in
	// the meantime is started again on a new port.
	portRetries = 4
)

// procSpec describes a child process.
type procSpec struct {
	name    string // for messages: "postgres", "versitygw", "temporal"
	path    string
	args    []string
	env     []string // nil: the parent's environment
	dir     string   // working directory; "" = the parent's
	logPath string   // stdout and stderr are appended here
	cred    *syscall.Credential
	stopSig syscall.Signal // polite stop signal; 0 = SIGTERM
}

// proc is a running child.
type proc struct {
	spec      procSpec
	cmd       *exec.Cmd
	logOffset int64 // size of the log file when this run started
	done      chan struct{}
	waitErr   error // valid once done is closed
}

func startProc(spec procSpec) (*proc, error) {
	if spec.stopSig == 0 {
		spec.stopSig = syscall.SIGTERM
	}
	if err := os.MkdirAll(filepath.Dir(spec.logPath), 0o755); err != nil {
		return nil, fmt.Errorf("devstack: %s: %w", spec.name, err)
	}
	logf, err := os.OpenFile(spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devstack: %s: open log: %w", spec.name, err)
	}
	defer logf.Close() // the child keeps its own descriptor
	var offset int64
	if st, err := logf.Stat(); err == nil {
		offset = st.Size()
	}
	fmt.Fprintf(logf, "=== devstack %s: %s %s\n", time.Now().Format(time.RFC3339), spec.path, strings.Join(spec.args, " "))

	cmd := exec.Command(spec.path, spec.args...)
	cmd.Env = spec.env
	cmd.Dir = spec.dir
	cmd.Stdin = nil
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: spec.cred,
	}
	waited, err := StartCommand(cmd)
	if err != nil {
		return nil, fmt.Errorf("devstack: start %s: %w", spec.name, err)
	}
	p := &proc{spec: spec, cmd: cmd, logOffset: offset, done: make(chan struct{})}
	go func() {
		p.waitErr = <-waited
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process id (also the process group id) of the child.
func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the child to stop, waits up to timeout, then SIGKILLs its whole
// process group. It is safe to call more than once.
func (p *proc) stop(timeout time.Duration) error {
	if p == nil || p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(p.spec.stopSig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return p.kill()
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		return p.kill()
	}
}

// kill SIGKILLs the child, its process group and its descendants (PostgreSQL
// backends leave the group with setsid), and waits for the child to be reaped.
func (p *proc) kill() error {
	if p == nil {
		return nil
	}
	if !p.exited() {
		desc := descendants(p.pid())
		if err := syscall.Kill(-p.pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("devstack: kill %s: %w", p.spec.name, err)
		}
		for _, pid := range desc {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	<-p.done
	return nil
}

// descendants returns the pids of the live descendants of pid, from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		id, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentPid(id); ok {
			children[ppid] = append(children[ppid], id)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentPid reads the parent pid of a live (non-zombie) process.
func parentPid(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid ...; comm may contain spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || f[0] == "Z" {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// logTail returns the last lines this run wrote to the log.
func (p *proc) logTail() string {
	const maxLines = 30
	lines := strings.Split(strings.TrimRight(p.runLog(4096), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}

// runLog returns what this run wrote to the log, its last maxBytes at most.
func (p *proc) runLog(maxBytes int64) string {
	f, err := os.Open(p.spec.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	from := p.logOffset
	if st.Size()-from > maxBytes {
		from = st.Size() - maxBytes
	}
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// addrInUse reports whether this run's log says a listen address was
// taken. It reads the whole run's log (up to 1 MiB), not the tail shown in
// errors: the Temporal dev server logs the failed bind, then panics with a
// stack trace longer than that tail.
func (p *proc) addrInUse() bool {
	return strings.Contains(strings.ToLower(p.runLog(1<<20)), "address already in use")
}

// failure wraps err with the log file's name and its tail.
func (p *proc) failure(err error) error {
	return fmt.Errorf("devstack: %s: %w (log %s; last lines:)\n%s", p.spec.name, err, p.spec.logPath, indent(p.logTail()))
}

func indent(s string) string {
	if s == "" {
		return "    (empty)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// waitReady polls check until it succeeds, the child exits, ctx ends or
// timeout passes. On failure the child is killed and the error quotes the log.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p.exited() {
			return p.failure(fmt.Errorf("exited before it was ready (%v)", p.waitErr))
		}
		cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.failure(fmt.Errorf("exited before it was ready (%v)", p.waitErr))
		case <-ctx.Done():
			_ = p.kill()
			return p.failure(fmt.Errorf("not ready after %v: %w (last check: %v)", timeout, ctx.Err(), last))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// retryOnPortClash runs start, and runs it again (a few times) when the child
// failed because a listen address was taken and auto says the ports were
// picked by devstack (so start picks new ones).
func retryOnPortClash[T any](auto bool, start func() (T, *proc, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, pr, err := start()
		if err == nil || !auto || pr == nil || !pr.exited() || !pr.addrInUse() || attempt >= portRetries {
			return v, err
		}
	}
}

// portOr returns port, or a free port when it is 0.
func portOr(port int) (int, error) {
	if port != 0 {
		return port, nil
	}
	return FreePort()
}
