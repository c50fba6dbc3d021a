package engine

import (
	"fmt"
	"strings"
	"sync"

	"conveyor.dev/conveyor/internal/pipeline/expr"
)

// ExprEvaluator evaluates runtime expressions with the pipeline expression
// language (internal/pipeline/expr). It is the engine's default Evaluator.
type ExprEvaluator struct {
	mu    sync.Mutex
	cache map[string]*expr.Expr
}

var _ Evaluator = (*ExprEvaluator)(nil)

func (x *ExprEvaluator) parse(src string) (*expr.Expr, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e, ok := x.cache[src]; ok {
		return e, nil
	}
	e, err := expr.Parse(src)
	if err != nil {
		return nil, err
	}
	if x.cache == nil {
		x.cache = map[string]*expr.Expr{}
	}
	x.cache[src] = e
	return e, nil
}

func (x *ExprEvaluator) context(s *Scope, mode expr.Mode) *expr.Context {
	named := map[string]any{}
	vars := map[string]any{}
	for k, v := range s.Variables {
		vars[k] = v
	}
	named["variables"] = vars
	if s.Dependencies != nil {
		named["dependencies"] = s.Dependencies
	} else {
		named["dependencies"] = map[string]any{}
	}
	if s.StageDependencies != nil {
		named["stageDependencies"] = s.StageDependencies
	} else {
		named["stageDependencies"] = map[string]any{}
	}
	if !s.StartTime.IsZero() {
		named["pipeline"] = map[string]any{"startTime": s.StartTime}
	}
	funcs := map[string]expr.Func{}
	if s.Status != nil && mode == expr.Condition {
		for _, name := range []string{"always", "canceled", "succeeded", "failed", "succeededOrFailed"} {
			funcs[name] = expr.Func{MinArgs: 0, MaxArgs: -1, Call: func(args []any) (any, error) {
				names := make([]string, len(args))
				for i, a := range args {
					names[i] = expr.ToString(a)
				}
				return s.Status(name, names)
			}}
		}
	}
	if s.Counter != nil && mode == expr.Runtime {
		funcs["counter"] = expr.CounterFunc(s.Counter)
	}
	return &expr.Context{Named: named, Funcs: funcs, Mode: mode}
}

// Condition evaluates a condition.
func (x *ExprEvaluator) Condition(src string, s *Scope) (bool, error) {
	e, err := x.parse(src)
	if err != nil {
		return false, err
	}
	return e.EvalBool(x.context(s, expr.Condition))
}

// Value evaluates a runtime expression to a string.
func (x *ExprEvaluator) Value(src string, s *Scope) (string, error) {
	e, err := x.parse(strings.TrimSpace(src))
	if err != nil {
		return "", err
	}
	v, err := e.Eval(x.context(s, expr.Runtime))
	if err != nil {
		return "", fmt.Errorf("$[ %s ]: %w", src, err)
	}
	return expr.ToString(v), nil
}
