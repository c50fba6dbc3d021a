package pipeline

import (
	"fmt"
	"iter"
	"regexp"
	"strconv"
	"strings"

	"conveyor.dev/conveyor/internal/pipeline/expr"
	"conveyor.dev/conveyor/internal/plan"
)

// decoder reads expanded Nodes into plan types, reporting every problem
// with its position and field path.
type decoder struct {
	errs *errs
	// warnings collects notes that do not stop the compile.
	warnings []plan.Warning
}

func (d *decoder) warnAt(pos plan.Pos, p, msg string) {
	w := plan.Warning{Path: p, Msg: msg, Pos: pos}
	for _, old := range d.warnings {
		if old == w {
			return
		}
	}
	d.warnings = append(d.warnings, w)
}

func (d *decoder) add(n *Node, p, format string, a ...any) {
	var pos plan.Pos
	if n != nil {
		pos = n.Pos
	}
	d.errs.add(pos, p, format, a...)
}

// mapping checks that n is a mapping whose keys are all in allowed; an
// unknown key is an error with a "did you mean" hint.
func (d *decoder) mapping(n *Node, p, what string, allowed []string) bool {
	if n.Kind != MappingNode {
		d.add(n, p, "%s must be a mapping, not %s", what, n.kindName())
		return false
	}
	for _, pair := range n.Pairs {
		if !containsString(allowed, pair.Key.Value) {
			d.unknownKey(pair.Key, p, what, allowed)
		}
	}
	return true
}

func (d *decoder) unknownKey(k *Node, p, what string, allowed []string) {
	if _, ok := parseDirective(k.Value); ok {
		d.add(k, p, "misplaced %s", k.Value)
		return
	}
	d.add(k, p, "unknown key %q%s", k.Value, suggest(k.Value, allowed))
}

func (d *decoder) str(n *Node, p string) string {
	if n == nil || n.Kind == NullNode {
		return ""
	}
	if n.Kind != ScalarNode {
		d.add(n, p, "want a string, got %s", n.kindName())
		return ""
	}
	return n.Value
}

func (d *decoder) boolean(n *Node, p string) bool {
	if n == nil || n.Kind == NullNode {
		return false
	}
	if n.Kind == ScalarNode {
		switch strings.ToLower(strings.TrimSpace(n.Value)) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	d.add(n, p, "want a boolean (true or false), got %s", describe(n))
	return false
}

func (d *decoder) boolPtr(n *Node, p string) *bool {
	if n == nil || n.Kind == NullNode {
		return nil
	}
	b := d.boolean(n, p)
	return &b
}

func (d *decoder) integer(n *Node, p string) int {
	if n == nil || n.Kind == NullNode {
		return 0
	}
	if n.Kind == ScalarNode {
		if i, err := strconv.Atoi(strings.TrimSpace(n.Value)); err == nil && i >= 0 {
			return i
		}
	}
	d.add(n, p, "want a non-negative whole number, got %s", describe(n))
	return 0
}

func describe(n *Node) string {
	if n.Kind == ScalarNode {
		return strconv.Quote(n.Value)
	}
	return n.kindName()
}

// strList reads a string or a sequence of strings.
func (d *decoder) strList(n *Node, p string) []string {
	if n == nil || n.Kind == NullNode {
		return nil
	}
	switch n.Kind {
	case ScalarNode:
		return []string{n.Value}
	case SequenceNode:
		out := make([]string, 0, len(n.Items))
		for i, it := range n.Items {
			if it.Kind != ScalarNode {
				d.add(it, fmt.Sprintf("%s[%d]", p, i), "want a string, got %s", it.kindName())
				continue
			}
			out = append(out, it.Value)
		}
		return out
	}
	d.add(n, p, "want a string or a sequence of strings, got %s", n.kindName())
	return nil
}

func (d *decoder) strMap(n *Node, p string) map[string]string {
	if n == nil || n.Kind == NullNode {
		return nil
	}
	if n.Kind != MappingNode {
		d.add(n, p, "want a mapping of names to strings, got %s", n.kindName())
		return nil
	}
	return d.scalarValues(n, func(key string, v *Node) {
		d.add(v, joinPath(p, key), "want a string, got %s", v.kindName())
	})
}

// scalarValues returns the values of the mapping n by key, a null value as
// ""; notString reports a value that is not a scalar (it is left out).
func (d *decoder) scalarValues(n *Node, notString func(key string, v *Node)) map[string]string {
	out := make(map[string]string, len(n.Pairs))
	for _, pair := range n.Pairs {
		v := pair.Value
		switch v.Kind {
		case NullNode:
			out[pair.Key.Value] = ""
		case ScalarNode:
			out[pair.Key.Value] = v.Value
		default:
			notString(pair.Key.Value, v)
		}
	}
	return out
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) ident(n *Node, p, what string) string {
	s := d.str(n, p)
	if s != "" && !identRE.MatchString(s) {
		d.add(n, p, "%s name %q is not valid: use only letters, digits and '_', starting with a letter or '_'", what, s)
	}
	return s
}

// condition reads a runtime condition and checks its syntax and functions.
func (d *decoder) condition(n *Node, p string) string {
	s := d.str(n, p)
	if strings.TrimSpace(s) == "" {
		return s
	}
	e, err := expr.Parse(s)
	if err == nil {
		err = e.Validate(expr.Condition, nil)
	}
	if err != nil {
		d.errs.add(n.posAt(exprOffset(err)), p, "condition %q: %s", s, exprMsg(err))
	}
	return s
}

// runtimeValue checks a variable value that is a runtime expression $[ ].
func (d *decoder) runtimeValue(n *Node, p, v string) {
	inner, ok := expr.RuntimeExpression(v)
	if !ok {
		return
	}
	e, err := expr.Parse(inner)
	if err == nil {
		err = e.Validate(expr.Runtime, nil)
	}
	if err != nil {
		d.errs.add(n.posAt(strings.Index(v, inner)+exprOffset(err)), p, "runtime expression %s: %s", strings.TrimSpace(v), exprMsg(err))
	}
}

func pos(n *Node) plan.Pos {
	if n == nil {
		return plan.Pos{}
	}
	return n.Pos
}

// ---- variables ----

var (
	variableKeys        = []string{"name", "value", "readonly"}
	varNameRE           = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)
	reservedVarPrefixes = []string{"endpoint", "input", "secret", "path", "securefile"}
)

// variables reads map-form or list-form variables.
func (d *decoder) variables(n *Node, p string) []plan.Variable {
	if n.IsNull() {
		return nil
	}
	var out []plan.Variable
	switch n.Kind {
	case MappingNode:
		for _, pair := range n.Pairs {
			v := plan.Variable{Name: pair.Key.Value, Pos: pair.Key.Pos}
			if pair.Value.Kind == MappingNode || pair.Value.Kind == SequenceNode {
				d.add(pair.Value, joinPath(p, pair.Key.Value), "variable value must be a string, not %s (use the list form for readonly variables)", pair.Value.kindName())
				continue
			}
			v.Value = pair.Value.Value
			d.runtimeValue(pair.Value, joinPath(p, pair.Key.Value), v.Value)
			out = append(out, v)
		}
	case SequenceNode:
		for i, it := range n.Items {
			ip := fmt.Sprintf("%s[%d]", p, i)
			if it.Kind != MappingNode {
				d.add(it, ip, "a variable must be a mapping with name and value, or group, not %s", it.kindName())
				continue
			}
			if g := it.Get("group"); g != nil {
				d.mapping(it, ip, "variable group", []string{"group"})
				out = append(out, plan.Variable{Group: d.str(g, joinPath(ip, "group")), Pos: it.Pos})
				continue
			}
			if !d.mapping(it, ip, "variable", append(variableKeys, "group", "template")) {
				continue
			}
			name := it.Get("name")
			if name == nil {
				d.add(it, ip, "variable needs a name")
				continue
			}
			v := plan.Variable{Name: d.str(name, joinPath(ip, "name")), Pos: it.Pos}
			if val := it.Get("value"); val != nil {
				if val.Kind == MappingNode || val.Kind == SequenceNode {
					d.add(val, joinPath(ip, "value"), "variable value must be a string, not %s", val.kindName())
				} else {
					v.Value = val.Value
					d.runtimeValue(val, joinPath(ip, "value"), v.Value)
				}
			}
			v.Readonly = d.boolean(it.Get("readonly"), joinPath(ip, "readonly"))
			out = append(out, v)
		}
	default:
		d.add(n, p, "variables must be a mapping or a sequence, not %s", n.kindName())
	}
	for _, v := range out {
		if v.Name == "" {
			continue
		}
		if !varNameRE.MatchString(v.Name) {
			d.errs.add(v.Pos, p, "variable name %q is not valid: use letters, digits, '.', '_' and '-'", v.Name)
			continue
		}
		lower := strings.ToLower(v.Name)
		for _, prefix := range reservedVarPrefixes {
			if strings.HasPrefix(lower, prefix) {
				d.warnAt(v.Pos, p, fmt.Sprintf("variable %q starts with %q: Azure Pipelines reserves that prefix and does not pass such variables to tasks and scripts", v.Name, prefix))
			}
		}
	}
	return out
}

// ---- triggers ----

var (
	ciTriggerKeys = []string{"batch", "branches", "paths", "tags"}
	prTriggerKeys = []string{"autoCancel", "branches", "paths", "drafts"}
	includeKeys   = []string{"include", "exclude"}
)

func (d *decoder) includeExclude(n *Node, p string) (inc, exc []string) {
	if n.IsNull() {
		return nil, nil
	}
	if n.Kind == SequenceNode {
		return d.strList(n, p), nil
	}
	if !d.mapping(n, p, "filter", includeKeys) {
		return nil, nil
	}
	return d.strList(n.Get("include"), joinPath(p, "include")), d.strList(n.Get("exclude"), joinPath(p, "exclude"))
}

// trigger reads trigger: or pr: (pr selects the PR keys).
func (d *decoder) trigger(n *Node, p string, pr bool) *plan.Filter {
	if n == nil {
		return nil
	}
	f := &plan.Filter{Pos: n.Pos}
	switch n.Kind {
	case NullNode:
		return nil
	case ScalarNode:
		switch strings.ToLower(n.Value) {
		case "none", "false":
			f.None = true
		case "true":
			return nil
		default:
			f.BranchesInclude = []string{n.Value}
		}
		return f
	case SequenceNode:
		f.BranchesInclude = d.strList(n, p)
		return f
	}
	keys := ciTriggerKeys
	if pr {
		keys = prTriggerKeys
	}
	if !d.mapping(n, p, "trigger", keys) {
		return f
	}
	f.BranchesInclude, f.BranchesExclude = d.includeExclude(n.Get("branches"), joinPath(p, "branches"))
	f.PathsInclude, f.PathsExclude = d.includeExclude(n.Get("paths"), joinPath(p, "paths"))
	if pr {
		f.AutoCancel = d.boolPtr(n.Get("autoCancel"), joinPath(p, "autoCancel"))
		f.Drafts = d.boolPtr(n.Get("drafts"), joinPath(p, "drafts"))
	} else {
		f.Batch = d.boolean(n.Get("batch"), joinPath(p, "batch"))
		f.TagsInclude, f.TagsExclude = d.includeExclude(n.Get("tags"), joinPath(p, "tags"))
	}
	return f
}

var scheduleKeys = []string{"cron", "displayName", "branches", "batch", "always"}

func (d *decoder) schedules(n *Node, p string) []plan.Schedule {
	if n.IsNull() {
		return nil
	}
	if n.Kind != SequenceNode {
		d.add(n, p, "schedules must be a sequence, not %s", n.kindName())
		return nil
	}
	var out []plan.Schedule
	for i, it := range n.Items {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if !d.mapping(it, ip, "schedule", scheduleKeys) {
			continue
		}
		s := plan.Schedule{Cron: d.str(it.Get("cron"), joinPath(ip, "cron")), Pos: it.Pos}
		if s.Cron == "" {
			d.add(it, ip, "schedule needs a cron expression")
		} else if len(strings.Fields(s.Cron)) != 5 {
			d.add(it.Get("cron"), joinPath(ip, "cron"), "cron %q must have 5 fields: minute hour day-of-month month day-of-week", s.Cron)
		}
		s.DisplayName = d.str(it.Get("displayName"), joinPath(ip, "displayName"))
		s.BranchesInclude, s.BranchesExclude = d.includeExclude(it.Get("branches"), joinPath(ip, "branches"))
		s.Batch = d.boolean(it.Get("batch"), joinPath(ip, "batch"))
		s.Always = d.boolean(it.Get("always"), joinPath(ip, "always"))
		out = append(out, s)
	}
	return out
}

// ---- resources ----

var (
	resourceKeys       = []string{"repositories", "pipelines", "containers", "builds", "packages", "webhooks"}
	repositoryKeys     = []string{"repository", "type", "name", "ref", "endpoint", "trigger"}
	pipelineResKeys    = []string{"pipeline", "source", "project", "version", "branch", "tags", "trigger"}
	pipelineTrigKeys   = []string{"enabled", "branches", "stages", "tags"}
	containerKeys      = []string{"image", "options", "env", "ports", "volumes", "endpoint", "mapDockerSocket", "mountReadOnly"}
	containerResKeys   = append([]string{"container", "type", "trigger", "azureSubscription", "resourceGroup", "registry", "repository", "localImage"}, containerKeys...)
	repositoryTypeList = []string{"git", "github", "githubenterprise", "bitbucket"}
	mountReadOnlyKeys  = []string{"work", "externals", "tools", "tasks"}
)

func (d *decoder) resources(n *Node, p string) plan.Resources {
	var r plan.Resources
	if n.IsNull() {
		return r
	}
	if !d.mapping(n, p, "resources", resourceKeys) {
		return r
	}
	for _, k := range []string{"builds", "packages", "webhooks"} {
		if v := n.Get(k); v != nil {
			d.add(v, joinPath(p, k), "resources.%s is not supported by Conveyor: use resources.pipelines or resources.repositories", k)
		}
	}
	for ip, it := range d.mappings(n, p, "repositories", "repository resource", repositoryKeys) {
		rr := plan.RepositoryResource{
			Alias:    d.str(it.Get("repository"), joinPath(ip, "repository")),
			Type:     d.str(it.Get("type"), joinPath(ip, "type")),
			Name:     d.str(it.Get("name"), joinPath(ip, "name")),
			Ref:      d.str(it.Get("ref"), joinPath(ip, "ref")),
			Endpoint: d.str(it.Get("endpoint"), joinPath(ip, "endpoint")),
			Pos:      it.Pos,
		}
		if rr.Alias == "" {
			d.add(it, ip, "repository resource needs an alias (repository:)")
		}
		if rr.Type != "" && !containsString(repositoryTypeList, rr.Type) {
			d.add(it.Get("type"), joinPath(ip, "type"), "unknown repository type %q; want one of %s", rr.Type, strings.Join(repositoryTypeList, ", "))
		}
		if t := it.Get("trigger"); t != nil {
			rr.Trigger = d.trigger(t, joinPath(ip, "trigger"), false)
		}
		r.Repositories = append(r.Repositories, rr)
	}
	for ip, it := range d.mappings(n, p, "pipelines", "pipeline resource", pipelineResKeys) {
		pr := plan.PipelineResource{
			Alias:   d.str(it.Get("pipeline"), joinPath(ip, "pipeline")),
			Source:  d.str(it.Get("source"), joinPath(ip, "source")),
			Project: d.str(it.Get("project"), joinPath(ip, "project")),
			Version: d.str(it.Get("version"), joinPath(ip, "version")),
			Branch:  d.str(it.Get("branch"), joinPath(ip, "branch")),
			Tags:    d.strList(it.Get("tags"), joinPath(ip, "tags")),
			Pos:     it.Pos,
		}
		if pr.Alias == "" {
			d.add(it, ip, "pipeline resource needs an alias (pipeline:)")
		}
		if pr.Source == "" && pr.Alias != "" {
			d.add(it, ip, "pipeline resource %q needs a source (the name of the pipeline that produces it)", pr.Alias)
		}
		if t := it.Get("trigger"); t != nil {
			pr.Trigger = d.pipelineTrigger(t, joinPath(ip, "trigger"))
		}
		r.Pipelines = append(r.Pipelines, pr)
	}
	for ip, it := range d.mappings(n, p, "containers", "container resource", containerResKeys) {
		c := d.containerSpec(it, ip)
		c.Alias = d.str(it.Get("container"), joinPath(ip, "container"))
		if c.Alias == "" {
			d.add(it, ip, "container resource needs an alias (container:)")
		}
		if c.Image == "" {
			d.add(it, ip, "container resource %q needs an image", c.Alias)
		}
		r.Containers = append(r.Containers, c)
	}
	return r
}

// mappings yields, with its path, every item of the sequence under key of
// n that is a mapping of the allowed keys (see mapping); the others are
// reported.
func (d *decoder) mappings(n *Node, p, key, what string, allowed []string) iter.Seq2[string, *Node] {
	return func(yield func(string, *Node) bool) {
		kp := joinPath(p, key)
		for i, it := range d.seq(n.Get(key), kp) {
			ip := fmt.Sprintf("%s[%d]", kp, i)
			if d.mapping(it, ip, what, allowed) && !yield(ip, it) {
				return
			}
		}
	}
}

func (d *decoder) seq(n *Node, p string) []*Node {
	if n.IsNull() {
		return nil
	}
	if n.Kind != SequenceNode {
		d.add(n, p, "want a sequence, got %s", n.kindName())
		return nil
	}
	return n.Items
}

// pipelineTrigger reads a pipeline resource's trigger: true, none, or a
// mapping with branches, stages and tags.
func (d *decoder) pipelineTrigger(n *Node, p string) *plan.Filter {
	f := &plan.Filter{Pos: n.Pos}
	switch n.Kind {
	case NullNode:
		return nil
	case ScalarNode:
		switch strings.ToLower(n.Value) {
		case "true":
			return f
		case "none", "false":
			return nil
		}
		d.add(n, p, "pipeline resource trigger must be true, none or a mapping, not %q", n.Value)
		return nil
	}
	if !d.mapping(n, p, "pipeline resource trigger", pipelineTrigKeys) {
		return nil
	}
	if e := n.Get("enabled"); e != nil && !d.boolean(e, joinPath(p, "enabled")) {
		return nil
	}
	f.BranchesInclude, f.BranchesExclude = d.includeExclude(n.Get("branches"), joinPath(p, "branches"))
	f.StagesInclude = d.strList(n.Get("stages"), joinPath(p, "stages"))
	f.TagsInclude = d.strList(n.Get("tags"), joinPath(p, "tags"))
	return f
}

func (d *decoder) containerSpec(n *Node, p string) plan.Container {
	c := plan.Container{
		Image:    d.str(n.Get("image"), joinPath(p, "image")),
		Options:  d.str(n.Get("options"), joinPath(p, "options")),
		Env:      d.strMap(n.Get("env"), joinPath(p, "env")),
		Ports:    d.strList(n.Get("ports"), joinPath(p, "ports")),
		Volumes:  d.strList(n.Get("volumes"), joinPath(p, "volumes")),
		Endpoint: d.str(n.Get("endpoint"), joinPath(p, "endpoint")),
	}
	d.boolean(n.Get("mapDockerSocket"), joinPath(p, "mapDockerSocket"))
	if m := n.Get("mountReadOnly"); m != nil && d.mapping(m, joinPath(p, "mountReadOnly"), "mountReadOnly", mountReadOnlyKeys) {
		for _, pair := range m.Pairs {
			d.boolean(pair.Value, joinPath(p, "mountReadOnly."+pair.Key.Value))
		}
	}
	return c
}

// ---- pool ----

var poolKeys = []string{"name", "demands", "vmImage"}

func (d *decoder) pool(n *Node, p string) *plan.Pool {
	if n.IsNull() {
		return nil
	}
	if n.Kind == ScalarNode {
		if strings.EqualFold(n.Value, "server") {
			return &plan.Pool{Server: true}
		}
		return &plan.Pool{Name: n.Value}
	}
	if !d.mapping(n, p, "pool", poolKeys) {
		return nil
	}
	pl := &plan.Pool{
		Name:    d.str(n.Get("name"), joinPath(p, "name")),
		VMImage: d.str(n.Get("vmImage"), joinPath(p, "vmImage")),
		Demands: d.strList(n.Get("demands"), joinPath(p, "demands")),
	}
	if strings.EqualFold(pl.Name, "server") {
		pl.Server = true
		pl.Name = ""
	}
	return pl
}
