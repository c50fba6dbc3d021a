package kubeenv

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// M is the part of *testing.M that Main runs.
type M interface{ Run() int }

// Main runs a test package against one environment started with opts and
// stored in *env, and returns the exit code for os.Exit:
//
//	var env *kubeenv.Env
//
//	func TestMain(m *testing.M) { os.Exit(kubeenv.Main(m, kubeenv.Options{KwokNodes: 2}, &env)) }
//
// When the tests fail it prints the components' last log lines. After the
// tests it stops the environment and fails the package if a process or a
// mount of the environment is left behind.
func Main(m M, opts Options, env **Env) int {
	e, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*env = e
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "kubeenv component logs (last 60 lines each):\n%s", e.Logs(60))
	}
	dir := e.Dir
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if pids, mounts := OwnedProcesses(dir), OwnedMounts(dir); len(pids) > 0 || len(mounts) > 0 {
		fmt.Fprintf(os.Stderr, "kubeenv: left behind by Stop: processes %v, mounts [%s]\n", pids, strings.Join(mounts, " "))
		return 1
	}
	return code
}
