package expr

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Expressions, "counter": the value is the seed on the first run for a
// prefix, then increments; each prefix has its own counter.
func TestCounterFunc(t *testing.T) {
	state := map[string]int64{}
	next := func(prefix string, seed int64) (int64, error) {
		v, ok := state[prefix]
		if !ok {
			v = seed
		} else {
			v++
		}
		state[prefix] = v
		return v, nil
	}
	named := map[string]any{
		"variables": obj("major", "1"),
		"pipeline":  obj("startTime", startTime),
	}
	c := &Context{Named: named, Funcs: map[string]Func{"counter": CounterFunc(next)}, Mode: Runtime}
	minor := MustParse("counter(variables['major'], 100)")
	daily := MustParse("counter(format('{0:yyyyMMdd}', pipeline.startTime), 100)")
	var got []string
	for _, e := range []*Expr{minor, minor, daily, minor} {
		v, err := e.Eval(c)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ToString(v))
	}
	if diff := cmp.Diff([]string{"100", "101", "100", "102"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := MustParse("counter('a', 'x')").Eval(c); err == nil {
		t.Error("non-numeric seed accepted")
	}
	if _, err := MustParse("counter('a', 1.5)").Eval(c); err == nil {
		t.Error("fractional seed accepted")
	}
}
