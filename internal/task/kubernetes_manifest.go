package task

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"conveyor.dev/conveyor/internal/deploy"
	"conveyor.dev/conveyor/internal/store"
)

// DeploymentStore keeps the successful deploys that KubernetesManifest@1
// rolls back to; *store.DB implements it.
type DeploymentStore interface {
	AddDeployment(ctx context.Context, d *store.Deployment) error
	// LastDeployment's error wraps store.ErrNotFound when there is none.
	LastDeployment(ctx context.Context, environment, namespace, pipeline string) (store.Deployment, error)
}

// defaultRolloutTimeout is the health wait when rolloutStatusTimeout is
// not given.
const defaultRolloutTimeout = 300 * time.Second

// runKubernetesManifest is KubernetesManifest@1 with Azure's inputs:
// action (deploy, bake, promote, reject, scale, patch, delete,
// createSecret), kubernetesServiceConnection (alias
// kubernetesServiceEndpoint: a cluster connection of conveyor.yaml),
// namespace, manifests (lines of files or glob patterns), containers,
// imagePullSecrets, rolloutStatusTimeout (seconds), strategy (none,
// canary), trafficSplitMethod (pod; smi is not supported), percentage,
// baselineAndCanaryReplicas; for scale and patch kind, name, replicas,
// resourceToPatch, resourceFileToPatch, mergeStrategy, patch; for delete
// arguments; for createSecret secretType, secretName, secretArguments,
// dockerRegistryEndpoint. Conveyor's own inputs: rollbackOnFailure
// (default true) and prune (default false).
//
// rolloutStatusTimeout defaults to 300 seconds; 0 waits until the step's
// own timeout. Revisions are kept per Environment.Name (the service
// connection's name outside a deployment job), namespace and pipeline.
func runKubernetesManifest(ctx context.Context, env *Env) (Result, error) {
	action := strings.ToLower(strings.TrimSpace(env.Input("action", "deploy")))
	switch action {
	case "bake":
		return runManifestBake(ctx, env)
	case "deploy", "promote", "reject", "scale", "patch", "delete", "createsecret":
	default:
		return manifestFail("input action: %q is not known: use deploy, bake, promote, reject, scale, patch, delete or createSecret", action)
	}
	switch ct := strings.ToLower(strings.TrimSpace(env.Input("connectionType", "kubernetesServiceConnection"))); ct {
	case "kubernetesserviceconnection", "kubernetes service connection":
	case "azureresourcemanager", "azure resource manager":
		return manifestFail("input connectionType: azureResourceManager connections are not supported: set connectionType: kubernetesServiceConnection and name a cluster connection of conveyor.yaml in kubernetesServiceConnection")
	default:
		return manifestFail("input connectionType: %q is not allowed: use kubernetesServiceConnection", ct)
	}
	k, err := newManifestRun(env, action)
	if err != nil {
		return manifestFail("%v", err)
	}
	switch action {
	case "deploy":
		return k.deploy(ctx)
	case "promote":
		return k.promote(ctx)
	case "reject":
		return k.reject(ctx)
	case "scale":
		return k.scale(ctx)
	case "patch":
		return k.patch(ctx)
	case "delete":
		return k.delete(ctx)
	case "createsecret":
		return k.createSecret(ctx)
	}
	return manifestFail("action %q is not known: use deploy, bake, promote, reject, scale, patch, delete or createSecret", action)
}

func manifestFail(format string, a ...any) (Result, error) {
	return Result{Status: Failed, Message: fmt.Sprintf("KubernetesManifest@1: "+format, a...)}, nil
}

// manifestRun is one run of the task: its inputs read and its cluster
// reached.
type manifestRun struct {
	env       *Env
	svc       *Services
	conn      string
	namespace string
	timeout   time.Duration
	deployer  *deploy.Deployer
}

func newManifestRun(env *Env, action string) (*manifestRun, error) {
	conn := env.Input("kubernetesServiceConnection", env.Input("kubernetesServiceEndpoint", ""))
	if conn == "" {
		return nil, fmt.Errorf("input kubernetesServiceConnection is required for action %s: name a cluster connection of conveyor.yaml (serviceConnections: {name: {cluster: ..., namespace: ...}})", action)
	}
	svc, err := env.NeedServices()
	if err != nil {
		return nil, err
	}
	cl, ns, err := svc.Config.ClusterOf(conn)
	if err != nil {
		return nil, err
	}
	if cl.Kubeconfig == "" {
		return nil, fmt.Errorf("cluster %s has no kubeconfig: set clusters.%s.kubeconfig in conveyor.yaml or start the local cluster with `conveyor cluster up`", cl.Name, cl.Name)
	}
	kubeconfig := cl.Kubeconfig
	if !filepath.IsAbs(kubeconfig) && svc.Config.Dir != "" {
		kubeconfig = filepath.Join(svc.Config.Dir, kubeconfig)
	}
	cfg, err := restConfig(kubeconfig, cl.Context)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cl.Name, err)
	}
	if v := env.Input("namespace", ""); v != "" {
		ns = v
	}
	if ns == "" {
		ns = "default"
	}
	timeout := defaultRolloutTimeout
	if v := env.Input("rolloutStatusTimeout", ""); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("input rolloutStatusTimeout: %q is not a number of seconds", v)
		}
		timeout = time.Duration(n) * time.Second // 0: until the step's timeout
	}
	m, err := deploy.NewResourceManager(cfg)
	if err != nil {
		return nil, err
	}
	d := &deploy.Deployer{Manager: m, Resolver: resolverFor(svc), Progress: env.Log, Now: env.Now}
	if svc.Revisions != nil {
		d.Revisions = storeRevisions{svc.Revisions}
	}
	k := &manifestRun{env: env, svc: svc, conn: conn, namespace: ns, timeout: timeout, deployer: d}
	d.Gate = func(ctx context.Context, images []string) error { return k.gate(ctx, cfg, images) }
	return k, nil
}

func restConfig(kubeconfig, context string) (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// resolverFor resolves image tags with the registries of conveyor.yaml.
func resolverFor(svc *Services) *deploy.RegistryResolver {
	r := &deploy.RegistryResolver{}
	for _, reg := range svc.Config.Registries {
		u := reg.URL
		if _, rest, ok := strings.Cut(u, "://"); ok {
			u = rest
		}
		host, _, _ := strings.Cut(u, "/")
		if host != "" {
			r.Registries = append(r.Registries, deploy.Registry{Host: host, Username: reg.Username, Password: reg.Password, Insecure: reg.Insecure})
		}
	}
	return r
}

// request builds the deploy request from the inputs.
func (k *manifestRun) request(needManifests bool) (deploy.Request, error) {
	run := k.env.Run()
	rollback, err := k.env.BoolInput("rollbackOnFailure", true)
	if err != nil {
		return deploy.Request{}, err
	}
	prune, err := k.env.BoolInput("prune", false)
	if err != nil {
		return deploy.Request{}, err
	}
	environment := k.env.Variables["Environment.Name"]
	if environment == "" {
		environment = k.conn
	}
	req := deploy.Request{
		Target:           deploy.Target{Environment: environment, Namespace: k.namespace, Pipeline: run.Pipeline},
		Containers:       lines(k.env.Input("containers", "")),
		ImagePullSecrets: lines(k.env.Input("imagePullSecrets", "")),
		Metadata:         deploy.Metadata{Pipeline: run.Pipeline, Run: k.env.Variables["Build.ContainerId"], RunNumber: run.Number, Commit: run.Commit},
		Timeout:          k.timeout,
		Rollback:         rollback,
		Prune:            prune,
	}
	if !needManifests {
		return req, nil
	}
	ms, err := readManifests(k.env.Dirs.Sources, k.env.Input("manifests", ""))
	if err != nil {
		return req, err
	}
	if req.Objects, err = deploy.ParseManifests(ms); err != nil {
		return req, err
	}
	if len(req.Objects) == 0 {
		return req, fmt.Errorf("input manifests: the files hold no Kubernetes object")
	}
	return req, nil
}

// lines splits a multi-line input into its non-empty trimmed lines (commas
// separate too).
func lines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// readManifests reads the files the manifests input names: one path,
// folder or glob pattern a line, relative to root. A line matching
// nothing is an error.
func readManifests(root, input string) ([]deploy.Manifest, error) {
	pats := lines(strings.ReplaceAll(input, ",", "\n"))
	if len(pats) == 0 {
		return nil, fmt.Errorf("input manifests is required: list the manifest files or glob patterns, one a line")
	}
	var out []deploy.Manifest
	seen := map[string]bool{}
	add := func(path string) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("input manifests: %w", err)
		}
		out = append(out, deploy.Manifest{Name: path, Data: data})
		return nil
	}
	for _, p := range pats {
		path := p
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		if !strings.ContainsAny(p, "*?[") {
			st, err := os.Stat(path)
			if err != nil {
				return nil, fmt.Errorf("input manifests: %s not found (paths are relative to %s)", p, root)
			}
			if !st.IsDir() {
				if err := add(path); err != nil {
					return nil, err
				}
				continue
			}
			entries, err := os.ReadDir(path)
			if err != nil {
				return nil, fmt.Errorf("input manifests: %w", err)
			}
			for _, e := range entries {
				if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
					if err := add(filepath.Join(path, e.Name())); err != nil {
						return nil, err
					}
				}
			}
			continue
		}
		rels, err := matchFiles(root, p)
		if err != nil {
			return nil, fmt.Errorf("input manifests: %s: %w", p, err)
		}
		if len(rels) == 0 {
			return nil, fmt.Errorf("input manifests: pattern %s matches no file under %s", p, root)
		}
		for _, rel := range rels {
			if err := add(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// canary reads the canary inputs: ok is false for strategy none.
func (k *manifestRun) canary() (c deploy.Canary, ok bool, err error) {
	switch s := strings.ToLower(k.env.Input("strategy", "none")); s {
	case "none":
		return c, false, nil
	case "canary":
	default:
		return c, false, fmt.Errorf("input strategy: %q is not known: use none or canary", s)
	}
	if m := strings.ToLower(k.env.Input("trafficSplitMethod", "pod")); m != "pod" {
		if m == "smi" {
			return c, false, fmt.Errorf("trafficSplitMethod smi is not supported: Conveyor splits traffic by pod counts only; use trafficSplitMethod: pod")
		}
		return c, false, fmt.Errorf("input trafficSplitMethod: %q is not known: use pod", m)
	}
	pct, err := strconv.ParseFloat(strings.TrimSpace(k.env.Input("percentage", "0")), 64)
	if err != nil || pct < 0 || pct > 100 || math.IsNaN(pct) {
		return c, false, fmt.Errorf("input percentage: %q is not a percentage between 0 and 100", k.env.Input("percentage", ""))
	}
	c.Percentage = pct
	if v := k.env.Input("baselineAndCanaryReplicas", ""); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1 {
			return c, false, fmt.Errorf("input baselineAndCanaryReplicas: %q is not a positive number", v)
		}
		c.Replicas = n
	}
	return c, true, nil
}

func (k *manifestRun) deploy(ctx context.Context) (Result, error) {
	c, isCanary, err := k.canary()
	if err != nil {
		return manifestFail("%v", err)
	}
	req, err := k.request(true)
	if err != nil {
		return manifestFail("%v", err)
	}
	if k.deployer.Revisions == nil && req.Rollback {
		k.env.Logf("No deployment store in this run: a failed deploy cannot be rolled back automatically")
	}
	var res deploy.Result
	if isCanary {
		res, err = k.deployer.DeployCanary(ctx, req, c)
	} else {
		res, err = k.deployer.Deploy(ctx, req)
	}
	if err != nil {
		return manifestFail("%v", err)
	}
	what := "Deployed"
	if isCanary {
		what = "Canary deployed"
	}
	k.addSummary(what, req, res)
	// What was applied, for an approval later in the run to release
	// exactly that (approval.ReleaseOf reads manifestsHash outputs).
	if len(res.Revision.Manifests) > 0 && k.env.SetVariable != nil {
		sum := sha256.Sum256(res.Revision.Manifests)
		if err := k.env.SetVariable("manifestsHash", "sha256:"+hex.EncodeToString(sum[:]), VarOptions{Output: true}); err != nil {
			return Result{}, err
		}
	}
	return Result{Status: Succeeded, Message: summary(res)}, nil
}

// addSummary adds what was deployed, where and which images, to the run's
// summary.
func (k *manifestRun) addSummary(what string, req deploy.Request, res deploy.Result) {
	if k.env.AddSummary == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** to `%s/%s`: %s\n", what, req.Target.Environment, req.Target.Namespace, summary(res))
	for _, img := range res.Images {
		fmt.Fprintf(&b, "- `%s`\n", img)
	}
	k.env.AddSummary(b.String())
}

func summary(res deploy.Result) string {
	msg := fmt.Sprintf("%d created, %d configured, %d unchanged", res.Applied.Count(deploy.Created), res.Applied.Count(deploy.Configured), res.Applied.Count(deploy.Unchanged))
	if n := res.Pruned.Count(deploy.Deleted); n > 0 {
		msg += fmt.Sprintf(", %d deleted", n)
	}
	if res.Revision.Number > 0 {
		msg += fmt.Sprintf("; revision %d", res.Revision.Number)
	}
	return msg
}

// canaryRequest returns the deploy request of the promote or reject action;
// ok is false, with the failed result, when the task is not a canary
// deploy or its inputs are wrong.
func (k *manifestRun) canaryRequest(action string) (req deploy.Request, failed Result, ok bool) {
	_, isCanary, err := k.canary()
	if err != nil {
		failed, _ = manifestFail("%v", err)
		return deploy.Request{}, failed, false
	}
	if !isCanary {
		failed, _ = manifestFail("action %s needs strategy: canary (it promotes or rejects a canary deploy)", action)
		return deploy.Request{}, failed, false
	}
	if req, err = k.request(true); err != nil {
		failed, _ = manifestFail("%v", err)
		return deploy.Request{}, failed, false
	}
	return req, Result{}, true
}

func (k *manifestRun) promote(ctx context.Context) (Result, error) {
	req, failed, ok := k.canaryRequest("promote")
	if !ok {
		return failed, nil
	}
	res, err := k.deployer.Promote(ctx, req)
	if err != nil {
		return manifestFail("%v", err)
	}
	k.addSummary("Promoted", req, res)
	return Result{Status: Succeeded, Message: "promoted: " + summary(res)}, nil
}

func (k *manifestRun) reject(ctx context.Context) (Result, error) {
	req, failed, ok := k.canaryRequest("reject")
	if !ok {
		return failed, nil
	}
	cs, err := k.deployer.Reject(ctx, req)
	if err != nil {
		return manifestFail("%v", err)
	}
	return Result{Status: Succeeded, Message: fmt.Sprintf("rejected: %d canary and baseline objects deleted", cs.Count(deploy.Deleted))}, nil
}

// target returns the object the kind and name inputs name.
func (k *manifestRun) target() (deploy.ObjectRef, error) {
	kind, name := k.env.Input("kind", ""), k.env.Input("name", "")
	if kind == "" || name == "" {
		return deploy.ObjectRef{}, fmt.Errorf("inputs kind and name are required (kind: deployment, replicaset or statefulset)")
	}
	return k.deployer.Manager.RefFor(kind, name, k.namespace)
}

func (k *manifestRun) wait(ctx context.Context, refs []deploy.ObjectRef) error {
	return k.deployer.Manager.Wait(ctx, refs, deploy.WaitOptions{Timeout: k.timeout, Progress: k.env.Log})
}

func (k *manifestRun) scale(ctx context.Context) (Result, error) {
	ref, err := k.target()
	if err != nil {
		return manifestFail("%v", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(k.env.Input("replicas", "")), 10, 64)
	if err != nil || n < 0 {
		return manifestFail("input replicas: %q is not a replica count", k.env.Input("replicas", ""))
	}
	if _, err := k.deployer.Manager.Scale(ctx, ref, n); err != nil {
		return manifestFail("%v", err)
	}
	k.env.Logf("Scaled %s to %d replicas", ref, n)
	if err := k.wait(ctx, []deploy.ObjectRef{ref}); err != nil {
		return manifestFail("scale %s: %v", ref, err)
	}
	return Result{Status: Succeeded, Message: fmt.Sprintf("%s scaled to %d", ref, n)}, nil
}

func (k *manifestRun) patch(ctx context.Context) (Result, error) {
	var refs []deploy.ObjectRef
	switch r := strings.ToLower(k.env.Input("resourceToPatch", "file")); r {
	case "file":
		file := k.env.Input("resourceFileToPatch", "")
		if file == "" {
			return manifestFail("input resourceFileToPatch is required with resourceToPatch: file")
		}
		fileRefs, err := k.refsInFile(file)
		if err != nil {
			return manifestFail("%v", err)
		}
		refs = append(refs, fileRefs...)
	case "name":
		ref, err := k.target()
		if err != nil {
			return manifestFail("%v", err)
		}
		refs = append(refs, ref)
	default:
		return manifestFail("input resourceToPatch: %q is not known: use file or name", r)
	}
	var pt types.PatchType
	switch s := strings.ToLower(k.env.Input("mergeStrategy", "strategic")); s {
	case "strategic":
		pt = types.StrategicMergePatchType
	case "merge":
		pt = types.MergePatchType
	case "json":
		pt = types.JSONPatchType
	default:
		return manifestFail("input mergeStrategy: %q is not known: use json, merge or strategic", s)
	}
	patch := k.env.Input("patch", "")
	if patch == "" {
		return manifestFail("input patch is required: the patch document (JSON or YAML)")
	}
	data, err := patchJSON(patch)
	if err != nil {
		return manifestFail("input patch: %v", err)
	}
	for _, ref := range refs {
		cs, err := k.deployer.Manager.Patch(ctx, ref, pt, data)
		if err != nil {
			return manifestFail("%v", err)
		}
		k.env.Logf("%s", strings.TrimSpace(cs.String()))
	}
	if err := k.wait(ctx, refs); err != nil {
		return manifestFail("patch: %v", err)
	}
	return Result{Status: Succeeded, Message: fmt.Sprintf("%d objects patched", len(refs))}, nil
}

// refsInFile returns the objects of the manifest file (or files: see
// readManifests), in the task's namespace where they name none.
func (k *manifestRun) refsInFile(file string) ([]deploy.ObjectRef, error) {
	ms, err := readManifests(k.env.Dirs.Sources, file)
	if err != nil {
		return nil, err
	}
	objs, err := deploy.ParseManifests(ms)
	if err != nil {
		return nil, err
	}
	if err := k.deployer.Manager.SetNamespaces(objs, k.namespace); err != nil {
		return nil, err
	}
	refs := make([]deploy.ObjectRef, 0, len(objs))
	for _, o := range objs {
		refs = append(refs, deploy.RefOf(o))
	}
	return refs, nil
}

// patchJSON accepts a patch written in JSON or YAML and returns JSON.
func patchJSON(s string) ([]byte, error) {
	return yaml.YAMLToJSON([]byte(s))
}

func (k *manifestRun) delete(ctx context.Context) (Result, error) {
	args := splitArgs(k.env.Input("arguments", ""))
	if len(args) == 0 {
		return manifestFail("input arguments is required: what to delete, as kubectl takes it (deployment web, deployment/web service/web, -f file.yaml)")
	}
	var refs []deploy.ObjectRef
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-f" || a == "--filename":
			if i+1 >= len(args) {
				return manifestFail("arguments: %s needs a file", a)
			}
			i++
			fileRefs, err := k.refsInFile(args[i])
			if err != nil {
				return manifestFail("%v", err)
			}
			refs = append(refs, fileRefs...)
		case strings.HasPrefix(a, "-"):
			return manifestFail("arguments: flag %s is not supported: name objects as kind name, kind/name or -f file", a)
		case strings.Contains(a, "/"):
			kind, name, _ := strings.Cut(a, "/")
			ref, err := k.deployer.Manager.RefFor(kind, name, k.namespace)
			if err != nil {
				return manifestFail("%v", err)
			}
			refs = append(refs, ref)
		default:
			if i+1 >= len(args) {
				return manifestFail("arguments: %s needs the names of the objects to delete", a)
			}
			for _, kind := range strings.Split(a, ",") {
				for _, name := range args[i+1:] {
					ref, err := k.deployer.Manager.RefFor(kind, name, k.namespace)
					if err != nil {
						return manifestFail("%v", err)
					}
					refs = append(refs, ref)
				}
			}
			i = len(args)
		}
	}
	cs, err := k.deployer.Manager.Delete(ctx, refs)
	for _, e := range cs.Entries {
		k.env.Logf("%s", e)
	}
	if err != nil {
		return manifestFail("%v", err)
	}
	return Result{Status: Succeeded, Message: fmt.Sprintf("%d objects deleted", cs.Count(deploy.Deleted))}, nil
}

func (k *manifestRun) createSecret(ctx context.Context) (Result, error) {
	name := k.env.Input("secretName", "")
	if name == "" {
		return manifestFail("input secretName is required for action createSecret")
	}
	var obj *unstructured.Unstructured
	switch t := strings.ToLower(k.env.Input("secretType", "dockerRegistry")); t {
	case "dockerregistry":
		conn := k.env.Input("dockerRegistryEndpoint", "")
		if conn == "" {
			return manifestFail("input dockerRegistryEndpoint is required with secretType dockerRegistry: name a registry connection of conveyor.yaml")
		}
		reg, err := k.svc.Config.RegistryOf(conn)
		if err != nil {
			return manifestFail("%v", err)
		}
		u := reg.URL
		if _, rest, ok := strings.Cut(u, "://"); ok {
			u = rest
		}
		host, _, _ := strings.Cut(u, "/")
		if obj, err = deploy.DockerRegistrySecret(name, k.namespace, host, reg.Username, reg.Password); err != nil {
			return manifestFail("%v", err)
		}
	case "generic":
		data, err := secretData(k.env.Dirs.Sources, splitArgs(k.env.Input("secretArguments", "")))
		if err != nil {
			return manifestFail("input secretArguments: %v", err)
		}
		obj = deploy.GenericSecret(name, k.namespace, data)
	default:
		return manifestFail("input secretType: %q is not known: use dockerRegistry or generic", t)
	}
	cs, err := k.deployer.Manager.Apply(ctx, []*unstructured.Unstructured{obj}, deploy.ApplyOptions{Namespace: k.namespace})
	if err != nil {
		return manifestFail("%v", err)
	}
	k.env.Logf("%s", strings.TrimSpace(cs.String()))
	return Result{Status: Succeeded, Message: "secret " + name + " " + string(cs.Entries[0].Action)}, nil
}

// secretData reads kubectl create secret generic's --from-literal and
// --from-file arguments.
func secretData(root string, args []string) (map[string][]byte, error) {
	data := map[string][]byte{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		flag, val, hasVal := strings.Cut(a, "=")
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		switch flag {
		case "--from-literal":
			k, v, ok := strings.Cut(val, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("--from-literal %q: write key=value", val)
			}
			data[k] = []byte(v)
		case "--from-file":
			key, path, ok := strings.Cut(val, "=")
			if !ok {
				path, key = val, filepath.Base(val)
			}
			if !filepath.IsAbs(path) {
				path = filepath.Join(root, path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("--from-file: %w", err)
			}
			data[key] = b
		default:
			return nil, fmt.Errorf("%s is not supported: use --from-literal=key=value or --from-file=[key=]path", a)
		}
	}
	if len(data) == 0 {
		return nil, errors.New("no data: give --from-literal=key=value or --from-file=path")
	}
	return data, nil
}

// storeRevisions adapts the store's deployments to deploy.RevisionStore.
type storeRevisions struct{ s DeploymentStore }

func (r storeRevisions) LastRevision(ctx context.Context, t deploy.Target) (deploy.Revision, bool, error) {
	d, err := r.s.LastDeployment(ctx, t.Environment, t.Namespace, t.Pipeline)
	if errors.Is(err, store.ErrNotFound) {
		return deploy.Revision{}, false, nil
	}
	if err != nil {
		return deploy.Revision{}, false, err
	}
	rev := deploy.Revision{Target: t, Number: d.Revision, Manifests: d.Manifests, Images: d.Images, Run: d.RunID, Commit: d.Commit, CreatedAt: d.CreatedAt}
	for _, o := range d.Objects {
		rev.Objects = append(rev.Objects, deploy.ObjectRef{Group: o.Group, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name})
	}
	return rev, true, nil
}

func (r storeRevisions) RecordRevision(ctx context.Context, rev deploy.Revision) error {
	d := &store.Deployment{Environment: rev.Target.Environment, Namespace: rev.Target.Namespace, Pipeline: rev.Target.Pipeline,
		RunID: rev.Run, Commit: rev.Commit, Manifests: rev.Manifests, Images: rev.Images, CreatedAt: rev.CreatedAt}
	for _, o := range rev.Objects {
		d.Objects = append(d.Objects, store.DeployedObject{Group: o.Group, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name})
	}
	return r.s.AddDeployment(ctx, d)
}
