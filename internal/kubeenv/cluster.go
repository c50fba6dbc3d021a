package kubeenv

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

	"k8s.io/apimachinery/pkg/util/wait"
)

// A cluster is an environment with the real node run in the background by a
// supervisor process (conveyor cluster serve) under a state folder:
//
//	STATE/pid         the supervisor's process id
//	STATE/kubeconfig  written once the node is Ready
//	STATE/ready       written once the node is Ready
//	STATE/error       why the supervisor failed to start the cluster
//	STATE/supervisor.log
//	STATE/env/        the environment (logs in STATE/env/logs)

// DefaultStateDir returns ${XDG_STATE_HOME:-$HOME/.local/state}/conveyor/cluster.
func DefaultStateDir() (string, error) {
	state := os.Getenv("XDG_STATE_HOME")
	if state == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cluster: locate state folder: %w", err)
		}
		state = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(state, "conveyor", "cluster"), nil
}

// ClusterKubeconfig returns the kubeconfig path of the cluster under state.
func ClusterKubeconfig(state string) string { return filepath.Join(state, "kubeconfig") }

// ClusterRunning reports whether the cluster under state is up: its
// supervisor runs and has written the ready mark.
func ClusterRunning(state string) bool {
	pid, ok := supervisorPID(state)
	if !ok {
		return false
	}
	_, err := os.Stat(filepath.Join(state, "ready"))
	return err == nil && pid > 0
}

// supervisorPID returns the recorded supervisor's pid when that process is
// alive.
func supervisorPID(state string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(state, "pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, processAlive(pid)
}

func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

// UpResult says what Up did.
type UpResult struct {
	Kubeconfig     string
	AlreadyRunning bool
	Elapsed        time.Duration // from the supervisor's start to a Ready node
}

// Up starts the cluster under state unless it runs already: it builds the
// binaries when missing (progress to progress), starts supervisor (argv of
// a command that runs Serve for state) detached in its own session, and
// waits until the node is Ready.
func Up(ctx context.Context, state string, supervisor []string, progress io.Writer) (UpResult, error) {
	if ClusterRunning(state) {
		return UpResult{Kubeconfig: ClusterKubeconfig(state), AlreadyRunning: true}, nil
	}
	if _, alive := supervisorPID(state); alive {
		return UpResult{}, fmt.Errorf("cluster %s: a supervisor is starting or failing: run conveyor cluster down first", state)
	}
	if _, err := EnsureBinaries(ctx, progress); err != nil {
		return UpResult{}, err
	}
	if err := os.MkdirAll(state, 0o755); err != nil {
		return UpResult{}, fmt.Errorf("cluster %s: %w", state, err)
	}
	for _, f := range []string{"pid", "ready", "error", "kubeconfig"} {
		_ = os.Remove(filepath.Join(state, f))
	}
	logf, err := os.OpenFile(filepath.Join(state, "supervisor.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return UpResult{}, fmt.Errorf("cluster %s: %w", state, err)
	}
	defer logf.Close()
	start := time.Now()
	cmd := exec.Command(supervisor[0], supervisor[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return UpResult{}, fmt.Errorf("cluster %s: start supervisor: %w", state, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) {
		select {
		case err := <-exited:
			msg, _ := os.ReadFile(filepath.Join(state, "error"))
			return false, fmt.Errorf("supervisor exited (%v): %s; see %s", err, strings.TrimSpace(string(msg)), filepath.Join(state, "supervisor.log"))
		default:
		}
		_, err := os.Stat(filepath.Join(state, "ready"))
		return err == nil, nil
	})
	if err != nil {
		_ = cmd.Process.Kill()
		return UpResult{}, fmt.Errorf("cluster %s: %w", state, err)
	}
	_ = cmd.Process.Release()
	return UpResult{Kubeconfig: ClusterKubeconfig(state), Elapsed: time.Since(start)}, nil
}

// Serve is the supervisor: it starts the environment with the real node
// under state, marks it ready, and keeps it until ctx ends, then stops it.
func Serve(ctx context.Context, state string) error {
	if err := os.MkdirAll(state, 0o755); err != nil {
		return fmt.Errorf("cluster %s: %w", state, err)
	}
	if err := os.WriteFile(filepath.Join(state, "pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("cluster %s: %w", state, err)
	}
	env, err := Start(ctx, Options{RealNode: true, Dir: filepath.Join(state, "env"), BinDir: "", Progress: os.Stderr})
	if err != nil {
		_ = os.WriteFile(filepath.Join(state, "error"), []byte(err.Error()+"\n"), 0o644)
		return err
	}
	kc, err := os.ReadFile(env.Kubeconfig)
	if err == nil {
		err = os.WriteFile(ClusterKubeconfig(state), kc, 0o600)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(state, "ready"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
	}
	if err != nil {
		_ = os.WriteFile(filepath.Join(state, "error"), []byte(err.Error()+"\n"), 0o644)
		return errors.Join(fmt.Errorf("cluster %s: %w", state, err), env.Stop())
	}
	fmt.Fprintf(os.Stderr, "cluster ready: %v\n", env.PIDs())
	<-ctx.Done()
	_ = os.Remove(filepath.Join(state, "ready"))
	return env.Stop()
}

// Down stops the cluster under state and removes the state. It reports
// whether a cluster was running.
func Down(ctx context.Context, state string) (bool, error) {
	if _, err := os.Stat(state); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	pid, alive := supervisorPID(state)
	if alive {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			return !processAlive(pid), nil
		})
		if err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	// Whatever the supervisor left (it may have been killed): processes,
	// mounts, the bridge go with the folder.
	if err := cleanDir(filepath.Join(state, "env"), false); err != nil {
		return alive, fmt.Errorf("cluster %s: %w", state, err)
	}
	if err := os.RemoveAll(state); err != nil {
		return alive, fmt.Errorf("cluster %s: %w", state, err)
	}
	return alive, nil
}
