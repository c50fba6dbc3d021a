package config

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// GitOps is one cluster state reconciled from a source (the pull mode):
// conveyor applies what the source holds, prunes what it no longer holds and
// corrects drift every Interval.
type GitOps struct {
	// Name identifies the reconciler (a DNS label: it names the inventory
	// ConfigMap and labels the objects).
	Name string `yaml:"name"`
	// Source is where the desired state comes from: git or oci, one of them.
	Source GitOpsSource `yaml:"source"`
	// Environment names an environment whose cluster and namespace are used;
	// or give Cluster (and Namespace) instead.
	Environment string `yaml:"environment"`
	// Cluster names an entry of Clusters.
	Cluster string `yaml:"cluster"`
	// Namespace is given to namespaced objects without one and holds the
	// inventory (default: the environment's, else "default").
	Namespace string `yaml:"namespace"`
	// Interval is how often the source is fetched and drift corrected
	// (default 5m).
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds a reconcile's health wait (default 5m).
	Timeout time.Duration `yaml:"timeout"`
	// Prune deletes objects applied before that the source no longer holds.
	Prune bool `yaml:"prune"`
	// Wait waits for the applied objects to be healthy (default true).
	Wait *bool `yaml:"wait"`
	// Suspend stops reconciling (drift is left alone).
	Suspend bool `yaml:"suspend"`
	// Render says how the source's folder becomes manifests.
	Render GitOpsRender `yaml:"render"`
	// Images replace the images of the same repository (repo:tag or
	// repo@digest), as a deploy step's containers input does.
	Images []string `yaml:"images"`
	// PinDigests resolves every image tag to its digest (with the
	// credentials of registries) at each reconcile.
	PinDigests bool `yaml:"pinDigests"`
}

// GitOpsSource is a git repository or an OCI artifact.
type GitOpsSource struct {
	Git *GitOpsGit `yaml:"git"`
	OCI *GitOpsOCI `yaml:"oci"`
}

// GitOpsGit is a folder of a git repository at a branch, tag or commit.
type GitOpsGit struct {
	// URL is any git URL or a local path.
	URL string `yaml:"url"`
	// Ref is a branch, a tag (or refs/heads/…, refs/tags/…) or a full
	// commit (default main).
	Ref string `yaml:"ref"`
	// Path is the folder inside the repository (default the root).
	Path string `yaml:"path"`
}

// GitOpsOCI is an OCI artifact of manifests (conveyor gitops push, flux
// push artifact).
type GitOpsOCI struct {
	// URL is oci://host[:port]/repository.
	URL string `yaml:"url"`
	// Ref is a tag or a digest (sha256:…); default latest.
	Ref string `yaml:"ref"`
	// Path is the folder inside the artifact (default the root).
	Path string `yaml:"path"`
	// Insecure allows plain HTTP (also taken from a registry of the same
	// host under registries).
	Insecure bool `yaml:"insecure"`
	// Verify requires a cosign signature of the artifact.
	Verify *GitOpsVerify `yaml:"verify"`
}

// GitOpsVerify requires a signature verified with a public key.
type GitOpsVerify struct {
	// Key is a PKIX public key PEM file (cosign.pub) or
	// vault://<vault>/<secret>.
	Key string `yaml:"key"`
}

// Render types of GitOpsRender.
const (
	RenderAuto      = "auto"
	RenderPlain     = "plain"
	RenderKustomize = "kustomize"
	RenderHelm      = "helm"
)

// GitOpsRender says how a folder becomes manifests.
type GitOpsRender struct {
	// Type is auto (default: kustomize when the folder has a
	// kustomization.yaml, helm when it has a Chart.yaml, else plain), plain
	// (every .yaml/.yml/.json file, recursively), kustomize or helm.
	Type string `yaml:"type"`
	// ReleaseName, Values (files in the folder) and Set (key=value) are
	// helm's.
	ReleaseName string   `yaml:"releaseName"`
	Values      []string `yaml:"values"`
	Set         []string `yaml:"set"`
}

// WaitOrDefault reports whether the reconcile waits for health.
func (g GitOps) WaitOrDefault() bool { return g.Wait == nil || *g.Wait }

// Default intervals of a GitOps entry.
const (
	DefaultGitOpsInterval = 5 * time.Minute
	DefaultGitOpsTimeout  = 5 * time.Minute
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

var digestRef = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
var tagRef = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// checkGitOps reports bad gitops entries.
func (c *Config) checkGitOps(doc *yaml.Node, add func(*yaml.Node, string, ...any)) {
	envs, clusters := names(c.Environments, "staging", "production"), names(c.Clusters, "local")
	if c.Environments != nil {
		envs = names(c.Environments)
	}
	seen := map[string]bool{}
	for i, g := range c.GitOps {
		var n *yaml.Node
		if gs := field(doc, "gitops"); gs != nil && i < len(gs.Content) {
			n = gs.Content[i]
		}
		where := "gitops[" + strconv.Itoa(i) + "]"
		switch {
		case g.Name == "":
			add(n, "%s: name is required", where)
		case len(g.Name) > 50 || !dnsLabel.MatchString(g.Name):
			add(at(n, "name"), "%s.name: %q: use lower-case letters, digits and '-' (at most 50)", where, g.Name)
		case seen[g.Name]:
			add(at(n, "name"), "%s.name: %q is used twice", where, g.Name)
		}
		seen[g.Name] = true
		src := at(n, "source")
		switch {
		case g.Source.Git == nil && g.Source.OCI == nil:
			add(src, "%s.source: give git: {url, ref, path} or oci: {url, ref}", where)
		case g.Source.Git != nil && g.Source.OCI != nil:
			add(src, "%s.source: give git or oci, not both", where)
		case g.Source.Git != nil:
			s := g.Source.Git
			if s.URL == "" {
				add(at(src, "git"), "%s.source.git.url is required: any git URL or a local path", where)
			}
			if s.Ref != "" && (strings.ContainsAny(s.Ref, " ~^:?*[\\") || strings.Contains(s.Ref, "..")) {
				add(at(src, "git", "ref"), "%s.source.git.ref: %q is not a branch, tag or commit", where, s.Ref)
			}
			checkRelPath(add, at(src, "git", "path"), where+".source.git.path", s.Path)
		default:
			s := g.Source.OCI
			switch rest, ok := strings.CutPrefix(s.URL, "oci://"); {
			case s.URL == "":
				add(at(src, "oci"), "%s.source.oci.url is required: oci://host/repository", where)
			case !ok || !strings.Contains(rest, "/") || strings.ContainsAny(rest, "@ "):
				add(at(src, "oci", "url"), "%s.source.oci.url: %q: use oci://host[:port]/repository (the tag or digest goes in ref)", where, s.URL)
			}
			if s.Ref != "" && !digestRef.MatchString(s.Ref) && !tagRef.MatchString(s.Ref) {
				add(at(src, "oci", "ref"), "%s.source.oci.ref: %q is neither a tag nor a digest (sha256:<64 hex>)", where, s.Ref)
			}
			if s.Verify != nil && s.Verify.Key == "" {
				add(at(src, "oci", "verify"), "%s.source.oci.verify.key is required: a cosign public key file or vault://<vault>/<secret>", where)
			}
			checkRelPath(add, at(src, "oci", "path"), where+".source.oci.path", s.Path)
		}
		switch {
		case g.Environment != "" && g.Cluster != "":
			add(at(n, "cluster"), "%s: give environment or cluster, not both", where)
		case g.Environment != "" && !envs[g.Environment]:
			add(at(n, "environment"), "%s.environment: environment %q is not defined: add it under environments or use one of %s", where, g.Environment, list(envs))
		case g.Cluster != "" && !clusters[g.Cluster]:
			add(at(n, "cluster"), "%s.cluster: cluster %q is not defined: add it under clusters or use one of %s", where, g.Cluster, list(clusters))
		}
		if g.Namespace != "" && !dnsLabel.MatchString(g.Namespace) {
			add(at(n, "namespace"), "%s.namespace: %q is not a namespace name", where, g.Namespace)
		}
		if g.Interval < 0 {
			add(at(n, "interval"), "%s.interval: must not be negative", where)
		} else if g.Interval > 0 && g.Interval < time.Second {
			add(at(n, "interval"), "%s.interval: %s is too short: use at least 1s", where, g.Interval)
		}
		if g.Timeout < 0 {
			add(at(n, "timeout"), "%s.timeout: must not be negative", where)
		}
		switch g.Render.Type {
		case "", RenderAuto, RenderPlain, RenderKustomize, RenderHelm:
		default:
			add(at(n, "render", "type"), "%s.render.type: %q: use auto, plain, kustomize or helm", where, g.Render.Type)
		}
		if g.Render.Type != RenderHelm && g.Render.Type != RenderAuto && g.Render.Type != "" &&
			(g.Render.ReleaseName != "" || len(g.Render.Values) > 0 || len(g.Render.Set) > 0) {
			add(at(n, "render"), "%s.render: releaseName, values and set are for type helm", where)
		}
		for j, v := range g.Render.Values {
			var vn *yaml.Node
			if vs := at(n, "render", "values"); vs != nil && vs.Kind == yaml.SequenceNode && j < len(vs.Content) {
				vn = vs.Content[j]
			}
			checkRelPath(add, vn, where+".render.values["+strconv.Itoa(j)+"]", v)
		}
	}
}

// checkRelPath reports a path that is absolute or leaves its folder.
func checkRelPath(add func(*yaml.Node, string, ...any), n *yaml.Node, where, p string) {
	if p == "" {
		return
	}
	if path.IsAbs(p) || p == ".." || strings.HasPrefix(path.Clean(p), "../") {
		add(n, "%s: %q must be a relative path inside the source", where, p)
	}
}

// fillGitOps sets the defaults of the gitops entries.
func (c *Config) fillGitOps() {
	for i := range c.GitOps {
		g := &c.GitOps[i]
		if g.Environment == "" && g.Cluster == "" {
			g.Cluster = "local"
		}
		if e, ok := c.Environments[g.Environment]; ok && g.Environment != "" {
			g.Cluster = e.Cluster
			if g.Namespace == "" {
				g.Namespace = e.Namespace
			}
		}
		if g.Namespace == "" {
			g.Namespace = "default"
		}
		if g.Interval == 0 {
			g.Interval = DefaultGitOpsInterval
		}
		if g.Timeout == 0 {
			g.Timeout = DefaultGitOpsTimeout
		}
		if g.Render.Type == "" {
			g.Render.Type = RenderAuto
		}
		if s := g.Source.Git; s != nil && s.Ref == "" {
			s.Ref = "main"
		}
		if s := g.Source.OCI; s != nil && s.Ref == "" {
			s.Ref = "latest"
		}
	}
}
