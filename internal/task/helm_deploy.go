package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"conveyor.dev/conveyor/internal/deploy"
)

// helmCommands are the HelmDeploy commands Conveyor runs.
var helmCommands = []string{"install", "upgrade", "rollback", "uninstall", "package", "template", "ls"}

// runHelmDeploy is HelmDeploy@0 and HelmDeploy@1: helm commands through the
// Helm SDK (no helm binary). Inputs: command (install | upgrade | rollback |
// uninstall | package | template | ls, the default), chartType (Name | FilePath), chartName,
// chartPath, chartVersion (alias version), releaseName, namespace,
// overrideValues (key=value, one per line or comma-separated, as --set),
// valueFile, waitForExecution (default true: --wait), install (upgrade:
// --install, default true), force, resetValues, destination (package,
// default $(Build.ArtifactStagingDirectory)), arguments (helm flags; see
// deploy.ParseHelmArgs) and kubernetesServiceConnection (alias
// kubernetesServiceEndpoint), a cluster connection of conveyor.yaml (in a
// deployment job, the job's environment when none is named).
// connectionType None uses $KUBECONFIG or ~/.kube/config instead. It sets
// helmExitCode and helmOutput, as Azure does.
func runHelmDeploy(ctx context.Context, env *Env) (Result, error) {
	cmd := strings.ToLower(strings.TrimSpace(env.Input("command", "ls")))
	out, err := helmRun(ctx, env, cmd)
	code := "0"
	if err != nil {
		name := env.Task
		if name == "" {
			name = "HelmDeploy"
		}
		code = "1"
		out = name + ": " + err.Error()
	}
	for _, opts := range []VarOptions{{}, {Output: true}} {
		if env.SetVariable == nil {
			break
		}
		if serr := env.SetVariable("helmExitCode", code, opts); serr != nil {
			return Result{}, fmt.Errorf("helm %s: set helmExitCode: %w", cmd, serr)
		}
		if serr := env.SetVariable("helmOutput", out, opts); serr != nil {
			return Result{}, fmt.Errorf("helm %s: set helmOutput: %w", cmd, serr)
		}
	}
	if err != nil {
		return Result{Status: Failed, Message: out}, nil
	}
	return Result{Status: Succeeded}, nil
}

// helmRun runs one helm command and returns what helm would print.
func helmRun(ctx context.Context, env *Env, cmd string) (string, error) {
	args, err := deploy.ParseHelmArgs(env.Input("arguments", ""))
	if err != nil {
		return "", fmt.Errorf("helm %s: input %w", cmd, err)
	}
	switch cmd {
	case "install", "upgrade":
		return helmInstall(ctx, env, cmd, args)
	case "rollback":
		return helmRollback(ctx, env, args)
	case "uninstall", "delete":
		return helmUninstall(ctx, env, args)
	case "package":
		return helmPackage(env, args)
	case "template":
		return helmTemplate(ctx, env, args)
	case "ls", "list":
		return helmList(ctx, env, args)
	case "init", "login", "logout", "save", "get", "create", "expose", "lint":
		return "", fmt.Errorf("input command: helm %s is not supported by Conveyor's HelmDeploy (it runs helm through its SDK, without a helm binary): use one of %s, or run the helm CLI in a script step", cmd, strings.Join(helmCommands, ", "))
	default:
		return "", fmt.Errorf("input command: unknown helm command %q: use one of %s", cmd, strings.Join(helmCommands, ", "))
	}
}

// helmClient connects to the cluster of the step's service connection.
func helmClient(env *Env, args deploy.HelmArgs) (*deploy.Helm, error) {
	var o deploy.HelmOptions
	conn := env.Input("kubernetesServiceConnection", env.Input("kubernetesServiceEndpoint", ""))
	connType := strings.ToLower(strings.ReplaceAll(env.Input("connectionType", ""), " ", ""))
	if conn == "" && connType != "none" && env.Variables["Environment.Name"] != "" {
		// As in Azure, a deployment job's environment stands for the
		// connection when the step names none.
		conn = env.Variables["Environment.Name"]
	}
	switch {
	case conn != "":
		svc, err := env.NeedServices()
		if err != nil {
			return nil, err
		}
		cl, ns, err := svc.Config.ClusterOf(conn)
		if err != nil {
			return nil, fmt.Errorf("input kubernetesServiceConnection: %w", err)
		}
		if cl.Kubeconfig == "" {
			return nil, fmt.Errorf("input kubernetesServiceConnection: cluster %q has no kubeconfig: start the local cluster with `conveyor cluster up` or set clusters.%s.kubeconfig in conveyor.yaml", cl.Name, cl.Name)
		}
		o.Kubeconfig, o.Context, o.Namespace = cl.Kubeconfig, cl.Context, ns
		if !filepath.IsAbs(o.Kubeconfig) && svc.Config.Dir != "" {
			o.Kubeconfig = filepath.Join(svc.Config.Dir, o.Kubeconfig)
		}
	case connType == "none":
		o.Kubeconfig = helmEnvValue(env.Environ, "KUBECONFIG")
	case connType == "azureresourcemanager" || env.Input("azureSubscription", env.Input("azureSubscriptionEndpoint", "")) != "":
		return nil, errors.New("input connectionType: Azure Resource Manager connections are not supported: name a cluster connection of conveyor.yaml in kubernetesServiceConnection")
	default:
		return nil, errors.New("input kubernetesServiceConnection is required: name a cluster connection (or an environment) of conveyor.yaml, or set connectionType: None to use $KUBECONFIG")
	}
	if ns := env.Input("namespace", args.Namespace); ns != "" {
		o.Namespace = ns
	}
	o.Warnings = env.Log
	if args.Debug || helmIsTrue(env.Variables["System.Debug"]) {
		o.Log = env.Log
	}
	return deploy.NewHelm(o)
}

func helmEnvValue(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

func helmIsTrue(s string) bool { b, _ := strconv.ParseBool(strings.TrimSpace(s)); return b }

// helmPath resolves a file input against the sources folder, as Azure
// resolves filePath inputs against System.DefaultWorkingDirectory.
func helmPath(env *Env, p string) string {
	if p == "" || filepath.IsAbs(p) || deploy.IsOCIChart(p) {
		return p
	}
	return filepath.Join(env.Dirs.Sources, p)
}

// helmChartRef returns the chart of an install, upgrade or template step.
func helmChartRef(env *Env, cmd string) (string, error) {
	switch strings.ToLower(env.Input("chartType", "Name")) {
	case "filepath", "file path":
		p := env.Input("chartPath", "")
		if p == "" {
			return "", fmt.Errorf("helm %s: input chartPath is required when chartType is FilePath", cmd)
		}
		return helmPath(env, p), nil
	case "name":
		n := env.Input("chartName", "")
		if n == "" {
			if p := env.Input("chartPath", ""); p != "" {
				return helmPath(env, p), nil
			}
			return "", fmt.Errorf("helm %s: input chartName is required when chartType is Name (or set chartType: FilePath and chartPath)", cmd)
		}
		// A name that is a path in the sources (./chart) is a local chart.
		if strings.HasPrefix(n, ".") || filepath.IsAbs(n) {
			return helmPath(env, n), nil
		}
		if !deploy.IsOCIChart(n) {
			if p := helmPath(env, n); helmFileExists(p) {
				return p, nil
			}
		}
		return n, nil
	default:
		return "", fmt.Errorf("helm %s: input chartType %q: use Name or FilePath", cmd, env.Input("chartType", ""))
	}
}

// helmPullOptions says how to reach the registry of an oci:// chart: the
// registry of conveyor.yaml with that host gives plain HTTP and credentials.
func helmPullOptions(env *Env, chart string, args deploy.HelmArgs) deploy.HelmPullOptions {
	o := deploy.HelmPullOptions{PlainHTTP: args.PlainHTTP, InsecureSkipTLSVerify: args.InsecureTLS, Username: args.Username, Password: args.Password}
	if !deploy.IsOCIChart(chart) || env.Services == nil || env.Services.Config == nil {
		return o
	}
	host, _, _ := strings.Cut(strings.TrimPrefix(chart, "oci://"), "/")
	if r, ok := env.Services.Config.RegistryByHost(host); ok {
		o.PlainHTTP = o.PlainHTTP || r.Insecure
		if o.Username == "" && o.Password == "" {
			o.Username, o.Password = r.Username, r.Password
		}
	}
	return o
}

// helmValues gathers valueFile, -f, overrideValues and --set.
func helmValues(env *Env, args deploy.HelmArgs) (map[string]any, error) {
	var files []string
	// valueFile is one file, or several one a line (applied in order).
	for _, f := range helmLines(env.Input("valueFile", "")) {
		files = append(files, helmPath(env, f))
	}
	for _, f := range args.Values {
		files = append(files, helmPath(env, f))
	}
	sets := helmLines(env.Input("overrideValues", ""))
	sets = append(sets, args.Set...)
	return deploy.HelmValues(files, sets, args.SetString)
}

func helmLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func helmInstall(ctx context.Context, env *Env, cmd string, args deploy.HelmArgs) (string, error) {
	ref, err := helmChartRef(env, cmd)
	if err != nil {
		return "", err
	}
	wait, err := env.BoolInput("waitForExecution", true)
	if err != nil {
		return "", fmt.Errorf("helm %s: %w", cmd, err)
	}
	install := args.Install
	if cmd == "upgrade" {
		if install, err = env.BoolInput("install", true); err != nil {
			return "", fmt.Errorf("helm %s: %w", cmd, err)
		}
		install = install || args.Install
	}
	force, err := env.BoolInput("force", false)
	if err != nil {
		return "", fmt.Errorf("helm %s: %w", cmd, err)
	}
	reset, err := env.BoolInput("resetValues", false)
	if err != nil {
		return "", fmt.Errorf("helm %s: %w", cmd, err)
	}
	if recreate, _ := env.BoolInput("recreate", false); recreate {
		env.Logf("##[warning]recreate is ignored: Helm 3 has no --recreate-pods")
	}
	version := env.Input("chartVersion", env.Input("version", args.Version))
	vals, err := helmValues(env, args)
	if err != nil {
		return "", fmt.Errorf("helm %s: %w", cmd, err)
	}
	o := deploy.HelmInstallOptions{
		Values: vals, Wait: wait || args.Wait, WaitForJobs: args.WaitForJobs, Atomic: args.Atomic,
		Timeout: args.Timeout, Install: install, CreateNamespace: args.CreateNamespace,
		Force: force || args.Force, ResetValues: reset || args.ResetValues, ReuseValues: args.ReuseValues,
		CleanupOnFail: args.CleanupOnFail, DryRun: args.DryRun, DisableHooks: args.NoHooks,
		SkipCRDs: args.SkipCRDs, Description: args.Description, HistoryMax: args.HistoryMax,
	}
	ch, err := deploy.LoadHelmChart(ctx, ref, version, helmPullOptions(env, ref, args))
	if err != nil {
		return "", fmt.Errorf("helm %s: %w", cmd, err)
	}
	name := env.Input("releaseName", "")
	if name == "" && len(args.Positional) > 0 {
		name = args.Positional[0]
	}
	if name == "" {
		if cmd == "upgrade" {
			return "", errors.New("helm upgrade: input releaseName is required")
		}
		name = fmt.Sprintf("%s-%d", ch.Metadata.Name, helmNow(env).Unix())
	}
	h, err := helmClient(env, args)
	if err != nil {
		return "", fmt.Errorf("helm %s %s: %w", cmd, name, err)
	}
	env.Logf("[command]helm %s %s %s --namespace %s%s", cmd, name, ref, h.Namespace(), describeHelmFlags(o, version))
	start := helmNow(env)
	var rel deploy.HelmRelease
	if cmd == "install" {
		rel, err = h.Install(ctx, name, ch, o)
	} else {
		rel, err = h.Upgrade(ctx, name, ch, o)
	}
	if err != nil {
		if o.Atomic {
			if cur, serr := h.Status(ctx, name); serr == nil {
				env.Logf("release %s is now at revision %d (%s): %s", cur.Name, cur.Revision, cur.Status, cur.Description)
			}
		}
		return "", err
	}
	env.Logf("release %s: revision %d %s in %s (%s)", rel.Name, rel.Revision, rel.Status, rel.Namespace, helmNow(env).Sub(start).Round(time.Millisecond))
	out := rel.String()
	helmLog(env, out)
	return out, nil
}

// describeHelmFlags spells the options like helm flags for the log.
func describeHelmFlags(o deploy.HelmInstallOptions, version string) string {
	var b strings.Builder
	flag := func(on bool, s string) {
		if on {
			b.WriteString(" " + s)
		}
	}
	flag(o.Install, "--install")
	flag(version != "", "--version "+version)
	flag(o.Wait, "--wait")
	flag(o.WaitForJobs, "--wait-for-jobs")
	flag(o.Atomic, "--atomic")
	flag(o.CreateNamespace, "--create-namespace")
	flag(o.Force, "--force")
	flag(o.ResetValues, "--reset-values")
	flag(o.ReuseValues, "--reuse-values")
	flag(o.DryRun, "--dry-run")
	flag(o.Timeout > 0, "--timeout "+o.Timeout.String())
	return b.String()
}

func helmLog(env *Env, s string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		env.Logf("%s", l)
	}
}

func helmRollback(ctx context.Context, env *Env, args deploy.HelmArgs) (string, error) {
	name := env.Input("releaseName", "")
	pos := args.Positional
	if name == "" && len(pos) > 0 {
		name, pos = pos[0], pos[1:]
	} else if len(pos) > 0 && pos[0] == name {
		pos = pos[1:]
	}
	if name == "" {
		return "", errors.New("helm rollback: name the release in releaseName or arguments (RELEASE [REVISION])")
	}
	o := deploy.HelmRollbackOptions{Wait: args.Wait, WaitForJobs: args.WaitForJobs, Timeout: args.Timeout,
		Force: args.Force, CleanupOnFail: args.CleanupOnFail, DisableHooks: args.NoHooks, DryRun: args.DryRun, HistoryMax: args.HistoryMax}
	if wait, err := env.BoolInput("waitForExecution", false); err != nil {
		return "", fmt.Errorf("helm rollback: %w", err)
	} else if wait {
		o.Wait = true
	}
	rev := env.Input("revision", "")
	if rev == "" && len(pos) > 0 {
		rev = pos[0]
	}
	if rev != "" {
		n, err := strconv.Atoi(rev)
		if err != nil || n < 0 {
			return "", fmt.Errorf("helm rollback %s: revision %q: want a revision number (0 or none: the previous one)", name, rev)
		}
		o.Revision = n
	}
	h, err := helmClient(env, args)
	if err != nil {
		return "", fmt.Errorf("helm rollback %s: %w", name, err)
	}
	env.Logf("[command]helm rollback %s %s --namespace %s", name, rev, h.Namespace())
	rel, err := h.Rollback(ctx, name, o)
	if err != nil {
		return "", err
	}
	out := fmt.Sprintf("Rollback was a success! Release %s is at revision %d (%s): %s\n", rel.Name, rel.Revision, rel.Status, rel.Description)
	helmLog(env, out)
	return out, nil
}

func helmUninstall(ctx context.Context, env *Env, args deploy.HelmArgs) (string, error) {
	names := args.Positional
	if n := env.Input("releaseName", ""); n != "" && !helmContains(names, n) {
		names = append([]string{n}, names...)
	}
	if len(names) == 0 {
		return "", errors.New("helm uninstall: name the release in releaseName or arguments (RELEASE...)")
	}
	o := deploy.HelmUninstallOptions{Wait: args.Wait, Timeout: args.Timeout, KeepHistory: args.KeepHistory,
		DisableHooks: args.NoHooks, DryRun: args.DryRun, Description: args.Description}
	h, err := helmClient(env, args)
	if err != nil {
		return "", fmt.Errorf("helm uninstall %s: %w", strings.Join(names, " "), err)
	}
	var b strings.Builder
	for _, name := range names {
		env.Logf("[command]helm uninstall %s --namespace %s", name, h.Namespace())
		_, info, err := h.Uninstall(ctx, name, o)
		if err != nil {
			return b.String(), err
		}
		line := fmt.Sprintf("release %q uninstalled", name)
		if info != "" {
			line += ": " + info
		}
		env.Logf("%s", line)
		b.WriteString(line + "\n")
	}
	return b.String(), nil
}

func helmContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func helmPackage(env *Env, args deploy.HelmArgs) (string, error) {
	dir := env.Input("chartPath", "")
	if dir == "" && len(args.Positional) > 0 {
		dir = args.Positional[0]
	}
	if dir == "" {
		return "", errors.New("helm package: input chartPath is required")
	}
	dir = helmPath(env, dir)
	dest := env.Input("destination", args.Destination)
	if dest == "" {
		dest = env.Dirs.ArtifactStaging
	}
	dest = helmPath(env, dest)
	o := deploy.HelmPackageOptions{Destination: dest, Version: env.Input("chartVersion", env.Input("version", args.Version)), AppVersion: args.AppVersion}
	env.Logf("[command]helm package %s --destination %s", dir, dest)
	path, err := deploy.PackageHelmChart(dir, o)
	if err != nil {
		return "", err
	}
	out := "Successfully packaged chart and saved it to: " + path + "\n"
	helmLog(env, out)
	return out, nil
}

func helmTemplate(ctx context.Context, env *Env, args deploy.HelmArgs) (string, error) {
	ref, err := helmChartRef(env, "template")
	if err != nil {
		return "", err
	}
	name := env.Input("releaseName", "")
	if name == "" && len(args.Positional) > 0 {
		name = args.Positional[0]
	}
	var files []string
	// valueFile is one file, or several one a line (applied in order).
	for _, f := range helmLines(env.Input("valueFile", "")) {
		files = append(files, helmPath(env, f))
	}
	for _, f := range args.Values {
		files = append(files, helmPath(env, f))
	}
	ns := env.Input("namespace", args.Namespace)
	o := deploy.HelmRenderOptions{
		Chart: ref, Version: env.Input("chartVersion", env.Input("version", args.Version)),
		ReleaseName: name, Namespace: ns, ValueFiles: files,
		Overrides:       append(helmLines(env.Input("overrideValues", "")), args.Set...),
		StringOverrides: args.SetString, KubeVersion: args.KubeVersion, IncludeCRDs: args.IncludeCRDs,
		Pull: helmPullOptions(env, ref, args),
	}
	env.Logf("[command]helm template %s %s", name, ref)
	out, err := deploy.RenderHelm(ctx, o)
	if err != nil {
		return "", err
	}
	helmLog(env, string(out))
	return string(out), nil
}

// helmNow reads the task's clock.
func helmNow(env *Env) time.Time {
	if env.Now != nil {
		return env.Now()
	}
	return time.Now()
}

func helmFileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func helmList(ctx context.Context, env *Env, args deploy.HelmArgs) (string, error) {
	h, err := helmClient(env, args)
	if err != nil {
		return "", fmt.Errorf("helm ls: %w", err)
	}
	env.Logf("[command]helm ls --namespace %s", h.Namespace())
	rels, err := h.List(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION\n")
	for _, r := range rels {
		fmt.Fprintf(&b, "%s\t%s\t%d\t%s\t%s\t%s-%s\t%s\n", r.Name, r.Namespace, r.Revision,
			r.Updated.UTC().Format(time.RFC3339), r.Status, r.Chart, r.ChartVersion, r.AppVersion)
	}
	out := b.String()
	helmLog(env, out)
	return out, nil
}
