package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Label and annotation keys BuildGo sets from GoBuild.Revision and GoBuild.Source.
const (
	RevisionKey = "org.opencontainers.image.revision"
	SourceKey   = "org.opencontainers.image.source"
)

// appDir is where BuildGo puts the binary, as ko does.
const appDir = "/ko-app"

// defaultPath is the PATH of a built image's config unless Env sets one.
const defaultPath = "PATH=" + appDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// GoBuild describes one Go image build.
type GoBuild struct {
	// Dir is the Go module directory the build runs in. Required.
	Dir string
	// Main is the main package, relative to Dir ("./cmd/app") or ".". Empty means ".".
	Main string
	// Base is the image the binary layer goes on; nil means an empty (scratch) image.
	Base v1.Image
	// Platform is the target OS/architecture; nil means linux/amd64.
	Platform *v1.Platform
	// BuildEnv is added to the environment of "go build" (after the process
	// environment; CGO_ENABLED, GOOS, GOARCH and GOARM are set by BuildGo).
	BuildEnv []string
	// Env is added to the image config's environment ("KEY=value").
	Env []string
	// Ldflags is passed to "go build -ldflags" when not empty.
	Ldflags string
	// Labels are added to the image config's labels.
	Labels map[string]string
	// Annotations are added to the image manifest's annotations.
	Annotations map[string]string
	// Revision and Source, when set, become the OCI label and annotation
	// org.opencontainers.image.revision and .source.
	Revision, Source string
	// Entrypoint defaults to ["/ko-app/<name>"], name being the main package's directory name.
	Entrypoint []string
	// SourceDateEpoch stamps the layer's files and the config's created time.
	// Zero means $SOURCE_DATE_EPOCH (seconds) or, without it, the Unix epoch.
	SourceDateEpoch time.Time
}

// BuildGo compiles b.Main with "go build -trimpath -buildvcs=false" and
// CGO_ENABLED=0 for b.Platform, and returns b.Base with one layer holding the
// binary at /ko-app/<name> (mode 0755, owner 0:0, mtime SourceDateEpoch) and a
// config setting the entrypoint, PATH, created time and labels. The result is
// reproducible: equal inputs give an equal digest.
func BuildGo(ctx context.Context, b GoBuild) (v1.Image, error) {
	if b.Dir == "" {
		return nil, errors.New("go image build: Dir (the module directory) is required")
	}
	main := b.Main
	if main == "" {
		main = "."
	}
	plat := v1.Platform{OS: "linux", Architecture: "amd64"}
	if b.Platform != nil {
		plat = *b.Platform
	}
	epoch, err := sourceDateEpoch(b.SourceDateEpoch, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return nil, fmt.Errorf("go image build of %s: %w", main, err)
	}
	name, err := binaryName(b.Dir, main)
	if err != nil {
		return nil, fmt.Errorf("go image build of %s: %w", main, err)
	}

	tmp, err := os.MkdirTemp("", "conveyor-gobuild-")
	if err != nil {
		return nil, fmt.Errorf("go image build of %s: %w", main, err)
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, name)
	if err := goBuild(ctx, b.Dir, main, bin, plat, b.BuildEnv, b.Ldflags); err != nil {
		return nil, err
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("go image build of %s: read binary: %w", main, err)
	}
	binPath := path.Join(appDir, name)
	layerBytes, err := layerTarGz(binPath, binary, epoch)
	if err != nil {
		return nil, fmt.Errorf("go image build of %s: layer: %w", main, err)
	}

	base := b.Base
	if base == nil {
		base = mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	mt, err := base.MediaType()
	if err != nil {
		return nil, fmt.Errorf("go image build of %s: base media type: %w", main, err)
	}
	layerType := types.DockerLayer
	if mt == types.OCIManifestSchema1 {
		layerType = types.OCILayer
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(layerType))
	if err != nil {
		return nil, fmt.Errorf("go image build of %s: layer: %w", main, err)
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     descriptorless{layer},
		MediaType: layerType,
		History: v1.History{
			Author:    "conveyor",
			Created:   v1.Time{Time: epoch},
			CreatedBy: "conveyor go build " + main,
			Comment:   "go build output",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("go image build of %s: append layer: %w", main, err)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("go image build of %s: base config: %w", main, err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: epoch}
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = plat.OS, plat.Architecture, plat.Variant, plat.OSVersion
	cf.Author = "conveyor"
	entry := b.Entrypoint
	if len(entry) == 0 {
		entry = []string{binPath}
	}
	cf.Config.Entrypoint = slices.Clone(entry)
	cf.Config.Cmd = nil
	cf.Config.Env = imageEnv(cf.Config.Env, b.Env)
	labels := maps.Clone(cf.Config.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, b.Labels)
	annotations := maps.Clone(b.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	for k, v := range map[string]string{RevisionKey: b.Revision, SourceKey: b.Source} {
		if v != "" {
			labels[k] = v
			annotations[k] = v
		}
	}
	if len(labels) > 0 {
		cf.Config.Labels = labels
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("go image build of %s: config: %w", main, err)
	}
	if len(annotations) > 0 {
		annotated, ok := mutate.Annotations(img, annotations).(v1.Image)
		if !ok {
			return nil, fmt.Errorf("go image build of %s: annotations did not yield an image", main)
		}
		img = annotated
	}
	return img, nil
}

// sourceDateEpoch picks the build's timestamp: opt when set, else the
// SOURCE_DATE_EPOCH value env (seconds since 1970), else the Unix epoch.
func sourceDateEpoch(opt time.Time, env string) (time.Time, error) {
	if !opt.IsZero() {
		return opt.UTC(), nil
	}
	if env == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(env, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a whole number of seconds since 1970: %w", env, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// binaryName is the name of the main package's directory, as ko names binaries.
func binaryName(dir, main string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(dir, main))
	if err != nil {
		return "", err
	}
	name := filepath.Base(abs)
	if name == "" || name == "." || name == string(filepath.Separator) {
		return "", fmt.Errorf("cannot name the binary of %s: set Entrypoint", main)
	}
	return name, nil
}

// goBuild runs "go build" of main in dir, writing the binary to out.
func goBuild(ctx context.Context, dir, main, out string, plat v1.Platform, env []string, ldflags string) error {
	args := []string{"build", "-trimpath", "-buildvcs=false", "-o", out}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	args = append(args, main)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "CGO_ENABLED=0", "GOOS="+plat.OS, "GOARCH="+plat.Architecture)
	if plat.Architecture == "arm" && strings.HasPrefix(plat.Variant, "v") {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(plat.Variant, "v"))
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build of %s in %s for %s/%s: %w\n%s", main, dir, plat.OS, plat.Architecture, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// imageEnv is the base environment with extra applied (same keys replaced)
// and PATH set to include /ko-app when neither sets it.
func imageEnv(base, extra []string) []string {
	var out []string
	index := map[string]int{}
	for _, kv := range slices.Concat(base, extra) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	if _, ok := index["PATH"]; !ok {
		out = append(out, defaultPath)
	}
	return out
}

// layerTarGz is a gzipped tar holding the file at name (absolute, slash
// separated) with its parent directories: entries sorted, owner 0:0, mtime
// epoch, a fixed gzip header, so equal inputs give equal bytes.
func layerTarGz(name string, content []byte, epoch time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	// The zero header (no name, no mtime, OS unknown) is what keeps the bytes stable.
	zw.Header = gzip.Header{OS: 255}
	tw := tar.NewWriter(zw)
	rel := strings.TrimPrefix(path.Clean(name), "/")
	var dirs []string
	for d := path.Dir(rel); d != "." && d != "/"; d = path.Dir(d) {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX,
		}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: rel, Mode: 0o755, Size: int64(len(content)), ModTime: epoch, Format: tar.FormatPAX,
	}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// descriptorless hides the tarball layer's Descriptor method, whose empty
// (non-nil) annotations map would make the in-memory manifest differ from its
// serialised form.
type descriptorless struct{ v1.Layer }
