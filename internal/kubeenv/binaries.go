package kubeenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"conveyor.dev/conveyor/internal/toolscript"
)

// Version names the pinned set of binaries built by tools/kube/build.sh and
// their cache folder; it must equal KUBE_VERSION in that script.
const Version = "v1.37.2-etcd3.7.0-kwok0.8.0"

// Binaries lists the programs kubeenv runs from the binary folder.
var Binaries = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl", "etcd", "kwok", "pause"}

// BinDir returns the folder holding the binaries: $CONVEYOR_KUBE_BIN when
// set, else ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/kube/<Version>/bin.
func BinDir() (string, error) {
	if d := os.Getenv("CONVEYOR_KUBE_BIN"); d != "" {
		return d, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("kube binaries: locate cache folder: %w", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "conveyor", "kube", Version, "bin"), nil
}

func missingBinaries(dir string) []string {
	var missing []string
	for _, b := range Binaries {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	return missing
}

// EnsureBinaries returns the binary folder, building the binaries with
// tools/kube/build.sh first when any is missing (several minutes on a cold Go
// cache). The build's progress goes to progress (nil: discarded). The script
// is found from $CONVEYOR_KUBE_BUILD, the working directory's enclosing
// module, or this source file's checkout.
func EnsureBinaries(ctx context.Context, progress io.Writer) (string, error) {
	dir, err := BinDir()
	if err != nil {
		return "", err
	}
	missing := missingBinaries(dir)
	if len(missing) == 0 {
		return dir, nil
	}
	if os.Getenv("CONVEYOR_KUBE_BIN") != "" {
		return "", fmt.Errorf("kube binaries: CONVEYOR_KUBE_BIN=%s lacks %s: unset it or build them with tools/kube/build.sh", dir, strings.Join(missing, ", "))
	}
	script, err := findBuildScript()
	if err != nil {
		return "", fmt.Errorf("kube binaries: %s missing from %s and %w", strings.Join(missing, ", "), dir, err)
	}
	if progress == nil {
		progress = io.Discard
	}
	fmt.Fprintf(progress, "kubeenv: building Kubernetes binaries (%s) with %s; takes minutes the first time\n", Version, script)
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout = io.Discard
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kube binaries: run %s: %w", script, err)
	}
	if missing := missingBinaries(dir); len(missing) > 0 {
		return "", fmt.Errorf("kube binaries: %s still missing from %s after %s", strings.Join(missing, ", "), dir, script)
	}
	return dir, nil
}

func findBuildScript() (string, error) {
	if s := os.Getenv("CONVEYOR_KUBE_BUILD"); s != "" {
		return s, nil
	}
	s, err := toolscript.Find("kube")
	if err != nil {
		return "", fmt.Errorf("%w, or set CONVEYOR_KUBE_BIN", err)
	}
	return s, nil
}
