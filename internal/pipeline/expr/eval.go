package expr

import (
	"errors"
	"fmt"
	"strings"
)

// Mode says where an expression appears, which decides the functions it
// may call.
type Mode uint8

const (
	// CompileTime is a template expression ${{ }}, evaluated when the
	// pipeline is compiled.
	CompileTime Mode = iota
	// Runtime is a runtime expression $[ ] defining a variable: counter()
	// is allowed, the status functions are not.
	Runtime
	// Condition is a job, stage or step condition: the status functions
	// (always, canceled, failed, succeeded, succeededOrFailed) are
	// allowed, counter() is not.
	Condition
)

// String returns the mode's name as users see it.
func (m Mode) String() string {
	switch m {
	case CompileTime:
		return "template expression ${{ }}"
	case Runtime:
		return "runtime expression $[ ]"
	case Condition:
		return "condition"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Func is a function supplied by the caller through Context.Funcs. Its
// arguments are evaluated (left to right, all of them) before Call, and
// arrive normalized (see Normalize). MaxArgs < 0 means no maximum. Call's
// error is reported as an *Error at the call, naming the function.
type Func struct {
	MinArgs, MaxArgs int
	Call             func(args []any) (any, error)
}

// Context is what an expression is evaluated against.
type Context struct {
	// Named are the top-level names (variables, parameters, dependencies,
	// stageDependencies, pipeline, resources, loop variables...), looked up
	// ignoring case. Values are normalized when read (see Normalize).
	Named map[string]any
	// Funcs add functions or override built-in ones; names are matched
	// ignoring case. The mode restrictions of the built-in function of the
	// same name still apply (status functions only in conditions, counter
	// only in runtime expressions), so one set of Funcs can serve every
	// mode.
	Funcs map[string]Func
	// Mode says where the expression appears.
	Mode Mode
}

func (c *Context) lookup(name string) (any, bool) {
	if v, ok := c.Named[name]; ok {
		return v, true
	}
	for k, v := range c.Named {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// userFunc finds a caller-supplied function by its lower-case name.
func (c *Context) userFunc(lname string, folded map[string]Func) (Func, bool) {
	if folded != nil {
		f, ok := folded[lname]
		return f, ok
	}
	if f, ok := c.Funcs[lname]; ok {
		return f, true
	}
	for k, f := range c.Funcs {
		if strings.EqualFold(k, lname) {
			return f, true
		}
	}
	return Func{}, false
}

// foldFuncs indexes Funcs by lower-case name.
func (c *Context) foldFuncs() map[string]Func {
	m := make(map[string]Func, len(c.Funcs))
	for k, f := range c.Funcs {
		lk := strings.ToLower(k)
		if _, dup := m[lk]; dup && k != lk {
			continue // prefer the exactly lower-case spelling, deterministically
		}
		m[lk] = f
	}
	return m
}

// filtered is the value of a wildcard a.* or a[*] while a dereference
// chain is evaluated: further dereferences apply to each element.
type filtered []any

// Eval evaluates the expression. A nil Context has no names, no extra
// functions and CompileTime mode. Errors are *Error values with the offset
// of the failing part. The result is one of the value types (see
// Normalize).
func (e *Expr) Eval(c *Context) (any, error) {
	if c == nil {
		c = &Context{}
	}
	ev := &evaluator{c: c}
	if len(c.Funcs) > 0 {
		ev.funcs = c.foldFuncs()
	}
	v, err := ev.eval(e.root)
	if err != nil {
		return nil, err
	}
	if f, ok := v.(filtered); ok {
		return []any(f), nil
	}
	return v, nil
}

// EvalBool evaluates the expression and converts the result with ToBool,
// as a condition is read.
func (e *Expr) EvalBool(c *Context) (bool, error) {
	v, err := e.Eval(c)
	if err != nil {
		return false, err
	}
	return ToBool(v), nil
}

// Validate checks without evaluating that every function the expression
// calls exists (built in or in funcs), is allowed in mode and gets a valid
// number of arguments. Eval makes the same checks as it goes. counter()
// and the status functions count as present even when funcs lacks them,
// since the caller supplies them only when it runs the pipeline.
func (e *Expr) Validate(mode Mode, funcs map[string]Func) error {
	c := &Context{Funcs: funcs, Mode: mode}
	folded := c.foldFuncs()
	var walk func(n node) error
	walk = func(n node) error {
		switch x := n.(type) {
		case *call:
			if _, _, err := c.resolve(x, folded, true); err != nil {
				return err
			}
			for _, a := range x.args {
				if err := walk(a); err != nil {
					return err
				}
			}
		case *index:
			if err := walk(x.target); err != nil {
				return err
			}
			if x.idx != nil {
				return walk(x.idx)
			}
		}
		return nil
	}
	return walk(e.root)
}

// Names returns the top-level names the expression refers to, in order of
// appearance, each once (compared ignoring case).
func (e *Expr) Names() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(n node)
	walk = func(n node) {
		switch x := n.(type) {
		case *named:
			if k := strings.ToLower(x.name); !seen[k] {
				seen[k] = true
				out = append(out, x.name)
			}
		case *call:
			for _, a := range x.args {
				walk(a)
			}
		case *index:
			walk(x.target)
			if x.idx != nil {
				walk(x.idx)
			}
		}
	}
	walk(e.root)
	return out
}

// resolve finds the function a call refers to and checks mode and arity.
// It returns either a user Func or a builtin.
func (c *Context) resolve(n *call, folded map[string]Func, validating bool) (*Func, *builtin, error) {
	b, isBuiltin := builtins[n.lname]
	if isBuiltin && b.modes != 0 && b.modes&(1<<c.Mode) == 0 {
		return nil, nil, errorf(n.off, "%s() cannot be used in a %s: %s", b.name, c.Mode, b.where)
	}
	if f, ok := c.userFunc(n.lname, folded); ok {
		if err := checkArity(n, f.MinArgs, f.MaxArgs); err != nil {
			return nil, nil, err
		}
		return &f, nil, nil
	}
	if !isBuiltin {
		return nil, nil, errorf(n.off, "unrecognized function %s()", n.name)
	}
	if b.fn == nil && !validating {
		return nil, nil, errorf(n.off, "%s() is not available here: %s", b.name, b.missing)
	}
	if err := checkArity(n, b.min, b.max); err != nil {
		return nil, nil, err
	}
	return nil, &b, nil
}

func checkArity(n *call, min, max int) error {
	switch {
	case len(n.args) < min && min == max:
		return errorf(n.off, "%s() takes %d argument%s, got %d", n.name, min, plural(min), len(n.args))
	case len(n.args) < min:
		return errorf(n.off, "%s() takes at least %d argument%s, got %d", n.name, min, plural(min), len(n.args))
	case max >= 0 && len(n.args) > max && min == max:
		return errorf(n.off, "%s() takes %d argument%s, got %d", n.name, max, plural(max), len(n.args))
	case max >= 0 && len(n.args) > max:
		return errorf(n.off, "%s() takes at most %d argument%s, got %d", n.name, max, plural(max), len(n.args))
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

type evaluator struct {
	c     *Context
	funcs map[string]Func // c.Funcs by lower-case name
}

// eval evaluates a node to a normalized value or a filtered array.
func (ev *evaluator) eval(n node) (any, error) {
	switch x := n.(type) {
	case *literal:
		return x.val, nil
	case *named:
		v, ok := ev.c.lookup(x.name)
		if !ok {
			return nil, errorf(x.off, "unrecognized value %q", x.name)
		}
		return Normalize(v), nil
	case *call:
		return ev.call(x)
	case *index:
		return ev.index(x)
	}
	return nil, errorf(n.pos(), "unknown node %T", n)
}

// value evaluates a node to a normalized value, turning a filtered array
// into an array.
func (ev *evaluator) value(n node) (any, error) {
	v, err := ev.eval(n)
	if f, ok := v.(filtered); ok {
		return []any(f), err
	}
	return v, err
}

func (ev *evaluator) call(n *call) (any, error) {
	f, b, err := ev.c.resolve(n, ev.funcs, false)
	if err != nil {
		return nil, err
	}
	if b != nil {
		v, err := b.fn(ev, n)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, err
			}
			return nil, &Error{Offset: n.off, Msg: fmt.Sprintf("%s(): %v", n.name, err), Err: err}
		}
		return v, nil
	}
	args := make([]any, len(n.args))
	for i, a := range n.args {
		v, err := ev.value(a)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	v, err := f.Call(args)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, &Error{Offset: n.off, Msg: fmt.Sprintf("%s(): %v", n.name, err), Err: err}
	}
	return Normalize(v), nil
}

func (ev *evaluator) index(n *index) (any, error) {
	t, err := ev.eval(n.target)
	if err != nil {
		return nil, err
	}
	var key any
	if n.dot {
		key = n.key
	} else if !n.wild {
		key, err = ev.value(n.idx)
		if err != nil {
			return nil, err
		}
	}
	if f, ok := t.(filtered); ok {
		out := filtered{}
		for _, el := range f {
			el = Normalize(el)
			if n.wild {
				out = append(out, children(el)...)
				continue
			}
			if v, ok := lookupKey(el, key); ok {
				out = append(out, v)
			}
		}
		return out, nil
	}
	if n.wild {
		return filtered(children(t)), nil
	}
	v, _ := lookupKey(t, key)
	return v, nil
}

// children returns the items of an array or the values of an object.
func children(v any) []any {
	switch x := v.(type) {
	case []any:
		return append([]any(nil), x...)
	case *Object:
		return append([]any(nil), x.Values()...)
	}
	return nil
}

// lookupKey indexes a value: an object by key (ignoring case), an array by
// integer position. Anything else, or a miss, is null.
func lookupKey(t, key any) (any, bool) {
	switch x := t.(type) {
	case *Object:
		k, ok := toString(key)
		if !ok {
			return nil, false
		}
		v, ok := x.Get(k)
		return Normalize(v), ok
	case []any:
		f, ok := toNumber(key)
		if !ok || f != float64(int(f)) || f < 0 || int(f) >= len(x) {
			return nil, false
		}
		return Normalize(x[int(f)]), true
	}
	return nil, false
}
