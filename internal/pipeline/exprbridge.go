package pipeline

import (
	"errors"
	"strings"

	"conveyor.dev/conveyor/internal/pipeline/expr"
	"conveyor.dev/conveyor/internal/plan"
)

// context returns the expression context of a scope: parameters,
// variables and the loop variables of enclosing each directives.
func (sc *scope) context() *expr.Context {
	if c, ok := sc.ctx.(*expr.Context); ok {
		return c
	}
	named := make(map[string]any, 2+len(sc.locals))
	params := sc.params
	if params == nil {
		params = expr.NewObject()
	}
	named["parameters"] = params
	named["variables"] = sc.vars
	for k, v := range sc.locals {
		named[k] = v
	}
	c := &expr.Context{Named: named, Mode: expr.CompileTime}
	sc.ctx = c
	return c
}

// evalAt evaluates the expression text that starts at byte offset off of
// scalar n; a problem is reported at its position in the file.
func (x *expander) evalAt(src string, sc *scope, n *Node, off int, p string) (any, bool) {
	return x.evalPos(src, sc, func(o int) plan.Pos { return n.posAt(off + o) }, p)
}

func (x *expander) evalPos(src string, sc *scope, at func(off int) plan.Pos, p string) (any, bool) {
	e, ok := x.parsed[src]
	if !ok {
		var err error
		e, err = expr.Parse(src)
		if err != nil {
			x.errs.add(at(exprOffset(err)), p, "expression ${{ %s }}: %s", strings.TrimSpace(src), exprMsg(err))
			return nil, false
		}
		x.parsed[src] = e
	}
	v, err := e.Eval(sc.context())
	if err != nil {
		x.errs.add(at(exprOffset(err)), p, "expression ${{ %s }}: %s", strings.TrimSpace(src), exprMsg(err))
		return nil, false
	}
	return v, true
}

// exprMsg is an expression error's message without its column: the
// error is reported at its position in the file.
func exprMsg(err error) string {
	var e *expr.Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return err.Error()
}

func exprOffset(err error) int {
	var e *expr.Error
	if errors.As(err, &e) {
		return e.Offset
	}
	return 0
}
