package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"conveyor.dev/conveyor/internal/pipeline/expr"
	"conveyor.dev/conveyor/internal/plan"
)

var (
	jobKeys = []string{"job", "displayName", "dependsOn", "condition", "continueOnError", "timeoutInMinutes",
		"cancelTimeoutInMinutes", "variables", "strategy", "pool", "container", "services", "workspace", "steps",
		"uses", "templateContext"}
	deploymentKeys = []string{"deployment", "displayName", "dependsOn", "condition", "continueOnError", "timeoutInMinutes",
		"cancelTimeoutInMinutes", "variables", "strategy", "pool", "container", "services", "workspace",
		"environment", "uses", "templateContext"}
	jobStrategyKeys = []string{"matrix", "parallel", "maxParallel"}
	workspaceKeys   = []string{"clean"}
	usesKeys        = []string{"repositories", "pools"}
)

func (c *compiler) jobs(items []*Node, p string, pool *plan.Pool) []plan.Job {
	return c.jobList(items, p, pool, false)
}

// compiledJob is a job before matrix expansion.
type compiledJob struct {
	job      plan.Job
	deps     *Node // dependsOn as written
	legs     []plan.Job
	path     string
	original string
}

// jobList compiles the jobs of one stage: names, dependencies, matrix and
// parallel expansion. implicit is the job of a steps-only pipeline.
func (c *compiler) jobList(items []*Node, p string, pool *plan.Pool, implicit bool) []plan.Job {
	var cjs []*compiledJob
	names := map[string]int{}
	for i, it := range items {
		jp := fmt.Sprintf("%s[%d]", p, i)
		if implicit {
			jp = ""
		}
		if it.Kind == MappingNode && it.Get("template") != nil {
			c.add(it, jp, "template reference was not expanded")
			continue
		}
		if it.Kind != MappingNode {
			c.add(it, jp, "a job must be a mapping with job: or deployment:, not %s", it.kindName())
			continue
		}
		var cj *compiledJob
		switch {
		case it.Get("deployment") != nil:
			cj = c.deployment(it, jp, pool)
		case it.Get("job") != nil || implicit:
			cj = c.job(it, jp, pool, implicit)
		default:
			// A job written without job: gets a default name; check keys
			// as for a job.
			cj = c.job(it, jp, pool, false)
		}
		if cj.job.Name == "" {
			cj.job.Name = autoName("Job", names)
		}
		key := strings.ToLower(cj.job.Name)
		if prev, dup := names[key]; dup {
			c.add(it, jp, "job name %q is used twice in this stage (also %s[%d]); job names must be unique", cj.job.Name, p, prev)
		}
		names[key] = i
		cj.original = cj.job.Name
		cj.path = jp
		cjs = append(cjs, cj)
	}
	// Expand matrices and parallel jobs.
	legsOf := map[string][]string{}
	var order []string
	deps := map[string][]string{}
	for _, cj := range cjs {
		if len(cj.legs) == 0 {
			cj.legs = []plan.Job{cj.job}
		}
		for _, l := range cj.legs {
			legsOf[strings.ToLower(cj.original)] = append(legsOf[strings.ToLower(cj.original)], l.Name)
		}
		order = append(order, cj.original)
		deps[cj.original] = cj.job.DependsOn
	}
	var out []plan.Job
	for _, cj := range cjs {
		var expanded []string
		for j, d := range cj.job.DependsOn {
			legs, ok := legsOf[strings.ToLower(d)]
			if !ok {
				dn := cj.deps
				if dn != nil && dn.Kind == SequenceNode && j < len(dn.Items) {
					dn = dn.Items[j]
				}
				c.add(dn, fmt.Sprintf("%s.dependsOn[%d]", cj.path, j), "job %s depends on %q, which is not a job of this stage%s", cj.original, d, suggest(d, order))
				continue
			}
			expanded = append(expanded, legs...)
		}
		if expanded == nil {
			expanded = []string{}
		}
		for _, l := range cj.legs {
			l.DependsOn = expanded
			out = append(out, l)
		}
	}
	if cyc := findCycle(order, deps); cyc != nil && len(cjs) > 0 {
		c.add(items[0], p, "jobs depend on each other in a cycle: %s", strings.Join(cyc, " → "))
	}
	seen := map[string]bool{}
	for _, j := range out {
		if j.Expansion != nil {
			if seen[strings.ToLower(j.Name)] {
				c.errs.add(j.Pos, p, "matrix leg job name %q is also the name of another job", j.Name)
			}
		}
		seen[strings.ToLower(j.Name)] = true
	}
	if out == nil {
		out = []plan.Job{}
	}
	return out
}

// jobCommon reads the keys jobs and deployments share.
func (c *compiler) jobCommon(it *Node, jp string, j *plan.Job, pool *plan.Pool) *compiledJob {
	cj := &compiledJob{}
	j.Templates = it.Templates
	j.DisplayName = c.str(it.Get("displayName"), joinPath(jp, "displayName"))
	if dn := it.Get("dependsOn"); dn != nil {
		cj.deps = dn
		j.DependsOn = c.strList(dn, joinPath(jp, "dependsOn"))
		if dn.Kind == ScalarNode && dn.Value == "" {
			j.DependsOn = nil
		}
	}
	j.Condition = c.condition(it.Get("condition"), joinPath(jp, "condition"))
	j.ContinueOnError = c.boolean(it.Get("continueOnError"), joinPath(jp, "continueOnError"))
	j.TimeoutInMinutes = c.integer(it.Get("timeoutInMinutes"), joinPath(jp, "timeoutInMinutes"))
	if tn := it.Get("timeoutInMinutes"); tn != nil && tn.Kind == ScalarNode && strings.TrimSpace(tn.Value) == "0" {
		j.NoTimeout = true // "Jobs": zero means the job can run forever on self-hosted agents
	}
	j.CancelTimeoutInMinutes = c.integer(it.Get("cancelTimeoutInMinutes"), joinPath(jp, "cancelTimeoutInMinutes"))
	j.Variables = c.variables(it.Get("variables"), joinPath(jp, "variables"))
	j.Pool = c.pool(it.Get("pool"), joinPath(jp, "pool"))
	if j.Pool == nil {
		j.Pool = pool
	}
	j.Container = c.container(it.Get("container"), joinPath(jp, "container"))
	j.Services = c.services(it.Get("services"), joinPath(jp, "services"))
	if w := it.Get("workspace"); w != nil && c.mapping(w, joinPath(jp, "workspace"), "workspace", workspaceKeys) {
		j.WorkspaceClean = c.str(w.Get("clean"), joinPath(jp, "workspace.clean"))
		switch j.WorkspaceClean {
		case "", "outputs", "resources", "all":
		default:
			c.add(w.Get("clean"), joinPath(jp, "workspace.clean"), "workspace.clean %q: want outputs, resources or all", j.WorkspaceClean)
		}
	}
	if u := it.Get("uses"); u != nil && c.mapping(u, joinPath(jp, "uses"), "uses", usesKeys) {
		j.Uses = &plan.Uses{
			Repositories: c.strList(u.Get("repositories"), joinPath(jp, "uses.repositories")),
			Pools:        c.strList(u.Get("pools"), joinPath(jp, "uses.pools")),
		}
	}
	if j.Container != nil {
		c.warn(it.Get("container"), joinPath(jp, "container"), "job containers run only on the kubernetes executor; the local executor runs steps on the host")
	}
	if len(j.Services) > 0 {
		c.warn(it.Get("services"), joinPath(jp, "services"), "service containers run only on the kubernetes executor")
	}
	return cj
}

func (c *compiler) job(it *Node, jp string, pool *plan.Pool, implicit bool) *compiledJob {
	keys := jobKeys
	if implicit {
		keys = rootJobKeys
	}
	c.mapping(it, jp, "job", keys)
	j := plan.Job{Kind: plan.KindJob, Pos: it.Pos}
	if implicit {
		j.Name = "Job"
	} else {
		j.Name = c.ident(it.Get("job"), joinPath(jp, "job"), "job")
	}
	cj := c.jobCommon(it, jp, &j, pool)
	steps := it.Get("steps")
	if steps.IsNull() {
		c.add(it, jp, "job %s has no steps", orDefault(j.Name, "Job"))
	}
	server := j.Pool != nil && j.Pool.Server
	j.Steps = c.steps(c.seq(steps, joinPath(jp, "steps")), joinPath(jp, "steps"), it.Pos, !server, server)
	cj.job = j
	if s := it.Get("strategy"); s != nil {
		cj.legs = c.jobStrategy(s, joinPath(jp, "strategy"), j)
	}
	return cj
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// jobStrategy expands matrix and parallel strategies into legs.
func (c *compiler) jobStrategy(s *Node, sp string, j plan.Job) []plan.Job {
	if !c.mapping(s, sp, "strategy", jobStrategyKeys) {
		return nil
	}
	maxPar := c.integer(s.Get("maxParallel"), joinPath(sp, "maxParallel"))
	m, par := s.Get("matrix"), s.Get("parallel")
	if m != nil && par != nil {
		c.add(par, joinPath(sp, "parallel"), "a strategy has matrix or parallel, not both")
		return nil
	}
	base := orDefault(j.DisplayName, j.Name)
	if m != nil {
		if m.Kind == ScalarNode {
			inner, ok := expr.RuntimeExpression(m.Value)
			if !ok {
				c.add(m, joinPath(sp, "matrix"), "matrix must be a mapping of leg names to variables, or a runtime expression $[ ] that gives one, not %q", m.Value)
				return nil
			}
			if e, err := expr.Parse(inner); err != nil {
				c.add(m, joinPath(sp, "matrix"), "runtime expression %s: %v", m.Value, err)
				return nil
			} else if err := e.Validate(expr.Runtime, nil); err != nil {
				c.add(m, joinPath(sp, "matrix"), "runtime expression %s: %v", m.Value, err)
				return nil
			}
			l := j
			l.RuntimeMatrix = &plan.RuntimeMatrix{Expr: strings.TrimSpace(inner), MaxParallel: maxPar}
			return []plan.Job{l}
		}
		if m.IsNull() || (m.Kind == MappingNode && len(m.Pairs) == 0) {
			return nil
		}
		if m.Kind != MappingNode {
			c.add(m, joinPath(sp, "matrix"), "matrix must be a mapping of leg names to variables, not %s", m.kindName())
			return nil
		}
		var legs []plan.Job
		for i, pair := range m.Pairs {
			leg := pair.Key.Value
			lp := joinPath(sp, "matrix."+leg)
			if !identRE.MatchString(leg) {
				c.add(pair.Key, lp, "matrix leg name %q is not valid: use only letters, digits and '_', starting with a letter or '_'", leg)
			}
			l := j
			l.Name = j.Name + "_" + leg
			l.DisplayName = base + " " + leg
			l.Variables = append([]plan.Variable(nil), j.Variables...)
			if pair.Value.Kind != MappingNode && !pair.Value.IsNull() {
				c.add(pair.Value, lp, "matrix leg %s must be a mapping of variables, not %s", leg, pair.Value.kindName())
			}
			if pair.Value.Kind == MappingNode {
				for _, vp := range pair.Value.Pairs {
					if vp.Value.Kind == MappingNode || vp.Value.Kind == SequenceNode {
						c.add(vp.Value, joinPath(lp, vp.Key.Value), "matrix variable must be a string, not %s", vp.Value.kindName())
						continue
					}
					l.Variables = append(l.Variables, plan.Variable{Name: vp.Key.Value, Value: vp.Value.Value, Pos: vp.Key.Pos})
				}
			}
			l.Expansion = &plan.Expansion{Job: j.Name, Leg: leg, Position: i + 1, Total: len(m.Pairs), MaxParallel: maxPar}
			l.Pos = pair.Key.Pos
			legs = append(legs, l)
		}
		return legs
	}
	if par != nil {
		n := c.integer(par, joinPath(sp, "parallel"))
		if n < 1 {
			return nil
		}
		legs := make([]plan.Job, 0, n)
		for i := 1; i <= n; i++ {
			l := j
			leg := strconv.Itoa(i)
			l.Name = j.Name + "_" + leg
			l.DisplayName = fmt.Sprintf("%s %d/%d", base, i, n)
			l.Expansion = &plan.Expansion{Job: j.Name, Leg: leg, Position: i, Total: n, MaxParallel: maxPar}
			legs = append(legs, l)
		}
		return legs
	}
	return nil
}

func (c *compiler) container(n *Node, p string) *plan.Container {
	if n.IsNull() {
		return nil
	}
	if n.Kind == ScalarNode {
		if ct, ok := c.containers[n.Value]; ok {
			return &ct
		}
		return &plan.Container{Image: n.Value}
	}
	if !c.mapping(n, p, "container", append([]string{"alias"}, containerKeys...)) {
		return nil
	}
	ct := c.containerSpec(n, p)
	if ct.Image == "" {
		c.add(n, p, "container needs an image")
	}
	return &ct
}

func (c *compiler) services(n *Node, p string) []plan.Service {
	if n.IsNull() {
		return nil
	}
	if n.Kind != MappingNode {
		c.add(n, p, "services must be a mapping of names to containers, not %s", n.kindName())
		return nil
	}
	var out []plan.Service
	for _, pair := range n.Pairs {
		ct := c.container(pair.Value, joinPath(p, pair.Key.Value))
		if ct == nil {
			continue
		}
		out = append(out, plan.Service{Name: pair.Key.Value, Container: *ct})
	}
	return out
}

// ---- deployment jobs ----

var (
	environmentKeys = []string{"name", "resourceName", "resourceId", "resourceType", "tags"}
	strategyNames   = []string{"runOnce", "rolling", "canary"}
	hookNames       = []string{plan.HookPreDeploy, plan.HookDeploy, plan.HookRouteTraffic, plan.HookPostRouteTraffic, "on"}
	hookKeys        = []string{"steps", "pool"}
	onKeys          = []string{"failure", "success"}
)

func (c *compiler) deployment(it *Node, jp string, pool *plan.Pool) *compiledJob {
	c.mapping(it, jp, "deployment", deploymentKeys)
	j := plan.Job{Kind: plan.KindDeployment, Pos: it.Pos}
	j.Name = c.ident(it.Get("deployment"), joinPath(jp, "deployment"), "deployment")
	if j.Name == "deploy" {
		c.add(it.Get("deployment"), joinPath(jp, "deployment"), "deployment name %q is a keyword that Azure Pipelines does not allow as a deployment name: choose another name, like Deploy_app", j.Name)
	}
	cj := c.jobCommon(it, jp, &j, pool)
	j.Environment = c.environment(it.Get("environment"), joinPath(jp, "environment"))
	if j.Environment == nil {
		c.add(it, jp, "deployment %s needs an environment", j.Name)
	}
	s := it.Get("strategy")
	if s.IsNull() {
		c.add(it, jp, "deployment %s needs a strategy (runOnce, rolling or canary)", j.Name)
		cj.job = j
		return cj
	}
	sp := joinPath(jp, "strategy")
	if !c.mapping(s, sp, "strategy", strategyNames) {
		cj.job = j
		return cj
	}
	if len(s.Pairs) != 1 {
		c.add(s, sp, "a deployment strategy has exactly one of runOnce, rolling or canary")
		cj.job = j
		return cj
	}
	name, body := s.Pairs[0].Key.Value, s.Pairs[0].Value
	j.Strategy = name
	bp := joinPath(sp, name)
	keys := hookNames
	switch name {
	case "rolling":
		keys = append([]string{"maxParallel"}, hookNames...)
	case "canary":
		keys = append([]string{"increments"}, hookNames...)
	}
	if body.IsNull() {
		body = &Node{Kind: MappingNode, Pos: s.Pos}
	}
	if !c.mapping(body, bp, name+" strategy", keys) {
		cj.job = j
		return cj
	}
	hook := func(h string, inc int) *plan.Hook {
		n := body.Get(h)
		if n == nil {
			return nil
		}
		hp := joinPath(bp, h)
		if !c.mapping(n, hp, h+" hook", hookKeys) {
			return nil
		}
		hk := &plan.Hook{Name: h, Increment: inc, Pos: n.Pos}
		hk.Pool = c.pool(n.Get("pool"), joinPath(hp, "pool"))
		server := (hk.Pool != nil && hk.Pool.Server) || (hk.Pool == nil && j.Pool != nil && j.Pool.Server)
		hk.Steps = c.steps(c.seq(n.Get("steps"), joinPath(hp, "steps")), joinPath(hp, "steps"), n.Pos, false, server)
		return hk
	}
	add := func(h *plan.Hook) {
		if h != nil {
			j.Hooks = append(j.Hooks, *h)
		}
	}
	add(hook(plan.HookPreDeploy, 0))
	switch name {
	case "canary":
		var incs []int
		in := body.Get("increments")
		for i, s := range c.strList(in, joinPath(bp, "increments")) {
			v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "%"))
			if err != nil || v < 1 || v > 100 {
				c.add(in, fmt.Sprintf("%s.increments[%d]", bp, i), "canary increment %q: want a percentage from 1 to 100", s)
				continue
			}
			incs = append(incs, v)
		}
		if len(incs) == 0 {
			c.add(body, bp, "a canary strategy needs increments, e.g. increments: [10, 20]")
		}
		if len(incs) == 0 || incs[len(incs)-1] != 100 {
			incs = append(incs, 100)
		}
		for _, inc := range incs {
			add(hook(plan.HookDeploy, inc))
			add(hook(plan.HookRouteTraffic, inc))
			add(hook(plan.HookPostRouteTraffic, inc))
		}
	case "rolling":
		c.warn(s, joinPath(sp, "rolling"), "rolling deployments go to virtual machines in batches; Conveyor has no virtual machine targets and runs the hooks once, with maxParallel recorded")
		if mp := body.Get("maxParallel"); mp != nil {
			j.MaxParallel = c.str(mp, joinPath(bp, "maxParallel"))
			v := strings.TrimSuffix(j.MaxParallel, "%")
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				c.add(mp, joinPath(bp, "maxParallel"), "rolling maxParallel %q: want a number or a percentage such as 25%%", j.MaxParallel)
			}
		}
		fallthrough
	default:
		add(hook(plan.HookDeploy, 0))
		add(hook(plan.HookRouteTraffic, 0))
		add(hook(plan.HookPostRouteTraffic, 0))
	}
	if on := body.Get("on"); on != nil {
		op := joinPath(bp, "on")
		if c.mapping(on, op, "on", onKeys) {
			for _, k := range []string{"failure", "success"} {
				n := on.Get(k)
				if n == nil {
					continue
				}
				hp := joinPath(op, k)
				if !c.mapping(n, hp, "on."+k+" hook", hookKeys) {
					continue
				}
				hk := plan.Hook{Name: "on." + k, Pos: n.Pos}
				hk.Pool = c.pool(n.Get("pool"), joinPath(hp, "pool"))
				server := (hk.Pool != nil && hk.Pool.Server) || (hk.Pool == nil && j.Pool != nil && j.Pool.Server)
				hk.Steps = c.steps(c.seq(n.Get("steps"), joinPath(hp, "steps")), joinPath(hp, "steps"), n.Pos, false, server)
				j.Hooks = append(j.Hooks, hk)
			}
		}
	}
	if len(j.Hooks) == 0 {
		c.add(body, bp, "the %s strategy has no hooks with steps: add deploy: steps:", name)
	}
	cj.job = j
	return cj
}

func (c *compiler) environment(n *Node, p string) *plan.Environment {
	if n.IsNull() {
		return nil
	}
	if n.Kind == ScalarNode {
		name, res, _ := strings.Cut(n.Value, ".")
		if name == "" {
			c.add(n, p, "environment name is empty")
		}
		return &plan.Environment{Name: name, ResourceName: res}
	}
	if !c.mapping(n, p, "environment", environmentKeys) {
		return nil
	}
	e := &plan.Environment{
		Name:         c.str(n.Get("name"), joinPath(p, "name")),
		ResourceName: c.str(n.Get("resourceName"), joinPath(p, "resourceName")),
		ResourceType: c.str(n.Get("resourceType"), joinPath(p, "resourceType")),
		Tags:         c.str(n.Get("tags"), joinPath(p, "tags")),
	}
	c.str(n.Get("resourceId"), joinPath(p, "resourceId"))
	if e.Name == "" {
		c.add(n, p, "environment needs a name")
	}
	switch strings.ToLower(e.ResourceType) {
	case "", "kubernetes", "virtualmachine":
	default:
		c.add(n.Get("resourceType"), joinPath(p, "resourceType"), "environment resourceType %q: want Kubernetes or VirtualMachine", e.ResourceType)
	}
	return e
}
