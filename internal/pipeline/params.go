package pipeline

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"conveyor.dev/conveyor/internal/pipeline/expr"
	"conveyor.dev/conveyor/internal/plan"
)

// Parameter types, as the YAML schema names them.
var paramTypes = []string{
	"string", "stringList", "number", "boolean", "object",
	"step", "stepList", "job", "jobList", "deployment", "deploymentList", "stage", "stageList",
	"environment", "filePath", "pool", "secureFile", "serviceConnection",
}

// paramDecl is one declared parameter of a pipeline or template.
type paramDecl struct {
	name       string
	typ        string // "" for the untyped legacy form
	def        *Node
	hasDefault bool
	values     []*Node
	pos        plan.Pos
}

var paramKeys = []string{"name", "displayName", "type", "default", "values"}

// paramDecls reads parameter declarations: the list form (name, type,
// default, values, displayName) or the legacy mapping form (name: default).
// Runtime parameters of a pipeline (root true) need a default.
func (x *expander) paramDecls(n *Node, p string, root bool) []paramDecl {
	if n.IsNull() {
		return nil
	}
	var out []paramDecl
	seen := map[string]bool{}
	switch n.Kind {
	case MappingNode:
		for _, pair := range n.Pairs {
			out = append(out, paramDecl{name: pair.Key.Value, def: pair.Value, hasDefault: true, pos: pair.Key.Pos})
		}
		return out
	case SequenceNode:
	default:
		x.errs.add(n.Pos, p, "parameters must be a sequence of declarations, not %s", n.kindName())
		return nil
	}
	for i, it := range n.Items {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if it.Kind != MappingNode {
			x.errs.add(it.Pos, ip, "a parameter declaration must be a mapping with name and type, not %s", it.kindName())
			continue
		}
		d := paramDecl{typ: "string", pos: it.Pos}
		for _, pair := range it.Pairs {
			k, v := pair.Key.Value, pair.Value
			switch k {
			case "name":
				d.name = v.Value
			case "displayName":
			case "type":
				d.typ = v.Value
				if !containsString(paramTypes, v.Value) {
					x.errs.add(v.Pos, joinPath(ip, "type"), "unknown parameter type %q%s; want one of %s", v.Value, suggest(v.Value, paramTypes), strings.Join(paramTypes, ", "))
					d.typ = "object"
				}
			case "default":
				d.def, d.hasDefault = v, true
			case "values":
				if v.Kind != SequenceNode {
					x.errs.add(v.Pos, joinPath(ip, "values"), "values must be a sequence, not %s", v.kindName())
					continue
				}
				d.values = v.Items
			default:
				x.errs.add(pair.Key.Pos, ip, "unknown key %q in a parameter declaration%s", k, suggest(k, paramKeys))
			}
		}
		if d.name == "" {
			x.errs.add(it.Pos, ip, "parameter declaration needs a name")
			continue
		}
		if seen[d.name] {
			x.errs.add(it.Pos, ip, "parameter %q is declared twice", d.name)
			continue
		}
		seen[d.name] = true
		if root && !d.hasDefault && len(d.values) > 0 {
			// Without a default, a runtime parameter takes its first value.
			d.def, d.hasDefault = d.values[0], true
			if d.typ == "stringList" {
				d.def = &Node{Kind: SequenceNode, Pos: d.values[0].Pos, Items: []*Node{d.values[0]}}
			}
		}
		if d.hasDefault && containsTemplate(d.def) {
			x.errs.add(d.def.Pos, joinPath(ip, "default"), "default of parameter %q must be a literal, not a ${{ }} expression", d.name)
			d.def = &Node{Kind: NullNode, Pos: d.def.Pos}
		}
		if d.hasDefault && !d.def.IsNull() {
			if _, err := x.coerce(d, d.def); err != nil {
				x.errs.add(d.def.Pos, joinPath(ip, "default"), "default of parameter %q: %v", d.name, err)
			}
		}
		out = append(out, d)
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// bindParams checks the values a template reference passes against the
// template's declarations and returns the parameters object.
func (x *expander) bindParams(decls []paramDecl, given *Node, refPos plan.Pos, p, tpl string) *expr.Object {
	out := expr.NewObject()
	byName := map[string]*Node{}
	if !given.IsNull() {
		if given.Kind != MappingNode {
			x.errs.add(given.Pos, p, "parameters must be a mapping of name: value, not %s", given.kindName())
		} else {
			names := make([]string, len(decls))
			for i, d := range decls {
				names[i] = d.name
			}
			for _, pair := range given.Pairs {
				k := pair.Key.Value
				found := ""
				for _, d := range decls {
					if strings.EqualFold(d.name, k) {
						found = d.name
					}
				}
				if found == "" {
					x.errs.add(pair.Key.Pos, joinPath(p, k), "unknown parameter %q for template %s%s", k, tpl, suggest(k, names))
					continue
				}
				byName[found] = pair.Value
			}
		}
	}
	for _, d := range decls {
		v, ok := byName[d.name]
		if !ok {
			if !d.hasDefault {
				x.errs.add(refPos, p, "template %s needs a value for parameter %q", tpl, d.name)
				continue
			}
			v = d.def
		}
		val, err := x.coerce(d, v)
		if err != nil {
			x.errs.add(v.Pos, joinPath(p, d.name), "parameter %q: %v", d.name, err)
			continue
		}
		out.Set(d.name, val)
	}
	return out
}

// bindRuntime binds --param values (strings) to a pipeline's runtime
// parameters.
func (x *expander) bindRuntime(decls []paramDecl, given map[string]string, file string, at plan.Pos) *expr.Object {
	out := expr.NewObject()
	names := make([]string, len(decls))
	for i, d := range decls {
		names[i] = d.name
	}
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	byName := map[string]string{}
	for _, k := range keys {
		found := ""
		for _, d := range decls {
			if strings.EqualFold(d.name, k) {
				found = d.name
			}
		}
		if found == "" {
			x.errs.add(at, "parameters", "--param %s: the pipeline declares no parameter %q%s", k, k, suggest(k, names))
			continue
		}
		byName[found] = given[k]
	}
	for _, d := range decls {
		s, ok := byName[d.name]
		if !ok {
			if !d.hasDefault {
				x.errs.add(d.pos, "parameters."+d.name, "runtime parameter %q has no default: pass a value with --param %s=VALUE", d.name, d.name)
				continue
			}
			val, err := x.coerce(d, d.def)
			if err == nil {
				out.Set(d.name, val)
			}
			continue
		}
		n := scalar(s, plan.Pos{File: file})
		switch d.typ {
		case "object", "", "pool", "stringList", "step", "stepList", "job", "jobList", "deployment", "deploymentList", "stage", "stageList":
			parsed, err := parseYAML(file, []byte(s))
			if err != nil {
				x.errs.add(d.pos, "parameters."+d.name, "--param %s: invalid YAML value: %v", d.name, err)
				continue
			}
			n = parsed
			n.Pos = plan.Pos{File: file}
		}
		val, err := x.coerce(d, n)
		if err != nil {
			x.errs.add(d.pos, "parameters."+d.name, "--param %s=%s: %v", d.name, s, err)
			continue
		}
		out.Set(d.name, val)
	}
	return out
}

// coerce converts a parameter value to its declared type and checks it
// against the allowed values.
func (x *expander) coerce(d paramDecl, n *Node) (any, error) {
	var v any
	switch d.typ {
	case "stringList":
		var items []*Node
		switch n.Kind {
		case NullNode:
		case ScalarNode:
			items = []*Node{n}
		case SequenceNode:
			items = n.Items
		default:
			return nil, fmt.Errorf("want a stringList (a sequence of strings), got %s", n.kindName())
		}
		list := make([]any, 0, len(items))
		for _, it := range items {
			if it.Kind != ScalarNode {
				return nil, fmt.Errorf("want a stringList (a sequence of strings), got an item that is %s", it.kindName())
			}
			if err := checkValues(d, it.Value); err != nil {
				return nil, err
			}
			list = append(list, it.Value)
		}
		return list, nil
	case "pool":
		if n.Kind != ScalarNode && n.Kind != MappingNode && n.Kind != NullNode {
			return nil, fmt.Errorf("want a pool (a name or a mapping), got %s", n.kindName())
		}
		v = x.or.fromNode(n)
		if n.Kind == ScalarNode {
			v = n.Value
		}
	case "string", "environment", "filePath", "secureFile", "serviceConnection":
		switch n.Kind {
		case NullNode:
			v = ""
		case ScalarNode:
			v = n.Value
		default:
			return nil, fmt.Errorf("want a string, got %s", n.kindName())
		}
	case "number":
		if n.Kind != ScalarNode {
			return nil, fmt.Errorf("want a number, got %s", n.kindName())
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
		if err != nil {
			return nil, fmt.Errorf("want a number, got %q", n.Value)
		}
		v = f
	case "boolean":
		if n.Kind != ScalarNode {
			return nil, fmt.Errorf("want a boolean (true or false), got %s", n.kindName())
		}
		switch strings.ToLower(strings.TrimSpace(n.Value)) {
		case "true":
			v = true
		case "false":
			v = false
		default:
			return nil, fmt.Errorf("want a boolean (true or false), got %q", n.Value)
		}
	case "step", "job", "deployment", "stage":
		if n.Kind != MappingNode {
			return nil, fmt.Errorf("want a %s (a mapping), got %s", d.typ, n.kindName())
		}
		if err := checkKind(d.typ, n); err != nil {
			return nil, err
		}
		v = x.or.fromNode(n)
	case "stepList", "jobList", "deploymentList", "stageList":
		switch n.Kind {
		case NullNode:
			v = []any{}
		case SequenceNode:
			item := strings.TrimSuffix(d.typ, "List")
			for i, it := range n.Items {
				if it.Kind != MappingNode {
					return nil, fmt.Errorf("item %d: want a %s (a mapping), got %s", i, item, it.kindName())
				}
				if err := checkKind(item, it); err != nil {
					return nil, fmt.Errorf("item %d: %w", i, err)
				}
			}
			v = x.or.fromNode(n)
		default:
			return nil, fmt.Errorf("want a %s (a sequence), got %s", d.typ, n.kindName())
		}
	default:
		v = x.or.fromNode(n)
	}
	if len(d.values) > 0 {
		s := stringify(v)
		if n.Kind == ScalarNode {
			s = n.Value
		}
		if err := checkValues(d, s); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// checkValues checks s against a parameter's allowed values.
func checkValues(d paramDecl, s string) error {
	if len(d.values) == 0 {
		return nil
	}
	allowed := make([]string, len(d.values))
	for i, a := range d.values {
		allowed[i] = a.Value
		if a.Value == s {
			return nil
		}
	}
	return fmt.Errorf("value %q is not allowed; allowed values: %s", s, strings.Join(allowed, ", "))
}

// containsTemplate reports whether a node holds a ${{ }} expression.
func containsTemplate(n *Node) bool {
	if n == nil {
		return false
	}
	switch n.Kind {
	case ScalarNode:
		return strings.Contains(n.Value, "${{")
	case MappingNode:
		for _, p := range n.Pairs {
			if containsTemplate(p.Key) || containsTemplate(p.Value) {
				return true
			}
		}
	case SequenceNode:
		for _, it := range n.Items {
			if containsTemplate(it) {
				return true
			}
		}
	}
	return false
}

// checkKind checks that a mapping passed as a step, job, deployment or stage
// looks like one (directives and template references are allowed).
func checkKind(kind string, n *Node) error {
	if n.Get("template") != nil {
		return nil
	}
	for _, p := range n.Pairs {
		if _, ok := parseDirective(p.Key.Value); ok {
			return nil
		}
	}
	switch kind {
	case "job":
		if n.Get("job") == nil {
			return fmt.Errorf("want a job (a mapping with job:)")
		}
	case "deployment":
		if n.Get("deployment") == nil {
			return fmt.Errorf("want a deployment (a mapping with deployment:)")
		}
	case "stage":
		if n.Get("stage") == nil {
			return fmt.Errorf("want a stage (a mapping with stage:)")
		}
	case "step":
		for _, k := range stepKinds {
			if n.Get(k) != nil {
				return nil
			}
		}
		return fmt.Errorf("want a step (a mapping with one of %s)", strings.Join(stepKinds, ", "))
	}
	return nil
}

// stepKinds are the keys that make a mapping a step.
var stepKinds = []string{"script", "bash", "pwsh", "powershell", "checkout", "download", "downloadBuild", "publish", "getPackage", "task", "template", "reviewApp"}
