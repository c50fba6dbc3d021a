package task

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"

	"conveyor.dev/conveyor/internal/deploy"
	"conveyor.dev/conveyor/internal/kubeenv"
)

// runKubernetes is Kubernetes@1: one kubectl command against the cluster of
// a service connection. Inputs (Azure's): connectionType ("Kubernetes Service
// Connection" or "None": the ambient KUBECONFIG), kubernetesServiceEndpoint,
// namespace, command, arguments, useConfigurationFile with configurationType
// configuration (default: the configuration file or folder) or inline (the
// YAML in inline), passed as -f, outputFormat (json default, yaml, go-template, jsonpath…,
// none), kubectl location (versionOrLocation: location + specifyLocation).
// Its output becomes the KubectlOutput variable (secret when
// outputIsSecret is true). Before the command it creates or updates the
// secret secretName (secretType dockerRegistry from dockerRegistryEndpoint,
// or generic from secretArguments; forceUpdate, default true, replaces an
// existing one) and the ConfigMap configMapName (configMapArguments, or
// configMapFile with useConfigMapFile; forceUpdateConfigMap), as Azure's
// task does; their data goes to kubectl on stdin, never on its command
// line. command login writes a kubeconfig for the
// connection (its context and namespace current) to the job's temp folder
// and sets KUBECONFIG for the steps after it, so that their kubectl reaches
// the cluster; logout removes it.
func runKubernetes(ctx context.Context, env *Env) (Result, error) {
	fail := func(format string, a ...any) (Result, error) {
		return Result{Status: Failed, Message: fmt.Sprintf("Kubernetes@1: "+format, a...)}, nil
	}
	command := strings.TrimSpace(env.Input("command", ""))
	if command == "" {
		return fail("input command is required (apply, get, rollout, ...)")
	}
	args := []string{command}
	var kubeconfig string
	ns := env.Input("namespace", "")
	switch ct := strings.ToLower(env.Input("connectionType", "Kubernetes Service Connection")); ct {
	case "none":
		if c := strings.ToLower(command); c == "login" || c == "logout" {
			return fail("command %s needs a service connection: set kubernetesServiceEndpoint", c)
		}
	case "kubernetes service connection", "azure resource manager":
		conn := env.Input("kubernetesServiceEndpoint", env.Input("kubernetesServiceConnection", ""))
		if conn == "" {
			return fail("input kubernetesServiceEndpoint is required: name a cluster connection of conveyor.yaml")
		}
		svc, err := env.NeedServices()
		if err != nil {
			return fail("%v", err)
		}
		cl, cns, err := svc.Config.ClusterOf(conn)
		if err != nil {
			return fail("%v", err)
		}
		if cl.Kubeconfig == "" {
			return fail("cluster %s has no kubeconfig: set clusters.%s.kubeconfig in conveyor.yaml or start the local cluster with `conveyor cluster up`", cl.Name, cl.Name)
		}
		kubeconfig = cl.Kubeconfig
		if !filepath.IsAbs(kubeconfig) && svc.Config.Dir != "" {
			kubeconfig = filepath.Join(svc.Config.Dir, kubeconfig)
		}
		if ns == "" {
			ns = cns
		}
		switch strings.ToLower(command) {
		case "login":
			return kubernetesLogin(env, conn, kubeconfig, cl.Context, ns)
		case "logout":
			return kubernetesLogout(env)
		}
		if cl.Context != "" {
			args = append(args, "--context", cl.Context)
		}
	default:
		return fail("connectionType %q: use \"Kubernetes Service Connection\" or None", ct)
	}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	connFlags := append([]string{}, args[1:]...) // --context and -n of the connection
	if useFile, err := env.BoolInput("useConfigurationFile", false); err != nil {
		return fail("%v", err)
	} else if useFile {
		cfg, err := kubernetesConfigFile(env)
		if err != nil {
			return fail("%v", err)
		}
		if cfg != "" && strings.HasPrefix(cfg, env.Dirs.Temp+string(filepath.Separator)) {
			defer os.Remove(cfg)
		}
		args = append(args, "-f", cfg)
	}
	args = append(args, splitArgs(env.Input("arguments", ""))...)
	switch of := env.Input("outputFormat", "json"); strings.ToLower(of) {
	case "none", "":
	default:
		if !hasOutputFlag(args) && outputs(command) {
			args = append(args, "-o", of)
		}
	}
	kubectl, err := findKubectl(env)
	if err != nil {
		return fail("%v", err)
	}
	environ := env.Environ
	if kubeconfig != "" {
		environ = append(append([]string{}, environ...), "KUBECONFIG="+kubeconfig)
	}
	kc := kubectlRunner{env: env, path: kubectl, environ: environ, flags: connFlags}
	if msg, err := kubernetesSecretAndConfigMap(ctx, env, kc, ns); err != nil {
		return Result{}, err
	} else if msg != "" {
		return fail("%s", msg)
	}
	env.Logf("[command]kubectl %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, kubectl, args...)
	cmd.Dir = env.Dirs.Sources
	cmd.Env = environ
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = env.Log
	runErr := cmd.Run()
	text := strings.TrimRight(out.String(), "\n")
	secret, err := env.BoolInput("outputIsSecret", false)
	if err != nil {
		return fail("%v", err)
	}
	// As the Azure task declares it an output variable, it is both
	// $(KubectlOutput) and, for a named step, $(<name>.KubectlOutput).
	for _, output := range []bool{false, true} {
		if env.SetVariable == nil {
			break
		}
		if err := env.SetVariable("KubectlOutput", text, VarOptions{Secret: secret, Output: output}); err != nil {
			return Result{}, err
		}
	}
	if !secret && text != "" && env.Log != nil {
		fmt.Fprintln(env.Log, text)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(runErr, &exit):
		return fail("kubectl %s exited with code %d", command, exit.ExitCode())
	case runErr != nil:
		return Result{}, fmt.Errorf("kubectl: %w", runErr)
	}
	return Result{Status: Succeeded}, nil
}

// outputs reports whether a kubectl command accepts -o.
func outputs(command string) bool {
	switch command {
	case "get", "apply", "create", "expose", "run", "set", "config", "version", "delete":
		return true
	}
	return false
}

func hasOutputFlag(args []string) bool {
	for _, a := range args {
		if a == "-o" || strings.HasPrefix(a, "-o=") || strings.HasPrefix(a, "--output") || (strings.HasPrefix(a, "-o") && len(a) > 2) {
			return true
		}
	}
	return false
}

// findKubectl returns the kubectl to run: the specified location, else the
// one on PATH, else the one built for the local cluster.
func findKubectl(env *Env) (string, error) {
	if strings.EqualFold(env.Input("versionOrLocation", "version"), "location") {
		if p := env.Input("specifyLocation", ""); p != "" {
			return p, nil
		}
	}
	for _, kv := range env.Environ {
		if path, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, dir := range filepath.SplitList(path) {
				p := filepath.Join(dir, "kubectl")
				if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
					return p, nil
				}
			}
		}
	}
	if dir, err := kubeenv.BinDir(); err == nil {
		p := filepath.Join(dir, "kubectl")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("kubectl not found on PATH nor in the local cluster's binaries: install it or set versionOrLocation: location with specifyLocation")
}

// kubernetesConfigFile returns the -f argument of useConfigurationFile: the
// configuration path, or a temporary file holding the inline YAML.
func kubernetesConfigFile(env *Env) (string, error) {
	switch ct := strings.ToLower(strings.TrimSpace(env.Input("configurationType", "configuration"))); ct {
	case "configuration":
		cfg := env.Input("configuration", "")
		if cfg == "" {
			return "", errors.New("input configuration is required when useConfigurationFile is true: a file or folder of manifests")
		}
		if !filepath.IsAbs(cfg) {
			cfg = filepath.Join(env.Dirs.Sources, cfg)
		}
		return cfg, nil
	case "inline":
		text := env.Input("inline", "")
		if strings.TrimSpace(text) == "" {
			return "", errors.New("input inline is required when configurationType is inline: the YAML to apply")
		}
		if err := os.MkdirAll(env.Dirs.Temp, 0o755); err != nil {
			return "", err
		}
		f, err := os.CreateTemp(env.Dirs.Temp, "kubectl-inline-*.yaml")
		if err != nil {
			return "", err
		}
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return f.Name(), err
	default:
		return "", fmt.Errorf("input configurationType: %q is not allowed: use configuration or inline", ct)
	}
}

// kubeLoginFile is where login keeps the job's kubeconfig.
func kubeLoginFile(env *Env) string { return filepath.Join(env.Dirs.Temp, "kubectl-login", "config") }

// kubernetesLogin writes the connection's kubeconfig, with its context and
// namespace current, for the steps after this one (KUBECONFIG).
func kubernetesLogin(env *Env, conn, kubeconfig, context, ns string) (Result, error) {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return Result{Status: Failed, Message: fmt.Sprintf("Kubernetes@1: login to %s: %v", conn, err)}, nil
	}
	if context != "" {
		cfg.CurrentContext = context
	}
	cur, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return Result{Status: Failed, Message: fmt.Sprintf("Kubernetes@1: login to %s: kubeconfig %s has no context %q", conn, kubeconfig, cfg.CurrentContext)}, nil
	}
	if ns != "" {
		cur.Namespace = ns
	}
	file := kubeLoginFile(env)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return Result{}, fmt.Errorf("Kubernetes@1 login: %w", err)
	}
	if err := clientcmd.WriteToFile(*cfg, file); err != nil {
		return Result{}, fmt.Errorf("Kubernetes@1 login: %w", err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		return Result{}, fmt.Errorf("Kubernetes@1 login: %w", err)
	}
	if env.SetVariable != nil {
		if err := env.SetVariable("KUBECONFIG", file, VarOptions{}); err != nil {
			return Result{}, err
		}
	}
	env.Logf("logged in to %s (namespace %s): $KUBECONFIG is set for the steps after this one", conn, cur.Namespace)
	return Result{Status: Succeeded}, nil
}

// kubernetesLogout removes what login wrote.
func kubernetesLogout(env *Env) (Result, error) {
	if err := os.RemoveAll(filepath.Dir(kubeLoginFile(env))); err != nil {
		return Result{}, fmt.Errorf("Kubernetes@1 logout: %w", err)
	}
	env.Logf("logged out")
	return Result{Status: Succeeded}, nil
}

// kubectlRunner runs kubectl for a step: its environment (KUBECONFIG) and
// the --context/-n flags of the connection.
type kubectlRunner struct {
	env     *Env
	path    string
	environ []string
	flags   []string
}

// run runs kubectl with args and stdin; it returns the exit code (-1 when
// kubectl could not run, with err).
func (k kubectlRunner) run(ctx context.Context, stdin []byte, args ...string) (int, error) {
	cmd := exec.CommandContext(ctx, k.path, append(append([]string{}, k.flags...), args...)...)
	cmd.Dir = k.env.Dirs.Sources
	cmd.Env = k.environ
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout = k.env.Log
	cmd.Stderr = k.env.Log
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return -1, fmt.Errorf("kubectl: %w", err)
	}
	return 0, nil
}

// kubernetesSecretAndConfigMap creates the secret and ConfigMap the inputs
// ask for; it returns a message for the user when the inputs are wrong or
// kubectl failed.
func kubernetesSecretAndConfigMap(ctx context.Context, env *Env, kc kubectlRunner, ns string) (string, error) {
	type object struct {
		kind, name string
		obj        *unstructured.Unstructured
		force      bool
	}
	var objs []object
	if name := env.Input("secretName", ""); name != "" {
		force, err := env.BoolInput("forceUpdate", true)
		if err != nil {
			return err.Error(), nil
		}
		var obj *unstructured.Unstructured
		switch t := strings.ToLower(env.Input("secretType", "dockerRegistry")); t {
		case "dockerregistry":
			conn := env.Input("dockerRegistryEndpoint", "")
			if conn == "" {
				return "input dockerRegistryEndpoint is required with secretName and secretType dockerRegistry: name a registry connection of conveyor.yaml", nil
			}
			svc, err := env.NeedServices()
			if err != nil {
				return err.Error(), nil
			}
			reg, err := svc.Config.RegistryOf(conn)
			if err != nil {
				return "input dockerRegistryEndpoint: " + err.Error(), nil
			}
			if obj, err = deploy.DockerRegistrySecret(name, ns, registryHost(reg.URL), reg.Username, reg.Password); err != nil {
				return err.Error(), nil
			}
		case "generic":
			data, err := secretData(env.Dirs.Sources, splitArgs(env.Input("secretArguments", "")))
			if err != nil {
				return "input secretArguments: " + err.Error(), nil
			}
			obj = deploy.GenericSecret(name, ns, data)
		default:
			return fmt.Sprintf("input secretType: %q is not allowed: use dockerRegistry or generic", t), nil
		}
		objs = append(objs, object{"secret", name, obj, force})
	}
	if name := env.Input("configMapName", ""); name != "" {
		force, err := env.BoolInput("forceUpdateConfigMap", false)
		if err != nil {
			return err.Error(), nil
		}
		useFile, err := env.BoolInput("useConfigMapFile", false)
		if err != nil {
			return err.Error(), nil
		}
		args := splitArgs(env.Input("configMapArguments", ""))
		if useFile {
			f := env.Input("configMapFile", "")
			if f == "" {
				return "input configMapFile is required when useConfigMapFile is true", nil
			}
			args = []string{"--from-file=" + f}
		}
		data, err := secretData(env.Dirs.Sources, args)
		if err != nil {
			return "input configMapArguments: " + err.Error(), nil
		}
		cm := map[string]any{}
		for k, v := range data {
			cm[k] = string(v)
		}
		obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name}, "data": cm}}
		if ns != "" {
			obj.SetNamespace(ns)
		}
		objs = append(objs, object{"configmap", name, obj, force})
	}
	for _, o := range objs {
		if !o.force {
			code, err := kc.run(ctx, nil, "get", o.kind, o.name, "-o", "name")
			if err != nil {
				return "", err
			}
			if code == 0 {
				env.Logf("%s %s exists and is kept (force update is false)", o.kind, o.name)
				continue
			}
		}
		raw, err := o.obj.MarshalJSON()
		if err != nil {
			return "", err
		}
		env.Logf("[command]kubectl apply -f - (%s %s)", o.kind, o.name)
		code, err := kc.run(ctx, raw, "apply", "-f", "-")
		if err != nil {
			return "", err
		}
		if code != 0 {
			return fmt.Sprintf("kubectl apply of %s %s exited with code %d", o.kind, o.name, code), nil
		}
	}
	return "", nil
}
