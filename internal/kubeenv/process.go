package kubeenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// component is one process of the environment, started in its own process
// group with its output in a log file.
type component struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // the exit status, set before done is closed
}

// exited reports whether the process has ended, and how.
func (c *component) exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// startComponent starts argv with its output in logs/<name>.log. The process
// outlives ctx; it is killed by Stop (and by the kernel when this process
// dies, through Pdeathsig).
func (e *Env) startComponent(name string, argv []string, env []string) (*component, error) {
	logPath := filepath.Join(e.Dir, "logs", name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = e.Dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: e.pdeathsig}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &component{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	e.components = append(e.components, c)
	return c, nil
}

// waitFor polls cond every interval until it holds, ctx ends, timeout
// passes, or one of the components exits (an error naming it and its log).
func waitFor(ctx context.Context, what string, timeout time.Duration, watch []*component, cond func(context.Context) (bool, error)) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, c := range watch {
			if done, err := c.exited(); done {
				return false, fmt.Errorf("%s exited (%v); last lines of %s:\n%s", c.name, err, c.logPath, tail(c.logPath, 30))
			}
		}
		ok, err := cond(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		return ok, nil
	})
	if err != nil {
		if last != nil && wait.Interrupted(err) {
			return fmt.Errorf("wait for %s: %w (last error: %v)", what, err, last)
		}
		return fmt.Errorf("wait for %s: %w", what, err)
	}
	return nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ownedProcesses returns the pids of processes that belong to the
// environment under dir: any whose command line, executable, working
// directory or root mentions dir (containerd shims name its socket,
// containers run in a root under its state), and their descendants.
func ownedProcesses(dir string) []int {
	self := os.Getpid()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	owned := map[int]bool{}
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self {
			continue
		}
		p := "/proc/" + ent.Name()
		if stat, err := os.ReadFile(p + "/stat"); err == nil {
			// pid (comm) state ppid ...; comm may hold spaces and parentheses.
			if i := bytes.LastIndexByte(stat, ')'); i > 0 {
				if f := strings.Fields(string(stat[i+1:])); len(f) > 1 {
					if ppid, err := strconv.Atoi(f[1]); err == nil {
						children[ppid] = append(children[ppid], pid)
					}
					if f[0] == "Z" { // a zombie waits for its parent, nothing to kill
						continue
					}
				}
			}
		}
		if cmdline, err := os.ReadFile(p + "/cmdline"); err == nil && bytes.Contains(cmdline, []byte(dir)) {
			owned[pid] = true
			continue
		}
		for _, link := range []string{"exe", "cwd", "root"} {
			if target, err := os.Readlink(p + "/" + link); err == nil && (target == dir || strings.HasPrefix(target, dir+"/")) {
				owned[pid] = true
				break
			}
		}
	}
	// Never this process's ancestors (a shell whose command line names dir).
	for pid := self; pid > 1; {
		ppid := parentOf(pid)
		delete(owned, ppid)
		pid = ppid
	}
	var walk func(int)
	walk = func(pid int) {
		for _, c := range children[pid] {
			if !owned[c] {
				owned[c] = true
				walk(c)
			}
		}
	}
	for pid := range owned {
		walk(pid)
	}
	pids := make([]int, 0, len(owned))
	for pid := range owned {
		if pid != self {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// parentOf returns the parent of pid, 0 when unknown.
func parentOf(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// OwnedProcesses lists the processes still alive that belong to the
// environment rooted at dir (see Env.Dir); empty after Stop.
func OwnedProcesses(dir string) []int { return ownedProcesses(dir) }

// OwnedMounts lists the mount points of this mount namespace under dir;
// empty after Stop.
func OwnedMounts(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// killAll kills the environment's components and every process it owns,
// until none is left or timeout passes.
func (e *Env) killAll(timeout time.Duration) error {
	for _, c := range e.components {
		if done, _ := c.exited(); !done && c.cmd.Process != nil {
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			_ = c.cmd.Process.Kill()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(context.Context) (bool, error) {
		pids := ownedProcesses(e.Dir)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, c := range e.components {
			if done, _ := c.exited(); !done {
				return false, nil
			}
		}
		return len(pids) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("kill processes under %s: still alive: %v", e.Dir, ownedProcesses(e.Dir))
	}
	return nil
}

// unmountAll unmounts, deepest first, every mount point under dir.
func unmountAll(dir string) error {
	var errs []error
	for range 5 {
		mps := OwnedMounts(dir)
		if len(mps) == 0 {
			return nil
		}
		sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
		errs = errs[:0]
		for _, mp := range mps {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
			}
		}
	}
	if mps := OwnedMounts(dir); len(mps) > 0 {
		errs = append(errs, fmt.Errorf("mounts left under %s: %v", dir, mps))
	}
	return errors.Join(errs...)
}
