package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"conveyor.dev/conveyor/internal/pipeline/expr"
	"conveyor.dev/conveyor/internal/plan"
)

// Template limits, as Azure Pipelines imposes them.
const (
	maxTemplateFiles = 100      // separate YAML files included, directly or indirectly
	maxTemplateDepth = 100      // levels of template nesting
	maxFileSize      = 10 << 20 // bytes of one file
	maxParsedBytes   = 20 << 20 // bytes of YAML parsed in one compile
)

// expander expands templates and compile-time expressions on Node trees.
type expander struct {
	self   fs.FS
	opts   *Options
	errs   *errs
	or     origins
	files  map[string]*Node // by repo + ":" + path
	nfiles int
	bytes  int64
	repos  map[string]plan.RepositoryResource
	repoFS map[string]fs.FS
	parsed map[string]*expr.Expr
	// overrides are the variable names set with --var; YAML does not
	// override them in the compile-time context.
	overrides map[string]bool
}

// scope is the compile-time context of one part of the document.
type scope struct {
	params *expr.Object
	vars   *expr.Object
	locals map[string]any
	repo   string // "" is the pipeline's own repository
	file   string // path of the current file within repo
	depth  int
	stack  []string
	ctx    any // expression context built lazily (exprbridge.go)
}

func (sc *scope) with(name string, v any) *scope {
	c := *sc
	c.locals = make(map[string]any, len(sc.locals)+1)
	for k, val := range sc.locals {
		c.locals[k] = val
	}
	c.locals[name] = v
	c.ctx = nil
	return &c
}

func (sc *scope) withVars(vars *expr.Object) *scope {
	c := *sc
	c.vars = vars
	c.ctx = nil
	return &c
}

func joinPath(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

// directive kinds of ${{ }} keys.
const (
	dirNone = iota
	dirIf
	dirElseIf
	dirElse
	dirEach
	dirInsert
)

var eachRE = regexp.MustCompile(`^each\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s+(.+)$`)

type directive struct {
	kind int
	expr string // condition or collection
	name string // each variable
}

// parseDirective recognises ${{ if }}, ${{ elseif }}, ${{ else }},
// ${{ each x in y }} and ${{ insert }} keys.
func parseDirective(key string) (directive, bool) {
	k := strings.TrimSpace(key)
	if !strings.HasPrefix(k, "${{") || !strings.HasSuffix(k, "}}") {
		return directive{}, false
	}
	in := strings.TrimSpace(k[3 : len(k)-2])
	word, rest, _ := strings.Cut(in, " ")
	rest = strings.TrimSpace(rest)
	switch word {
	case "if":
		return directive{kind: dirIf, expr: rest}, true
	case "elseif":
		return directive{kind: dirElseIf, expr: rest}, true
	case "else":
		if rest == "" {
			return directive{kind: dirElse}, true
		}
	case "insert":
		if rest == "" {
			return directive{kind: dirInsert}, true
		}
	case "each":
		if m := eachRE.FindStringSubmatch(in); m != nil {
			return directive{kind: dirEach, name: m[1], expr: m[2]}, true
		}
		return directive{kind: dirEach}, true
	}
	if strings.HasPrefix(in, "if(") {
		return directive{kind: dirIf, expr: in[2:]}, true
	}
	if strings.HasPrefix(in, "elseif(") {
		return directive{kind: dirElseIf, expr: in[6:]}, true
	}
	return directive{}, false
}

// chain tracks an if/elseif/else chain.
type chain int

const (
	chainNone  chain = iota // not in a chain
	chainTaken              // a branch was taken
	chainOpen               // no branch taken yet
)

// decide evaluates one link of a chain and says whether its body is used.
func (x *expander) decide(d directive, st *chain, sc *scope, key *Node, p string) bool {
	pos := key.Pos
	switch d.kind {
	case dirIf:
		ok := x.cond(d.expr, sc, key, p)
		*st = chainOpen
		if ok {
			*st = chainTaken
		}
		return ok
	case dirElseIf, dirElse:
		name := "${{ elseif }}"
		if d.kind == dirElse {
			name = "${{ else }}"
		}
		if *st == chainNone {
			x.errs.add(pos, p, "%s without a preceding ${{ if }}", name)
			return false
		}
		if *st == chainTaken {
			if d.kind == dirElse {
				*st = chainNone
			}
			return false
		}
		if d.kind == dirElse {
			*st = chainNone
			return true
		}
		if x.cond(d.expr, sc, key, p) {
			*st = chainTaken
			return true
		}
		return false
	}
	return false
}

func (x *expander) cond(src string, sc *scope, key *Node, p string) bool {
	if strings.TrimSpace(src) == "" {
		x.errs.add(key.Pos, p, "${{ if }} needs a condition")
		return false
	}
	v, ok := x.evalAt(src, sc, key, strings.Index(key.Value, src), p)
	return ok && truthy(v)
}

// eachItems evaluates the collection of an each directive.
func (x *expander) eachItems(d directive, sc *scope, key *Node, p string) []any {
	pos := key.Pos
	if d.name == "" {
		x.errs.add(pos, p, "malformed ${{ each }}: write ${{ each name in collection }}")
		return nil
	}
	v, ok := x.evalAt(d.expr, sc, key, strings.LastIndex(key.Value, d.expr), p)
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	case *expr.Object:
		out := make([]any, 0, v.Len())
		vals := v.Values()
		for i, k := range v.Keys() {
			pair := expr.NewObject()
			pair.Set("key", k)
			pair.Set("value", vals[i])
			out = append(out, pair)
		}
		return out
	}
	x.errs.add(pos, p, "${{ each %s in %s }}: %s is %s, not a sequence or mapping", d.name, d.expr, d.expr, kindOfValue(v))
	return nil
}

func kindOfValue(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a sequence"
	}
	return "a mapping"
}

// expandValue expands n in scope sc. key is the mapping key n is the value
// of; it decides whether a sequence is a list of stages, jobs, steps or
// variables (where template references are resolved).
func (x *expander) expandValue(n *Node, sc *scope, p, key string) *Node {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case ScalarNode:
		if n.Tag == TagStr && strings.Contains(n.Value, "${{") {
			e := x.expandString(n, sc, p)
			if e.Kind == SequenceNode {
				return x.expandSeqItems(e, sc, p, listKind(key))
			}
			return e
		}
		return n
	case MappingNode:
		if key == "variables" {
			out := &Node{Kind: MappingNode, Pos: n.Pos, Pairs: make([]Pair, 0, len(n.Pairs))}
			x.mergeInto(out, n, sc, p, nil, true)
			return out
		}
		m, _ := x.expandMap(n, sc, p)
		return m
	case SequenceNode:
		return x.expandSeq(n, sc, p, listKind(key))
	}
	return n
}

func listKind(key string) string {
	switch key {
	case "stages", "jobs", "steps", "variables":
		return key
	}
	return ""
}

// expandString evaluates the ${{ }} expressions of a scalar. A scalar that
// is one expression becomes the expression's value (which may be a mapping
// or sequence); otherwise the results are spliced into the string.
func (x *expander) expandString(n *Node, sc *scope, p string) *Node {
	segs, err := splitTemplate(n.Value)
	if err != nil {
		x.errs.add(n.Pos, p, "%v", err)
		return n
	}
	if len(segs) == 1 && segs[0].expr {
		v, ok := x.evalAt(segs[0].text, sc, n, segs[0].start, p)
		if !ok {
			return scalar("", n.Pos)
		}
		return x.or.toNode(v, n.Pos)
	}
	var b strings.Builder
	for _, s := range segs {
		if !s.expr {
			b.WriteString(s.text)
			continue
		}
		v, ok := x.evalAt(s.text, sc, n, s.start, p)
		if !ok {
			continue
		}
		switch v.(type) {
		case []any, *expr.Object:
			x.errs.add(n.Pos, p, "${{ %s }} is %s and cannot be part of a string", strings.TrimSpace(s.text), kindOfValue(v))
			continue
		}
		b.WriteString(stringify(v))
	}
	return scalar(b.String(), n.Pos)
}

type segment struct {
	text  string
	expr  bool
	start int // byte offset of text in the whole string
}

// splitTemplate splits s into literal text and ${{ }} expressions. Quotes
// inside an expression are honoured, so '}}' in a string literal does not
// end it. Leading and trailing white space around a lone expression is
// ignored.
func splitTemplate(s string) ([]segment, error) {
	var out []segment
	rest := s
	base := 0
	for {
		i := strings.Index(rest, "${{")
		if i < 0 {
			if rest != "" {
				out = append(out, segment{text: rest})
			}
			break
		}
		if i > 0 {
			out = append(out, segment{text: rest[:i]})
		}
		j, inStr := i+3, false
		end := -1
		for ; j < len(rest); j++ {
			c := rest[j]
			if c == '\'' {
				inStr = !inStr
				continue
			}
			if !inStr && c == '}' && j+1 < len(rest) && rest[j+1] == '}' {
				end = j
				break
			}
		}
		if end < 0 {
			return nil, fmt.Errorf("unterminated ${{ expression: add the closing }}")
		}
		out = append(out, segment{text: rest[i+3 : end], expr: true, start: base + i + 3})
		base += end + 2
		rest = rest[end+2:]
	}
	// A lone expression with surrounding blanks counts as the whole value.
	var exprs, nonBlank int
	for _, sg := range out {
		if sg.expr {
			exprs++
		} else if strings.TrimSpace(sg.text) != "" {
			nonBlank++
		}
	}
	if exprs == 1 && nonBlank == 0 {
		for _, sg := range out {
			if sg.expr {
				return []segment{sg}, nil
			}
		}
	}
	return out, nil
}

// expandMap expands a mapping and returns it with the scope its
// variables: entry defines for its other entries.
func (x *expander) expandMap(n *Node, sc *scope, p string) (*Node, *scope) {
	out := &Node{Kind: MappingNode, Pos: n.Pos, Pairs: make([]Pair, 0, len(n.Pairs))}
	inner := sc
	var vars *Node
	if v := n.Get("variables"); v != nil {
		vars = x.expandValue(v, sc, joinPath(p, "variables"), "variables")
		inner = sc.withVars(x.collectVars(vars, sc.vars))
	}
	x.mergeInto(out, n, inner, p, vars, false)
	return out, inner
}

// mergeInto adds the entries of mapping n, expanded, to out; directive
// bodies are merged in place. In a map of variables (varsMode), each entry
// sees the variables defined before it.
func (x *expander) mergeInto(out, n *Node, sc *scope, p string, vars *Node, varsMode bool) {
	st := chainNone
	base := sc
	for _, pair := range n.Pairs {
		if varsMode && len(out.Pairs) > 0 {
			sc = base.withVars(x.collectVars(out, base.vars))
		}
		k := pair.Key.Value
		if d, ok := parseDirective(k); ok {
			x.mapDirective(out, d, pair, &st, sc, p, varsMode)
			continue
		}
		st = chainNone
		key := pair.Key
		if strings.Contains(k, "${{") {
			key = x.expandString(pair.Key, sc, p)
			if key.Kind != ScalarNode {
				x.errs.add(pair.Key.Pos, p, "key %s is %s; a key must be a string", k, key.kindName())
				continue
			}
			key = scalar(key.Value, pair.Key.Pos)
		}
		var val *Node
		if k == "variables" && vars != nil {
			val = vars
		} else {
			val = x.expandValue(pair.Value, sc, joinPath(p, key.Value), key.Value)
		}
		x.put(out, key, val, p)
	}
}

func (x *expander) put(out, key, val *Node, p string) {
	for _, q := range out.Pairs {
		if q.Key.Value == key.Value {
			x.errs.add(key.Pos, p, "duplicate key %q", key.Value)
			return
		}
	}
	out.Pairs = append(out.Pairs, Pair{key, val})
}

func (x *expander) mapDirective(out *Node, d directive, pair Pair, st *chain, sc *scope, p string, varsMode bool) {
	body := pair.Value
	mergeBody := func(sc *scope) {
		if body.IsNull() {
			return
		}
		if body.Kind != MappingNode {
			x.errs.add(body.Pos, p, "the body of %s in a mapping must be a mapping, not %s", strings.TrimSpace(pair.Key.Value), body.kindName())
			return
		}
		x.mergeInto(out, body, sc, p, nil, varsMode)
	}
	switch d.kind {
	case dirIf, dirElseIf, dirElse:
		if x.decide(d, st, sc, pair.Key, p) {
			mergeBody(sc)
		}
	case dirEach:
		*st = chainNone
		for _, it := range x.eachItems(d, sc, pair.Key, p) {
			mergeBody(sc.with(d.name, it))
		}
	case dirInsert:
		*st = chainNone
		v := x.expandValue(body, sc, p, "")
		if v.IsNull() {
			return
		}
		if v.Kind != MappingNode {
			x.errs.add(body.Pos, p, "${{ insert }} needs a mapping, not %s", v.kindName())
			return
		}
		for _, q := range v.Pairs {
			x.put(out, q.Key, q.Value, p)
		}
	}
}

// seqDirective reports whether a sequence item is a lone directive key.
func seqDirective(it *Node) (directive, Pair, bool) {
	if it.Kind != MappingNode || len(it.Pairs) != 1 {
		return directive{}, Pair{}, false
	}
	d, ok := parseDirective(it.Pairs[0].Key.Value)
	return d, it.Pairs[0], ok
}

// expandSeq expands a sequence. kind is "stages", "jobs", "steps",
// "variables" or "": in the first four, items that are template references
// are replaced by the template's items.
func (x *expander) expandSeq(n *Node, sc *scope, p, kind string) *Node {
	out := &Node{Kind: SequenceNode, Pos: n.Pos, Items: make([]*Node, 0, len(n.Items))}
	st := chainNone
	base := sc
	for i, it := range n.Items {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if kind == "variables" && len(out.Items) > 0 {
			// Each variable sees the ones defined before it.
			sc = base.withVars(x.collectVars(out, base.vars))
		}
		d, pair, ok := seqDirective(it)
		if !ok {
			st = chainNone
			e := x.expandValue(it, sc, ip, "")
			if it.Kind == ScalarNode && e.Kind == SequenceNode {
				// An expression whose value is a sequence is spliced in.
				for _, sub := range e.Items {
					x.appendItem(out, sub, sc, p, kind)
				}
				continue
			}
			x.appendItem(out, e, sc, p, kind)
			continue
		}
		switch d.kind {
		case dirIf, dirElseIf, dirElse:
			if x.decide(d, &st, sc, pair.Key, ip) {
				x.spliceBody(out, pair.Value, sc, p, kind)
			}
		case dirEach:
			st = chainNone
			items := x.eachItems(d, sc, pair.Key, ip)
			if pair.Value.Kind == MappingNode {
				// Mapping bodies of every iteration merge into one item.
				m := &Node{Kind: MappingNode, Pos: it.Pos}
				for _, v := range items {
					x.mergeInto(m, pair.Value, sc.with(d.name, v), ip, nil, false)
				}
				if len(m.Pairs) > 0 {
					x.appendItem(out, m, sc, p, kind)
				}
				continue
			}
			for _, v := range items {
				x.spliceBody(out, pair.Value, sc.with(d.name, v), p, kind)
			}
		case dirInsert:
			st = chainNone
			x.spliceBody(out, pair.Value, sc, p, kind)
		}
	}
	return out
}

// expandSeqItems handles a sequence produced by an expression: its items
// are already expanded; template references among them are resolved.
func (x *expander) expandSeqItems(n *Node, sc *scope, p, kind string) *Node {
	if kind == "" {
		return n
	}
	out := &Node{Kind: SequenceNode, Pos: n.Pos, Items: make([]*Node, 0, len(n.Items))}
	for _, it := range n.Items {
		x.appendItem(out, it, sc, p, kind)
	}
	return out
}

func (x *expander) spliceBody(out, body *Node, sc *scope, p, kind string) {
	switch body.Kind {
	case NullNode:
	case SequenceNode:
		e := x.expandSeq(body, sc, fmt.Sprintf("%s[%d]", p, len(out.Items)), kind)
		out.Items = append(out.Items, e.Items...)
	default:
		e := x.expandValue(body, sc, fmt.Sprintf("%s[%d]", p, len(out.Items)), "")
		if e.Kind == MappingNode && len(e.Pairs) == 0 {
			return
		}
		x.appendItem(out, e, sc, p, kind)
	}
}

func (x *expander) appendItem(out, it *Node, sc *scope, p, kind string) {
	if kind != "" && it.Kind == SequenceNode {
		for _, sub := range it.Items {
			x.appendItem(out, sub, sc, p, kind)
		}
		return
	}
	if kind != "" && it.Kind == MappingNode && it.Get("template") != nil {
		ip := fmt.Sprintf("%s[%d]", p, len(out.Items))
		out.Items = append(out.Items, x.include(it, sc, ip, p, kind)...)
		return
	}
	out.Items = append(out.Items, it)
}

// collectVars returns base extended with the compile-time known variables
// of an expanded variables: node (map or list form). Runtime expressions
// are not known at compile time and are left out.
func (x *expander) collectVars(n *Node, base *expr.Object) *expr.Object {
	o := base.Clone()
	add := func(k *Node, v *Node) {
		if k == nil || k.Kind != ScalarNode || x.overrides[strings.ToLower(k.Value)] {
			return
		}
		if v != nil && v.Kind == ScalarNode && strings.HasPrefix(strings.TrimSpace(v.Value), "$[") {
			return
		}
		val := ""
		if v != nil && v.Kind == ScalarNode {
			val = v.Value
		}
		o.Set(k.Value, val)
	}
	switch n.Kind {
	case MappingNode:
		for _, p := range n.Pairs {
			add(p.Key, p.Value)
		}
	case SequenceNode:
		for _, it := range n.Items {
			if it.Kind == MappingNode {
				if name := it.Get("name"); name != nil {
					add(name, it.Get("value"))
				}
			}
		}
	}
	return o
}

// location is a file in a repository; repo "" is the pipeline's own.
type location struct {
	repo string
	path string
}

func (l location) String() string {
	if l.repo == "" {
		return l.path
	}
	return l.path + "@" + l.repo
}

// resolve finds the file a template reference names, relative to the file
// that includes it; path@alias names a file in another repository, from its
// root, and path@self one in the pipeline's own repository.
func (x *expander) resolve(ref string, sc *scope) (location, fs.FS, error) {
	ref = strings.TrimSpace(ref)
	p, alias := ref, ""
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		p, alias = ref[:i], ref[i+1:]
	}
	if p == "" {
		return location{}, nil, errors.New("empty template path")
	}
	var loc location
	switch {
	case alias == "":
		loc.repo = sc.repo
		if strings.HasPrefix(p, "/") {
			loc.path = path.Clean(strings.TrimLeft(p, "/"))
		} else {
			loc.path = path.Join(path.Dir(sc.file), p)
		}
	case alias == "self":
		loc.path = path.Clean(strings.TrimLeft(p, "/"))
	default:
		loc.repo = alias
		loc.path = path.Clean(strings.TrimLeft(p, "/"))
	}
	if !fs.ValidPath(loc.path) {
		return location{}, nil, fmt.Errorf("template path %q leaves the repository", ref)
	}
	if loc.repo == "" {
		return loc, x.self, nil
	}
	if f, ok := x.repoFS[loc.repo]; ok {
		return loc, f, nil
	}
	res, ok := x.repos[loc.repo]
	if !ok {
		return location{}, nil, fmt.Errorf("template %q: repository %q is not declared in resources.repositories", ref, loc.repo)
	}
	if x.opts.Repositories == nil {
		return location{}, nil, fmt.Errorf("template %q: repository %q is not available here (only @self templates can be read)", ref, loc.repo)
	}
	f, err := x.opts.Repositories.Resolve(loc.repo, res)
	if err != nil {
		return location{}, nil, fmt.Errorf("template %q: repository %q: %w", ref, loc.repo, err)
	}
	x.repoFS[loc.repo] = f
	return loc, f, nil
}

// load reads and parses a file once, enforcing the template limits.
func (x *expander) load(fsys fs.FS, loc location) (*Node, error) {
	key := loc.repo + ":" + loc.path
	if n, ok := x.files[key]; ok {
		return n, nil
	}
	x.nfiles++
	if x.nfiles > maxTemplateFiles {
		return nil, fmt.Errorf("more than %d YAML files included: Azure Pipelines allows at most %d", maxTemplateFiles, maxTemplateFiles)
	}
	if st, err := fs.Stat(fsys, loc.path); err == nil && st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s is %d bytes: a pipeline or template file may have at most 10 MB", loc, st.Size())
	}
	data, err := fs.ReadFile(fsys, loc.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("template %s not found", loc)
		}
		return nil, fmt.Errorf("read %s: %w", loc, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is %d bytes: a pipeline or template file may have at most 10 MB", loc, len(data))
	}
	x.bytes += int64(len(data))
	if x.bytes > maxParsedBytes {
		return nil, fmt.Errorf("more than 20 MB of YAML parsed: reduce the size or number of templates")
	}
	n, perr := parseYAML(loc.String(), data)
	if perr != nil {
		var e *Error
		if errors.As(perr, &e) {
			x.errs.list = append(x.errs.list, e)
			n = &Node{Kind: NullNode, Pos: plan.Pos{File: loc.String(), Line: 1, Col: 1}}
			x.files[key] = n
			return n, nil
		}
		return nil, perr
	}
	x.files[key] = n
	return n, nil
}

// templateKeys are the keys a template of each kind may have.
var templateKeys = map[string][]string{
	"stages":    {"parameters", "stages"},
	"jobs":      {"parameters", "jobs"},
	"steps":     {"parameters", "steps"},
	"variables": {"parameters", "variables"},
}

// include expands a template reference (a mapping with template: and
// optional parameters:) in a list of the given kind.
func (x *expander) include(ref *Node, sc *scope, p, listPath, kind string) []*Node {
	for _, pair := range ref.Pairs {
		if k := pair.Key.Value; k != "template" && k != "parameters" {
			x.errs.add(pair.Key.Pos, p, "unknown key %q in a template reference%s; a reference has only template and parameters", k, suggest(k, []string{"template", "parameters"}))
		}
	}
	tn := ref.Get("template")
	if tn.Kind != ScalarNode || tn.Value == "" {
		x.errs.add(tn.Pos, joinPath(p, "template"), "template must be a file path, not %s", tn.kindName())
		return nil
	}
	root, loc, sc2, ok := x.enter(tn, ref.Get("parameters"), sc, p)
	if !ok {
		return nil
	}
	if root.IsNull() {
		return nil
	}
	if root.Kind != MappingNode {
		x.errs.add(root.Pos, "", "a %s template must be a mapping with %s:, not %s", strings.TrimSuffix(kind, "s"), kind, root.kindName())
		return nil
	}
	allowed := templateKeys[kind]
	for _, pair := range root.Pairs {
		k := pair.Key.Value
		if k == "parameters" || k == kind {
			continue
		}
		if _, other := templateKeys[k]; other && root.Get(kind) == nil {
			x.errs.add(tn.Pos, joinPath(p, "template"), "%s is a %s template, used where %s are expected", loc, strings.TrimSuffix(k, "s"), kind)
			return nil
		}
		x.errs.add(pair.Key.Pos, "", "unknown key %q in a %s template%s", k, strings.TrimSuffix(kind, "s"), suggest(k, allowed))
	}
	v := root.Get(kind)
	if v.IsNull() {
		return nil
	}
	items := x.expandValue(v, sc2, listPath, kind)
	if kind == "variables" && items.Kind == MappingNode {
		items = varsMapToList(items)
	}
	if items.IsNull() {
		return nil
	}
	if items.Kind != SequenceNode {
		x.errs.add(items.Pos, "", "%s in template %s must be a sequence, not %s", kind, loc, items.kindName())
		return nil
	}
	for i, it := range items.Items {
		if it.Kind == MappingNode && it.Templates == nil {
			c := *it
			c.Templates = append([]string(nil), sc2.stack[1:]...)
			items.Items[i] = &c
		}
	}
	return items.Items
}

// varsMapToList turns map-form variables into list-form items.
func varsMapToList(m *Node) *Node {
	out := &Node{Kind: SequenceNode, Pos: m.Pos}
	for _, p := range m.Pairs {
		out.Items = append(out.Items, &Node{Kind: MappingNode, Pos: p.Key.Pos, Pairs: []Pair{
			{scalar("name", p.Key.Pos), p.Key},
			{scalar("value", p.Key.Pos), p.Value},
		}})
	}
	return out
}

// enter loads the template tn names, binds its parameters and returns its
// root with the scope to expand it in.
func (x *expander) enter(tn, params *Node, sc *scope, p string) (*Node, location, *scope, bool) {
	loc, fsys, err := x.resolve(tn.Value, sc)
	if err != nil {
		x.errs.add(tn.Pos, joinPath(p, "template"), "%v", err)
		return nil, loc, nil, false
	}
	key := loc.String()
	for i, s := range sc.stack {
		if s == key {
			cyc := append(append([]string(nil), sc.stack[i:]...), key)
			x.errs.add(tn.Pos, joinPath(p, "template"), "template cycle: %s", strings.Join(cyc, " → "))
			return nil, loc, nil, false
		}
	}
	if sc.depth+1 > maxTemplateDepth {
		x.errs.add(tn.Pos, joinPath(p, "template"), "templates nested more than %d levels deep", maxTemplateDepth)
		return nil, loc, nil, false
	}
	root, err := x.load(fsys, loc)
	if err != nil {
		x.errs.add(tn.Pos, joinPath(p, "template"), "%v", err)
		return nil, loc, nil, false
	}
	var decls []paramDecl
	if root.Kind == MappingNode {
		decls = x.paramDecls(root.Get("parameters"), "parameters", false)
	}
	values := x.bindParams(decls, params, tn.Pos, joinPath(p, "parameters"), key)
	sc2 := &scope{
		params: values,
		vars:   sc.vars,
		repo:   loc.repo,
		file:   loc.path,
		depth:  sc.depth + 1,
		stack:  append(append([]string(nil), sc.stack...), key),
	}
	return root, loc, sc2, true
}
