package pipeline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"conveyor.dev/conveyor/internal/plan"
)

var (
	commonStepKeys = []string{"name", "displayName", "condition", "continueOnError", "enabled", "env",
		"timeoutInMinutes", "retryCountOnTaskFailure", "target"}
	scriptKeys     = []string{"workingDirectory", "failOnStderr"}
	bashKeys       = []string{"workingDirectory", "failOnStderr", "noProfile", "noRc"}
	powershellKeys = []string{"workingDirectory", "failOnStderr", "errorActionPreference", "warningPreference",
		"informationPreference", "verbosePreference", "debugPreference", "progressPreference", "ignoreLASTEXITCODE"}
	checkoutKeys = []string{"clean", "fetchDepth", "fetchFilter", "fetchTags", "lfs", "persistCredentials",
		"submodules", "path", "sparseCheckoutDirectories", "sparseCheckoutPatterns", "workspaceRepo"}
	stepExtraKeys = map[string][]string{
		"script":        scriptKeys,
		"bash":          bashKeys,
		"pwsh":          powershellKeys,
		"powershell":    powershellKeys,
		"task":          {"inputs"},
		"checkout":      checkoutKeys,
		"publish":       {"artifact", "artifactType", "fileSharePath", "parallel", "parallelCount", "properties"},
		"download":      {"artifact", "patterns", "path"},
		"downloadBuild": {"artifact", "patterns", "path", "inputs"},
		"getPackage":    {"path"},
	}
	targetKeys = []string{"container", "commands", "settableVariables"}
	taskRefRE  = regexp.MustCompile(`^[A-Za-z0-9_.\-]+@[0-9]+$`)
)

// steps compiles a list of steps. autoCheckout adds "checkout: self" first
// when the job has no checkout step, as Azure does for agent jobs;
// "checkout: none" removes it.
func (c *compiler) steps(items []*Node, p string, jobPos plan.Pos, autoCheckout, server bool) []plan.Step {
	out := make([]plan.Step, 0, len(items)+1)
	names := map[string]bool{}
	hasCheckout := false
	for i, it := range items {
		sp := fmt.Sprintf("%s[%d]", p, i)
		st, keep := c.step(it, sp)
		if st.Kind == plan.StepCheckout || strings.HasPrefix(strings.ToLower(stepKey(it)), "checkout") {
			hasCheckout = true
		}
		if !keep {
			continue
		}
		if st.Name != "" {
			if names[strings.ToLower(st.Name)] {
				c.add(it.Get("name"), joinPath(sp, "name"), "step name %q is used twice in this job; step names must be unique", st.Name)
			}
			names[strings.ToLower(st.Name)] = true
		}
		if server && st.Kind == plan.StepTask && isScriptTask(st.Task) {
			c.warn(it, sp, st.Task+" in an agentless (pool: server) job or hook: it needs an agent, so Conveyor runs it on one")
		}
		out = append(out, st)
	}
	if autoCheckout && !hasCheckout {
		out = append([]plan.Step{{
			Kind:        plan.StepCheckout,
			DisplayName: "Checkout self",
			Enabled:     true,
			Checkout:    &plan.Checkout{Repository: "self"},
			Pos:         jobPos,
		}}, out...)
	}
	return out
}

func isScriptTask(t string) bool {
	switch t {
	case "CmdLine@2", "Bash@3", "PowerShell@2":
		return true
	}
	return false
}

// stepKey is the key that says what kind of step a mapping is.
func stepKey(n *Node) string {
	if n == nil || n.Kind != MappingNode {
		return ""
	}
	for _, p := range n.Pairs {
		if containsString(stepKinds, p.Key.Value) {
			return p.Key.Value
		}
	}
	return ""
}

// step compiles one step; keep is false for steps that compile to nothing
// (checkout: none, download: none).
func (c *compiler) step(it *Node, sp string) (plan.Step, bool) {
	st := plan.Step{Kind: plan.StepTask, Enabled: true, Pos: it.Pos}
	if it.Kind != MappingNode {
		if it.Kind == ScalarNode {
			c.add(it, sp, "a step must be a mapping such as script: or task:, not the string %q", it.Value)
		} else {
			c.add(it, sp, "a step must be a mapping such as script: or task:, not %s", it.kindName())
		}
		return st, false
	}
	var kinds []string
	for _, p := range it.Pairs {
		if containsString(stepKinds, p.Key.Value) {
			kinds = append(kinds, p.Key.Value)
		}
	}
	if len(kinds) == 0 {
		all := append(append([]string(nil), stepKinds...), commonStepKeys...)
		known := append([]string(nil), all...)
		for _, extra := range stepExtraKeys {
			known = append(known, extra...)
		}
		reported := false
		for _, p := range it.Pairs {
			if !containsString(known, p.Key.Value) {
				c.unknownKey(p.Key, sp, "step", all)
				reported = true
			}
		}
		if !reported {
			c.add(it, sp, "the step has no action: add one of %s", strings.Join(stepKinds[:10], ", "))
		}
		return st, false
	}
	if len(kinds) > 1 {
		c.add(it.Get(kinds[1]), sp, "a step has one action, not both %s and %s", kinds[0], kinds[1])
		return st, false
	}
	kind := kinds[0]
	allowed := append(append([]string{kind}, commonStepKeys...), stepExtraKeys[kind]...)
	c.mapping(it, sp, kind+" step", allowed)
	kn := it.Get(kind)
	kp := joinPath(sp, kind)

	st.Name = c.ident(it.Get("name"), joinPath(sp, "name"), "step")
	st.DisplayName = c.str(it.Get("displayName"), joinPath(sp, "displayName"))
	st.Condition = c.condition(it.Get("condition"), joinPath(sp, "condition"))
	st.ContinueOnError = c.boolean(it.Get("continueOnError"), joinPath(sp, "continueOnError"))
	if e := it.Get("enabled"); e != nil {
		st.Enabled = c.boolean(e, joinPath(sp, "enabled"))
	}
	st.Env = c.strMap(it.Get("env"), joinPath(sp, "env"))
	st.TimeoutInMinutes = c.integer(it.Get("timeoutInMinutes"), joinPath(sp, "timeoutInMinutes"))
	st.RetryCountOnTaskFailure = c.integer(it.Get("retryCountOnTaskFailure"), joinPath(sp, "retryCountOnTaskFailure"))
	st.Target = c.target(it.Get("target"), joinPath(sp, "target"))

	inputs := map[string]string{}
	setIn := func(key, name string) {
		if v := it.Get(key); v != nil {
			inputs[name] = c.str(v, joinPath(sp, key))
		}
	}
	setBool := func(key, name string) {
		if v := it.Get(key); v != nil {
			inputs[name] = strconv.FormatBool(c.boolean(v, joinPath(sp, key)))
		}
	}
	defaultName := ""
	switch kind {
	case "script":
		st.Task, defaultName = "CmdLine@2", "CmdLine"
		inputs["script"] = c.str(kn, kp)
		setIn("workingDirectory", "workingDirectory")
		setBool("failOnStderr", "failOnStderr")
	case "bash":
		st.Task, defaultName = "Bash@3", "Bash"
		inputs["targetType"] = "inline"
		inputs["script"] = c.str(kn, kp)
		setIn("workingDirectory", "workingDirectory")
		setBool("failOnStderr", "failOnStderr")
		setBool("noProfile", "noProfile")
		setBool("noRc", "noRc")
	case "pwsh", "powershell":
		st.Task, defaultName = "PowerShell@2", "PowerShell"
		inputs["targetType"] = "inline"
		inputs["script"] = c.str(kn, kp)
		if kind == "pwsh" {
			inputs["pwsh"] = "true"
		}
		setIn("workingDirectory", "workingDirectory")
		setBool("failOnStderr", "failOnStderr")
		setBool("ignoreLASTEXITCODE", "ignoreLASTEXITCODE")
		for _, k := range []string{"errorActionPreference", "warningPreference", "informationPreference", "verbosePreference", "debugPreference", "progressPreference"} {
			setIn(k, k)
		}
		if v := inputs["errorActionPreference"]; v != "" {
			switch strings.ToLower(v) {
			case "stop", "continue", "silentlycontinue":
			default:
				c.add(it.Get("errorActionPreference"), joinPath(sp, "errorActionPreference"), "errorActionPreference %q: want stop, continue or silentlyContinue", v)
			}
		}
	case "task":
		ref := c.str(kn, kp)
		if !taskRefRE.MatchString(ref) {
			c.add(kn, kp, "task %q: write the task as Name@MajorVersion, e.g. Bash@3", ref)
		} else if c.opts.ValidateTask != nil {
			if err := c.opts.ValidateTask(ref); err != nil {
				c.add(kn, kp, "task %s: %v", ref, err)
			}
		}
		st.Task = ref
		defaultName, _, _ = strings.Cut(ref, "@")
		if in := it.Get("inputs"); in != nil {
			inputs = c.taskInputs(in, joinPath(sp, "inputs"))
		}
		if strings.HasPrefix(ref, "KubernetesManifest@") && strings.EqualFold(inputs["trafficSplitMethod"], "smi") {
			c.warn(it.Get("inputs"), joinPath(sp, "inputs.trafficSplitMethod"), "SMI traffic split is not supported: the canary is routed by replica count (trafficSplitMethod: pod)")
		}
	case "checkout":
		ref := c.str(kn, kp)
		if ref == "none" {
			return st, false
		}
		st.Kind = plan.StepCheckout
		st.Task = ""
		if !c.knownRepository(ref) {
			c.add(kn, kp, "checkout %q: the repository is not declared in resources.repositories (write self, none, an alias from resources.repositories or git://project/repo@ref)", ref)
		}
		co := &plan.Checkout{
			Repository:         ref,
			Clean:              c.boolString(it.Get("clean"), joinPath(sp, "clean")),
			FetchDepth:         c.integer(it.Get("fetchDepth"), joinPath(sp, "fetchDepth")),
			FetchTags:          c.boolString(it.Get("fetchTags"), joinPath(sp, "fetchTags")),
			Lfs:                c.boolean(it.Get("lfs"), joinPath(sp, "lfs")),
			PersistCredentials: c.boolean(it.Get("persistCredentials"), joinPath(sp, "persistCredentials")),
			Path:               c.str(it.Get("path"), joinPath(sp, "path")),
		}
		if sm := it.Get("submodules"); sm != nil {
			co.Submodules = strings.ToLower(c.str(sm, joinPath(sp, "submodules")))
			switch co.Submodules {
			case "true", "recursive", "false":
				if co.Submodules == "false" {
					co.Submodules = ""
				}
			default:
				c.add(sm, joinPath(sp, "submodules"), "submodules %q: want true, false or recursive", co.Submodules)
			}
		}
		st.Checkout = co
		defaultName = "Checkout " + ref
		if st.DisplayName == "" {
			st.DisplayName = defaultName
		}
		return st, true
	case "publish":
		st.Task, defaultName = "PublishPipelineArtifact@1", "PublishPipelineArtifact"
		inputs["targetPath"] = c.str(kn, kp)
		setIn("artifact", "artifactName")
		inputs["publishLocation"] = "pipeline"
		if t := it.Get("artifactType"); t != nil {
			inputs["publishLocation"] = c.str(t, joinPath(sp, "artifactType"))
		}
		setIn("fileSharePath", "fileSharePath")
		setBool("parallel", "parallel")
		setIn("parallelCount", "parallelCount")
		setIn("properties", "properties")
	case "download":
		src := c.str(kn, kp)
		if src == "none" {
			return st, false
		}
		st.Task, defaultName = "DownloadPipelineArtifact@2", "DownloadPipelineArtifact"
		if src == "current" || src == "" {
			inputs["buildType"] = "current"
			inputs["targetPath"] = "$(Pipeline.Workspace)"
		} else {
			known := false
			for _, r := range c.plan.Resources.Pipelines {
				known = known || strings.EqualFold(r.Alias, src)
			}
			if !known {
				c.add(kn, kp, "download %q: want current, none or an alias from resources.pipelines", src)
			}
			inputs["buildType"] = "specific"
			inputs["pipeline"] = src
			inputs["targetPath"] = "$(Pipeline.Workspace)/" + src
		}
		setIn("artifact", "artifactName")
		setIn("patterns", "itemPattern")
		setIn("path", "targetPath")
	case "downloadBuild":
		st.Task, defaultName = "DownloadBuildArtifacts@0", "DownloadBuildArtifacts"
		if in := it.Get("inputs"); in != nil {
			inputs = c.taskInputs(in, joinPath(sp, "inputs"))
		}
		inputs["buildType"] = "specific"
		inputs["definition"] = c.str(kn, kp)
		setIn("artifact", "artifactName")
		setIn("patterns", "itemPattern")
		setIn("path", "downloadPath")
	case "getPackage":
		st.Task, defaultName = "DownloadPackage@1", "DownloadPackage"
		inputs["package"] = c.str(kn, kp)
		setIn("path", "downloadPath")
	case "reviewApp":
		c.add(kn, kp, "reviewApp steps are not supported by Conveyor")
		return st, false
	case "template":
		c.add(kn, kp, "template reference was not expanded")
		return st, false
	}
	if st.DisplayName == "" {
		st.DisplayName = defaultName
	}
	if len(inputs) > 0 {
		st.Inputs = inputs
	}
	return st, true
}

// boolString reads a boolean-valued option kept as a string ("true",
// "false") or empty when absent.
func (c *compiler) boolString(n *Node, p string) string {
	if n.IsNull() {
		return ""
	}
	if n.Kind == ScalarNode && strings.Contains(n.Value, "$(") {
		return n.Value
	}
	return strconv.FormatBool(c.boolean(n, p))
}

func (c *compiler) taskInputs(n *Node, p string) map[string]string {
	if n.IsNull() {
		return map[string]string{}
	}
	if n.Kind != MappingNode {
		c.add(n, p, "inputs must be a mapping of input names to values, not %s", n.kindName())
		return map[string]string{}
	}
	return c.scalarValues(n, func(key string, v *Node) {
		c.add(v, joinPath(p, key), "task input %s must be a string, not %s", key, v.kindName())
	})
}

func (c *compiler) target(n *Node, p string) *plan.Target {
	if n.IsNull() {
		return nil
	}
	if n.Kind == ScalarNode {
		return &plan.Target{Container: n.Value}
	}
	if !c.mapping(n, p, "target", targetKeys) {
		return nil
	}
	t := &plan.Target{
		Container: c.str(n.Get("container"), joinPath(p, "container")),
		Commands:  c.str(n.Get("commands"), joinPath(p, "commands")),
	}
	switch t.Commands {
	case "", "any", "restricted":
	default:
		c.add(n.Get("commands"), joinPath(p, "commands"), "target.commands %q: want any or restricted", t.Commands)
	}
	if sv := n.Get("settableVariables"); sv != nil {
		if sv.Kind == ScalarNode && sv.Value == "none" {
			t.SettableNone = true
		} else if sv.Kind == MappingNode {
			c.mapping(sv, joinPath(p, "settableVariables"), "settableVariables", []string{"allowed"})
			t.SettableVariables = c.strList(sv.Get("allowed"), joinPath(p, "settableVariables.allowed"))
		} else {
			t.SettableVariables = c.strList(sv, joinPath(p, "settableVariables"))
		}
	}
	return t
}

// knownRepository reports whether a checkout names self, an alias of
// resources.repositories, or an inline repository (git:// or github://).
func (c *compiler) knownRepository(ref string) bool {
	if ref == "self" || ref == "" || strings.Contains(ref, "://") || strings.Contains(ref, "$(") {
		return true
	}
	for _, r := range c.plan.Resources.Repositories {
		if strings.EqualFold(r.Alias, ref) {
			return true
		}
	}
	return false
}
