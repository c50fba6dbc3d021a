package expr

import (
	"fmt"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"true", "null", "-1.2", ".5", "1.2.3.4", "'It''s'", "1e3",
	"variables['Build.SourceBranch']", "variables.letters", "foo.*.id", "foo[*].a",
	"parameters['listOfValues'].this_is.with[1]",
	"and(eq(variables.letters, 'ABC'), eq(variables.numbers, 123))",
	"or(eq(1, 1), eq(2, 3))", "not(eq(1, 2))", "xor(True, False)",
	"coalesce(variables.noSuch, '', 'literal')", "contains('ABCDE', 'BCD')",
	"containsValue(parameters.myArray, 'bar')", "endsWith('ABCDE', 'DE')",
	"format('Hello {0} {1}', 'John', 'Doe')", "format('{0:yyyyMMdd HH:mm:ss.fff K}', pipeline.startTime)",
	"format('{{ }}')", "ge(5, 5)", "gt(1.10.0, '1.9')", "lt(False, True)", "le(null, 1)",
	"in('B', 'A', 'B', 'C')", "notIn('D', 'A', 'B', 'C')", "join(';', parameters.myArray)",
	"length('fabrikam')", "lower('FOO')", "upper('bah')", "ne(1, 'abc')",
	"replace('aaa', 'a', 'b')", "split('a,,b', ',')[2]", "startsWith('ABCDE', 'AB')",
	"trim('  variable  ')", "convertToJson(parameters.listOfValues)", "counter(variables['major'], 100)",
	"iif(eq(variables['Build.Reason'], 'PullRequest'), 'a', 'b')",
	"and(succeeded(), eq(dependencies.A.outputs['printvar.shouldrun'], 'true'))",
	"or(failed(), canceled(), always(), succeededOrFailed('A'))",
	"eq(1, 2", "a.", "a[1", "'abc", "#", "1.2.x",
	"${{ variables.letters }} and $(macro) and $[ x ]",
}

// FuzzParse checks that parsing never panics and that String gives a
// canonical form that parses back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			pe, ok := err.(*Error)
			if !ok {
				t.Fatalf("Parse(%q) error %T is not *Error", src, err)
			}
			if pe.Offset < 0 || pe.Offset > len(src) && len(src) <= MaxLength {
				t.Fatalf("Parse(%q) error offset %d outside the source", src, pe.Offset)
			}
			return
		}
		canon := e.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", src, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, again.String())
		}
	})
}

// fuzzContext is the fixed context FuzzEval evaluates against. Its
// functions are deterministic.
func fuzzContext(mode Mode) *Context {
	funcs := StatusFuncs(Status{
		Dependencies: []string{"A"},
		Result: func(name string) (Result, bool) {
			if strings.EqualFold(name, "A") {
				return ResultSucceeded, true
			}
			return "", false
		},
	})
	funcs["counter"] = Func{MinArgs: 2, MaxArgs: 2, Call: func(args []any) (any, error) {
		return ToNumber(args[1])
	}}
	return &Context{Named: testNamed(), Funcs: funcs, Mode: mode}
}

// FuzzEval checks that parsing and evaluating never panic and give the
// same result (value or error) every time.
func FuzzEval(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, uint8(0))
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, src string, m uint8) {
		mode := Mode(m % 3)
		run := func() string {
			var b strings.Builder
			if e, err := Parse(src); err != nil {
				fmt.Fprintf(&b, "parse error: %v\n", err)
			} else {
				v, err := e.Eval(fuzzContext(mode))
				fmt.Fprintf(&b, "eval: %s %v\n", show(v), err)
				verr := e.Validate(mode, nil)
				fmt.Fprintf(&b, "validate: %v\n", verr)
			}
			v, err := ExpandTemplate(src, fuzzContext(mode))
			fmt.Fprintf(&b, "template: %s %v\n", show(v), err)
			inner, ok := RuntimeExpression(src)
			fmt.Fprintf(&b, "runtime: %q %v\n", inner, ok)
			fmt.Fprintf(&b, "macros: %q\n", ExpandMacros(src, func(n string) (string, bool) { return strings.ToUpper(n), len(n)%2 == 0 }))
			return b.String()
		}
		first, second := run(), run()
		if first != second {
			t.Fatalf("not deterministic for %q:\n%s\nvs\n%s", src, first, second)
		}
	})
}
