package task

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/glob"
	"conveyor.dev/conveyor/internal/image"
)

// Output variables Docker@2 (build, push, buildAndPush) and PromoteImage@1
// set, as output variables (stepName.imageDigest in later jobs).
const (
	// VarImageDigest is the pushed image's digest, sha256:….
	VarImageDigest = "imageDigest"
	// VarImageRef is the pushed image's full digest reference, host/repo@sha256:….
	VarImageRef = "imageRef"
	// VarDockerDigest mirrors VarImageDigest under a name scripts can read
	// from the environment.
	VarDockerDigest = "DOCKER_OUTPUT_DIGEST"
	// VarDockerRef mirrors VarImageRef.
	VarDockerRef = "DOCKER_OUTPUT_REF"
)

// Labels and annotations addPipelineData puts on an image (besides the OCI
// revision and source).
const (
	LabelRun      = "dev.conveyor.run"
	LabelRunName  = "dev.conveyor.run.name"
	LabelPipeline = "dev.conveyor.pipeline"
	LabelBranch   = "dev.conveyor.branch"
)

// runDocker is Docker@2 without a Docker daemon. Inputs (Azure's): command
// (buildAndPush default, build, push, login, logout), containerRegistry (a
// registry service connection of conveyor.yaml), repository, Dockerfile
// (default **/Dockerfile, the first match under the sources), buildContext
// (default: the Dockerfile's folder; ** means the same), tags (one per line
// or comma separated; default $(Build.BuildId)), arguments (--build-arg,
// --label, --target, --platform linux/amd64, --no-cache), addPipelineData
// and addBaseImageData (default true).
//
// Conveyor's additions: goPackage (a Go main package such as ./cmd/app:
// the image is built with the ko-style Go builder instead of a Dockerfile),
// goModule (the module folder, default buildContext or the sources),
// baseImage (the Go image's base, default scratch) and ldflags.
//
// build keeps the image in the job's temp folder for a later push step;
// push and buildAndPush push it and set the output variables imageDigest,
// imageRef, DOCKER_OUTPUT_DIGEST and DOCKER_OUTPUT_REF (of the first tag's
// push); build, push and buildAndPush set DockerOutput, Azure's output: the
// path of a file holding what the command did. login writes the connection's credentials to a docker config in
// the job's temp folder and sets DOCKER_CONFIG for the steps after it.
func runDocker(ctx context.Context, env *Env) (Result, error) {
	command := strings.ToLower(strings.TrimSpace(env.Input("command", "buildAndPush")))
	switch command {
	case "login":
		return dockerLogin(env)
	case "logout":
		return dockerLogout(env)
	case "build", "push", "buildandpush":
	default:
		return dockerFail("input command: %q is not supported: use buildAndPush, build, push, login or logout (start and stop need a Docker daemon, which Conveyor does not use)", command)
	}
	target, err := dockerTarget(env)
	if err != nil {
		return dockerFail("%v", err)
	}
	tags := dockerTags(env)
	for _, t := range tags {
		if _, err := name.NewTag(target.repo + ":" + t); err != nil {
			return dockerFail("tag %q of %s is not valid: use letters, digits, _ . - (up to 128, not starting with . or -)", t, target.repo)
		}
	}

	var img v1.Image
	switch command {
	case "build", "buildandpush":
		res, err := dockerBuild(ctx, env, target)
		if err != nil {
			return dockerFail("%v", err)
		}
		defer res.Close()
		img = res.Image
		if command == "build" {
			if err := saveBuilt(env, target.repo, tags, img); err != nil {
				return Result{}, err
			}
			d, err := img.Digest()
			if err != nil {
				return Result{}, fmt.Errorf("Docker@2: digest: %w", err)
			}
			env.Logf("built %s (%s), tagged %s; a push step with the same repository and tags pushes it", target.repo, d, strings.Join(tags, ", "))
			if err := setImageOutputs(env, d.String(), ""); err != nil {
				return Result{}, err
			}
			if err := setDockerOutput(env, fmt.Sprintf("built %s@%s\n", target.repo, d)); err != nil {
				return Result{}, err
			}
			return Result{Status: Succeeded, Message: "built " + d.String()}, nil
		}
	case "push":
		img, err = loadBuilt(env, target.repo, tags[0])
		if err != nil {
			return dockerFail("%v", err)
		}
	}

	digest, ref, err := image.PushTags(ctx, img, target.repo, tags, target.insecure, remote.WithAuthFromKeychain(target.keychain))
	if err != nil {
		return dockerFail("%v", err)
	}
	env.Logf("pushed %s (tags %s)", ref, strings.Join(tags, ", "))
	if err := setImageOutputs(env, digest.String(), ref); err != nil {
		return Result{}, err
	}
	var out strings.Builder
	for _, t := range tags {
		fmt.Fprintf(&out, "%s:%s: digest: %s\n", target.repo, t, digest)
	}
	if err := setDockerOutput(env, out.String()); err != nil {
		return Result{}, err
	}
	if res, err := afterImagePush(ctx, env, PushedImage{Ref: ref, Digest: digest.String(), Repository: target.repo,
		Tags: tags, Insecure: target.insecure, Keychain: target.keychain}); err != nil || res.Status != Succeeded {
		return res, err
	}
	return Result{Status: Succeeded, Message: "pushed " + ref}, nil
}

// PushedImage is an image Docker@2 pushed, as the supply-chain steps need it.
type PushedImage struct {
	Ref        string // host/repo@sha256:…
	Digest     string
	Repository string // host/repo
	Tags       []string
	Insecure   bool           // the registry speaks plain HTTP
	Keychain   authn.Keychain // credentials for the registry
}

func dockerFail(format string, a ...any) (Result, error) {
	return Result{Status: Failed, Message: fmt.Sprintf("Docker@2: "+format, a...)}, nil
}

// setImageOutputs sets the digest and reference output variables; ref may
// be empty (a build without push).
func setImageOutputs(env *Env, digest, ref string) error {
	if env.SetVariable == nil {
		return nil
	}
	vars := [][2]string{{VarImageDigest, digest}, {VarDockerDigest, digest}}
	if ref != "" {
		vars = append(vars, [2]string{VarImageRef, ref}, [2]string{VarDockerRef, ref})
	}
	for _, kv := range vars {
		if err := env.SetVariable(kv[0], kv[1], VarOptions{Output: true}); err != nil {
			return fmt.Errorf("set %s: %w", kv[0], err)
		}
	}
	return nil
}

// setDockerOutput writes text to a file in the job's temp folder and sets
// the documented output variable DockerOutput to its path.
func setDockerOutput(env *Env, text string) error {
	if env.SetVariable == nil {
		return nil
	}
	if err := os.MkdirAll(env.Dirs.Temp, 0o755); err != nil {
		return fmt.Errorf("Docker@2: DockerOutput: %w", err)
	}
	f, err := os.CreateTemp(env.Dirs.Temp, "docker-output-*.txt")
	if err != nil {
		return fmt.Errorf("Docker@2: DockerOutput: %w", err)
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("Docker@2: DockerOutput: %w", err)
	}
	return env.SetVariable("DockerOutput", f.Name(), VarOptions{Output: true})
}

// registryTarget is where an image goes: the repository (host[/path]/repo),
// its credentials and whether it speaks plain HTTP.
type registryTarget struct {
	repo     string
	insecure bool
	keychain authn.Keychain
}

// dockerTarget resolves containerRegistry and repository. As Azure's task
// does, the repository is made a valid image name: lower case, no spaces.
func dockerTarget(env *Env) (registryTarget, error) {
	repo := strings.Trim(strings.TrimSpace(env.Input("repository", "")), "/")
	repo = strings.ToLower(strings.ReplaceAll(repo, " ", ""))
	if repo == "" {
		return registryTarget{}, errors.New("input repository is required (the image name, as in team/web)")
	}
	conn := dockerConnection(env)
	return resolveRepository(env, conn, repo)
}

// dockerConnection is the containerRegistry input, or
// dockerRegistryServiceConnection, the name ContainerBuild@0 and older
// pipelines give the same connection.
func dockerConnection(env *Env) string {
	return env.Input("containerRegistry", env.Input("dockerRegistryServiceConnection", ""))
}

// resolveRepository turns a registry connection and a repository into a
// target. Without a connection repo must name its registry (host/repo).
func resolveRepository(env *Env, conn, repo string) (registryTarget, error) {
	t := registryTarget{}
	var regs []config.Registry
	if conn == "" {
		t.repo = repo
	} else {
		svc, err := env.NeedServices()
		if err != nil {
			return t, err
		}
		reg, err := svc.Config.RegistryOf(conn)
		if err != nil {
			return t, err
		}
		host := registryHost(reg.URL)
		if host == "" {
			return t, fmt.Errorf("registry %s of connection %s has no URL: set registries.%s.url in conveyor.yaml (or embedded: true under a runner that serves it)", reg.Name, conn, reg.Name)
		}
		t.repo = host + "/" + repo
		t.insecure = reg.Insecure
		regs = append(regs, reg)
	}
	if _, err := name.NewRepository(t.repo); err != nil {
		return t, fmt.Errorf("repository %q is not a valid image name (lower case letters, digits, . _ - and /): %v", t.repo, err)
	}
	t.keychain = taskKeychain(env, regs...)
	return t, nil
}

// registryHost is a registry URL without its scheme and trailing slash.
func registryHost(u string) string {
	u = strings.TrimSpace(u)
	for _, p := range []string{"https://", "http://"} {
		u = strings.TrimPrefix(u, p)
	}
	return strings.TrimRight(u, "/")
}

// dockerTags are the tags input's tags (lines or commas), or Build.BuildId.
func dockerTags(env *Env) []string {
	var tags []string
	for _, f := range strings.FieldsFunc(env.Input("tags", ""), func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(tags, f) {
			tags = append(tags, f)
		}
	}
	if len(tags) == 0 {
		id := env.Variables["Build.BuildId"]
		if id == "" {
			id = "latest"
		}
		tags = []string{id}
	}
	return tags
}

// dockerArgs are the arguments input understood without a daemon.
type dockerArgs struct {
	buildArgs map[string]string
	labels    map[string]string
	target    string
	platform  string
	noCache   bool
}

func parseDockerArgs(s string) (dockerArgs, error) {
	a := dockerArgs{buildArgs: map[string]string{}, labels: map[string]string{}}
	words := splitArgs(s)
	for i := 0; i < len(words); i++ {
		w := words[i]
		flag, val, hasVal := strings.Cut(w, "=")
		takes := map[string]bool{"--build-arg": true, "--label": true, "--target": true, "--platform": true}
		if takes[flag] && !hasVal {
			if i+1 >= len(words) {
				return a, fmt.Errorf("arguments: %s needs a value", flag)
			}
			i++
			val = words[i]
		}
		switch flag {
		case "--build-arg":
			k, v, ok := strings.Cut(val, "=")
			if !ok {
				// Docker takes the value from the environment; a pipeline
				// variable is the way here.
				v, ok = os.LookupEnv(k)
				if !ok {
					return a, fmt.Errorf("arguments: --build-arg %s has no value: write --build-arg %s=value", k, k)
				}
			}
			a.buildArgs[k] = v
		case "--label":
			k, v, _ := strings.Cut(val, "=")
			a.labels[k] = v
		case "--target":
			a.target = val
		case "--platform":
			if val != "linux/amd64" {
				return a, fmt.Errorf("arguments: --platform %s: only linux/amd64 is built", val)
			}
			a.platform = val
		case "--no-cache":
			a.noCache = true
		case "--pull", "-q", "--quiet", "--rm", "--force-rm":
		default:
			return a, fmt.Errorf("arguments: %s is not supported without a Docker daemon (use --build-arg, --label, --target, --platform linux/amd64, --no-cache)", w)
		}
	}
	return a, nil
}

// dockerBuild builds the image of a build or buildAndPush command.
func dockerBuild(ctx context.Context, env *Env, target registryTarget) (*image.BuildResult, error) {
	args, err := parseDockerArgs(env.Input("arguments", ""))
	if err != nil {
		return nil, err
	}
	pipelineData, err := env.BoolInput("addPipelineData", true)
	if err != nil {
		return nil, err
	}
	baseData, err := env.BoolInput("addBaseImageData", true)
	if err != nil {
		return nil, err
	}
	run := env.Run()
	labels := maps.Clone(args.labels)
	annotations := map[string]string{}
	var revision, source string
	if pipelineData {
		revision, source = run.Commit, run.Repository
		for k, v := range map[string]string{LabelRun: env.Variables["Build.BuildId"], LabelRunName: run.Name,
			LabelPipeline: run.Pipeline, LabelBranch: run.Branch} {
			if v != "" {
				labels[k] = v
				annotations[k] = v
			}
		}
	}
	epoch, err := buildEpoch(ctx, env)
	if err != nil {
		return nil, err
	}
	cacheDir := ""
	if !args.noCache {
		cacheDir = filepath.Join(env.Dirs.Work, "_imagecache", "layers")
		if env.Services != nil && env.Services.DataDir != "" {
			cacheDir = filepath.Join(env.Services.DataDir, "images", "layers")
		}
	}

	if pkg := env.Input("goPackage", ""); pkg != "" {
		return goBuild(ctx, env, target, pkg, labels, annotations, revision, source, epoch)
	}

	dockerfile, err := findDockerfile(env)
	if err != nil {
		return nil, err
	}
	buildContext := env.Input("buildContext", "**")
	if buildContext == "**" || buildContext == "" {
		buildContext = filepath.Dir(dockerfile)
	} else if !filepath.IsAbs(buildContext) {
		buildContext = filepath.Join(env.Dirs.Sources, buildContext)
	}
	b := image.DockerBuild{
		Dockerfile: dockerfile, Context: buildContext, BuildArgs: args.buildArgs, Target: args.target,
		Platform: args.platform, Labels: labels, Annotations: annotations, Revision: revision, Source: source,
		BaseImageData: baseData, SourceDateEpoch: epoch, CacheDir: cacheDir, Keychain: target.keychain, Log: env.Log,
	}
	if env.Services != nil && env.Services.Config != nil {
		if addr := env.Services.Config.BuildKit.Address; addr != "" {
			b.BuildKit = &image.BuildKit{Address: addr, WorkDir: env.Dirs.Temp}
		}
		for _, r := range env.Services.Config.Registries {
			if r.Insecure {
				b.Insecure = append(b.Insecure, registryHost(r.URL))
			}
		}
	}
	rel, _ := filepath.Rel(env.Dirs.Sources, dockerfile)
	env.Logf("building %s (context %s) without a Docker daemon", rel, buildContext)
	res, err := image.Build(ctx, b)
	if err != nil {
		return nil, err
	}
	if res.CacheHits+res.CacheMisses > 0 {
		env.Logf("layer cache: %d of %d COPY/ADD layers reused", res.CacheHits, res.CacheHits+res.CacheMisses)
	}
	return res, nil
}

// goBuild builds the goPackage input with the ko-style Go builder.
func goBuild(ctx context.Context, env *Env, target registryTarget, pkg string, labels, annotations map[string]string,
	revision, source string, epoch time.Time) (*image.BuildResult, error) {
	dir := env.Input("goModule", env.Input("buildContext", ""))
	if dir == "" || dir == "**" {
		dir = env.Dirs.Sources
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(env.Dirs.Sources, dir)
	}
	gb := image.GoBuild{Dir: dir, Main: pkg, Labels: labels, Annotations: annotations, Revision: revision,
		Source: source, SourceDateEpoch: epoch, Ldflags: env.Input("ldflags", "")}
	if base := env.Input("baseImage", ""); base != "" {
		var opts []name.Option
		if r, err := name.ParseReference(base); err == nil && insecureHost(env, r.Context().RegistryStr()) {
			opts = append(opts, name.Insecure)
		}
		ref, err := name.ParseReference(base, opts...)
		if err != nil {
			return nil, fmt.Errorf("baseImage %q: %v", base, err)
		}
		img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(target.keychain),
			remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
		if err != nil {
			return nil, fmt.Errorf("pull baseImage %s: %w", ref, err)
		}
		gb.Base = img
	}
	env.Logf("building Go package %s in %s", pkg, dir)
	img, err := image.BuildGo(ctx, gb)
	if err != nil {
		return nil, err
	}
	return &image.BuildResult{Image: img}, nil
}

// insecureHost reports whether host is loopback or an insecure registry of conveyor.yaml.
func insecureHost(env *Env, host string) bool {
	h := host
	if i := strings.LastIndex(h, ":"); i > 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	if h == "localhost" || h == "127.0.0.1" || h == "[::1]" || h == "::1" {
		return true
	}
	if env.Services != nil && env.Services.Config != nil {
		for _, r := range env.Services.Config.Registries {
			if r.Insecure && registryHost(r.URL) == host {
				return true
			}
		}
	}
	return false
}

// findDockerfile resolves the Dockerfile input: a path or a glob under the
// sources (the first match, sorted, as Azure takes the first).
func findDockerfile(env *Env) (string, error) {
	pat := env.Input("Dockerfile", "**/Dockerfile")
	if filepath.IsAbs(pat) && !strings.ContainsAny(pat, "*?[") {
		return pat, nil
	}
	if rel, err := filepath.Rel(env.Dirs.Sources, pat); err == nil && filepath.IsAbs(pat) {
		pat = rel
	}
	pat = strings.TrimPrefix(filepath.ToSlash(pat), "./")
	if !strings.ContainsAny(pat, "*?[") {
		p := filepath.Join(env.Dirs.Sources, filepath.FromSlash(pat))
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("input Dockerfile: %s not found under the sources %s: set it to the Dockerfile's path", pat, env.Dirs.Sources)
		}
		return p, nil
	}
	var found []string
	err := filepath.WalkDir(env.Dirs.Sources, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(env.Dirs.Sources, p)
		if !d.IsDir() && glob.Match(pat, filepath.ToSlash(rel)) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("look for %s: %w", pat, err)
	}
	if len(found) == 0 {
		return "", fmt.Errorf("no file under the sources %s matches the Dockerfile input %s: set it to the Dockerfile's path, or use goPackage for a Go program", env.Dirs.Sources, pat)
	}
	slices.Sort(found)
	return found[0], nil
}

// buildEpoch is the SOURCE_DATE_EPOCH of a build: the variable
// SOURCE_DATE_EPOCH when set, else the commit time of the sources when they
// are a git checkout, else the Unix epoch.
func buildEpoch(ctx context.Context, env *Env) (time.Time, error) {
	v := env.Variables["SOURCE_DATE_EPOCH"]
	if v == "" {
		for _, kv := range env.Environ {
			if k, val, _ := strings.Cut(kv, "="); k == "SOURCE_DATE_EPOCH" {
				v = val
			}
		}
	}
	if v != "" {
		sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a whole number of seconds since 1970", v)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	cmd := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct")
	cmd.Dir = env.Dirs.Sources
	if out, err := cmd.Output(); err == nil {
		if sec, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil {
			return time.Unix(sec, 0).UTC(), nil
		}
	}
	return time.Unix(0, 0).UTC(), nil
}

// builtDir is the OCI layout where build keeps images for a later push.
func builtDir(env *Env) string { return filepath.Join(env.Dirs.Temp, "conveyor-images") }

// saveBuilt keeps img in the job's layout under repo:tag for each tag.
func saveBuilt(env *Env, repo string, tags []string, img v1.Image) error {
	dir := builtDir(env)
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("Docker@2: keep the image: %w", err)
		}
	}
	for _, t := range tags {
		ref := repo + ":" + t
		if err := p.ReplaceImage(img, matchRefName(ref), layout.WithAnnotations(map[string]string{refNameKey: ref})); err != nil {
			return fmt.Errorf("Docker@2: keep the image as %s: %w", ref, err)
		}
	}
	return nil
}

// loadBuilt finds repo:tag in the job's layout.
func loadBuilt(env *Env, repo, tag string) (v1.Image, error) {
	ref := repo + ":" + tag
	idx, err := layout.ImageIndexFromPath(builtDir(env))
	if err != nil {
		return nil, fmt.Errorf("no image was built in this job: run a build step first (Docker@2 command build with repository %s and tags %s), or use buildAndPush", repo, tag)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read the built images: %w", err)
	}
	for _, m := range im.Manifests {
		if m.Annotations[refNameKey] == ref {
			return idx.Image(m.Digest)
		}
	}
	return nil, fmt.Errorf("no image %s was built in this job: build it first with the same repository and tags", ref)
}

const refNameKey = "org.opencontainers.image.ref.name"

func matchRefName(ref string) func(v1.Descriptor) bool {
	return func(d v1.Descriptor) bool { return d.Annotations[refNameKey] == ref }
}

// dockerConfigDir is where login writes credentials.
func dockerConfigDir(env *Env) string { return filepath.Join(env.Dirs.Temp, "docker-config") }

type dockerConfigFile struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// dockerLogin writes the connection's credentials to
// <temp>/docker-config/config.json (mode 0600) and points DOCKER_CONFIG at
// it. The password is registered as a secret so no log shows it.
func dockerLogin(env *Env) (Result, error) {
	conn := dockerConnection(env)
	if conn == "" {
		return dockerFail("login: input containerRegistry is required (a registry service connection of conveyor.yaml)")
	}
	svc, err := env.NeedServices()
	if err != nil {
		return dockerFail("login: %v", err)
	}
	reg, err := svc.Config.RegistryOf(conn)
	if err != nil {
		return dockerFail("login: %v", err)
	}
	host := registryHost(reg.URL)
	if reg.Username == "" {
		return dockerFail("login: registry %s of connection %s has no username and password in conveyor.yaml: set registries.%s.username and .password (e.g. ${REGISTRY_PASSWORD})", reg.Name, conn, reg.Name)
	}
	if env.SetVariable != nil && reg.Password != "" {
		if err := env.SetVariable("conveyor.dockerLogin."+reg.Name+".password", reg.Password, VarOptions{Secret: true}); err != nil {
			return Result{}, err
		}
	}
	dir := dockerConfigDir(env)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Result{}, fmt.Errorf("Docker@2 login: %w", err)
	}
	file := filepath.Join(dir, "config.json")
	cfg := dockerConfigFile{Auths: map[string]dockerAuth{}}
	if raw, err := os.ReadFile(file); err == nil {
		_ = json.Unmarshal(raw, &cfg)
		if cfg.Auths == nil {
			cfg.Auths = map[string]dockerAuth{}
		}
	}
	cfg.Auths[host] = dockerAuth{Auth: base64.StdEncoding.EncodeToString([]byte(reg.Username + ":" + reg.Password))}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return Result{}, err
	}
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		return Result{}, fmt.Errorf("Docker@2 login: %w", err)
	}
	if env.SetVariable != nil {
		if err := env.SetVariable("DOCKER_CONFIG", dir, VarOptions{}); err != nil {
			return Result{}, err
		}
	}
	env.Logf("logged in to %s as %s (credentials in $DOCKER_CONFIG for the steps after this one)", host, reg.Username)
	return Result{Status: Succeeded}, nil
}

// dockerLogout removes what login wrote.
func dockerLogout(env *Env) (Result, error) {
	if err := os.RemoveAll(dockerConfigDir(env)); err != nil {
		return Result{}, fmt.Errorf("Docker@2 logout: %w", err)
	}
	env.Logf("logged out")
	return Result{Status: Succeeded}, nil
}

// taskKeychain authenticates in this order: the credentials of the given
// registries of conveyor.yaml, the docker config a login step wrote
// (DOCKER_CONFIG of the job), then the default keychain (~/.docker/config.json).
func taskKeychain(env *Env, regs ...config.Registry) authn.Keychain {
	var chain []authn.Keychain
	static := staticKeychain{}
	for _, r := range regs {
		if r.Username != "" {
			static[registryHost(r.URL)] = authn.AuthConfig{Username: r.Username, Password: r.Password}
		}
	}
	if env.Services != nil && env.Services.Config != nil {
		for _, r := range env.Services.Config.Registries {
			if h := registryHost(r.URL); r.Username != "" && h != "" {
				if _, ok := static[h]; !ok {
					static[h] = authn.AuthConfig{Username: r.Username, Password: r.Password}
				}
			}
		}
	}
	chain = append(chain, static)
	dir := env.Variables["DOCKER_CONFIG"]
	for _, kv := range env.Environ {
		if k, v, _ := strings.Cut(kv, "="); k == "DOCKER_CONFIG" && dir == "" {
			dir = v
		}
	}
	if dir != "" {
		chain = append(chain, dockerConfigKeychain{dir: dir})
	}
	chain = append(chain, authn.DefaultKeychain)
	return authn.NewMultiKeychain(chain...)
}

// staticKeychain maps registry hosts (host[:port][/path]) to credentials.
type staticKeychain map[string]authn.AuthConfig

func (s staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	reg := r.RegistryStr()
	for host, c := range s {
		h, _, _ := strings.Cut(host, "/")
		if h == reg {
			return authn.FromConfig(c), nil
		}
	}
	return authn.Anonymous, nil
}

// dockerConfigKeychain reads dir/config.json, as docker does for DOCKER_CONFIG.
type dockerConfigKeychain struct{ dir string }

func (k dockerConfigKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	raw, err := os.ReadFile(filepath.Join(k.dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return authn.Anonymous, nil
	}
	if err != nil {
		return nil, fmt.Errorf("docker config %s: %w", k.dir, err)
	}
	var cfg dockerConfigFile
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("docker config %s: %w", k.dir, err)
	}
	reg := r.RegistryStr()
	for host, a := range cfg.Auths {
		if registryHost(host) != reg {
			continue
		}
		c := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
		if a.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("docker config %s: auth of %s is not base64", k.dir, host)
			}
			c.Username, c.Password, _ = strings.Cut(string(dec), ":")
		}
		return authn.FromConfig(c), nil
	}
	return authn.Anonymous, nil
}
