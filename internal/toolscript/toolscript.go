// Package toolscript finds the build scripts of the pinned peer binaries
// (tools/<name>/build.sh: the Kubernetes control plane, Vault, Gitea, …) in
// the Conveyor checkout, for the code and the tests that build them on
// first use.
//
// It imports only the standard library.
package toolscript

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Find returns tools/<name>/build.sh of the checkout that holds the
// working directory or, failing that, this source file.
func Find(name string) (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	rel := filepath.Join("tools", name, "build.sh")
	for _, d := range starts {
		for ; ; d = filepath.Dir(d) {
			s := filepath.Join(d, rel)
			if _, err := os.Stat(s); err == nil {
				return s, nil
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	return "", fmt.Errorf("%s was not found above %v: run from a Conveyor checkout", rel, starts)
}
