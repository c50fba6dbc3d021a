package expr

import (
	"fmt"
	"math"
)

// CounterFunc returns counter(prefix, seed) for Context.Funcs in runtime
// expressions (Expressions, "counter"): prefix is converted to a string and
// seed to a whole number, and next returns the counter's value for this run
// — seed the first time a prefix is seen in the pipeline, then one more on
// each run. next is where the caller's state lives.
func CounterFunc(next func(prefix string, seed int64) (int64, error)) Func {
	return Func{MinArgs: 2, MaxArgs: 2, Call: func(args []any) (any, error) {
		prefix := ToString(args[0])
		f, err := ToNumber(args[1])
		if err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fmt.Errorf("seed %s is not a whole number", ToString(f))
		}
		n, err := next(prefix, int64(f))
		if err != nil {
			return nil, err
		}
		return float64(n), nil
	}}
}
