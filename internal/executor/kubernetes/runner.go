package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"conveyor.dev/conveyor/internal/executor/local"
	"conveyor.dev/conveyor/internal/task"
)

// BinDir is where the job container finds the runner's programs: conveyor,
// busybox (with a link per applet) and bash. It comes last in a step's PATH,
// so the image's own programs win.
const BinDir = "/conveyor/bin"

// runnerPrograms are the files of the runner image's /bin that Install
// copies, besides the conveyor binary itself.
var runnerPrograms = []string{"busybox", "bash"}

// defaultPath is a step's PATH (before BinDir) when the image sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ServeStep is the in-pod half of RunStep (`conveyor executor step`): it
// reads one step from in, runs it in the workspace the step names with the
// local backend's code, and writes its events to out, the last one its
// result. When in ends (the agent closed it to cancel the step, or the
// connection was lost) or ctx ends, the step is canceled: SIGTERM, then
// SIGKILL after its KillGrace. Processes the step leaves in the background
// live on in the pod until the job ends.
func ServeStep(ctx context.Context, in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(in)
	var req stepRequest
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("step runner: read the step: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, io.MultiReader(dec.Buffered(), in))
		cancel()
	}()

	var mu sync.Mutex
	enc := json.NewEncoder(out)
	var werr error
	emit := func(e event) {
		mu.Lock()
		defer mu.Unlock()
		if werr == nil {
			werr = enc.Encode(e)
		}
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("step runner: %w", err)
	}
	path += string(os.PathListSeparator) + filepath.Dir(self)
	if err := os.Setenv("PATH", path); err != nil {
		return fmt.Errorf("step runner: %w", err)
	}
	if strings.EqualFold(req.Task, task.CheckoutTask) {
		if _, err := exec.LookPath("git"); err != nil {
			emit(event{Kind: evResult, Result: task.Result{Status: task.Failed,
				Message: "checkout needs git, and the job's image has none: give the job a container: image with git (or the agent a --default-image with git), or use checkout: none"}})
			return werr
		}
	}
	ex, err := local.New("/", local.WithBaseEnv(os.Environ()))
	if err != nil {
		return fmt.Errorf("step runner: %w", err)
	}
	job := ex.Attach(req.Dirs)
	step := req.Step()
	step.Output = func(ts time.Time, line string) { emit(event{Kind: evLine, Time: ts, Text: line}) }
	step.SetVariable = func(name, value string, opts task.VarOptions) error {
		emit(event{Kind: evVar, Name: name, Value: value, Opts: opts})
		return nil
	}
	step.AddSummary = func(text string) { emit(event{Kind: evSummary, Text: text}) }
	res, err := job.RunStep(ctx, step)
	if err != nil {
		emit(event{Kind: evError, Text: err.Error()})
	} else {
		emit(event{Kind: evResult, Result: res})
	}
	mu.Lock()
	defer mu.Unlock()
	if werr != nil {
		return fmt.Errorf("step runner: write events: %w", werr)
	}
	return nil
}

// Install is the init container of a job pod (`conveyor executor install
// DIR…`): it copies this binary and the runner's busybox and bash from the
// folder it runs from into dst, links busybox's applets there (those no
// file of dst has yet), and makes each of dirs writable by any user (the
// job's image may run as one).
func Install(dst string, dirs []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install runner: %w", err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("install runner: %w", err)
	}
	if err := copyFile(self, filepath.Join(dst, "conveyor")); err != nil {
		return fmt.Errorf("install runner: %w", err)
	}
	src := filepath.Dir(self)
	for _, p := range runnerPrograms {
		if err := copyFile(filepath.Join(src, p), filepath.Join(dst, p)); err != nil {
			return fmt.Errorf("install runner: %w (is the runner image built by RunnerImage?)", err)
		}
	}
	list, err := exec.Command(filepath.Join(dst, "busybox"), "--list").Output()
	if err != nil {
		return fmt.Errorf("install runner: busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if strings.Contains(applet, "/") {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dst, applet)); err == nil {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dst, applet)); err != nil {
			return fmt.Errorf("install runner: %w", err)
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return fmt.Errorf("install runner: workspace: %w", err)
		}
		if err := os.Chmod(d, 0o777); err != nil {
			return fmt.Errorf("install runner: workspace: %w", err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Wait is the job container's main process (`conveyor executor wait`): as
// PID 1 it reaps the orphans steps leave behind, and it returns on SIGTERM
// or SIGINT (the pod is being deleted) or when ctx ends.
func Wait(ctx context.Context) error {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for {
		select {
		case <-ctx.Done():
			return nil
		case s := <-sigs:
			if s != syscall.SIGCHLD {
				return nil
			}
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
