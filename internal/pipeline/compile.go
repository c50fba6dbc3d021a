package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"conveyor.dev/conveyor/internal/pipeline/expr"
	"conveyor.dev/conveyor/internal/plan"
)

// Compile reads the pipeline file (a slash-separated path in fsys), expands
// its templates and compile-time expressions for the given input, validates
// it and compiles it to a plan. Problems in the pipeline are returned as an
// ErrorList, sorted by position; the plan is nil then.
func Compile(fsys fs.FS, file string, opts Options) (*plan.Plan, error) {
	p, list := compile(fsys, file, &opts)
	if len(list) > 0 {
		return nil, list
	}
	return p, nil
}

// Lint compiles the pipeline and returns every problem found, sorted by
// position, and the plan's warnings. The problems are empty when the
// pipeline compiles. With no event in opts, the pipeline is compiled for a
// push and for a pull request, so that parts used only by one of them are
// checked too.
func Lint(fsys fs.FS, file string, opts Options) (ErrorList, []plan.Warning) {
	events := []string{opts.Event}
	if opts.Event == "" {
		events = []string{EventPush, EventPR}
	}
	var all ErrorList
	var warnings []plan.Warning
	seen := map[plan.Warning]bool{}
	for _, ev := range events {
		o := opts
		o.Event = ev
		p, list := compile(fsys, file, &o)
		all = append(all, list...)
		if p != nil {
			for _, w := range p.Warnings {
				if !seen[w] {
					seen[w] = true
					warnings = append(warnings, w)
				}
			}
		}
	}
	all.Sort()
	if len(all) > 0 {
		return all, nil
	}
	return nil, warnings
}

func compile(fsys fs.FS, file string, opts *Options) (*plan.Plan, ErrorList) {
	e := &errs{}
	filePos := plan.Pos{File: file, Line: 1, Col: 1}
	if err := validEvent(opts.Event); err != nil {
		e.add(filePos, "", "%v", err)
		return nil, e.list
	}
	x := &expander{
		self:      fsys,
		opts:      opts,
		errs:      e,
		or:        origins{},
		files:     map[string]*Node{},
		repos:     map[string]plan.RepositoryResource{},
		repoFS:    map[string]fs.FS{},
		parsed:    map[string]*expr.Expr{},
		overrides: map[string]bool{},
	}
	if !fs.ValidPath(file) {
		e.add(filePos, "", "pipeline file name %q is not a slash-separated path inside the repository", file)
		return nil, e.list
	}
	if _, err := fs.Stat(fsys, file); err != nil {
		e.add(plan.Pos{File: file}, "", "pipeline file not found: pass the pipeline file with -f")
		return nil, e.list
	}
	root, err := x.load(fsys, location{path: file})
	if err != nil {
		var pe *Error
		if !errors.As(err, &pe) {
			pe = &Error{File: file, Line: 1, Col: 1, Msg: err.Error()}
		}
		return nil, ErrorList{pe}
	}
	if len(e.list) > 0 {
		return nil, finish(e)
	}
	if root.IsNull() {
		e.add(filePos, "", "the pipeline is empty: add steps, jobs or stages")
		return nil, finish(e)
	}
	if root.Kind != MappingNode {
		e.add(root.Pos, "", "a pipeline must be a mapping, not %s", root.kindName())
		return nil, finish(e)
	}
	x.declareRepositories(root)

	decls := x.paramDecls(root.Get("parameters"), "parameters", true)
	paramsAt := filePos
	if pn := root.Get("parameters"); pn != nil {
		paramsAt = pn.Pos
	}
	params := x.bindRuntime(decls, opts.Params, file, paramsAt)
	vars := predefinedVariables(opts.Input)
	for _, k := range sortedKeys(opts.Vars) {
		vars.Set(k, opts.Vars[k])
		x.overrides[strings.ToLower(k)] = true
	}
	sc := &scope{params: params, vars: vars, file: file, stack: []string{file}}
	body := &Node{Kind: MappingNode, Pos: root.Pos}
	for _, pair := range root.Pairs {
		if pair.Key.Value != "parameters" {
			body.Pairs = append(body.Pairs, pair)
		}
	}
	expanded, inner := x.expandMap(body, sc, "")
	if ext := expanded.Get("extends"); ext != nil {
		expanded = x.extend(expanded, ext, inner)
	}
	if len(e.list) > 0 {
		return nil, finish(e)
	}
	c := &compiler{decoder: decoder{errs: e}, opts: opts, containers: map[string]plan.Container{}}
	pl := c.pipeline(expanded, file)
	pl.Warnings = c.warnings
	pl.Parameters = map[string]any{}
	for i, k := range params.Keys() {
		pl.Parameters[k] = toJSONValue(params.Values()[i])
	}
	if len(pl.Parameters) == 0 {
		pl.Parameters = nil
	}
	if len(e.list) > 0 {
		return nil, finish(e)
	}
	return pl, nil
}

func finish(e *errs) ErrorList {
	e.list.Sort()
	return e.list
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// declareRepositories records resources.repositories aliases so that
// path@alias templates can be resolved.
func (x *expander) declareRepositories(root *Node) {
	res := root.Get("resources")
	if res == nil || res.Kind != MappingNode {
		return
	}
	repos := res.Get("repositories")
	if repos == nil || repos.Kind != SequenceNode {
		return
	}
	for _, it := range repos.Items {
		if it.Kind != MappingNode {
			continue
		}
		alias := it.Get("repository")
		if alias == nil || alias.Kind != ScalarNode {
			continue
		}
		get := func(k string) string {
			if v := it.Get(k); v != nil && v.Kind == ScalarNode {
				return v.Value
			}
			return ""
		}
		x.repos[alias.Value] = plan.RepositoryResource{Alias: alias.Value, Type: get("type"), Name: get("name"), Ref: get("ref"), Endpoint: get("endpoint"), Pos: it.Pos}
	}
}

// extend applies an extends: template: its expanded content joins the
// pipeline's own keys (variables are concatenated, pipeline first).
func (x *expander) extend(root, ext *Node, sc *scope) *Node {
	if ext.Kind != MappingNode {
		x.errs.add(ext.Pos, "extends", "extends must be a mapping with template and parameters, not %s", ext.kindName())
		return root
	}
	for _, pair := range ext.Pairs {
		if k := pair.Key.Value; k != "template" && k != "parameters" {
			x.errs.add(pair.Key.Pos, "extends", "unknown key %q%s", k, suggest(k, []string{"template", "parameters"}))
		}
	}
	tn := ext.Get("template")
	if tn == nil || tn.Kind != ScalarNode || tn.Value == "" {
		x.errs.add(ext.Pos, "extends", "extends needs a template file")
		return root
	}
	tpl, _, sc2, ok := x.enter(tn, ext.Get("parameters"), sc, "extends")
	if !ok || tpl.IsNull() {
		return root
	}
	if tpl.Kind != MappingNode {
		x.errs.add(tpl.Pos, "", "an extends template must be a mapping, not %s", tpl.kindName())
		return root
	}
	body := &Node{Kind: MappingNode, Pos: tpl.Pos}
	for _, pair := range tpl.Pairs {
		if pair.Key.Value != "parameters" {
			body.Pairs = append(body.Pairs, pair)
		}
	}
	e, inner := x.expandMap(body, sc2, "")
	if next := e.Get("extends"); next != nil {
		e = x.extend(e, next, inner)
	}
	out := &Node{Kind: MappingNode, Pos: root.Pos}
	for _, pair := range root.Pairs {
		if pair.Key.Value != "extends" {
			out.Pairs = append(out.Pairs, pair)
		}
	}
	for _, pair := range e.Pairs {
		k := pair.Key.Value
		existing := out.Get(k)
		switch k {
		case "trigger", "pr", "schedules", "name", "appendCommitMessageToRunName":
			x.errs.add(pair.Key.Pos, k, "%s can only be set in the main pipeline file, not in the extends template %s", k, tn.Value)
			continue
		}
		switch {
		case existing == nil:
			out.Pairs = append(out.Pairs, pair)
		case k == "variables":
			merged := &Node{Kind: SequenceNode, Pos: existing.Pos}
			for _, v := range []*Node{existing, pair.Value} {
				if v.Kind == MappingNode {
					v = varsMapToList(v)
				}
				merged.Items = append(merged.Items, v.Items...)
			}
			for i := range out.Pairs {
				if out.Pairs[i].Key.Value == "variables" {
					out.Pairs[i].Value = merged
				}
			}
		default:
			x.errs.add(pair.Key.Pos, k, "%s is defined both in the pipeline and in the extends template %s", k, tn.Value)
		}
	}
	return out
}

// compiler turns the expanded document into a plan.
type compiler struct {
	decoder
	opts       *Options
	plan       *plan.Plan
	containers map[string]plan.Container
}

var pipelineKeys = []string{
	"name", "appendCommitMessageToRunName", "trigger", "pr", "schedules", "resources", "parameters",
	"variables", "pool", "stages", "jobs", "steps", "extends", "lockBehavior",
	// job-level keys allowed with the steps: shorthand
	"container", "services", "workspace", "strategy", "continueOnError", "timeoutInMinutes", "cancelTimeoutInMinutes",
}

var rootJobKeys = []string{"container", "services", "workspace", "strategy", "continueOnError", "timeoutInMinutes", "cancelTimeoutInMinutes", "steps"}

func (c *compiler) pipeline(root *Node, file string) *plan.Plan {
	p := &plan.Plan{File: file, Stages: []plan.Stage{}}
	c.plan = p
	c.mapping(root, "", "pipeline", pipelineKeys)
	p.Name = c.str(root.Get("name"), "name")
	p.AppendCommitMessage = c.boolPtr(root.Get("appendCommitMessageToRunName"), "appendCommitMessageToRunName")
	p.Triggers.CI = c.trigger(root.Get("trigger"), "trigger", false)
	p.Triggers.PR = c.trigger(root.Get("pr"), "pr", true)
	p.Triggers.Schedules = c.schedules(root.Get("schedules"), "schedules")
	p.Resources = c.resources(root.Get("resources"), "resources")
	for _, ct := range p.Resources.Containers {
		c.containers[ct.Alias] = ct
	}
	if len(p.Resources.Containers) > 0 {
		c.warn(root.Get("resources").Get("containers"), "resources.containers", "container resources run only on the kubernetes executor; the local executor runs steps on the host")
	}
	p.LockBehavior = c.lockBehavior(root.Get("lockBehavior"), "lockBehavior")
	p.Variables = c.overrideVars(c.variables(root.Get("variables"), "variables"))
	pool := c.pool(root.Get("pool"), "pool")

	var forms []string
	for _, k := range []string{"stages", "jobs", "steps"} {
		if root.Get(k) != nil {
			forms = append(forms, k)
		}
	}
	if len(forms) > 1 {
		c.add(root.Get(forms[1]), forms[1], "a pipeline has one of stages, jobs or steps, not %s", strings.Join(forms, " and "))
		return p
	}
	if len(forms) == 0 {
		c.add(root, "", "the pipeline has no stages, jobs or steps: add one of them")
		return p
	}
	if forms[0] != "steps" {
		for _, k := range rootJobKeys {
			if k != "steps" && root.Get(k) != nil {
				c.add(root.Get(k), k, "%s at the top of a pipeline is allowed only with steps:; move it into a job", k)
			}
		}
	}
	switch forms[0] {
	case "stages":
		items := c.seq(root.Get("stages"), "stages")
		p.Stages = c.stages(items, pool)
	case "jobs":
		st := plan.Stage{Name: "__default", DependsOn: []string{}, Pool: pool, Pos: root.Get("jobs").Pos}
		st.Jobs = c.jobs(c.seq(root.Get("jobs"), "jobs"), "jobs", pool)
		p.Stages = []plan.Stage{st}
	case "steps":
		jn := &Node{Kind: MappingNode, Pos: root.Get("steps").Pos}
		for _, k := range rootJobKeys {
			if v := root.Get(k); v != nil {
				jn.Pairs = append(jn.Pairs, Pair{scalar(k, v.Pos), v})
			}
		}
		st := plan.Stage{Name: "__default", DependsOn: []string{}, Pool: pool, Pos: jn.Pos}
		st.Jobs = c.jobList([]*Node{jn}, "", pool, true)
		p.Stages = []plan.Stage{st}
	}
	return p
}

func (c *compiler) warn(n *Node, p, msg string) {
	c.warnAt(pos(n), p, msg)
}

// overrideVars applies --var values to pipeline variables.
func (c *compiler) overrideVars(vars []plan.Variable) []plan.Variable {
	for _, k := range sortedKeys(c.opts.Vars) {
		found := false
		for i := range vars {
			if strings.EqualFold(vars[i].Name, k) {
				if vars[i].Readonly {
					c.errs.add(vars[i].Pos, "variables", "variable %q is readonly; --var cannot override it", vars[i].Name)
				}
				vars[i].Value = c.opts.Vars[k]
				found = true
			}
		}
		if !found {
			vars = append(vars, plan.Variable{Name: k, Value: c.opts.Vars[k]})
		}
	}
	return vars
}

func (c *compiler) lockBehavior(n *Node, p string) string {
	s := c.str(n, p)
	if s != "" && s != "sequential" && s != "runLatest" {
		c.add(n, p, "lockBehavior %q: want sequential or runLatest", s)
	}
	return s
}

var stageKeys = []string{"stage", "displayName", "dependsOn", "condition", "variables", "jobs", "lockBehavior", "isSkippable", "pool", "templateContext", "trigger"}

func (c *compiler) stages(items []*Node, pool *plan.Pool) []plan.Stage {
	out := make([]plan.Stage, 0, len(items))
	names := map[string]int{}
	explicit := make([]*Node, len(items))
	for i, it := range items {
		sp := fmt.Sprintf("stages[%d]", i)
		if it.Kind == MappingNode && it.Get("template") != nil {
			c.add(it, sp, "template reference was not expanded")
			continue
		}
		if !c.mapping(it, sp, "stage", stageKeys) {
			continue
		}
		st := plan.Stage{Pos: it.Pos}
		st.Name = c.ident(it.Get("stage"), joinPath(sp, "stage"), "stage")
		if st.Name == "" {
			st.Name = autoName("Stage", names)
			if len(items) == 1 {
				st.Name = "__default"
			}
		}
		if prev, dup := names[strings.ToLower(st.Name)]; dup {
			c.add(it.Get("stage"), joinPath(sp, "stage"), "stage name %q is used twice (also stages[%d]); stage names must be unique", st.Name, prev)
		}
		names[strings.ToLower(st.Name)] = i
		st.DisplayName = c.str(it.Get("displayName"), joinPath(sp, "displayName"))
		st.Condition = c.condition(it.Get("condition"), joinPath(sp, "condition"))
		st.Variables = c.variables(it.Get("variables"), joinPath(sp, "variables"))
		st.LockBehavior = c.lockBehavior(it.Get("lockBehavior"), joinPath(sp, "lockBehavior"))
		st.IsSkippable = c.boolPtr(it.Get("isSkippable"), joinPath(sp, "isSkippable"))
		if t := it.Get("trigger"); t != nil {
			st.Trigger = c.str(t, joinPath(sp, "trigger"))
			switch st.Trigger {
			case "manual", "automatic":
				if st.Trigger == "automatic" {
					st.Trigger = ""
				}
			default:
				c.add(t, joinPath(sp, "trigger"), "stage trigger %q: want manual or automatic", st.Trigger)
			}
		}
		st.Pool = c.pool(it.Get("pool"), joinPath(sp, "pool"))
		if st.Pool == nil {
			st.Pool = pool
		}
		if dn := it.Get("dependsOn"); dn != nil {
			explicit[i] = dn
			st.DependsOn = c.strList(dn, joinPath(sp, "dependsOn"))
			if dn.Kind == ScalarNode && dn.Value == "" {
				st.DependsOn = nil
			}
		}
		jobs := it.Get("jobs")
		if jobs.IsNull() {
			c.add(it, sp, "stage %s has no jobs", st.Name)
		}
		st.Jobs = c.jobs(c.seq(jobs, joinPath(sp, "jobs")), joinPath(sp, "jobs"), st.Pool)
		out = append(out, st)
	}
	// Implicit dependencies: a stage without dependsOn depends on the one
	// before it.
	for i := range out {
		if i < len(explicit) && explicit[i] != nil {
			if out[i].DependsOn == nil {
				out[i].DependsOn = []string{}
			}
			continue
		}
		out[i].DependsOn = []string{}
		if i > 0 {
			out[i].DependsOn = []string{out[i-1].Name}
		}
	}
	canonical := map[string]string{}
	for _, st := range out {
		canonical[strings.ToLower(st.Name)] = st.Name
	}
	deps := map[string][]string{}
	order := make([]string, len(out))
	for i := range out {
		st := &out[i]
		order[i] = st.Name
		for j, dep := range st.DependsOn {
			if name, ok := canonical[strings.ToLower(dep)]; ok {
				st.DependsOn[j] = name
			}
		}
		deps[st.Name] = st.DependsOn
		for j, dep := range st.DependsOn {
			if _, ok := names[strings.ToLower(dep)]; !ok {
				var dn *Node
				if i < len(explicit) {
					dn = explicit[i]
				}
				if dn == nil {
					dn = items[i]
				} else if dn.Kind == SequenceNode && j < len(dn.Items) {
					dn = dn.Items[j]
				}
				c.add(dn, fmt.Sprintf("stages[%d].dependsOn[%d]", i, j), "stage %s depends on %q, which is not a stage of this pipeline%s", st.Name, dep, suggest(dep, order))
			}
		}
	}
	if cyc := findCycle(order, deps); cyc != nil {
		c.add(items[0], "stages", "stages depend on each other in a cycle: %s", strings.Join(cyc, " → "))
	}
	return out
}

func autoName(base string, used map[string]int) string {
	if _, ok := used[strings.ToLower(base)]; !ok {
		return base
	}
	for i := 1; ; i++ {
		n := base + strconv.Itoa(i)
		if _, ok := used[strings.ToLower(n)]; !ok {
			return n
		}
	}
}

// findCycle returns a dependency cycle among the names, or nil.
func findCycle(order []string, deps map[string][]string) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var cycle []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range deps[n] {
			if _, known := deps[d]; !known {
				continue
			}
			switch color[d] {
			case grey:
				for i, s := range stack {
					if s == d {
						cycle = append(append([]string(nil), stack[i:]...), d)
					}
				}
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, n := range order {
		if color[n] == white && visit(n) {
			return cycle
		}
	}
	return nil
}
