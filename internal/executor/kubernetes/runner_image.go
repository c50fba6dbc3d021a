package kubernetes

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// RunnerBinaries are the programs of a runner image, as files of this
// machine.
type RunnerBinaries struct {
	// Conveyor is a statically linked conveyor binary for Linux
	// (CGO_ENABLED=0), usually the running one.
	Conveyor string
	// Busybox is a static busybox (Debian's busybox-static: /bin/busybox).
	Busybox string
	// Bash is a static bash (Debian's bash-static: /bin/bash-static).
	Bash string
}

// DefaultRunnerBinaries are the running conveyor binary and Debian's static
// busybox and bash.
func DefaultRunnerBinaries() (RunnerBinaries, error) {
	self, err := os.Executable()
	if err != nil {
		return RunnerBinaries{}, fmt.Errorf("runner image: %w", err)
	}
	return RunnerBinaries{Conveyor: self, Busybox: "/bin/busybox", Bash: "/bin/bash-static"}, nil
}

// RunnerImage packs b into the runner image of job pods: one layer with
// /bin/conveyor, /bin/busybox, /bin/bash and a /bin link per busybox
// applet (sh, cat, sleep, …), PATH=/bin. Each binary must be a static Linux
// executable for this machine's architecture. The image is reproducible:
// equal binaries give an equal digest.
func RunnerImage(b RunnerBinaries) (v1.Image, error) {
	files := []struct{ src, dst string }{{b.Conveyor, "bin/conveyor"}, {b.Busybox, "bin/busybox"}, {b.Bash, "bin/bash"}}
	for _, f := range files {
		if err := checkStatic(f.src); err != nil {
			return nil, fmt.Errorf("runner image: %w", err)
		}
	}
	applets, err := exec.Command(b.Busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("runner image: %s --list: %w", b.Busybox, err)
	}
	epoch := time.Unix(0, 0)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
		return nil, fmt.Errorf("runner image: %w", err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch}); err != nil {
		return nil, fmt.Errorf("runner image: %w", err)
	}
	have := map[string]bool{}
	for _, f := range files {
		if err := addFile(tw, f.src, f.dst, epoch); err != nil {
			return nil, fmt.Errorf("runner image: %w", err)
		}
		have[f.dst] = true
	}
	for _, a := range strings.Fields(string(applets)) {
		name := "bin/" + a
		if strings.Contains(a, "/") || have[name] {
			continue
		}
		have[name] = true
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: epoch}); err != nil {
			return nil, fmt.Errorf("runner image: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("runner image: %w", err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return nil, fmt.Errorf("runner image: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("runner image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("runner image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{Env: []string{"PATH=/bin"}, Entrypoint: []string{"/bin/conveyor"}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("runner image: %w", err)
	}
	return img, nil
}

func addFile(tw *tar.Writer, src, dst string, mtime time.Time) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: dst, Typeflag: tar.TypeReg, Mode: 0o755, Size: st.Size(), ModTime: mtime}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// checkStatic fails unless path is a Linux ELF executable without a
// dynamic loader, for this machine's architecture.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: not a Linux executable: %w", path, err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM, "riscv64": elf.EM_RISCV, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390}[runtime.GOARCH]
	if want != 0 && f.Machine != want {
		return fmt.Errorf("%s: built for %v, not %s", path, f.Machine, runtime.GOARCH)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: job images may lack its libraries; use a static build (CGO_ENABLED=0 go build, Debian's busybox-static and bash-static)", path)
		}
	}
	return nil
}
