package kubeenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A process killed outright (SIGKILL, a crash) cannot stop its environment:
// Pdeathsig ends the components it started, but containerd shims and
// containers live on. Each temporary environment therefore records its owner
// in Dir/owner, and Start sweeps the temporary environments whose owner is
// gone.

const ownerFile = "owner"

// processStartTime returns the start time of pid (clock ticks since boot), the
// 22nd field of /proc/PID/stat, which tells a process from a later one that
// reuses its pid.
func processStartTime(pid int) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", false
	}
	return f[19], true
}

func writeOwner(dir string) error {
	start, _ := processStartTime(os.Getpid())
	if err := os.WriteFile(filepath.Join(dir, ownerFile), fmt.Appendf(nil, "%d %s\n", os.Getpid(), start), 0o644); err != nil {
		return fmt.Errorf("record owner: %w", err)
	}
	return nil
}

// ownerGone reports whether the process recorded in dir/owner has ended.
func ownerGone(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		// No owner yet: a Start in progress, unless the folder is old.
		fi, err := os.Stat(dir)
		return err == nil && time.Since(fi.ModTime()) > 10*time.Minute
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return true
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return true
	}
	start, ok := processStartTime(pid)
	return !ok || start != f[1]
}

// sweepStale stops and removes the temporary environments under tmp whose
// owner has ended.
func sweepStale(tmp string) error {
	dirs, err := filepath.Glob(filepath.Join(tmp, "kubeenv-*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || !ownerGone(d) {
			continue
		}
		errs = append(errs, cleanDir(d, true))
	}
	return errors.Join(errs...)
}

// cleanDir kills what is left of the environment in dir, deletes its
// bridge, unmounts what is mounted under it and, with remove, removes it.
func cleanDir(dir string, remove bool) error {
	e := &Env{Dir: dir}
	var errs []error
	errs = append(errs, e.killAll(30*time.Second))
	if b, err := os.ReadFile(filepath.Join(dir, "node", "bridge")); err == nil {
		errs = append(errs, deleteLink(strings.TrimSpace(string(b))))
	}
	errs = append(errs, unmountAll(dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	if remove {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clean %s: %w", dir, err)
		}
	}
	return nil
}
