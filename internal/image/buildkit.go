package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// BuildKitVersion is the BuildKit release tools/buildkit/build.sh builds
// (its BUILDKIT_VERSION; a test checks they agree).
const BuildKitVersion = "v0.34.2"

// BuildKit is a BuildKit daemon that builds Dockerfiles with RUN.
type BuildKit struct {
	// Address is buildkitd's address: unix:///run/buildkit/buildkitd.sock,
	// tcp://host:1234 (buildKit.address in conveyor.yaml).
	Address string
	// Buildctl is the buildctl program; empty means "buildctl" on PATH or,
	// failing that, the one tools/buildkit/build.sh put in the cache folder.
	Buildctl string
	// WorkDir holds the exported image until the caller is done with it;
	// empty means the system temp folder.
	WorkDir string
}

// buildctlPath finds buildctl.
func (k *BuildKit) buildctlPath() (string, error) {
	if k.Buildctl != "" {
		return k.Buildctl, nil
	}
	if p, err := exec.LookPath("buildctl"); err == nil {
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err == nil {
		p := filepath.Join(cache, "conveyor", "buildkit", BuildKitVersion, "bin", "buildctl")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("buildctl not found: install BuildKit's buildctl on PATH or run tools/buildkit/build.sh")
}

// buildKit sends the whole build to the BuildKit daemon with buildctl and
// loads the OCI layout it exports. SOURCE_DATE_EPOCH goes to BuildKit with
// rewrite-timestamp, so the result is reproducible too.
func (bl *builder) buildKit(ctx context.Context, target int) (*BuildResult, error) {
	k := bl.b.BuildKit
	if k.Address == "" {
		return nil, errors.New("buildkit: no address: set buildKit.address in conveyor.yaml")
	}
	buildctl, err := k.buildctlPath()
	if err != nil {
		return nil, err
	}
	out, err := os.MkdirTemp(k.WorkDir, "conveyor-buildkit-")
	if err != nil {
		return nil, fmt.Errorf("buildkit: %w", err)
	}
	dfAbs, err := filepath.Abs(bl.b.Dockerfile)
	if err != nil {
		return nil, err
	}
	ctxAbs, err := filepath.Abs(bl.b.Context)
	if err != nil {
		return nil, err
	}
	epoch := strconv.FormatInt(bl.epoch.Unix(), 10)
	args := []string{"--addr", k.Address, "build",
		"--frontend", "dockerfile.v0",
		"--local", "context=" + ctxAbs,
		"--local", "dockerfile=" + filepath.Dir(dfAbs),
		"--opt", "filename=" + filepath.Base(dfAbs),
		"--opt", "platform=linux/amd64",
		"--opt", "build-arg:SOURCE_DATE_EPOCH=" + epoch,
		"--progress", "plain",
		"--output", "type=oci,tar=false,rewrite-timestamp=true,dest=" + out,
	}
	if t := bl.stages[target].name; t != "" && bl.b.Target != "" {
		args = append(args, "--opt", "target="+t)
	}
	for _, k := range slices.Sorted(maps.Keys(bl.b.BuildArgs)) {
		args = append(args, "--opt", "build-arg:"+k+"="+bl.b.BuildArgs[k])
	}
	labels := maps.Clone(bl.b.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range map[string]string{RevisionKey: bl.b.Revision, SourceKey: bl.b.Source} {
		if v != "" {
			labels[k] = v
		}
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		args = append(args, "--opt", "label:"+k+"="+labels[k])
	}
	bl.logf("buildkit %s: building %s", k.Address, bl.b.Dockerfile)
	cmd := exec.CommandContext(ctx, buildctl, args...)
	var stderr bytes.Buffer
	if bl.b.Log != nil {
		cmd.Stdout = bl.b.Log
		cmd.Stderr = &teeTail{w: bl.b.Log, tail: &stderr}
	} else {
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
	}
	if err := cmd.Run(); err != nil {
		os.RemoveAll(out)
		return nil, fmt.Errorf("buildkit build of %s at %s (buildKit.address in conveyor.yaml; is buildkitd running there?): %w\n%s", bl.b.Dockerfile, k.Address, err, tail(stderr.String(), 40))
	}
	img, err := loadLayoutImage(out)
	if err != nil {
		os.RemoveAll(out)
		return nil, fmt.Errorf("buildkit build of %s: %w", bl.b.Dockerfile, err)
	}
	ann := map[string]string{CreatedKey: bl.epoch.Format("2006-01-02T15:04:05Z07:00")}
	maps.Copy(ann, bl.b.Annotations)
	for k, v := range map[string]string{RevisionKey: bl.b.Revision, SourceKey: bl.b.Source} {
		if v != "" {
			ann[k] = v
		}
	}
	res := &BuildResult{BuildKit: true, cleanup: func() error { return os.RemoveAll(out) }}
	if bl.b.BaseImageData {
		if res.BaseName, res.BaseDigest, err = bl.rootBase(target); err != nil {
			os.RemoveAll(out)
			return nil, err
		}
		if res.BaseName != "" {
			ann[BaseNameKey], ann[BaseDigestKey] = res.BaseName, res.BaseDigest
		}
	}
	annotated, ok := mutate.Annotations(img, ann).(v1.Image)
	if !ok {
		os.RemoveAll(out)
		return nil, errors.New("buildkit build: annotations did not yield an image")
	}
	res.Image = annotated
	return res, nil
}

// rootBase names the image the target stage is ultimately built FROM (through
// earlier stages) and its digest; both are empty for scratch.
func (bl *builder) rootBase(target int) (string, string, error) {
	i := target
	for {
		words, err := bl.fromWords(bl.stages[i].from)
		if err != nil {
			return "", "", err
		}
		if j := bl.stageRef(words[0], i); j >= 0 {
			i = j
			continue
		}
		if strings.EqualFold(words[0], "scratch") {
			return "", "", nil
		}
		img, digest, err := bl.pull(words[0])
		if err != nil || img == nil {
			return "", "", bl.errorf(bl.stages[i].from, "%v", err)
		}
		return words[0], digest, nil
	}
}

// loadLayoutImage returns the single image of the OCI layout at dir.
func loadLayoutImage(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read exported layout: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read exported layout: %w", err)
	}
	for _, m := range im.Manifests {
		if m.MediaType.IsImage() {
			return idx.Image(m.Digest)
		}
		if m.MediaType.IsIndex() {
			child, err := idx.ImageIndex(m.Digest)
			if err != nil {
				return nil, err
			}
			cm, err := child.IndexManifest()
			if err != nil {
				return nil, err
			}
			for _, c := range cm.Manifests {
				if c.MediaType.IsImage() && (c.Platform == nil || c.Platform.Architecture == "amd64") {
					return child.Image(c.Digest)
				}
			}
		}
	}
	return nil, errors.New("the exported layout holds no image")
}

// teeTail writes to w and keeps a copy in tail.
type teeTail struct {
	w    interface{ Write([]byte) (int, error) }
	tail *bytes.Buffer
}

func (t *teeTail) Write(p []byte) (int, error) {
	t.tail.Write(p)
	return t.w.Write(p)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
