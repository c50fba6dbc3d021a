package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/task"
)

// Executor runs jobs as local processes. Safe for concurrent use.
type Executor struct {
	dataDir string
	baseEnv []string
	now     func() time.Time
	// services are handed to every task; may be nil.
	services *task.Services
}

// Option configures an Executor.
type Option func(*Executor) error

// WithServices gives every task the services of conveyor.yaml.
func WithServices(s *task.Services) Option {
	return func(e *Executor) error { e.services = s; return nil }
}

// WithBaseEnv sets the environment every step starts from (default: the
// environment of this process).
func WithBaseEnv(env []string) Option {
	return func(e *Executor) error { e.baseEnv = env; return nil }
}

// WithClock sets the clock that timestamps output lines.
func WithClock(now func() time.Time) Option {
	return func(e *Executor) error {
		if now == nil {
			return fmt.Errorf("local executor: nil clock")
		}
		e.now = now
		return nil
	}
}

// New returns an executor keeping workspaces under dataDir/work and
// artifacts under dataDir/artifacts.
func New(dataDir string, opts ...Option) (*Executor, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("local executor: data folder %s: %w", dataDir, err)
	}
	e := &Executor{dataDir: abs, baseEnv: os.Environ(), now: time.Now}
	for _, o := range opts {
		if err := o(e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Job is one job's workspace, locked for the job's duration.
type Job struct {
	e    *Executor
	dirs task.Dirs
	lock *os.File

	mu     sync.Mutex
	groups []int // process groups of the job's steps
}

// track remembers a step's process group for the clean-up at Close.
func (j *Job) track(pgid int) {
	j.mu.Lock()
	j.groups = append(j.groups, pgid)
	j.mu.Unlock()
}

var _ executor.Job = (*Job)(nil)

// StartJob acquires a workspace for the job: a free <data>/work/<n> this
// pipeline used before (cleaned per spec.WorkspaceClean), or a new one.
func (e *Executor) StartJob(ctx context.Context, spec executor.JobSpec) (executor.Job, error) {
	work := filepath.Join(e.dataDir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, fmt.Errorf("job %s: workspace: %w", spec.JobID, err)
	}
	root, lock, reused, err := acquire(work, spec.Pipeline)
	if err != nil {
		return nil, fmt.Errorf("job %s: workspace: %w", spec.JobID, err)
	}
	n := filepath.Base(root)
	d := task.Dirs{
		Work:            work,
		Pipeline:        root,
		Sources:         filepath.Join(root, "s"),
		ArtifactStaging: filepath.Join(root, "a"),
		Binaries:        filepath.Join(root, "b"),
		TestResults:     filepath.Join(root, "TestResults"),
		Temp:            filepath.Join(work, "_temp", n),
		Tools:           filepath.Join(work, "_tool"),
		Artifacts:       filepath.Join(e.dataDir, "artifacts", spec.RunID),
	}
	if reused {
		clean := []string{d.ArtifactStaging, d.TestResults}
		switch strings.ToLower(spec.WorkspaceClean) {
		case "outputs":
			clean = append(clean, d.Binaries)
		case "resources":
			clean = append(clean, d.Sources)
		case "all":
			clean = []string{d.Sources, d.ArtifactStaging, d.Binaries, d.TestResults}
		}
		for _, c := range clean {
			if err := os.RemoveAll(c); err != nil {
				lock.Close()
				return nil, fmt.Errorf("job %s: clean workspace %s: %w", spec.JobID, c, err)
			}
		}
	}
	_ = os.RemoveAll(d.Temp)
	for _, p := range []string{d.Sources, d.ArtifactStaging, d.Binaries, d.TestResults, d.Temp, d.Tools} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			lock.Close()
			return nil, fmt.Errorf("job %s: workspace: %w", spec.JobID, err)
		}
	}
	return &Job{e: e, dirs: d, lock: lock}, nil
}

// acquire finds a workspace of pipeline that no running job holds, or makes
// a new one. Each <n> has a lock file <n>.lock held with flock while a job
// uses it and a marker naming its pipeline.
func acquire(work, pipeline string) (root string, lock *os.File, reused bool, err error) {
	entries, err := os.ReadDir(work)
	if err != nil {
		return "", nil, false, err
	}
	max := 0
	for _, ent := range entries {
		n, err := strconv.Atoi(ent.Name())
		if err != nil || !ent.IsDir() {
			continue
		}
		max = maxInt(max, n)
		dir := filepath.Join(work, ent.Name())
		owner, err := os.ReadFile(filepath.Join(dir, ".pipeline"))
		if err != nil || string(owner) != pipeline {
			continue
		}
		if f, ok := tryLock(dir + ".lock"); ok {
			return dir, f, true, nil
		}
	}
	for n := max + 1; ; n++ {
		dir := filepath.Join(work, strconv.Itoa(n))
		if err := os.Mkdir(dir, 0o755); err != nil {
			if os.IsExist(err) {
				continue
			}
			return "", nil, false, err
		}
		f, ok := tryLock(dir + ".lock")
		if !ok {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, ".pipeline"), []byte(pipeline), 0o644); err != nil {
			f.Close()
			return "", nil, false, err
		}
		return dir, f, false, nil
	}
}

func tryLock(path string) (*os.File, bool) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// Attach returns a Job over a workspace laid out elsewhere (dirs must
// exist), without acquiring or locking it: the in-pod step runner of the
// kubernetes backend runs each step with it. Close kills what the job's
// steps left running and removes dirs.Temp.
func (e *Executor) Attach(dirs task.Dirs) *Job { return &Job{e: e, dirs: dirs} }

// Dirs returns the job's workspace.
func (j *Job) Dirs() task.Dirs { return j.dirs }

// Close kills the processes the job's steps left running, removes the
// job's temp directory and releases the workspace.
func (j *Job) Close(context.Context) error {
	j.mu.Lock()
	for _, g := range j.groups {
		_ = syscall.Kill(-g, syscall.SIGKILL)
	}
	j.groups = nil
	j.mu.Unlock()
	_ = os.RemoveAll(j.dirs.Temp)
	if j.lock == nil {
		return nil
	}
	return j.lock.Close()
}

// RunStep runs one step's task with an Env whose Exec starts processes in
// their own process group.
func (j *Job) RunStep(ctx context.Context, s executor.Step) (task.Result, error) {
	t, ok := task.Lookup(s.Task)
	if !ok {
		return task.Result{}, fmt.Errorf("step %s: %w %s", s.ID, executor.ErrUnknownTask, s.Task)
	}
	environ := mergeEnv(j.e.baseEnv, s.Env, s.PathPrepend)
	out := &lineWriter{emit: s.Output, now: j.e.now}
	env := &task.Env{
		Task:        s.Task,
		Inputs:      s.Inputs,
		Variables:   s.Variables,
		Environ:     environ,
		Dirs:        j.dirs,
		Log:         out,
		SetVariable: s.SetVariable,
		AddSummary:  s.AddSummary,
		Now:         j.e.now,
		Services:    j.e.services,
	}
	env.Exec = func(ctx context.Context, c task.Command) (task.ExitStatus, error) {
		out.flush()
		if c.Env == nil {
			c.Env = env.Environ
		}
		return runProcess(ctx, c, s.KillGrace, s.Output, j.e.now, j.track)
	}
	res, err := t.Run(ctx, env)
	out.flush()
	if err != nil {
		return task.Result{}, fmt.Errorf("step %s: %w", s.ID, err)
	}
	return res, nil
}

// mergeEnv returns base with vars set (replacing same-named entries) and
// dirs prepended to PATH.
func mergeEnv(base []string, vars map[string]string, prepend []string) []string {
	idx := map[string]int{}
	out := make([]string, 0, len(base)+len(vars)+1)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	set := func(k, v string) {
		if i, ok := idx[k]; ok {
			out[i] = k + "=" + v
			return
		}
		idx[k] = len(out)
		out = append(out, k+"="+v)
	}
	for k, v := range vars {
		set(k, v)
	}
	if len(prepend) > 0 {
		path := ""
		if i, ok := idx["PATH"]; ok {
			_, path, _ = strings.Cut(out[i], "=")
		}
		set("PATH", strings.Join(append(append([]string{}, prepend...), path), string(os.PathListSeparator)))
	}
	return out
}
