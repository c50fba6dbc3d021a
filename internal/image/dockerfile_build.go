package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotation keys a Dockerfile build sets on the image manifest besides
// RevisionKey and SourceKey.
const (
	CreatedKey    = "org.opencontainers.image.created"
	BaseNameKey   = "org.opencontainers.image.base.name"
	BaseDigestKey = "org.opencontainers.image.base.digest"
)

// DockerBuild describes one Dockerfile build.
type DockerBuild struct {
	// Dockerfile is the path of the Dockerfile. Required.
	Dockerfile string
	// Context is the build context directory; empty means the Dockerfile's directory.
	Context string
	// BuildArgs are the --build-arg values.
	BuildArgs map[string]string
	// Target is the stage to build; empty means the last one.
	Target string
	// Platform must be empty or linux/amd64, the only platform built.
	Platform string
	// Labels are added to the image config's labels (after LABEL instructions).
	Labels map[string]string
	// Annotations are added to the image manifest.
	Annotations map[string]string
	// Revision and Source, when set, become the OCI label and annotation
	// org.opencontainers.image.revision and .source.
	Revision, Source string
	// BaseImageData adds the org.opencontainers.image.base.name/.digest
	// annotations naming the final stage's base image.
	BaseImageData bool
	// SourceDateEpoch stamps every file, history entry and the created time.
	// Zero means $SOURCE_DATE_EPOCH (seconds) or, without it, the Unix epoch.
	SourceDateEpoch time.Time
	// CacheDir keeps built layers across builds; empty means no cache.
	CacheDir string
	// Keychain authenticates base image pulls; nil means authn.DefaultKeychain.
	Keychain authn.Keychain
	// Insecure lists registry hosts spoken to over plain HTTP; loopback
	// registries always are.
	Insecure []string
	// RemoteOptions are added to every pull.
	RemoteOptions []remote.Option
	// BuildKit, when set, builds Dockerfiles with RUN instructions on a
	// BuildKit daemon; without it RUN is an error.
	BuildKit *BuildKit
	// Log receives progress lines; nil means none.
	Log io.Writer
}

// BuildResult is a built image and what the build found out.
type BuildResult struct {
	Image v1.Image
	// BaseName and BaseDigest name the final stage's base image (empty for scratch).
	BaseName, BaseDigest string
	// CacheHits and CacheMisses count COPY/ADD layers taken from or added to the cache.
	CacheHits, CacheMisses int
	// BuildKit is set when the image was built by the BuildKit daemon.
	BuildKit bool

	cleanup func() error
}

// Close releases the files a BuildKit build exported; the Image must not be
// used after. It is a no-op for other builds.
func (r *BuildResult) Close() error {
	if r == nil || r.cleanup == nil {
		return nil
	}
	return r.cleanup()
}

// ErrRunNeedsBuildKit marks a Dockerfile with RUN built without a BuildKit daemon.
var ErrRunNeedsBuildKit = errors.New("RUN needs a BuildKit daemon")

// Build builds the Dockerfile b.Dockerfile without a Docker daemon:
// FROM (a registry image, scratch or an earlier stage), COPY and ADD of
// local files (honouring .dockerignore) or of other stages' files, and the
// instructions that only change the image config. Every file gets the owner
// given by --chown (default 0:0) and the mtime SourceDateEpoch, so equal
// inputs give an equal digest. A Dockerfile whose stages need RUN goes to
// b.BuildKit, or fails with an error wrapping ErrRunNeedsBuildKit that names
// the Dockerfile line.
func Build(ctx context.Context, b DockerBuild) (*BuildResult, error) {
	if b.Dockerfile == "" {
		return nil, errors.New("dockerfile build: the Dockerfile path is required")
	}
	src, err := os.ReadFile(b.Dockerfile)
	if err != nil {
		return nil, fmt.Errorf("dockerfile build: %w", err)
	}
	df, err := ParseDockerfile(b.Dockerfile, src)
	if err != nil {
		return nil, err
	}
	if b.Context == "" {
		b.Context = filepath.Dir(b.Dockerfile)
	}
	if st, err := os.Stat(b.Context); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("dockerfile build of %s: build context %s is not a directory", b.Dockerfile, b.Context)
	}
	if b.Platform != "" && b.Platform != "linux/amd64" {
		return nil, fmt.Errorf("dockerfile build of %s: platform %s: only linux/amd64 is built", b.Dockerfile, b.Platform)
	}
	epoch, err := sourceDateEpoch(b.SourceDateEpoch, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return nil, fmt.Errorf("dockerfile build of %s: %w", b.Dockerfile, err)
	}
	bl := &builder{b: b, df: df, epoch: epoch, ctx: ctx}
	if b.CacheDir != "" {
		bl.cache = &layerCache{dir: b.CacheDir}
	}
	if b.Keychain == nil {
		bl.b.Keychain = authn.DefaultKeychain
	}
	if err := bl.split(); err != nil {
		return nil, err
	}
	target, err := bl.targetStage()
	if err != nil {
		return nil, err
	}
	needed, err := bl.neededStages(target)
	if err != nil {
		return nil, err
	}
	for _, i := range needed {
		for _, in := range bl.stages[i].instrs {
			if in.Cmd == "RUN" {
				if b.BuildKit == nil {
					return nil, &ParseError{File: df.File, Line: in.Line, Err: ErrRunNeedsBuildKit, Msg: fmt.Sprintf("%v: conveyor builds images without a Docker daemon and cannot run commands itself; "+
						"configure buildKit.address in conveyor.yaml (a buildkitd socket such as unix:///run/buildkit/buildkitd.sock), "+
						"or remove the RUN instruction (COPY files built in an earlier pipeline step instead, or build Go programs with the Go builder: the goPackage input of Docker@2)",
						ErrRunNeedsBuildKit)}
				}
				return bl.buildKit(ctx, target)
			}
		}
	}
	bl.warnUnusedArgs()
	ign, err := readIgnore(b.Dockerfile, b.Context)
	if err != nil {
		return nil, err
	}
	bl.ignore = ign
	bl.results = map[int]*stageResult{}
	for _, i := range needed {
		r, err := bl.buildStage(bl.stages[i])
		if err != nil {
			return nil, err
		}
		bl.results[i] = r
	}
	final := bl.results[target]
	img, err := bl.finish(final)
	if err != nil {
		return nil, err
	}
	return &BuildResult{Image: img, BaseName: final.baseName, BaseDigest: final.baseDigest,
		CacheHits: bl.hits, CacheMisses: bl.misses}, nil
}

// readIgnore reads <Dockerfile>.dockerignore or, without it, the context's .dockerignore.
func readIgnore(dockerfile, contextDir string) (*ignorer, error) {
	for _, p := range []string{dockerfile + ".dockerignore", filepath.Join(contextDir, ".dockerignore")} {
		raw, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("dockerfile build: %w", err)
		}
		return parseIgnore(raw), nil
	}
	return nil, nil
}

// stage is one FROM and the instructions after it.
type stage struct {
	index  int
	name   string // lower case, "" when unnamed
	from   Instruction
	instrs []Instruction
}

// stageResult is a built stage.
type stageResult struct {
	img                  v1.Image
	cf                   *v1.ConfigFile
	baseName, baseDigest string
}

type builder struct {
	ctx        context.Context
	b          DockerBuild
	df         *Dockerfile
	epoch      time.Time
	cache      *layerCache
	ignore     *ignorer
	globalArgs []Instruction
	stages     []*stage
	results    map[int]*stageResult
	hits       int
	misses     int
}

func (bl *builder) errorf(in Instruction, format string, a ...any) error {
	return &ParseError{File: bl.df.File, Line: in.Line, Msg: in.Cmd + ": " + fmt.Sprintf(format, a...)}
}

func (bl *builder) logf(format string, a ...any) {
	if bl.b.Log != nil {
		fmt.Fprintf(bl.b.Log, format+"\n", a...)
	}
}

// split groups the instructions into global ARGs and stages.
func (bl *builder) split() error {
	for _, in := range bl.df.Instructions {
		switch {
		case in.Cmd == "FROM":
			st := &stage{index: len(bl.stages), from: in}
			bl.stages = append(bl.stages, st)
		case len(bl.stages) == 0 && in.Cmd == "ARG":
			bl.globalArgs = append(bl.globalArgs, in)
		case len(bl.stages) == 0:
			return bl.errorf(in, "comes before the first FROM: only ARG may")
		default:
			st := bl.stages[len(bl.stages)-1]
			st.instrs = append(st.instrs, in)
		}
	}
	if len(bl.stages) == 0 {
		return &ParseError{File: bl.df.File, Msg: "no FROM instruction: a Dockerfile starts with FROM (or ARGs then FROM)"}
	}
	for _, st := range bl.stages {
		words, err := bl.fromWords(st.from)
		if err != nil {
			return err
		}
		if len(words) == 3 && strings.EqualFold(words[1], "AS") {
			st.name = strings.ToLower(words[2])
		} else if len(words) != 1 {
			return bl.errorf(st.from, "write FROM image [AS name]")
		}
	}
	return nil
}

// platformArgs are the predefined ARGs.
var platformArgs = map[string]string{
	"TARGETPLATFORM": "linux/amd64", "TARGETOS": "linux", "TARGETARCH": "amd64", "TARGETVARIANT": "",
	"BUILDPLATFORM": "linux/amd64", "BUILDOS": "linux", "BUILDARCH": "amd64", "BUILDVARIANT": "",
}

// globals are the values of the ARGs before the first FROM.
func (bl *builder) globals() (map[string]string, error) {
	vals := maps.Clone(platformArgs)
	for _, in := range bl.globalArgs {
		if err := bl.declareArgs(in, vals, vals, nil); err != nil {
			return nil, err
		}
	}
	return vals, nil
}

// declareArgs applies ARG in: each name takes its build-arg value, else its
// default, else its value in inherit. Values go to into.
func (bl *builder) declareArgs(in Instruction, into, inherit map[string]string, env []string) error {
	words := strings.Fields(in.Rest)
	if len(words) == 0 {
		return bl.errorf(in, "needs a name, as in ARG VERSION=1.0")
	}
	lx := lexer{escape: bl.df.Escape, lookup: lookupIn(env, into)}
	for _, w := range words {
		k, def, hasDef := strings.Cut(w, "=")
		if k == "" {
			return bl.errorf(in, "%q has no name", w)
		}
		if v, ok := bl.b.BuildArgs[k]; ok {
			into[k] = v
			continue
		}
		if hasDef {
			v, err := lx.word(def)
			if err != nil {
				return bl.errorf(in, "%v", err)
			}
			into[k] = v
			continue
		}
		if v, ok := inherit[k]; ok {
			into[k] = v
			continue
		}
		if _, ok := into[k]; !ok {
			into[k] = ""
		}
	}
	return nil
}

// lookupIn finds a name in env (KEY=value, which wins, as ENV overrides ARG) or args.
func lookupIn(env []string, args map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if ek, v, ok := strings.Cut(env[i], "="); ok && ek == k {
				return v, true
			}
		}
		v, ok := args[k]
		return v, ok
	}
}

func (bl *builder) fromWords(in Instruction) ([]string, error) {
	g, err := bl.globals()
	if err != nil {
		return nil, err
	}
	words, err := lexer{escape: bl.df.Escape, lookup: lookupIn(nil, g)}.words(in.Rest)
	if err != nil {
		return nil, bl.errorf(in, "%v", err)
	}
	if len(words) == 0 {
		return nil, bl.errorf(in, "needs an image, as in FROM alpine:3.20 or FROM scratch")
	}
	return words, nil
}

// targetStage is the index of b.Target, or the last stage.
func (bl *builder) targetStage() (int, error) {
	if bl.b.Target == "" {
		return len(bl.stages) - 1, nil
	}
	for _, st := range bl.stages {
		if st.name == strings.ToLower(bl.b.Target) {
			return st.index, nil
		}
	}
	var names []string
	for _, st := range bl.stages {
		if st.name != "" {
			names = append(names, st.name)
		}
	}
	return 0, &ParseError{File: bl.df.File, Msg: fmt.Sprintf("target stage %q not found: the stages are %s", bl.b.Target, strings.Join(names, ", "))}
}

// stageRef finds the stage a FROM or --from names (a name or an index
// before stage before), or -1 when it names an image.
func (bl *builder) stageRef(ref string, before int) int {
	for _, st := range bl.stages[:before] {
		if st.name != "" && st.name == strings.ToLower(ref) {
			return st.index
		}
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < before {
		return n
	}
	return -1
}

// neededStages are the stages target depends on, in order.
func (bl *builder) neededStages(target int) ([]int, error) {
	need := map[int]bool{}
	var visit func(i int) error
	visit = func(i int) error {
		if need[i] {
			return nil
		}
		need[i] = true
		st := bl.stages[i]
		words, err := bl.fromWords(st.from)
		if err != nil {
			return err
		}
		if j := bl.stageRef(words[0], i); j >= 0 {
			if err := visit(j); err != nil {
				return err
			}
		}
		for _, in := range st.instrs {
			if in.Cmd != "COPY" && in.Cmd != "ADD" && in.Cmd != "RUN" {
				continue
			}
			if from, ok := in.Flag("from"); ok {
				if j := bl.stageRef(from, i); j >= 0 {
					if err := visit(j); err != nil {
						return err
					}
				}
			}
			for _, f := range in.Flags {
				if f.Name == "mount" {
					for _, part := range strings.Split(f.Value, ",") {
						if k, v, _ := strings.Cut(part, "="); k == "from" {
							if j := bl.stageRef(v, i); j >= 0 {
								if err := visit(j); err != nil {
									return err
								}
							}
						}
					}
				}
			}
		}
		return nil
	}
	if err := visit(target); err != nil {
		return nil, err
	}
	out := slices.Collect(maps.Keys(need))
	slices.Sort(out)
	return out, nil
}

// base returns the image a stage starts from.
func (bl *builder) base(st *stage) (*stageResult, error) {
	words, err := bl.fromWords(st.from)
	if err != nil {
		return nil, err
	}
	if p, ok := st.from.Flag("platform"); ok {
		g, _ := bl.globals()
		pv, err := lexer{escape: bl.df.Escape, lookup: lookupIn(nil, g)}.word(p)
		if err != nil {
			return nil, bl.errorf(st.from, "--platform: %v", err)
		}
		if pv != "linux/amd64" {
			return nil, bl.errorf(st.from, "--platform=%s: only linux/amd64 is built", pv)
		}
	}
	ref := words[0]
	if j := bl.stageRef(ref, st.index); j >= 0 {
		prev := bl.results[j]
		return &stageResult{img: prev.img, cf: prev.cf.DeepCopy(), baseName: prev.baseName, baseDigest: prev.baseDigest}, nil
	}
	if strings.EqualFold(ref, "scratch") {
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", "amd64"
		return &stageResult{img: img, cf: cf}, nil
	}
	img, digest, err := bl.pull(ref)
	if err != nil {
		return nil, bl.errorf(st.from, "%v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, bl.errorf(st.from, "config of %s: %v", ref, err)
	}
	if len(cf.Config.OnBuild) > 0 {
		return nil, bl.errorf(st.from, "%s has ONBUILD triggers, which need RUN-like execution: use a base image without ONBUILD", ref)
	}
	return &stageResult{img: img, cf: cf.DeepCopy(), baseName: ref, baseDigest: digest}, nil
}

// pull fetches the linux/amd64 image ref.
func (bl *builder) pull(ref string) (v1.Image, string, error) {
	var opts []name.Option
	if r, err := name.ParseReference(ref); err == nil {
		host := r.Context().RegistryStr()
		if loopback(host) || slices.Contains(bl.b.Insecure, host) {
			opts = append(opts, name.Insecure)
		}
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	ropts := append([]remote.Option{remote.WithContext(bl.ctx), remote.WithAuthFromKeychain(bl.b.Keychain),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"})}, bl.b.RemoteOptions...)
	bl.logf("pull %s", r)
	img, err := remote.Image(r, ropts...)
	if err != nil {
		return nil, "", fmt.Errorf("pull %s (credentials come from the service connection or ~/.docker/config.json): %w", r, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, "", fmt.Errorf("pull %s: %w", r, err)
	}
	return img, d.String(), nil
}

// stageState is a stage being built.
type stageState struct {
	st      *stage
	res     *stageResult
	cf      *v1.ConfigFile
	args    map[string]string
	shell   []string
	cmdSet  bool
	adds    []mutate.Addendum
	history []v1.History
	mt      types.MediaType
}

func (s *stageState) lexer(esc rune) lexer {
	return lexer{escape: esc, lookup: lookupIn(s.cf.Config.Env, s.args)}
}

func (bl *builder) buildStage(st *stage) (*stageResult, error) {
	base, err := bl.base(st)
	if err != nil {
		return nil, err
	}
	mt, err := base.img.MediaType()
	if err != nil {
		return nil, bl.errorf(st.from, "base media type: %v", err)
	}
	layerType := types.DockerLayer
	if mt == types.OCIManifestSchema1 {
		layerType = types.OCILayer
	}
	s := &stageState{st: st, res: base, cf: base.cf, args: map[string]string{}, shell: []string{"/bin/sh", "-c"}, mt: layerType}
	if len(s.cf.Config.Shell) > 0 {
		s.shell = slices.Clone(s.cf.Config.Shell)
	}
	globals, err := bl.globals()
	if err != nil {
		return nil, err
	}
	for _, in := range st.instrs {
		if err := bl.ctx.Err(); err != nil {
			return nil, err
		}
		empty := true
		switch in.Cmd {
		case "ARG":
			if err := bl.declareArgs(in, s.args, globals, s.cf.Config.Env); err != nil {
				return nil, err
			}
			continue
		case "COPY", "ADD":
			spec, err := bl.copySpec(s, in)
			if err != nil {
				return nil, err
			}
			layer, hit, err := bl.cache.layer(spec, s.mt)
			if err != nil {
				return nil, bl.errorf(in, "layer: %v", err)
			}
			if hit {
				bl.hits++
			} else if bl.cache != nil {
				bl.misses++
			}
			s.adds = append(s.adds, mutate.Addendum{Layer: layer, MediaType: s.mt})
			empty = false
		default:
			if err := bl.configInstruction(s, in); err != nil {
				return nil, err
			}
		}
		s.history = append(s.history, v1.History{
			Created: v1.Time{Time: bl.epoch}, CreatedBy: in.Original, Comment: "conveyor", EmptyLayer: empty,
		})
	}
	return bl.assemble(s)
}

// assemble appends the stage's layers to its base and writes its config and history.
func (bl *builder) assemble(s *stageState) (*stageResult, error) {
	img := s.res.img
	var err error
	if len(s.adds) > 0 {
		if img, err = mutate.Append(img, s.adds...); err != nil {
			return nil, bl.errorf(s.st.from, "append layers: %v", err)
		}
	}
	appended, err := img.ConfigFile()
	if err != nil {
		return nil, bl.errorf(s.st.from, "config: %v", err)
	}
	cf := s.cf.DeepCopy()
	cf.RootFS = appended.RootFS
	baseHist := s.res.cf.History
	if len(s.adds) > 0 {
		// mutate.Append added one history entry per layer; ours replace them.
		baseHist = appended.History[:len(appended.History)-len(s.adds)]
	}
	cf.History = append(slices.Clone(baseHist), s.history...)
	cf.Created = v1.Time{Time: bl.epoch}
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, bl.errorf(s.st.from, "config: %v", err)
	}
	return &stageResult{img: img, cf: cf, baseName: s.res.baseName, baseDigest: s.res.baseDigest}, nil
}

// finish adds the build's labels and annotations to the target stage's image.
func (bl *builder) finish(r *stageResult) (v1.Image, error) {
	cf := r.cf.DeepCopy()
	labels := maps.Clone(cf.Config.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, bl.b.Labels)
	ann := map[string]string{CreatedKey: bl.epoch.Format(time.RFC3339)}
	maps.Copy(ann, bl.b.Annotations)
	for k, v := range map[string]string{RevisionKey: bl.b.Revision, SourceKey: bl.b.Source} {
		if v != "" {
			labels[k] = v
			ann[k] = v
		}
	}
	if bl.b.BaseImageData && r.baseName != "" {
		ann[BaseNameKey] = r.baseName
		ann[BaseDigestKey] = r.baseDigest
	}
	if len(labels) > 0 {
		cf.Config.Labels = labels
	}
	img, err := mutate.ConfigFile(r.img, cf)
	if err != nil {
		return nil, fmt.Errorf("dockerfile build of %s: config: %w", bl.df.File, err)
	}
	annotated, ok := mutate.Annotations(img, ann).(v1.Image)
	if !ok {
		return nil, fmt.Errorf("dockerfile build of %s: annotations did not yield an image", bl.df.File)
	}
	return annotated, nil
}

// configInstruction applies an instruction that changes only the config.
func (bl *builder) configInstruction(s *stageState, in Instruction) error {
	c := &s.cf.Config
	lx := s.lexer(bl.df.Escape)
	switch in.Cmd {
	case "ENV":
		kvs, err := lx.keyValues(in.Rest, true)
		if err != nil {
			return bl.errorf(in, "%v", err)
		}
		for _, kv := range kvs {
			c.Env = setEnv(c.Env, kv[0], kv[1])
		}
	case "LABEL":
		kvs, err := lx.keyValues(in.Rest, false)
		if err != nil {
			return bl.errorf(in, "%v", err)
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range kvs {
			c.Labels[kv[0]] = kv[1]
		}
	case "WORKDIR":
		w, err := lx.word(in.Rest)
		if err != nil || w == "" {
			return bl.errorf(in, "needs a directory, as in WORKDIR /app")
		}
		if !path.IsAbs(w) {
			w = path.Join(orRoot(c.WorkingDir), w)
		}
		c.WorkingDir = path.Clean(w)
	case "USER":
		u, err := lx.word(in.Rest)
		if err != nil || u == "" {
			return bl.errorf(in, "needs a user, as in USER 1000:1000 or USER app")
		}
		c.User = u
	case "EXPOSE":
		ports, err := lx.words(in.Rest)
		if err != nil {
			return bl.errorf(in, "%v", err)
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			num, proto, _ := strings.Cut(p, "/")
			if proto == "" {
				proto = "tcp"
			}
			proto = strings.ToLower(proto)
			if _, err := strconv.ParseUint(num, 10, 16); err != nil || (proto != "tcp" && proto != "udp" && proto != "sctp") {
				return bl.errorf(in, "%q is not a port: write 8080 or 8080/tcp (udp, sctp)", p)
			}
			c.ExposedPorts[num+"/"+proto] = struct{}{}
		}
	case "VOLUME":
		vols := in.Args
		if !in.JSON {
			var err error
			if vols, err = lx.words(in.Rest); err != nil {
				return bl.errorf(in, "%v", err)
			}
		}
		if len(vols) == 0 {
			return bl.errorf(in, "needs a path, as in VOLUME /data")
		}
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			c.Volumes[v] = struct{}{}
		}
	case "ENTRYPOINT":
		c.Entrypoint = bl.commandForm(s, in)
		if !s.cmdSet {
			c.Cmd = nil
		}
	case "CMD":
		c.Cmd = bl.commandForm(s, in)
		s.cmdSet = true
	case "SHELL":
		if len(in.Args) == 0 {
			return bl.errorf(in, "needs at least the shell program, as in SHELL [\"/bin/bash\", \"-c\"]")
		}
		s.shell = slices.Clone(in.Args)
		c.Shell = slices.Clone(in.Args)
	case "STOPSIGNAL":
		sig, err := lx.word(in.Rest)
		if err != nil || sig == "" {
			return bl.errorf(in, "needs a signal, as in STOPSIGNAL SIGTERM")
		}
		c.StopSignal = sig
	case "HEALTHCHECK":
		hc, err := bl.healthcheck(s, in)
		if err != nil {
			return err
		}
		c.Healthcheck = hc
	case "ONBUILD":
		if in.Rest == "" {
			return bl.errorf(in, "needs an instruction, as in ONBUILD COPY . /app")
		}
		c.OnBuild = append(c.OnBuild, in.Rest)
	case "MAINTAINER":
		s.cf.Author = in.Rest
	case "RUN":
		return bl.errorf(in, "%v", ErrRunNeedsBuildKit) // Build routes RUN to BuildKit before this.
	default:
		return bl.errorf(in, "is not supported")
	}
	return nil
}

func orRoot(dir string) string {
	if dir == "" {
		return "/"
	}
	return dir
}

// commandForm is the exec form's arguments, or the shell form wrapped in the shell.
func (bl *builder) commandForm(s *stageState, in Instruction) []string {
	if in.JSON {
		return slices.Clone(in.Args)
	}
	if in.Rest == "" {
		return nil
	}
	return append(slices.Clone(s.shell), in.Rest)
}

// healthcheck parses HEALTHCHECK [flags] CMD ... | NONE.
func (bl *builder) healthcheck(s *stageState, in Instruction) (*v1.HealthConfig, error) {
	word, rest, _ := strings.Cut(in.Rest, " ")
	switch strings.ToUpper(word) {
	case "NONE":
		if len(in.Flags) > 0 || strings.TrimSpace(rest) != "" {
			return nil, bl.errorf(in, "NONE takes no flags or arguments")
		}
		return &v1.HealthConfig{Test: []string{"NONE"}}, nil
	case "CMD":
	default:
		return nil, bl.errorf(in, "write HEALTHCHECK [--interval=30s …] CMD command, or HEALTHCHECK NONE")
	}
	hc := &v1.HealthConfig{}
	for _, f := range in.Flags {
		var d *time.Duration
		switch f.Name {
		case "interval":
			d = &hc.Interval
		case "timeout":
			d = &hc.Timeout
		case "start-period":
			d = &hc.StartPeriod
		case "start-interval":
			continue // not in the image config schema go-containerregistry writes
		case "retries":
			n, err := strconv.Atoi(f.Value)
			if err != nil || n < 0 {
				return nil, bl.errorf(in, "--retries=%s is not a whole number", f.Value)
			}
			hc.Retries = n
			continue
		default:
			return nil, bl.errorf(in, "unknown flag --%s (use --interval, --timeout, --start-period, --start-interval, --retries)", f.Name)
		}
		v, err := time.ParseDuration(f.Value)
		if err != nil {
			return nil, bl.errorf(in, "--%s=%s is not a duration such as 30s", f.Name, f.Value)
		}
		*d = v
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return nil, bl.errorf(in, "CMD needs a command")
	}
	if strings.HasPrefix(rest, "[") {
		sub, err := parseInstruction("CMD " + rest)
		if err == nil && sub.JSON {
			hc.Test = append([]string{"CMD"}, sub.Args...)
			return hc, nil
		}
	}
	hc.Test = []string{"CMD-SHELL", rest}
	return hc, nil
}

// setEnv sets key in a KEY=value list, replacing an earlier value in place.
func setEnv(env []string, key, value string) []string {
	out := slices.Clone(env)
	for i, kv := range out {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			out[i] = key + "=" + value
			return out
		}
	}
	return append(out, key+"="+value)
}

// warnUnusedArgs logs the build args no ARG declares (Docker ignores them too).
func (bl *builder) warnUnusedArgs() {
	declared := map[string]bool{}
	for _, in := range bl.df.Instructions {
		if in.Cmd == "ARG" {
			for _, w := range strings.Fields(in.Rest) {
				k, _, _ := strings.Cut(w, "=")
				declared[k] = true
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(bl.b.BuildArgs)) {
		if !declared[k] {
			bl.logf("warning: build arg %s is not declared by an ARG of %s: ignored", k, bl.df.File)
		}
	}
}
