package task

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"conveyor.dev/conveyor/internal/config"
	ociregistry "conveyor.dev/conveyor/internal/registry"
	"conveyor.dev/conveyor/internal/supplychain"
)

// embeddedRegistry serves a fresh embedded registry over HTTP and returns its host:port.
func embeddedRegistry(t *testing.T, opts ...ociregistry.Option) string {
	t.Helper()
	reg, err := ociregistry.New(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// imageEnv is a task Env whose conveyor.yaml has registries nonprod and
// prod at the given hosts (connections nonprod-acr, prod-acr), and which
// records the variables the task sets.
func imageEnv(t *testing.T, inputs map[string]string, regs map[string]config.Registry) (*Env, map[string]string) {
	t.Helper()
	env, _ := testEnv(t, inputs)
	env.Task = "Docker@2"
	cfg := &config.Config{Registries: map[string]config.Registry{}, ServiceConnections: map[string]config.ServiceConnection{}}
	for n, r := range regs {
		r.Name = n
		cfg.Registries[n] = r
		cfg.ServiceConnections[n+"-acr"] = config.ServiceConnection{Name: n + "-acr", Registry: n}
	}
	env.Services = &Services{Config: cfg, DataDir: t.TempDir()}
	vars := map[string]string{}
	env.SetVariable = func(name, value string, _ VarOptions) error {
		vars[name] = value
		return nil
	}
	env.Variables["Build.SourceVersion"] = "0123456789abcdef"
	env.Variables["Build.Repository.Uri"] = "https://git.example.com/web"
	env.Variables["Build.DefinitionName"] = "ci"
	env.Task = "Docker@2"
	return env, vars
}

// copyExample copies examples/dockerfiles/<name> into dir.
func copyExample(t *testing.T, name, dir string) {
	t.Helper()
	src := filepath.Join("..", "..", "examples", "dockerfiles", name)
	if err := copyTreeModes(src, dir); err != nil {
		t.Fatal(err)
	}
}

func copyTreeModes(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}

func TestDockerBuildAndPushSkopeo(t *testing.T) {
	host := embeddedRegistry(t)
	env, vars := imageEnv(t, map[string]string{
		"command": "buildAndPush", "containerRegistry": "nonprod-acr", "repository": "team/web",
		"Dockerfile": "**/Dockerfile", "tags": "v1\n7-x, latest",
		"arguments": "--build-arg GREETING=hola --label team=web",
	}, map[string]config.Registry{"nonprod": {URL: "http://" + host, Insecure: true}})
	copyExample(t, "multistage", filepath.Join(env.Dirs.Sources, "app"))
	// The sources are a git checkout: the commit time becomes SOURCE_DATE_EPOCH.
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = env.Dirs.Sources
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2026-03-04T05:06:07Z", "GIT_AUTHOR_DATE=2026-03-04T05:06:07Z",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "app")

	res, err := runDocker(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Succeeded {
		t.Fatalf("status %s: %s", res.Status, res.Message)
	}
	digest := vars[VarImageDigest]
	wantRef := host + "/team/web@" + digest
	// DockerOutput, Azure's output, is the path of a file saying what was pushed.
	outFile := vars["DockerOutput"]
	delete(vars, "DockerOutput")
	if b, err := os.ReadFile(outFile); err != nil || !strings.Contains(string(b), host+"/team/web:latest: digest: "+digest) {
		t.Errorf("DockerOutput %s holds %q (%v), want the pushed tags and digest", outFile, b, err)
	}
	if diff := cmp.Diff(map[string]string{VarImageDigest: digest, VarDockerDigest: digest, VarImageRef: wantRef, VarDockerRef: wantRef}, vars); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}

	// skopeo, an independent client, reads what was pushed.
	out, err := exec.CommandContext(t.Context(), "skopeo", "inspect", "--tls-verify=false", "docker://"+wantRef).Output()
	if err != nil {
		t.Fatalf("skopeo inspect: %v", err)
	}
	var info struct {
		Digest  string
		Labels  map[string]string
		Env     []string
		Created time.Time
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	if info.Digest != digest {
		t.Errorf("skopeo sees digest %s, want %s", info.Digest, digest)
	}
	wantLabels := map[string]string{"team": "web", "org.opencontainers.image.revision": "0123456789abcdef",
		"org.opencontainers.image.source": "https://git.example.com/web", LabelRun: "7", LabelPipeline: "ci"}
	if diff := cmp.Diff(wantLabels, info.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GREETING=hola"}, info.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if want := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC); !info.Created.Equal(want) {
		t.Errorf("created %s, want the commit time %s", info.Created, want)
	}
	for _, tag := range []string{"v1", "7-x", "latest"} {
		out, err := exec.CommandContext(t.Context(), "skopeo", "inspect", "--tls-verify=false", "docker://"+host+"/team/web:"+tag).Output()
		if err != nil || !strings.Contains(string(out), digest) {
			t.Errorf("tag %s: skopeo inspect %v, want digest %s", tag, err, digest)
		}
	}
	dst := t.TempDir()
	if out, err := exec.CommandContext(t.Context(), "skopeo", "copy", "--src-tls-verify=false", "docker://"+wantRef, "oci:"+dst+":web").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	idx, err := layout.ImageIndexFromPath(dst)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != digest {
		t.Errorf("skopeo copy holds %v, want the one manifest %s", im.Manifests, digest)
	}

	// Built again from the same commit: the same digest (all 5 COPY layers, of both stages, come from the cache).
	var log strings.Builder
	env.Log = &log
	if res, err := runDocker(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("second build: %v %+v", err, res)
	}
	if vars[VarImageDigest] != digest {
		t.Errorf("second build: digest %s, want %s", vars[VarImageDigest], digest)
	}
	if !strings.Contains(log.String(), "layer cache: 5 of 5 COPY/ADD layers reused") {
		t.Errorf("second build log does not report 5 cached layers:\n%s", log.String())
	}
}

func TestDockerLoginBuildThenPush(t *testing.T) {
	host := embeddedRegistry(t, ociregistry.WithBasicAuth("ci", "s3cret-pass"))
	regs := map[string]config.Registry{"nonprod": {URL: host, Username: "ci", Password: "s3cret-pass"}}
	// The registry is known to conveyor.yaml under another name without
	// credentials, so only the login step's docker config can authenticate.
	env, vars := imageEnv(t, map[string]string{"command": "login", "containerRegistry": "nonprod-acr"}, regs)
	var log strings.Builder
	env.Log = &log
	if res, err := runDocker(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("login: %v %+v", err, res)
	}
	if strings.Contains(log.String(), "s3cret-pass") {
		t.Errorf("login logged the password: %s", log.String())
	}
	cfgDir := vars["DOCKER_CONFIG"]
	if cfgDir == "" {
		t.Fatal("login did not set DOCKER_CONFIG")
	}
	if st, err := os.Stat(filepath.Join(cfgDir, "config.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("docker config: %v, mode %v, want 0600", err, st)
	}
	// skopeo reads the same file.
	if out, err := exec.CommandContext(t.Context(), "skopeo", "login", "--get-login", "--authfile", filepath.Join(cfgDir, "config.json"), host).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "ci" {
		t.Errorf("skopeo login --get-login: %v %q, want ci", err, out)
	}

	build := func(command string) Result {
		t.Helper()
		env.Inputs = map[string]string{"command": command, "repository": host + "/team/site", "Dockerfile": "Dockerfile", "tags": "v2"}
		env.Variables["DOCKER_CONFIG"] = cfgDir
		env.Services.Config.Registries["nonprod"] = config.Registry{Name: "nonprod", URL: host}
		res, err := runDocker(t.Context(), env)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	copyExample(t, "static", env.Dirs.Sources)
	if res := build("push"); res.Status != Failed || !strings.Contains(res.Message, "run a build step first") {
		t.Errorf("push before build: %+v", res)
	}
	if res := build("build"); res.Status != Succeeded {
		t.Fatalf("build: %+v", res)
	}
	built := vars[VarImageDigest]
	if res := build("push"); res.Status != Succeeded {
		t.Fatalf("push: %+v", res)
	}
	if vars[VarImageDigest] != built || vars[VarImageRef] != host+"/team/site@"+built {
		t.Errorf("pushed %s %s, want the built %s", vars[VarImageDigest], vars[VarImageRef], built)
	}

	env.Inputs = map[string]string{"command": "logout"}
	if res, err := runDocker(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("logout: %v %+v", err, res)
	}
	if _, err := os.Stat(cfgDir); !os.IsNotExist(err) {
		t.Errorf("logout left %s: %v", cfgDir, err)
	}
}

func TestDockerGoPackage(t *testing.T) {
	host := embeddedRegistry(t)
	env, vars := imageEnv(t, map[string]string{
		"containerRegistry": "nonprod-acr", "repository": "team/hello", "goPackage": "./cmd/hello", "tags": "v1",
	}, map[string]config.Registry{"nonprod": {URL: host}})
	env.Variables["SOURCE_DATE_EPOCH"] = "1700000000"
	files := map[string]string{
		"go.mod":            "module example.com/hello\n\ngo 1.26\n",
		"cmd/hello/main.go": "package main\n\nfunc main() { println(\"hello\") }\n",
	}
	for p, body := range files {
		full := filepath.Join(env.Dirs.Sources, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := runDocker(t.Context(), env)
	if err != nil || res.Status != Succeeded {
		t.Fatalf("%v %+v", err, res)
	}
	out, err := exec.CommandContext(t.Context(), "skopeo", "inspect", "--config", "--tls-verify=false", "docker://"+vars[VarImageRef]).Output()
	if err != nil {
		t.Fatalf("skopeo inspect: %v", err)
	}
	var cf struct {
		Created time.Time
		Config  struct{ Entrypoint []string }
	}
	if err := json.Unmarshal(out, &cf); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/ko-app/hello"}, cf.Config.Entrypoint); diff != "" {
		t.Errorf("entrypoint (-want +got):\n%s", diff)
	}
	if !cf.Created.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("created %s, want SOURCE_DATE_EPOCH 1700000000", cf.Created)
	}
}

func TestDockerInputErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"command", map[string]string{"command": "run", "repository": "x"}, `input command: "run" is not supported`},
		{"repository", map[string]string{}, "input repository is required"},
		{"connection", map[string]string{"repository": "x", "containerRegistry": "nope"}, `service connection "nope" is not defined`},
		{"argument", map[string]string{"repository": "x", "containerRegistry": "nonprod-acr", "arguments": "--squash"}, "--squash is not supported without a Docker daemon"},
		{"platform", map[string]string{"repository": "x", "containerRegistry": "nonprod-acr", "arguments": "--platform=linux/arm64"}, "only linux/amd64"},
		{"no dockerfile", map[string]string{"repository": "x", "containerRegistry": "nonprod-acr"}, "no file under the sources"},
		{"run without buildkit", map[string]string{"repository": "x", "containerRegistry": "nonprod-acr", "Dockerfile": "run/Dockerfile"}, "run/Dockerfile:5: RUN needs a BuildKit daemon"},
		{"login without credentials", map[string]string{"command": "login", "containerRegistry": "nonprod-acr"}, "has no username and password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := imageEnv(t, tc.inputs, map[string]config.Registry{"nonprod": {URL: "127.0.0.1:1"}})
			if tc.name == "run without buildkit" {
				copyExample(t, "run", filepath.Join(env.Dirs.Sources, "run"))
			}
			res, err := runDocker(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != Failed || !strings.Contains(res.Message, tc.want) {
				t.Errorf("result %+v, want Failed saying %q", res, tc.want)
			}
		})
	}
	env, _ := testEnv(t, map[string]string{"repository": "x", "containerRegistry": "nonprod-acr"})
	env.Task = "Docker@2"
	if res, _ := runDocker(t.Context(), env); res.Status != Failed || !strings.Contains(res.Message, "no conveyor.yaml services") {
		t.Errorf("without services: %+v", res)
	}
}

func TestDockerRunGoesToBuildKit(t *testing.T) {
	env, _ := imageEnv(t, map[string]string{"repository": "x", "containerRegistry": "nonprod-acr", "Dockerfile": "run/Dockerfile"},
		map[string]config.Registry{"nonprod": {URL: "127.0.0.1:1"}})
	copyExample(t, "run", filepath.Join(env.Dirs.Sources, "run"))
	sock := "unix://" + filepath.Join(t.TempDir(), "no-buildkitd.sock")
	env.Services.Config.BuildKit.Address = sock
	// A buildctl that is not there would be found on PATH or in the cache
	// folder; either way the build must reach for the configured address.
	res, err := runDocker(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Failed || !(strings.Contains(res.Message, sock) || strings.Contains(res.Message, "buildctl not found")) {
		t.Errorf("result %+v, want Failed naming the BuildKit address %s", res, sock)
	}
}

// TestDockerSupplyChainOnBuild: with supplyChain.scanOnBuild and
// signingKey, Docker@2 attaches the SBOMs, a signed passed scan, provenance
// and a signature that supplychain.VerifyImage accepts with the key's
// public half.
func TestDockerSupplyChainOnBuild(t *testing.T) {
	host := embeddedRegistry(t)
	env, vars := imageEnv(t, map[string]string{
		"command": "buildAndPush", "containerRegistry": "nonprod-acr", "repository": "team/web",
		"Dockerfile": "app/Dockerfile", "tags": "v1",
	}, map[string]config.Registry{"nonprod": {URL: host, Insecure: true}})
	copyExample(t, "static", filepath.Join(env.Dirs.Sources, "app"))
	priv, pubPEM, err := supplychain.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	vulndb := t.TempDir() // an empty OSV database: nothing matches
	env.Services.Config.SupplyChain = config.SupplyChain{ScanOnBuild: true, VulnDB: vulndb, Severity: "high", SigningKey: keyFile}
	env.Environ = append(env.Environ, "COSIGN_PASSWORD=pw")
	var log strings.Builder
	env.Log = &log
	res, err := runDocker(t.Context(), env)
	if err != nil || res.Status != Succeeded {
		t.Fatalf("buildAndPush = %+v, %v\n%s", res, err, log.String())
	}
	pub, err := supplychain.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := supplychain.VerifyImage(t.Context(), vars[VarImageRef], pub, true, supplychain.Options{Insecure: true}); err != nil {
		t.Errorf("VerifyImage(%s): %v\nlog:\n%s", vars[VarImageRef], err, log.String())
	}
	if strings.Contains(log.String(), "pw") && strings.Contains(log.String(), "COSIGN_PASSWORD=pw") {
		t.Error("the key's password reached the log")
	}
}

// TestDockerRepositoryName checks that the repository input becomes a valid
// image name as in Azure's task (lower case, no spaces) under the
// connection's registry host.
func TestDockerRepositoryName(t *testing.T) {
	env, _ := imageEnv(t, map[string]string{"repository": "/Team/My Web/", "containerRegistry": "nonprod-acr"},
		map[string]config.Registry{"nonprod": {URL: "https://reg.example.com/"}})
	got, err := dockerTarget(env)
	if err != nil {
		t.Fatal(err)
	}
	if got.repo != "reg.example.com/team/myweb" {
		t.Errorf("repository %q, want reg.example.com/team/myweb", got.repo)
	}
	// dockerRegistryServiceConnection names the connection too.
	env.Inputs = map[string]string{"repository": "team/web", "dockerRegistryServiceConnection": "nonprod-acr"}
	if got, err := dockerTarget(env); err != nil || got.repo != "reg.example.com/team/web" {
		t.Errorf("with dockerRegistryServiceConnection: %q %v", got.repo, err)
	}
}
